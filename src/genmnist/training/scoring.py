"""What an epoch's end measures and draws: the held-out loss terms, a fixed 10x10 grid, and any
extra evaluators (the sample quality every K epochs, `quality_every`, is one)."""

from __future__ import annotations

from typing import Any

import torch

from genmnist.data import Split
from genmnist.errors import GenmnistError
from genmnist.models import GenerativeModel
from genmnist.training.config import Evaluator, TrainConfig


@torch.no_grad()
def evaluate(model: GenerativeModel, images: torch.Tensor, labels: torch.Tensor,
             batch_size: int = 1000) -> dict[str, float]:
    """Mean held-out loss terms over `images` (uint8, on the model's device)."""
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].float().div_(255)
        terms = model.evaluate(x, labels[i:i + batch_size] if model.conditional else None)
        for k, v in terms.items():
            totals[k] = totals.get(k, 0.0) + v * len(x)
    model.train(was_training)
    return {k: v / len(images) for k, v in totals.items()}


@torch.no_grad()
def picture(model: GenerativeModel, seed: int,
            test_images: torch.Tensor) -> tuple[torch.Tensor, str]:
    """A fixed 10x10 grid for the run folder: samples (a column per digit for conditional
    models), or reconstructions while the model cannot sample yet (e.g. before its prior is fit)."""
    was_training = model.training
    model.eval()
    try:
        g = torch.Generator().manual_seed(seed)
        y = torch.arange(100, device=test_images.device) % 10 if model.conditional else None
        try:
            return model.sample(100, y, generator=g), "samples"
        except GenmnistError:
            x = test_images[:50].float().div_(255)
            return torch.cat([x, model.decode(model.encode(x))]), "reconstructions"
    finally:
        model.train(was_training)


def run_evaluators(model: GenerativeModel, epoch: int,
                   evaluators: list[Evaluator] | tuple[Evaluator, ...]) -> dict[str, Any]:
    """The evaluators' results, merged. They run in eval mode on a fork of the RNGs, so adding
    one never changes the weights a run ends with (nor breaks exact resume)."""
    out: dict[str, Any] = {}
    if not evaluators:
        return out
    was_training = model.training
    param = next(model.parameters(), None)
    devices = [param.device] if param is not None and param.is_cuda else []
    model.eval()
    try:
        with torch.random.fork_rng(devices=devices):
            for evaluator in evaluators:
                out.update(evaluator(model, epoch))
    finally:
        model.train(was_training)
    return out


def quality_evaluators(tcfg: TrainConfig, train: Split,
                       data_dir: str | None = None) -> list[Evaluator]:
    """`tcfg.quality_every` as an evaluator: the samples' quality (genmnist.quality) every K
    epochs and at the last, under "quality" in the record (MNIST's test set from `data_dir`)."""
    every = tcfg.quality_every
    if not every:
        return []

    def quality(model: GenerativeModel, epoch: int) -> dict[str, Any]:
        if epoch % every and epoch != tcfg.epochs:
            return {}
        from genmnist.quality import training_quality  # metrics: only when asked for

        return {"quality": training_quality(model, tcfg.quality_n, tcfg.seed, train,
                                            data_dir)}

    return [quality]
