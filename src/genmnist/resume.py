"""Which run to resume: read a run folder's checkpoint and the config it continues with.

Exact resume itself -- what a checkpoint must hold so that a run continues bit for bit -- is the
training state's `state_dict` (genmnist.training.state); the run's records live in its folder
(genmnist.training.run_folder).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from genmnist.checkpoint import CHECKPOINT_NAME, load_checkpoint, resolve_checkpoint_path
from genmnist.errors import AlreadyTrained, GenmnistError, NotARunCheckpoint, WrongRunModel
from genmnist.models import MODELS
from genmnist.training.config import TrainConfig


def plan_resume(path: str | Path, model: str | None = None, epochs: int | None = None):
    """Read the run to resume: returns (TrainConfig, model config dict, checkpoint, run folder).

    `path` is a run folder or its checkpoint.pt; `model`, when given, must be the run's model;
    `epochs` is the total to reach (default: the run's own target). The run's settings
    (which images, threads) are `RunSettings.from_checkpoint(ckpt)`; keys that older checkpoints
    kept in their training config and that now live there are left out of it."""
    p = resolve_checkpoint_path(path)
    if p.name != CHECKPOINT_NAME:
        raise NotARunCheckpoint(p, CHECKPOINT_NAME)
    ckpt = load_checkpoint(p)
    name = ckpt.get("model")
    if name not in MODELS:
        raise GenmnistError(f"{p} holds unknown model {name!r}; this genmnist knows "
                            f"{', '.join(MODELS)}")
    if model is not None and model != name:
        raise WrongRunModel(p.parent, name, model)
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
    done = int(ckpt.get("epoch", 0))
    if tcfg.epochs <= done:
        raise AlreadyTrained(p.parent, done)
    return tcfg, dict(ckpt["model_config"]), ckpt, p.parent
