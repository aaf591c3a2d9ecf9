"""The NaN guard: stop at the first non-finite loss term or weight, before a checkpoint could
hold it. The errors carry the epoch, batch and terms; the CLI words the advice."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from genmnist.errors import NonFiniteLoss, NonFiniteTest, NonFiniteWeights


def check_finite_terms(means: dict[str, float], epoch: int, batch: int, checkpoint: Path,
                       kept: int) -> None:
    """Raise NonFiniteLoss naming the bad terms; `kept` is the checkpoint's epoch (0: none)."""
    bad = {k: v for k, v in means.items() if not math.isfinite(v)}
    if bad:
        raise NonFiniteLoss(epoch, batch, bad, checkpoint, kept)


def check_finite_test(means: dict[str, float], epoch: int, checkpoint: Path, kept: int) -> None:
    """Finite training terms can still give NaN or infinite test-set terms (one huge step):
    raise NonFiniteTest, so that such an epoch is neither logged nor saved."""
    bad = {k: v for k, v in means.items() if not math.isfinite(v)}
    if bad:
        raise NonFiniteTest(epoch, bad, checkpoint, kept)


def check_finite_weights(model: torch.nn.Module, epoch: int, checkpoint: Path, kept: int) -> None:
    """One device sync per epoch: never write a checkpoint whose weights hold NaN or inf."""
    tensors = {k: t for k, t in model.state_dict().items() if t.is_floating_point()}
    if not tensors or bool(torch.stack([torch.isfinite(t).all() for t in tensors.values()]).all()):
        return
    bad = next(k for k, t in tensors.items() if not bool(torch.isfinite(t).all()))
    raise NonFiniteWeights(epoch, bad, checkpoint, kept)
