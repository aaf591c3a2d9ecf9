"""The training loop, kept apart from the models (minGPT's trainer habit: nothing here knows
what a VAE or a GAN is).

Each batch, the model's `schedule(step)` names the players to update -- `("model",)` for a VAE;
the critic every batch and the generator every n-th batch for a WGAN -- and the loop runs one
optimizer step per named player on that batch. So one loop serves single- and multi-player models.

The split is held in memory as one uint8 tensor on the training device and batched by indexing.
Loss terms are summed on the device and read back only when the progress display refreshes, so a
GPU never waits on Python for a `.item()` per step.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from genmnist.checkpoint import CHECKPOINT_NAME, save_checkpoint
from genmnist.data import Split
from genmnist.errors import GenmnistError
from genmnist.images import save_grid
from genmnist.models import GenerativeModel, OptimizerSpec, build_model


@dataclass
class TrainConfig:
    """Everything about a run that is not the model; saved in every checkpoint."""

    model: str
    epochs: int = 10
    batch_size: int = 128
    lr: float | None = None  # None: each player's default from its paper
    seed: int = 0
    device: str = "auto"
    subset: int | None = None  # train on the first N training images
    eval_size: int = 10000  # test images scored after each epoch
    threads: int | None = None
    data_dir: str | None = None


class Reporter:
    """What the loop tells the outside world; the CLI passes a Rich implementation."""

    def start_epoch(self, epoch: int, epochs: int, batches: int) -> None: ...

    def update(self, batches_done: int, terms: dict[str, float], images_per_sec: float) -> None: ...

    def end_epoch(self, record: dict[str, Any]) -> None: ...

    def message(self, text: str) -> None: ...


@dataclass
class TrainResult:
    run_dir: Path
    checkpoint: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None


def make_optimizer(params, spec: OptimizerSpec, lr: float | None) -> torch.optim.Optimizer:
    lr = spec.lr if lr is None else lr
    if spec.kind == "adam":
        return torch.optim.Adam(params, lr=lr, betas=spec.betas)
    if spec.kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    raise ValueError(f"unknown optimizer kind {spec.kind!r}")


def batch_starts(n: int, batch_size: int) -> list[int]:
    """Start offsets of full batches (the ragged tail is dropped: BatchNorm needs > 1 image)."""
    if n <= batch_size:
        return [0]
    return list(range(0, n - batch_size + 1, batch_size))


def fit_sampler(module: torch.nn.Module, loss_fn: Callable[[torch.Tensor], dict],
                data: torch.Tensor, epochs: int, batch_size: int, spec: OptimizerSpec,
                name: str = "sampler", reporter: Reporter | None = None) -> float:
    """Fit a network a model samples through, after the model itself is trained (VQ-VAE's
    PixelCNN prior over its code maps): minimise `loss_fn(batch)["loss"]` over shuffled batches
    of `data` (on the module's device). Returns the last epoch's mean loss.

    Models call this from `after_training`; it lives here so that the trainer still builds every
    optimizer and reports every loop."""
    reporter = reporter or Reporter()
    opt = make_optimizer(module.parameters(), spec, None)
    module.train()
    starts, bs = batch_starts(len(data), batch_size), min(batch_size, len(data))
    mean = float("nan")
    for epoch in range(1, epochs + 1):
        reporter.start_epoch(epoch, epochs, len(starts))
        perm = torch.randperm(len(data)).to(data.device)  # the global RNG, seeded by fit()
        total, t0 = torch.zeros((), device=data.device), time.perf_counter()
        for b, s in enumerate(starts):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(data[perm[s:s + bs]])["loss"]
            loss.backward()
            opt.step()
            total += loss.detach()
            if b % 20 == 19 or b == len(starts) - 1:
                reporter.update(b + 1, {f"{name}/loss": float(total) / (b + 1)},
                                (b + 1) * bs / (time.perf_counter() - t0))
        mean = float(total) / len(starts)
        reporter.message(f"{name} epoch {epoch}/{epochs}  {time.perf_counter() - t0:6.1f}s  "
                         f"loss {mean:.4g}")
    return mean


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


def fit(tcfg: TrainConfig, model_config: Any, train: Split, test: Split, run_dir: Path,
        device: torch.device, reporter: Reporter | None = None) -> TrainResult:
    """Train `tcfg.model` on `train`, scoring `test` after every epoch, writing into `run_dir`."""
    reporter = reporter or Reporter()
    torch.manual_seed(tcfg.seed)
    model = build_model(tcfg.model, model_config).to(device).train()
    optimizers = {p: make_optimizer(model.player_parameters(p), model.optimizer_spec(p), tcfg.lr)
                  for p in model.players}
    shuffle = torch.Generator().manual_seed(tcfg.seed)

    images, labels = train.images.to(device), train.labels.to(device)
    test = test.head(tcfg.eval_size)
    test_images, test_labels = test.images.to(device), test.labels.to(device)
    n, bs = len(images), min(tcfg.batch_size, len(images))
    starts = batch_starts(n, bs)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(
        {"model": tcfg.model, "model_config": asdict(model_config), "train_config": asdict(tcfg)},
        indent=2) + "\n")
    result = TrainResult(run_dir, run_dir / CHECKPOINT_NAME)
    step, multi = 0, len(model.players) > 1

    for epoch in range(1, tcfg.epochs + 1):
        reporter.start_epoch(epoch, tcfg.epochs, len(starts))
        perm = torch.randperm(n, generator=shuffle).to(device)
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}
        t0 = time.perf_counter()
        for b, s in enumerate(starts):
            idx = perm[s:s + bs]
            x = images[idx].float().div_(255)
            y = labels[idx] if model.conditional else None
            for p in model.schedule(step):
                opt = optimizers[p]
                opt.zero_grad(set_to_none=True)
                terms = model(x, y, player=p)
                terms["loss"].backward()
                opt.step()
                model.after_step(p)
                for k, v in terms.items():
                    key = f"{p}/{k}" if multi else k
                    sums[key] = sums.get(key, 0) + v.detach()
                    counts[key] = counts.get(key, 0) + 1
            step += 1
            if b % 20 == 19 or b == len(starts) - 1:
                means = {k: float(v) / counts[k] for k, v in sums.items()}
                reporter.update(b + 1, means, (b + 1) * bs / (time.perf_counter() - t0))
        seconds = time.perf_counter() - t0
        train_terms = {k: float(v) / counts[k] for k, v in sums.items()}
        if epoch == tcfg.epochs:
            result.note = model.after_training(
                train.float_images(), train.labels, bs,
                fit_sampler=functools.partial(fit_sampler, reporter=reporter))
        record = {"epoch": epoch, "seconds": round(seconds, 3),
                  "images_per_sec": round(len(starts) * bs / seconds, 1),
                  "train": train_terms, "test": evaluate(model, test_images, test_labels)}
        grid, kind = picture(model, tcfg.seed, test_images)
        save_grid(grid, run_dir / "samples" / f"epoch_{epoch:03d}.png", nrow=10)
        with open(run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        save_checkpoint({
            "model": tcfg.model, "model_config": asdict(model_config),
            "train_config": asdict(tcfg), "state_dict": model.state_dict(),
            "optimizers": {p: o.state_dict() for p, o in optimizers.items()},
            "epoch": epoch, "step": step,
            "rng": {"torch": torch.get_rng_state(), "shuffle": shuffle.get_state()},
        }, result.checkpoint)
        record["grid"] = kind
        result.history.append(record)
        reporter.end_epoch(record)
    return result
