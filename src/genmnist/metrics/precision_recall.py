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

CHUNK = 2048  # rows of the distance matrix held at once: 2048 x 10000 float32 = 80 MB


def _as_tensor(f: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(f, dtype=torch.float32)


def knn_radii(feats: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Distance from each feature to its k-th nearest neighbour in the same set (self excluded)."""
    radii = []
    for i in range(0, len(feats), CHUNK):
        d = torch.cdist(feats[i:i + CHUNK], feats)  # (chunk, N)
        # the k+1 smallest include the point itself at distance ~0
        radii.append(d.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(radii)


def coverage_by_balls(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> float:
    """Share of `queries` within radii[j] of some centre j."""
    inside = 0
    for i in range(0, len(queries), CHUNK):
        d = torch.cdist(queries[i:i + CHUNK], centres)  # (chunk, M)
        inside += int((d <= radii[None, :]).any(dim=1).sum())
    return inside / len(queries)


def precision_recall(real: np.ndarray | torch.Tensor, fake: np.ndarray | torch.Tensor, k: int = 3,
                     max_samples: int = 10000, seed: int = 0) -> tuple[float, float]:
    """(precision, recall) of `fake` against `real`, each side subsampled to `max_samples`.

    The cap keeps the cost at seconds: the pairwise distances grow as n^2 (the paper used 50k).
    """
    g = torch.Generator().manual_seed(seed)
    real, fake = _as_tensor(real), _as_tensor(fake)
    if len(real) > max_samples:
        real = real[torch.randperm(len(real), generator=g)[:max_samples]]
    if len(fake) > max_samples:
        fake = fake[torch.randperm(len(fake), generator=g)[:max_samples]]
    assert min(len(real), len(fake)) > k, f"precision/recall needs more than k={k} samples"
    precision = coverage_by_balls(fake, real, knn_radii(real, k))
    recall = coverage_by_balls(real, fake, knn_radii(fake, k))
    return precision, recall
