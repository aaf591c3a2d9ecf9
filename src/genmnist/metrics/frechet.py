"""The Fréchet distance between two Gaussians: the "D" of FID (Heusel et al. 2017, "GANs
Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium").

    d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))

pytorch-fid forms the matrix square root with `scipy.linalg.sqrtm` and takes its trace. Only the
trace is needed, and tr((S1 S2)^(1/2)) is the sum of the square roots of the eigenvalues of
S1 S2, which are real and non-negative because S1 S2 is similar to the PSD matrix
S1^(1/2) S2 S1^(1/2). One `eigvals` call is ~2x faster than `sqrtm` on 2048x2048 and needs no
`disp` argument (removed in SciPy 1.18). Round-off can leave tiny negative or complex
eigenvalues, notably for rank-deficient covariances; taking the real part of their complex
square root drops them, so the result stays finite.
"""

from __future__ import annotations

import numpy as np


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of (N, D) features, in float64, exactly as pytorch-fid computes
    them (`np.mean(axis=0)`, `np.cov(rowvar=False)`: divides by N - 1)."""
    act = np.asarray(features, dtype=np.float64)
    return np.mean(act, axis=0), np.cov(act, rowvar=False)


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr((sigma1 @ sigma2)^(1/2)) from the eigenvalues of sigma1 @ sigma2."""
    eig = np.linalg.eigvals(sigma1 @ sigma2)
    return float(np.sqrt(eig.astype(np.complex128)).real.sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray,
                     mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); 0 when equal."""
    mu1 = np.atleast_1d(np.asarray(mu1, np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    assert mu1.shape == mu2.shape and sigma1.shape == sigma2.shape, "mismatched statistics"
    diff = mu1 - mu2
    d2 = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2)
    # identical inputs give round-off of either sign; a distance is never negative
    return max(float(d2), 0.0)
