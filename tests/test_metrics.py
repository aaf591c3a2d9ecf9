"""The metric functions on inputs whose answers are known: Fréchet distance against scipy's
sqrtm, KID against a direct double loop, precision/recall on separated clusters, the
Inception-style score and coverage on one-hot predictions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import linalg

from genmnist.metrics.digits import digit_histogram, inception_score, normalized_entropy
from genmnist.metrics.frechet import frechet_distance, statistics
from genmnist.metrics.kid import kernel_inception_distance, polynomial_mmd2
from genmnist.metrics.precision_recall import knn_radii, precision_recall


def random_cov(rng, d: int, n: int) -> np.ndarray:
    return np.cov(rng.standard_normal((n, d)) @ rng.standard_normal((d, d)), rowvar=False)


def sqrtm_frechet(mu1, s1, mu2, s2) -> float:
    covmean = linalg.sqrtm(s1 @ s2).real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("seed,d", [(0, 8), (1, 64), (2, 200)])
def test_frechet_equals_sqrtm_on_random_covariances(seed, d):
    rng = np.random.default_rng(seed)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = random_cov(rng, d, 4 * d), random_cov(rng, d, 4 * d)
    ours = frechet_distance(mu1, s1, mu2, s2)
    assert ours == pytest.approx(sqrtm_frechet(mu1, s1, mu2, s2), rel=1e-6)


@pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")  # scipy<1.18
def test_frechet_equals_pytorch_fid_function():
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(3)
    mu1, mu2 = rng.standard_normal(32), 0.1 * rng.standard_normal(32)
    s1, s2 = random_cov(rng, 32, 100), random_cov(rng, 32, 100)
    ref = calculate_frechet_distance(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-6)


def test_frechet_is_zero_for_identical_statistics():
    rng = np.random.default_rng(4)
    mu, s = statistics(rng.standard_normal((500, 128)) * 3 + 1)
    d = frechet_distance(mu, s, mu, s)
    assert 0 <= d < 1e-9 * np.trace(s)


def test_frechet_mean_shift_only():
    """Equal covariances: the distance is exactly |mu1 - mu2|^2 (pytorch-fid's own test)."""
    rng = np.random.default_rng(5)
    s = random_cov(rng, 16, 64)
    mu1, mu2 = rng.standard_normal(16), rng.standard_normal(16)
    assert frechet_distance(mu1, s, mu2, s) == pytest.approx(np.sum((mu1 - mu2) ** 2), rel=1e-6)


def test_frechet_is_finite_for_rank_deficient_covariances():
    rng = np.random.default_rng(6)
    # 10 samples in 64 dimensions: both covariances have rank 9; plus an all-zero one
    mu1, s1 = statistics(rng.standard_normal((10, 64)))
    mu2, s2 = statistics(rng.standard_normal((10, 64)) + 0.5)
    d = frechet_distance(mu1, s1, mu2, s2)
    assert math.isfinite(d) and d > 0
    z = frechet_distance(mu1, np.zeros((64, 64)), mu1, s1)
    assert z == pytest.approx(np.trace(s1), rel=1e-9)  # tr((0 @ s1)^1/2) = 0


def naive_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    m, d = x.shape

    def k(a, b):
        return (a @ b / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / (m * m)


def test_kid_matches_the_unbiased_estimator_written_out():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((12, 5)), rng.standard_normal((12, 5)) + 0.3
    got = polynomial_mmd2(torch.from_numpy(x), torch.from_numpy(y))
    assert got == pytest.approx(naive_mmd2(x, y), rel=1e-9)
    # one subset covering both sets: mean is that value, std 0
    mean, std = kernel_inception_distance(x, y, subsets=3, subset_size=1000)  # in float32
    assert mean == pytest.approx(got, rel=1e-5) and std < 1e-6


def test_kid_in_float32_matches_float64_at_scale():
    """Kernels formed in float32, summed in float64: error far below KID's own spread."""
    g = torch.Generator().manual_seed(9)
    x, y = torch.randn(1000, 128, generator=g), torch.randn(1000, 128, generator=g)
    exact = polynomial_mmd2(x.double(), y.double())
    assert abs(polynomial_mmd2(x, y) - exact) < 1e-6


def test_kid_near_zero_for_same_distribution_and_positive_for_shift():
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((2000, 16)), rng.standard_normal((2000, 16))
    same, same_std = kernel_inception_distance(a, b, subsets=20)
    far, _ = kernel_inception_distance(a, b + 1.0, subsets=20)
    assert abs(same) < 3 * same_std + 1e-4
    assert far > 100 * abs(same)


def test_knn_radii_exclude_the_point_itself():
    pts = torch.tensor([[0.0], [1.0], [3.0], [6.0], [10.0]])
    assert knn_radii(pts, k=1).tolist() == pytest.approx([1.0, 1.0, 2.0, 3.0, 4.0])
    assert knn_radii(pts, k=3).tolist() == pytest.approx([6.0, 5.0, 3.0, 5.0, 9.0])


def test_precision_recall_see_blur_and_mode_dropping():
    g = torch.Generator().manual_seed(0)
    centres = torch.eye(10) * 10  # ten well separated "digits"

    def digits(which: torch.Tensor) -> torch.Tensor:
        noise = torch.zeros(len(which), 10)
        noise[:, :2] = 0.1 * torch.randn(len(which), 2, generator=g)  # 2-d spread per digit
        return centres[which] + noise

    real = digits(torch.arange(1000) % 10)
    assert precision_recall(real, real) == (1.0, 1.0)  # every point lies in its own ball
    p_same, r_same = precision_recall(real, digits(torch.arange(1000) % 10))
    assert p_same > 0.9 and r_same > 0.9
    # mode dropping: only digits 0-4, each realistic -> precision stays, recall halves
    p, r = precision_recall(real, digits(torch.arange(1000) % 5))
    assert p > 0.9 and r == pytest.approx(r_same / 2, abs=0.03)
    # "blur": every sample far from every real digit -> precision 0
    off = torch.full((1000, 10), 5.0) + 0.1 * torch.randn(1000, 10, generator=g)
    assert precision_recall(real, off) == (0.0, 0.0)


def test_inception_score_bounds():
    onehot = torch.eye(10).repeat(50, 1)  # confident and balanced
    assert inception_score(onehot) == pytest.approx(10.0, rel=1e-6)
    assert inception_score(torch.eye(10)[[3] * 500]) == pytest.approx(1.0, rel=1e-6)
    assert inception_score(torch.full((500, 10), 0.1)) == pytest.approx(1.0, rel=1e-6)
    half = torch.eye(10)[torch.arange(500) % 5]  # 5 digits, confident
    assert inception_score(half) == pytest.approx(5.0, rel=1e-6)


def test_digit_histogram_and_entropy():
    probs = torch.eye(10)[torch.tensor([0, 0, 1, 9])]
    assert digit_histogram(probs) == [0.5, 0.25] + [0.0] * 7 + [0.25]
    assert normalized_entropy([0.1] * 10) == pytest.approx(1.0)
    assert normalized_entropy([1.0] + [0.0] * 9) == 0.0
    assert normalized_entropy(digit_histogram(probs)) == pytest.approx(
        -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25)) / math.log(10))
