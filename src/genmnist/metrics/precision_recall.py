"""Improved precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall
Metric for Assessing Generative Models").

Each set's manifold is the union of balls around its features, each ball reaching the k-th
nearest neighbour (k = 3) within the same set. Precision is the share of generated samples that
fall inside the real manifold (are they realistic?); recall is the share of real samples inside
the generated manifold (is every mode covered?). Blurry samples lose precision; dropped modes
lose recall -- the two failures one FID number mixes up.
"""

from __future__ import annotations

import numpy as np
import torch

CHUNK = 1000  # rows of the distance matrix held at once: 1000 x 10000 float32 = 40 MB


def _as_tensor(f: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(f, dtype=torch.float32)


def _sq_dists(a: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances (len(a), len(b)) by one matrix product, clamped at 0."""
    d = torch.addmm(b_sq[None, :], a, b.T, alpha=-2.0)
    return d.add_((a * a).sum(1, keepdim=True)).clamp_min_(0.0)


def knn_radii(feats: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Distance from each feature to its k-th nearest neighbour in the same set (self excluded)."""
    feats = _as_tensor(feats)
    sq = (feats * feats).sum(1)
    radii = []
    for i in range(0, len(feats), CHUNK):
        d = _sq_dists(feats[i:i + CHUNK], feats, sq)  # (chunk, N)
        # the k+1 smallest include the point itself at distance ~0
        radii.append(d.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(radii).sqrt_()


def precision_recall(real: np.ndarray | torch.Tensor, fake: np.ndarray | torch.Tensor, k: int = 3,
                     max_samples: int = 10000, seed: int = 0,
                     real_radii: torch.Tensor | None = None) -> tuple[float, float]:
    """(precision, recall) of `fake` against `real`, each side subsampled to `max_samples`.

    The cap keeps the cost at seconds: the pairwise distances grow as n^2 (the paper used 50k).
    One pass over the fake-to-real distances gives both numbers. `real_radii` (knn_radii of
    `real`, e.g. cached with a named reference) saves a pass; it needs len(real) <= max_samples.
    """
    g = torch.Generator().manual_seed(seed)
    real, fake = _as_tensor(real), _as_tensor(fake)
    if len(real) > max_samples:
        assert real_radii is None, "radii of a subsampled set cannot be reused"
        real = real[torch.randperm(len(real), generator=g)[:max_samples]]
    if len(fake) > max_samples:
        fake = fake[torch.randperm(len(fake), generator=g)[:max_samples]]
    assert min(len(real), len(fake)) > k, f"precision/recall needs more than k={k} samples"
    r_real = knn_radii(real, k) if real_radii is None else _as_tensor(real_radii)
    r_real2, r_fake2 = r_real.square(), knn_radii(fake, k).square_()
    real_sq = (real * real).sum(1)
    fake_in = torch.zeros(len(fake), dtype=torch.bool)  # inside some real ball: precision
    real_in = torch.zeros(len(real), dtype=torch.bool)  # inside some fake ball: recall
    for i in range(0, len(fake), CHUNK):
        d = _sq_dists(fake[i:i + CHUNK], real, real_sq)  # (chunk, n_real)
        fake_in[i:i + CHUNK] = (d <= r_real2[None, :]).any(dim=1)
        real_in |= (d <= r_fake2[i:i + CHUNK, None]).any(dim=0)
    return fake_in.float().mean().item(), real_in.float().mean().item()
