"""`score()`: every metric for one set of samples against one reference, as a plain dict.

This is the function `genmnist fid` prints and `genmnist benchmark` calls. Samples and
reference may each be a folder of PNGs, a `.npz` statistics file, a named reference
(`mnist-test`, `mnist-train`) or an in-memory tensor (N, 1, 28, 28) in [0, 1]. Tensors are
rounded to 8 bits first, exactly as `genmnist generate` writes PNGs, so scoring in memory gives
the numbers that scoring the written folder gives.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from genmnist.errors import GenmnistError, OptionError
from genmnist.images import INCOMPLETE_NAME, describe_unfinished, to_uint8, unfinished
from genmnist.metrics.digits import digit_histogram, inception_score, normalized_entropy
from genmnist.metrics.features import FeatureSpace, feature_space
from genmnist.metrics.folder import read_folder
from genmnist.metrics.frechet import frechet_distance
from genmnist.metrics.kid import KID_SUBSET_SIZE, KID_SUBSETS, kernel_inception_distance
from genmnist.metrics.precision_recall import precision_recall
from genmnist.metrics.reference import (
    PR_K,
    REFERENCES,
    Stats,
    load_npz,
    reference_stats,
    stats_of_images,
)

METRICS = ("fid", "kid", "pr", "is", "coverage")

Source = str | Path | torch.Tensor | Stats


def parse_metrics(text: str) -> tuple[str, ...]:
    """'fid,kid' -> ('fid', 'kid'); 'all' -> every metric."""
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    if names == ["all"]:
        return METRICS
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        what = ", ".join(bad) if bad else repr(text)
        raise GenmnistError(f"unknown metric {what}; use a comma list of {', '.join(METRICS)}, "
                            "or all")
    return tuple(dict.fromkeys(names))


def as_uint8_images(x: torch.Tensor) -> torch.Tensor:
    if x.dtype == torch.uint8:
        images = x
    else:
        if x.dim() != 4 or not torch.is_floating_point(x):
            raise GenmnistError(f"samples must be a float tensor (N, 1, 28, 28) in [0, 1], got "
                                f"{x.dtype} {tuple(x.shape)}")
        images = torch.from_numpy(to_uint8(x)).unsqueeze(1)
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise GenmnistError(f"samples must be (N, 1, 28, 28), got {tuple(images.shape)}")
    return images


def load_source(src: Source, space: FeatureSpace, data_dir=None, warn=None,
                convert: bool = False) -> Stats:
    """Statistics (and features/images where there are some) of one argument. `convert`:
    convert a folder's images that are not 28x28 grayscale instead of refusing them."""
    if isinstance(src, Stats):  # already loaded (e.g. by `fid --save-stats`)
        return src
    if isinstance(src, torch.Tensor):
        return stats_of_images(as_uint8_images(src), space, f"tensor {tuple(src.shape)}")
    text = str(src)
    if text in REFERENCES:
        return reference_stats(text, space, data_dir)
    if text.endswith(".npz"):
        return load_npz(text, space)
    path = Path(text)
    if not path.exists() and "/" not in text and "." not in text:
        raise GenmnistError(f"{text!r} is neither an existing folder nor a named reference "
                            f"(use one of {', '.join(REFERENCES)})")
    left = unfinished(path)
    if left is not None:
        raise OptionError("{what}, so it is not scored; redo it with {force} (or delete "
                          "{marker} to score what is there)", ("force",),
                          what=describe_unfinished(path, left), marker=path / INCOMPLETE_NAME)
    return stats_of_images(read_folder(path, warn, convert, space.progress), space, text)


def score(samples: Source, reference: Source = "mnist-test", features: str = "mnist",
          metrics: tuple[str, ...] | str = METRICS, dims: int | None = None,
          device: torch.device | str = "cpu", classifier: str | Path | None = None,
          inception_weights: str | Path | None = None, data_dir: str | Path | None = None,
          warn: Callable[[str], None] | None = None, space: FeatureSpace | None = None,
          kid_subset_size: int = KID_SUBSET_SIZE, kid_subsets: int = KID_SUBSETS) -> dict:
    """All asked-for metrics of `samples` against `reference`, in one feature space.

    Returns a flat dict: feature-space names, sizes, then `fid`, `kid`/`kid_std`,
    `precision`/`recall`, `inception_score`, `digit_histogram`/`digit_entropy` for the metrics
    asked for. KID and precision/recall need features on both sides (not a `.npz`); the
    Inception-style score and coverage describe the samples and need their images. Metrics that
    cannot be computed from what was given are left out and explained through `warn`.
    """
    t0 = time.perf_counter()
    warn = warn or (lambda msg: warnings.warn(msg, stacklevel=2))
    metrics = parse_metrics(metrics) if isinstance(metrics, str) else tuple(metrics)
    space = space or feature_space(features, dims, device, classifier, inception_weights)
    a = load_source(samples, space, data_dir, warn)
    b = load_source(reference, space, data_dir, warn)
    out = {"feature_space": space.name, "features": space.label, "dims": space.dims,
           "samples": a.source, "n_samples": a.n, "reference": b.source, "n_reference": b.n}
    for side in (a, b):
        if 0 < side.n < space.dims:
            warn(f"{side.source} has {side.n} samples, fewer than the {space.dims} feature "
                 "dimensions: its covariance is singular and FID is unreliable (use 10000)")
    if "fid" in metrics:
        out["fid"] = frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
    both = a.features is not None and b.features is not None
    for name, needs in (("kid", "KID"), ("pr", "precision/recall")):
        if name in metrics and not both:
            warn(f"{needs} skipped: it needs features of both sides, and a .npz holds only "
                 "mu and sigma")
    if "kid" in metrics and both:
        if kid_subset_size < 2 or kid_subsets < 1:
            raise GenmnistError(f"KID needs subsets of at least 2 samples, and at least 1 of "
                                f"them; got {kid_subsets} of {kid_subset_size}")
        m = min(kid_subset_size, len(a.features), len(b.features))
        if m < kid_subset_size:
            warn(f"KID: only {m} samples on the smaller side, fewer than the subset size "
                 f"{kid_subset_size}, so every subset holds all of them: its ± is no spread, "
                 f"and values from {m} samples are noisy and not comparable to the usual "
                 f"{KID_SUBSET_SIZE}-sample KID")
        if a.features.shape == b.features.shape and torch.equal(a.features, b.features):
            warn("KID: samples and reference are the same images; the unbiased estimate of a "
                 "set against itself is below 0 (by about 2/m of the kernel's mean), not 0")
        out["kid"], out["kid_std"] = kernel_inception_distance(a.features, b.features,
                                                               kid_subsets, kid_subset_size)
        out["kid_subset_size"], out["kid_subsets"] = m, kid_subsets
    if "pr" in metrics and both:
        if min(len(a.features), len(b.features)) <= PR_K:
            warn(f"precision/recall skipped: needs more than k={PR_K} samples per side")
        else:
            out["precision"], out["recall"] = precision_recall(b.features, a.features, k=PR_K,
                                                               real_radii=b.radii)
    if {"is", "coverage"} & set(metrics):
        if a.images is None:
            warn("Inception-style score and digit coverage skipped: they need the samples' "
                 "images, not statistics")
        else:
            probs = a.probs if a.probs is not None else space.probabilities(a.images)
            if "is" in metrics:
                out["inception_score"] = inception_score(probs)
            if "coverage" in metrics:
                out["digit_histogram"] = digit_histogram(probs)
                out["digit_entropy"] = normalized_entropy(out["digit_histogram"])
    out["seconds"] = time.perf_counter() - t0
    return out
