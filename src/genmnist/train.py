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
from genmnist.fileio import make_folder, remove_stale_temporaries, write_text_atomically
from genmnist.images import save_grid
from genmnist.interrupt import InterruptGuard, TrainingInterrupted
from genmnist.models import GenerativeModel, OptimizerSpec, build_model
from genmnist.resume import (
    Progress,
    check_finite_terms,
    check_finite_weights,
    history_for,
    restore,
    training_state,
)


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
        params = list(params)
        # The fused kernel updates all tensors in one pass: ~20% more images/s for vae and cvae
        # on a CPU here (bench/speed.py); where a device lacks it, the foreach version.
        fused = all(p.device.type in ("cpu", "cuda", "mps") for p in params)
        return torch.optim.Adam(params, lr=lr, betas=spec.betas, fused=fused)
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


def prepare_run_dir(run_dir: Path, tcfg: TrainConfig, model_config: Any,
                    history: list[dict[str, Any]] | None) -> None:
    """Create (or, resuming, tidy) the run folder: config.json, and metrics.jsonl holding one
    line per epoch the checkpoint has -- so a resumed run never duplicates a line."""
    make_folder(run_dir, "run folder")
    write_text_atomically(run_dir / "config.json", json.dumps(
        {"model": tcfg.model, "model_config": asdict(model_config), "train_config": asdict(tcfg)},
        indent=2) + "\n")
    if history is not None:
        remove_stale_temporaries(run_dir)  # a killed writer's half checkpoint
        write_text_atomically(run_dir / "metrics.jsonl",
                              "".join(json.dumps(r) + "\n" for r in history))


def fit(tcfg: TrainConfig, model_config: Any, train: Split, test: Split, run_dir: Path,
        device: torch.device, reporter: Reporter | None = None,
        resume: dict[str, Any] | None = None) -> TrainResult:
    """Train `tcfg.model` on `train`, scoring `test` after every epoch, writing into `run_dir`.

    With `resume` (a checkpoint of this run) training continues where it stopped and ends with
    the weights an uninterrupted run would have. Ctrl-C saves a checkpoint after the current
    batch and raises TrainingInterrupted (a KeyboardInterrupt); a NaN or infinite loss raises
    GenmnistError and leaves the last good checkpoint as it was."""
    reporter = reporter or Reporter()
    torch.manual_seed(tcfg.seed)
    model = build_model(tcfg.model, model_config).to(device).train()
    model_config = model.config
    optimizers = {p: make_optimizer(model.player_parameters(p), model.optimizer_spec(p), tcfg.lr)
                  for p in model.players}
    shuffle = torch.Generator().manual_seed(tcfg.seed)
    progress = Progress()
    if resume is not None:
        progress = restore(resume, model, optimizers, shuffle, device)
        progress.history = history_for(resume, run_dir)

    images, labels = train.images.to(device), train.labels.to(device)
    test = test.head(tcfg.eval_size)
    test_images, test_labels = test.images.to(device), test.labels.to(device)
    n, bs = len(images), min(tcfg.batch_size, len(images))
    starts = batch_starts(n, bs)
    partial = progress.partial
    if partial is not None and (len(partial["perm"]) != n or partial["batch"] >= len(starts)):
        raise GenmnistError(f"cannot resume: the checkpoint was written on {len(partial['perm'])} "
                            f"training images, these are {n} (another --data-dir?)")
    prepare_run_dir(run_dir, tcfg, model_config, progress.history if resume else None)
    result = TrainResult(run_dir, run_dir / CHECKPOINT_NAME, list(progress.history))
    multi = len(model.players) > 1
    check_every_batch = device.type == "cpu"  # reading a CPU scalar costs no device sync

    def kept() -> str:
        done = progress.epoch
        return (f"kept the last good checkpoint {result.checkpoint} (epoch {done})" if done
                else "no checkpoint was written")

    def save(partial_state: dict[str, Any] | None = None) -> None:
        progress.partial = partial_state
        save_checkpoint({"model": tcfg.model, "model_config": asdict(model_config),
                         "train_config": asdict(tcfg),
                         **training_state(model, optimizers, shuffle, device, progress)},
                        result.checkpoint)

    with InterruptGuard() as stop:
        for epoch in range(progress.epoch + 1, tcfg.epochs + 1):
            reporter.start_epoch(epoch, tcfg.epochs, len(starts))
            if partial is not None:  # finish the epoch a Ctrl-C stopped, batch for batch
                perm, first = partial["perm"].to(device), int(partial["batch"])
                sums = {k: v.to(device) for k, v in partial["sums"].items()}
                counts, elapsed = dict(partial["counts"]), float(partial["seconds"])
                partial = None
            else:
                perm, first = torch.randperm(n, generator=shuffle).to(device), 0
                sums, counts, elapsed = {}, {}, 0.0
            t0 = time.perf_counter() - elapsed
            for b in range(first, len(starts)):
                idx = perm[starts[b]:starts[b] + bs]
                x = images[idx].float().div_(255)
                y = labels[idx] if model.conditional else None
                for p in model.schedule(progress.step):
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
                progress.step += 1
                shown = b % 20 == 19 or b == len(starts) - 1
                if shown or check_every_batch:
                    means = {k: float(v) / counts[k] for k, v in sums.items()}
                    check_finite_terms(means, epoch, b + 1, kept)
                    if shown:
                        reporter.update(b + 1, means, (b + 1 - first) * bs
                                        / max(time.perf_counter() - t0 - elapsed, 1e-9))
                if stop.requested and b < len(starts) - 1:
                    check_finite_terms({k: float(v) / counts[k] for k, v in sums.items()},
                                       epoch, b + 1, kept)
                    check_finite_weights(model, epoch, kept)
                    save({"epoch": epoch, "batch": b + 1, "perm": perm.cpu(),
                          "sums": {k: v.cpu() for k, v in sums.items()}, "counts": counts,
                          "seconds": time.perf_counter() - t0})
                    raise TrainingInterrupted(f"at epoch {epoch} batch {b + 1} of {len(starts)}",
                                              run_dir, result.checkpoint)
            seconds = time.perf_counter() - t0
            train_terms = {k: float(v) / counts[k] for k, v in sums.items()}
            check_finite_terms(train_terms, epoch, len(starts), kept)
            check_finite_weights(model, epoch, kept)
            if epoch == tcfg.epochs:
                result.note = model.after_training(
                    train.float_images(), train.labels, bs,
                    fit_sampler=functools.partial(fit_sampler, reporter=reporter))
            record = {"epoch": epoch, "seconds": round(seconds, 3),
                      "images_per_sec": round(len(starts) * bs / seconds, 1),
                      "train": train_terms, "test": evaluate(model, test_images, test_labels)}
            grid, kind = picture(model, tcfg.seed, test_images)
            save_grid(grid, run_dir / "samples" / f"epoch_{epoch:03d}.png", nrow=10)
            # The line goes in before the checkpoint: killed in between, resume rewrites
            # metrics.jsonl from the checkpoint's history and runs this epoch again.
            try:
                with open(run_dir / "metrics.jsonl", "a") as f:
                    f.write(json.dumps(record) + "\n")
            except OSError as e:
                raise GenmnistError(f"cannot write {run_dir / 'metrics.jsonl'}: "
                                    f"{e.strerror or e}; {kept()}") from e
            progress.epoch = epoch
            progress.history.append(record)
            save()
            result.history.append({**record, "grid": kind})
            reporter.end_epoch(record)
            if stop.requested and epoch < tcfg.epochs:
                raise TrainingInterrupted(f"after epoch {epoch}", run_dir, result.checkpoint)
    return result
