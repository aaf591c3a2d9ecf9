"""A generator as the thing scored, as torch-fidelity and clean-fid allow: a checkpoint is
sampled in memory and its samples go to the feature network as floats, with no PNG round trip.

The samples are those `genmnist generate` would write with the same seed and sampler (one
sampling order, `genmnist.sampling.sample_batches`), but unrounded: the PNG folder holds them
rounded to 8 bits. That rounding is the only difference between the two paths; docs/fid.md
gives its size.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from genmnist.checkpoint import CHECKPOINT_NAME, load_model
from genmnist.metrics.features import FeatureSpace
from genmnist.metrics.reference import Stats, stats_of_images
from genmnist.models.base import GenerativeModel
from genmnist.samplers import resolve_sampler
from genmnist.sampling import draw_samples


def is_checkpoint(src: str | Path) -> bool:
    """A `.pt` file, or a run folder (one holding checkpoint.pt): something to sample from."""
    p = Path(src)
    return p.suffix == ".pt" or (p.is_dir() and (p / CHECKPOINT_NAME).is_file())


def generator_stats(path: str | Path, n: int, seed: int, space: FeatureSpace,
                    device: torch.device, sampler: str = "auto",
                    loaded: Callable[[GenerativeModel], None] | None = None) -> Stats:
    """Statistics of `n` samples (seed `seed`, codes from `sampler`, a name as
    `genmnist.samplers.resolve_sampler` takes it) of the model in checkpoint `path`, in memory.
    `loaded` is called with the model once it is rebuilt (the CLI says how it samples)."""
    model, _ = load_model(path, device)
    chosen = resolve_sampler(model, sampler)
    if loaded is not None:
        loaded(model)

    done = 0
    if space.threads is not None:
        space.threads.resume()

    def advance(b: int) -> None:
        nonlocal done
        done += b
        if space.threads is not None:
            space.threads.step(b)
        if space.progress is not None:
            space.progress(f"sampling {path}", done, n)

    images = draw_samples(model, n, seed, on_batch=advance, sampler=chosen).clamp_(0, 1)
    kind = chosen.kind if chosen is not None else "prior"
    return stats_of_images(images, space, f"{path} ({model.name}, {n} samples in memory, "
                                          f"seed {seed}, sampler {kind})")
