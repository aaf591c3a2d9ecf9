"""Statistics of the things `genmnist fid` compares: named MNIST references (cached), `.npz`
statistics files in pytorch-fid's format (`mu`, `sigma`), and sets of images.

Named references (`mnist-test`, `mnist-train`) need no export: their statistics are computed
once and cached under `$GENMNIST_CACHE/stats/` (default `~/.cache/genmnist/stats/`), keyed on
everything that changes them (`cache_key`): feature space, network weights, MNIST files and
genmnist version. The cache also keeps up to 10000 features (a seeded subset of the
train split), which KID and precision/recall need.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genmnist import __version__
from genmnist.data import RAW_FILES, default_data_dir, load_mnist, resolve_data_dir
from genmnist.errors import GenmnistError, OptionError
from genmnist.fileio import write_atomically
from genmnist.metrics.features import FeatureSpace
from genmnist.metrics.frechet import statistics
from genmnist.metrics.precision_recall import knn_radii

REFERENCES = {"mnist-test": "test", "mnist-train": "train"}
KEEP_FEATURES = 10000  # features kept per cached reference: enough for KID and precision/recall
CACHE_ENV = "GENMNIST_CACHE"
PR_K = 3  # the k of precision/recall whose radii the cache keeps


@dataclass
class Stats:
    """What one side of a comparison provides: always mu/sigma; features and images if known."""

    source: str
    n: int
    mu: np.ndarray
    sigma: np.ndarray
    features: torch.Tensor | None = None
    images: torch.Tensor | None = None  # uint8 (N, 1, 28, 28)
    probs: torch.Tensor | None = None  # MNIST classifier softmax (N, 10), when computed
    radii: torch.Tensor | None = None  # k-NN radii of `features` (precision/recall, k = 3)


def stats_dir() -> Path:
    root = os.environ.get(CACHE_ENV)
    return (Path(root).expanduser() if root else default_data_dir().parent) / "stats"


def stats_of_images(images: torch.Tensor, space: FeatureSpace, source: str) -> Stats:
    if len(images) < 2:
        raise GenmnistError(f"{source} holds {len(images)} image(s); scores need at least 2 "
                            "(10000 is the convention)")
    feats, probs = space.extract(images, source)
    mu, sigma = statistics(feats.numpy())
    return Stats(source, len(images), mu, sigma, feats, images, probs)


def _subset(feats: torch.Tensor, k: int = KEEP_FEATURES) -> torch.Tensor:
    if len(feats) <= k:
        return feats
    return feats[torch.randperm(len(feats), generator=torch.Generator().manual_seed(0))[:k]]


def content_digest(path: Path) -> str | None:
    """sha256 of a file's bytes (None if it is missing), computed once per file version."""
    try:
        st = path.stat()
    except OSError:
        return None
    return _digest(str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_key(name: str, space: FeatureSpace, data_dir: str | Path | None = None) -> str | None:
    """A digest of everything that changes a reference's statistics: the feature space and
    its network's weights (by content: another --inception-weights file is another key), the
    MNIST files (by content), and the genmnist version. None while the weights or the data are
    not on disk yet (before their first download): then nothing is read from the cache."""
    weights = space.weights_file()
    raw = resolve_data_dir(data_dir) / "MNIST" / "raw"
    parts = [name, space.key, content_digest(weights) if weights else None,
             *(content_digest(raw / f) for f in RAW_FILES[REFERENCES[name]]), __version__]
    if None in parts:
        return None
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def reference_stats(name: str, space: FeatureSpace, data_dir: str | Path | None = None) -> Stats:
    """Statistics of a named reference, from the cache or computed once and cached."""
    if name not in REFERENCES:
        raise GenmnistError(f"unknown reference {name!r}: use a folder of PNGs, a .npz file, or "
                            f"one of {', '.join(REFERENCES)}")
    key = cache_key(name, space, data_dir)
    path = stats_dir() / f"{name}-{space.key}-{key}.npz"
    if key is not None and path.is_file():
        try:
            with np.load(path) as f:
                return Stats(name, int(f["n"]), f["mu"], f["sigma"],
                             torch.from_numpy(f["features"]), radii=torch.from_numpy(f["radii"]))
        except Exception:  # a truncated or stale cache file is rebuilt, never trusted
            pass
    split = load_mnist(REFERENCES[name], data_dir)
    stats = stats_of_images(split.images, space, name)
    stats.features = _subset(stats.features)
    stats.radii = knn_radii(stats.features, PR_K)
    key = cache_key(name, space, data_dir)  # the weights and data are on disk by now
    path = stats_dir() / f"{name}-{space.key}-{key}.npz"
    try:  # atomic: a concurrent reader never sees half a file
        if key is None:
            raise OSError("nothing to key the statistics on")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda f: np.savez(
            f, mu=stats.mu, sigma=stats.sigma, n=stats.n, features=stats.features.numpy(),
            radii=stats.radii.numpy(), feature_space=space.key, cache_key=key))
    except (OSError, GenmnistError):
        pass  # a read-only cache only costs time
    stats.images = stats.probs = None  # IS and coverage describe the samples only
    return stats


def load_npz(path: str | Path, space: FeatureSpace) -> Stats:
    """A pytorch-fid statistics file (`mu`, `sigma`), checked against the feature space."""
    path = Path(path)
    if not path.is_file():
        raise GenmnistError(f"statistics file {path} not found")
    try:
        with np.load(path) as f:
            keys = set(f.files)
            if not {"mu", "sigma"} <= keys:
                raise GenmnistError(f"{path} has no 'mu' and 'sigma' arrays (pytorch-fid's "
                                    f"statistics format); it holds: {', '.join(sorted(keys))}")
            mu, sigma = f["mu"].astype(np.float64), f["sigma"].astype(np.float64)
            saved_space = str(f["feature_space"]) if "feature_space" in keys else None
            n = int(f["n"]) if "n" in keys else 0
    except GenmnistError:
        raise
    except Exception as e:
        raise GenmnistError(f"{path} is not a readable .npz statistics file") from e
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise GenmnistError(f"{path} holds NaN or infinite values in mu or sigma: these are "
                            "not statistics any score can be computed from")
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        raise GenmnistError(f"{path}: mu must be (D,) and sigma (D, D); got {mu.shape} and "
                            f"{sigma.shape}")
    if saved_space is not None and saved_space != space.key:
        raise OptionError("{path} holds statistics in feature space {saved}, not {key} "
                          "({label}); pass the matching {features}/{dims}", ("features", "dims"),
                          path=path, saved=saved_space, key=space.key, label=space.label)
    if len(mu) != space.dims:
        raise OptionError("{path} holds {d}-d statistics, but the feature space is {label}; "
                          "pass the matching {features}/{dims}", ("features", "dims"),
                          path=path, d=len(mu), label=space.label)
    return Stats(str(path), n, mu, sigma)


def check_npz_target(path: str | Path, force: bool) -> Path:
    path = Path(path)
    if path.suffix != ".npz":
        raise OptionError("{save_stats} {path} must end in .npz", ("save_stats",), path=path)
    if path.is_dir() or (path.exists() and not force):
        raise OptionError("{path} already exists; pass {force} to overwrite it", ("force",),
                          path=path)
    return path


def save_npz(stats: Stats, space: FeatureSpace, path: str | Path, force: bool = False) -> Path:
    """Write pytorch-fid's format (mu, sigma) plus the feature space and sample count."""
    path = check_npz_target(path, force)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GenmnistError(f"cannot write {path}: {e.strerror or e}") from e
    return write_atomically(path, lambda f: np.savez_compressed(
        f, mu=stats.mu, sigma=stats.sigma, n=stats.n, feature_space=space.key))
