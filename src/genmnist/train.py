"""The training loop, kept apart from the models (minGPT's trainer habit: nothing here knows
what a VAE or a GAN is).

Each batch, the model's `schedule(step)` names the players to update -- `("model",)` for a VAE;
the critic every batch and the generator every n-th batch for a WGAN -- and the loop runs one
optimizer step per named player on that batch. So one loop serves single- and multi-player models.

The split is held in memory as one uint8 tensor on the training device and batched by indexing.
Loss terms are summed on the device and read back only when the progress display refreshes, so a
GPU never waits on Python for a `.item()` per step.

Under torchrun (genmnist.distributed) every rank runs this loop on its share of each global batch
through the DistributedDataParallel wrapper, which averages the gradients; losses are computed
through the wrapper, everything else (schedule, evaluation, sampling, the checkpoint) on the model
itself, and only rank 0 writes or reports. Without torchrun the loop is what it always was.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial as partial_call
from pathlib import Path
from typing import Any

import torch

from genmnist import distributed
from genmnist.checkpoint import CHECKPOINT_NAME, save_checkpoint
from genmnist.data import Split
from genmnist.distributed import DistInfo
from genmnist.errors import GenmnistError
from genmnist.fileio import make_folder, remove_stale_temporaries, write_text_atomically
from genmnist.images import save_grid
from genmnist.interrupt import InterruptGuard, TrainingInterrupted
from genmnist.models import GenerativeModel, OptimizerSpec, build_model
from genmnist.precision import autocast, make_scalers
from genmnist.resume import (
    Progress,
    check_finite_terms,
    check_finite_weights,
    history_for,
    restore,
    rng_state,
    training_state,
)
from genmnist.samplers import DEFAULT_COMPONENTS, fit_latent_sampler


@dataclass
class TrainConfig:
    """Everything about a run that is not the model; saved in every checkpoint."""

    model: str
    epochs: int = 10
    batch_size: int = 128  # the global batch: split across the ranks under torchrun
    lr: float | None = None  # None: each player's default from its paper
    seed: int = 0
    device: str = "auto"
    subset: int | None = None  # train on the first N training images
    eval_size: int = 10000  # test images scored after each epoch
    threads: int | None = None
    data_dir: str | None = None
    precision: str = "fp32"  # "fp32" | "bf16" | "fp16" (genmnist.precision)
    sampler_components: int = DEFAULT_COMPONENTS  # latent Gaussian mixture fitted at the end
    quality_every: int = 0  # score samples every K epochs (0: never; genmnist.quality)
    quality_n: int = 2000  # samples scored each time


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


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """One copy of a whole split to the device; on CUDA from pinned memory, as one DMA transfer
    that does not block the host (there is no per-batch copy at all afterwards)."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def global_totals(sums: dict[str, torch.Tensor], counts: dict[str, int], info: DistInfo,
                  device: torch.device, flag: bool = False):
    """The loss sums and counts of all ranks, and whether `flag` is set on any rank (one
    all-reduce); without torchrun, the arguments as they are."""
    if not info.enabled:
        return sums, counts, flag
    keys = list(sums)
    buf = distributed.all_sum(torch.cat([
        torch.tensor([float(flag), *(float(counts[k]) for k in keys)], dtype=torch.float64,
                     device=device),
        torch.stack([sums[k].double() for k in keys])]), info).tolist()
    n = len(keys)
    return ({k: torch.tensor(buf[1 + n + i], dtype=torch.float64) for i, k in enumerate(keys)},
            {k: round(buf[1 + i]) for i, k in enumerate(keys)}, buf[0] > 0)


def mean_terms(sums, counts, info: DistInfo, device: torch.device, flag: bool = False):
    """Mean loss terms so far over all ranks, and whether any rank has `flag` set."""
    sums, counts, flag = global_totals(sums, counts, info, device, flag)
    return {k: float(v) / counts[k] for k, v in sums.items()}, flag


def seed_rank_noise(seed: int, info: DistInfo, device: torch.device,
                    resume: dict[str, Any] | None, step: int) -> None:
    """Give each rank its own noise (reparameterisation, dropout) for its own images: the RNG
    state this rank saved, when the checkpoint was written by as many ranks; else a fresh seed
    from (seed, rank, step) -- correct, but not the stream an unstopped run would have drawn."""
    saved = ((resume or {}).get("rng") or {}).get("ranks")
    if saved is not None and len(saved) == info.world:
        torch.set_rng_state(saved[info.rank]["torch"])
        if device.type == "cuda" and "cuda" in saved[info.rank]:
            torch.cuda.set_rng_state(saved[info.rank]["cuda"], device)
    else:  # ints hash the same in every process (PYTHONHASHSEED only salts str and bytes)
        torch.manual_seed(hash((seed, info.rank, step)) % 2**63)


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


def after_training(model: GenerativeModel, images: torch.Tensor, labels: torch.Tensor,
                   batch_size: int, components: int, seed: int,
                   reporter: Reporter | None = None) -> str | None:
    """What training does last: the model's own after-training fit (VQ-VAE's PixelCNN prior),
    then the density its codes are drawn from (genmnist.samplers). Returns a line or None."""
    notes = [model.after_training(images, labels, batch_size,
                                  fit_sampler=functools.partial(fit_sampler, reporter=reporter))]
    if model.latent_density:
        model.latent_sampler = fit_latent_sampler(model, images, labels, components, seed)
        notes.append(f"fitted a {model.latent_sampler.describe()}")
    return "; ".join(n for n in notes if n) or None


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
        resume: dict[str, Any] | None = None, info: DistInfo | None = None) -> TrainResult:
    """Train `tcfg.model` on `train`, scoring `test` after every epoch, writing into `run_dir`.

    With `resume` (a checkpoint of this run) training continues where it stopped and ends with
    the weights an uninterrupted run would have. Ctrl-C saves a checkpoint after the current
    batch and raises TrainingInterrupted (a KeyboardInterrupt); a NaN or infinite loss raises
    GenmnistError and leaves the last good checkpoint as it was. Under torchrun every rank calls
    this with its `info` (the process group joined, `device` its own); only rank 0 reports."""
    info = info or DistInfo()
    reporter = reporter if reporter is not None and info.is_main else Reporter()
    torch.manual_seed(tcfg.seed)
    model = build_model(tcfg.model, model_config).to(device).train()
    model_config = model.config
    optimizers = {p: make_optimizer(model.player_parameters(p), model.optimizer_spec(p), tcfg.lr)
                  for p in model.players}
    scalers = make_scalers(tcfg.precision, model.players, device)
    shuffle = torch.Generator().manual_seed(tcfg.seed)
    progress = Progress()
    if resume is not None:
        progress = restore(resume, model, optimizers, shuffle, device)
        progress.history = history_for(resume, run_dir)
        for p, scaler in scalers.items():
            if p in resume.get("scalers", {}):
                scaler.load_state_dict(resume["scalers"][p])
    if info.enabled:
        seed_rank_noise(tcfg.seed, info, device, resume, progress.step)
    net = distributed.wrap(model, info, device)  # losses go through it, all else to `model`

    images, labels = to_device(train.images, device), to_device(train.labels, device)
    test = test.head(tcfg.eval_size)
    test_images, test_labels = to_device(test.images, device), to_device(test.labels, device)
    n, bs = len(images), min(tcfg.batch_size, len(images))
    partial = progress.partial
    with distributed.reported_once(info):
        if bs < info.world:
            raise GenmnistError(f"a batch of {bs} images cannot be split across {info.world} "
                                "processes; use --batch-size of at least the process count")
        bs -= bs % info.world  # the global batch: `bs // world` images on every rank
        starts = batch_starts(n, bs)
        if partial is not None and (len(partial["perm"]) != n
                                    or partial["batch"] >= len(starts)):
            raise GenmnistError(f"cannot resume: the checkpoint was written on "
                                f"{len(partial['perm'])} training images, these are {n} "
                                "(another --data-dir or --batch-size split?)")
    distributed.on_main(info, lambda: prepare_run_dir(run_dir, tcfg, model_config,
                                                      progress.history if resume else None))
    result = TrainResult(run_dir, run_dir / CHECKPOINT_NAME, list(progress.history))
    multi = len(model.players) > 1
    # Reading a CPU scalar costs no device sync, but under torchrun it costs an all-reduce
    # (~1-2 ms on gloo): then the ranks agree on losses and Ctrl-C every 20 batches.
    check_every_batch = device.type == "cpu" and not info.enabled

    def kept() -> str:
        done = progress.epoch
        return (f"kept the last good checkpoint {result.checkpoint} (epoch {done})" if done
                else "no checkpoint was written")

    def rank_states() -> list[Any] | None:  # collective: every rank's RNG, for exact resume
        if not info.enabled:
            return None
        mine = rng_state(device, shuffle)
        return distributed.gather_objects({k: v for k, v in mine.items() if k != "shuffle"}, info)

    def save(partial_state: dict[str, Any] | None, ranks: list[Any] | None, epoch: int):
        """Rank 0: write the checkpoint -- never one whose weights hold NaN or inf (rank 0's
        are the weights saved; under torchrun its verdict reaches every rank)."""
        if partial_state is not None:  # an epoch's end is checked before it is scored
            check_finite_weights(model, epoch, kept)
        progress.partial = partial_state
        state = training_state(model, optimizers, shuffle, device, progress)
        if ranks is not None:  # rank 0's own state is as of now (after scoring the test set)
            state["rng"]["ranks"] = [{k: v for k, v in state["rng"].items() if k != "shuffle"},
                                     *ranks[1:]]
        if scalers:
            state["scalers"] = {p: s.state_dict() for p, s in scalers.items()}
        if model.latent_sampler is not None:
            state["sampler"] = model.latent_sampler.state_dict()
        save_checkpoint({"model": tcfg.model, "model_config": asdict(model_config),
                         "train_config": asdict(tcfg), **state}, result.checkpoint)

    def step(player: str, loss: torch.Tensor) -> None:
        opt = optimizers[player]
        if player in scalers:  # fp16: scale the loss, skip a step whose gradients overflowed
            scalers[player].scale(loss).backward()
            scalers[player].step(opt)
            scalers[player].update()
        else:
            loss.backward()
            opt.step()

    def finish_epoch(epoch: int, seconds: float, train_terms: dict[str, float],
                     seen: list[int], ranks: list[Any] | None) -> dict[str, Any]:
        """Rank 0: fit the sampler (last epoch), score, draw, log and save the epoch."""
        check_finite_weights(model, epoch, kept)  # before the sampler is fit on its codes
        if epoch == tcfg.epochs:
            result.note = after_training(model, train.float_images(), train.labels, bs,
                                         tcfg.sampler_components, tcfg.seed, reporter)
        record = {"epoch": epoch, "seconds": round(seconds, 3),
                  "images_per_sec": round(len(starts) * bs / seconds, 1),
                  "train": train_terms, "test": evaluate(model, test_images, test_labels),
                  "world_size": info.world, "rank_images": seen}
        if tcfg.quality_every and (epoch % tcfg.quality_every == 0 or epoch == tcfg.epochs):
            from genmnist.quality import training_quality

            record["quality"] = training_quality(model, tcfg.quality_n, tcfg.seed,
                                                 train, tcfg.data_dir)
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
        save(None, ranks, epoch)
        result.history.append({**record, "grid": kind})
        return record

    with InterruptGuard() as stop:
        for epoch in range(progress.epoch + 1, tcfg.epochs + 1):
            reporter.start_epoch(epoch, tcfg.epochs, len(starts))
            if partial is not None:  # finish the epoch a Ctrl-C stopped, batch for batch
                perm, first = partial["perm"].to(device), int(partial["batch"])
                sums = {k: v.to(device) for k, v in partial["sums"].items()}
                counts, elapsed = dict(partial["counts"]), float(partial["seconds"])
                if not info.is_main:  # the saved totals are all ranks'; rank 0 carries them
                    sums = {k: torch.zeros_like(v) for k, v in sums.items()}
                    counts = dict.fromkeys(counts, 0)
                partial = None
            else:
                perm, first = torch.randperm(n, generator=shuffle).to(device), 0
                sums, counts, elapsed = {}, {}, 0.0
            t0, seen = time.perf_counter() - elapsed, 0
            for b in range(first, len(starts)):
                idx = distributed.shard(perm[starts[b]:starts[b] + bs], info)
                x = images[idx].float().div_(255)
                y = labels[idx] if model.conditional else None
                seen += len(idx)
                for p in model.schedule(progress.step):
                    optimizers[p].zero_grad(set_to_none=True)
                    with autocast(tcfg.precision, device):
                        terms = net(x, y, player=p)
                    step(p, terms["loss"])
                    model.after_step(p)
                    for k, v in terms.items():
                        key = f"{p}/{k}" if multi else k
                        sums[key] = sums.get(key, 0) + v.detach().float()
                        counts[key] = counts.get(key, 0) + 1
                progress.step += 1
                shown = b % 20 == 19 or b == len(starts) - 1
                means, agreed = None, False
                if shown or check_every_batch:  # under torchrun: the same batches on all ranks
                    means, agreed = mean_terms(sums, counts, info, device, stop.requested)
                    with distributed.reported_once(info):
                        check_finite_terms(means, epoch, b + 1, kept)
                    if shown:
                        reporter.update(b + 1, means, (b + 1 - first) * bs
                                        / max(time.perf_counter() - t0 - elapsed, 1e-9))
                stopping = agreed if info.enabled else stop.requested
                if stopping and b < len(starts) - 1:
                    means = means or mean_terms(sums, counts, info, device)[0]
                    with distributed.reported_once(info):
                        check_finite_terms(means, epoch, b + 1, kept)
                    all_sums, all_counts, _ = global_totals(sums, counts, info, device)
                    state = {"epoch": epoch, "batch": b + 1, "perm": perm.cpu(),
                             "sums": {k: v.cpu() for k, v in all_sums.items()},
                             "counts": all_counts, "seconds": time.perf_counter() - t0}
                    distributed.on_main(info, partial_call(save, state, rank_states(), epoch))
                    raise TrainingInterrupted(f"at epoch {epoch} batch {b + 1} of {len(starts)}",
                                              run_dir, result.checkpoint)
            seconds = time.perf_counter() - t0
            train_terms = mean_terms(sums, counts, info, device)[0]
            with distributed.reported_once(info):
                check_finite_terms(train_terms, epoch, len(starts), kept)
            seen_by_rank, ranks = distributed.gather_ints(seen, info, device), rank_states()
            done = partial_call(finish_epoch, epoch, seconds, train_terms, seen_by_rank, ranks)
            if epoch < tcfg.epochs:
                record = distributed.on_main(info, done)  # the others wait, then go on
            elif info.is_main:
                record = done()
            else:
                break  # rank 0 alone fits the sampler, scores and saves: nobody waits on it
            reporter.end_epoch(record)
            if epoch < tcfg.epochs and distributed.any_rank(stop.requested, info, device):
                raise TrainingInterrupted(f"after epoch {epoch}", run_dir, result.checkpoint)
    return result
