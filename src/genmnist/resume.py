"""Exact resume: what a checkpoint must hold so that a run continues bit for bit.

A run stopped (Ctrl-C, a dead machine) and resumed must end with the same weights as one that
never stopped. Besides weights that takes the optimizer states (Adam's moments), the step counter
(`schedule(step)` picks the players of multi-player models), the global torch RNG (the VAE's
reparameterisation noise, dropout), the CUDA RNG on a GPU, and the generator that shuffles each
epoch. A checkpoint written mid-epoch (Ctrl-C) also holds that epoch's permutation, the index of
the next batch and the partial loss sums, so the epoch finishes as if it had never stopped.

This is the checkpoint content of training libraries that resume exactly (e.g. PyTorch
Lightning's `fit_loop` state, Hugging Face Accelerate's `save_state` with its RNG states); here it
is one plain dict of tensors and numbers, loaded with `weights_only=True`.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from genmnist.checkpoint import CHECKPOINT_NAME, load_checkpoint, resolve_checkpoint_path
from genmnist.errors import GenmnistError


@dataclass
class Progress:
    """Where a run stands: complete epochs, optimizer steps, the per-epoch records so far, and
    the epoch in progress when the checkpoint was written mid-epoch."""

    epoch: int = 0
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    partial: dict[str, Any] | None = None


def rng_state(device: torch.device, shuffle: torch.Generator) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "shuffle": shuffle.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def training_state(model, optimizers: dict[str, torch.optim.Optimizer], shuffle: torch.Generator,
                   device: torch.device, progress: Progress) -> dict[str, Any]:
    """The part of a checkpoint that `restore` needs, beyond the model name and configs."""
    state = {"state_dict": model.state_dict(),
             "optimizers": {p: o.state_dict() for p, o in optimizers.items()},
             "epoch": progress.epoch, "step": progress.step, "history": progress.history,
             "rng": rng_state(device, shuffle)}
    if progress.partial is not None:
        state["partial"] = progress.partial
    return state


def restore(ckpt: dict[str, Any], model, optimizers: dict[str, torch.optim.Optimizer],
            shuffle: torch.Generator, device: torch.device) -> Progress:
    """Load weights, optimizer and RNG states from `ckpt`; return where the run stands."""
    try:
        model.load_state_dict(ckpt["state_dict"])
        for player, opt in optimizers.items():
            opt.load_state_dict(ckpt["optimizers"][player])
        rng = ckpt["rng"]
        torch.set_rng_state(rng["torch"])
        shuffle.set_state(rng["shuffle"])
        if device.type == "cuda" and "cuda" in rng:
            torch.cuda.set_rng_state(rng["cuda"], device)
        progress = Progress(int(ckpt["epoch"]), int(ckpt["step"]), list(ckpt.get("history", [])),
                            ckpt.get("partial"))
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise GenmnistError("cannot resume: the checkpoint's training state does not fit "
                            f"model {ckpt.get('model')!r} ({type(e).__name__}: "
                            f"{str(e).splitlines()[0] if str(e) else 'missing entry'})") from e
    return progress


def plan_resume(path: str | Path, model: str | None = None, epochs: int | None = None,
                data_dir: str | None = None):
    """Read the run to resume: returns (TrainConfig, model config dict, checkpoint, run folder).

    `path` is a run folder or its checkpoint.pt; `model`, when given, must be the run's model;
    `epochs` is the total to reach (default: the run's own target)."""
    from genmnist.models import MODELS
    from genmnist.train import TrainConfig

    p = resolve_checkpoint_path(path)
    if p.name != CHECKPOINT_NAME:
        raise GenmnistError(f"--resume takes a run folder or its {CHECKPOINT_NAME}, not {p.name}; "
                            f"to continue from a copied checkpoint, put it in a folder of its own "
                            f"as {CHECKPOINT_NAME}")
    ckpt = load_checkpoint(p)
    name = ckpt.get("model")
    if name not in MODELS:
        raise GenmnistError(f"{p} holds unknown model {name!r}; this genmnist knows "
                            f"{', '.join(MODELS)}")
    if model is not None and model != name:
        raise GenmnistError(f"{p.parent} is a run of model '{name}', not '{model}'; use "
                            f"`genmnist train {name} --resume {shlex.quote(str(p.parent))}`")
    if "optimizers" not in ckpt or "rng" not in ckpt:
        raise GenmnistError(f"{p} holds weights but no training state, so it cannot be resumed")
    known = {f.name for f in fields(TrainConfig)}
    saved = {k: v for k, v in dict(ckpt.get("train_config", {})).items() if k in known}
    try:
        tcfg = TrainConfig(**saved)
    except TypeError as e:
        raise GenmnistError(f"{p} has no usable training config: {e}") from e
    if epochs is not None:
        tcfg.epochs = epochs
    if data_dir is not None:
        tcfg.data_dir = data_dir
    done = int(ckpt.get("epoch", 0))
    if tcfg.epochs <= done:
        raise GenmnistError(f"{p.parent} has already trained {done} epochs; pass --epochs N with "
                            f"N > {done} to train it further")
    return tcfg, dict(ckpt["model_config"]), ckpt, p.parent


def history_for(ckpt: dict[str, Any], run_dir: Path) -> list[dict[str, Any]]:
    """The per-epoch records of the run up to the checkpoint: stored in the checkpoint, or (for
    checkpoints written before it held them) the metrics.jsonl lines up to its epoch."""
    if "history" in ckpt:
        return list(ckpt["history"])
    done, kept = int(ckpt.get("epoch", 0)), []
    path = run_dir / "metrics.jsonl"
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            record = json.loads(line)
        except ValueError:  # half a line from a killed writer
            continue
        if isinstance(record, dict) and isinstance(record.get("epoch"), int) \
                and record["epoch"] <= done and record["epoch"] > len(kept):
            kept.append(record)
    return kept


def check_finite_terms(means: dict[str, float], epoch: int, batch: int,
                       kept: Callable[[], str]) -> None:
    """Stop at the first NaN or infinite loss term, before a checkpoint could hold its weights.
    `kept()` says what the user still has (called only then)."""
    bad = [f"{k} = {v}" for k, v in means.items() if not math.isfinite(v)]
    if bad:
        raise GenmnistError(f"training stopped: loss became non-finite at epoch {epoch} batch "
                            f"{batch} ({', '.join(bad)}); {kept()}; try a lower --lr")


def check_finite_weights(model, epoch: int, kept: Callable[[], str]) -> None:
    """One device sync per epoch: never write a checkpoint whose weights hold NaN or inf."""
    tensors = {k: t for k, t in model.state_dict().items() if t.is_floating_point()}
    if not tensors or bool(torch.stack([torch.isfinite(t).all() for t in tensors.values()]).all()):
        return
    bad = next(k for k, t in tensors.items() if not bool(torch.isfinite(t).all()))
    raise GenmnistError(f"training stopped: weight '{bad}' became NaN or infinite in epoch "
                        f"{epoch}; {kept()}; try a lower --lr")
