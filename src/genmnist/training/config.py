"""What a caller hands the trainer and gets back: the run's training config (what the loop
reads), the run's settings (what the caller chose about data and threads, recorded beside it),
the reporter it talks through, the extra evaluators it may pass, and the result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genmnist.samplers import DEFAULT_COMPONENTS


@dataclass
class TrainConfig:
    """What the training loop reads, besides the model's config; saved in every checkpoint."""

    model: str
    epochs: int = 10
    batch_size: int = 128  # the global batch: split across the ranks under torchrun
    lr: float | None = None  # None: each player's default from its paper
    seed: int = 0
    eval_size: int = 10000  # test images scored after each epoch
    precision: str = "fp32"  # "fp32" | "bf16" | "fp16" (genmnist.precision)
    sampler_components: int = DEFAULT_COMPONENTS  # latent Gaussian mixture fitted at the end
    quality_every: int = 0  # score samples every K epochs (0: never; genmnist.quality)
    quality_n: int = 2000  # samples scored each time
    # Dynamic binarisation (Burda et al. 2016): every batch's pixels drawn as Bernoulli of their
    # grey level, and the test set scored on one fixed, seeded binarisation (data.binarize).
    binarize: bool = False
    # "constant", or "cosine": each epoch's learning rate lr * (1 + cos(pi * (epoch-1) / epochs))
    # / 2 (Loshchilov & Hutter, "SGDR", ICLR 2017, one cycle without restarts), set per epoch
    # from its number, so resuming needs no scheduler state.
    lr_schedule: str = "constant"


@dataclass
class RunSettings:
    """What the caller chose about this run that the loop never reads: which training images
    (`subset`: the first N; the splits are loaded by the caller), where MNIST lives, and the
    CPU threads. `fit` records them, with its device, in config.json and the checkpoint
    ("run"), so a run says where it ran and a resumed run trains on the same images."""

    subset: int | None = None
    data_dir: str | None = None
    threads: int | None = None

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any]) -> RunSettings:
        """The settings a checkpoint recorded: under "run", or, in checkpoints written before
        they moved there, in "train_config"."""
        saved = ckpt.get("run") or ckpt.get("train_config") or {}
        return cls(**{k: saved.get(k) for k in ("subset", "data_dir", "threads")})


class Reporter:
    """What the loop tells the outside world; the CLI passes a Rich implementation."""

    def start_epoch(self, epoch: int, epochs: int, batches: int) -> None: ...

    def update(self, batches_done: int, terms: dict[str, float], images_per_sec: float) -> None: ...

    def end_epoch(self, record: dict[str, Any]) -> None: ...

    def message(self, text: str) -> None: ...

    def threads_changed(self, event: dict[str, Any]) -> None:
        """The thread policy chose a count (genmnist.threads: its event dict)."""


# An extra score at an epoch's end, on rank 0: called as `evaluator(model, epoch)` with the
# model in eval mode and the RNG forked (so scoring never changes the training run); the dict
# it returns is merged into the epoch's record (metrics.jsonl and `Reporter.end_epoch`).
Evaluator = Callable[[Any, int], dict[str, Any]]


@dataclass
class TrainResult:
    run_dir: Path
    checkpoint: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
