"""`fit`: train a generative model into a run folder, resumable bit for bit, under torchrun or
not. It reads as the algorithm: build or restore the training state, plan the batches, then for
each remaining epoch run it and end it (fit the sampler at the last, score, draw, log, save).

Under torchrun (genmnist.distributed) every rank runs the loop on its share of each global batch
through the DistributedDataParallel wrapper, which averages the gradients; losses go through the
wrapper, everything else (schedule, evaluation, sampling, the checkpoint) to the model itself,
and only rank 0 writes or reports. Ctrl-C saves a checkpoint after the current batch and raises
TrainingInterrupted; a NaN or infinite loss raises NonFiniteLoss and leaves the last good
checkpoint as it was.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from genmnist.data import Split
from genmnist.distributed import DistInfo, Distributed
from genmnist.errors import BatchTooSmall, ResumeMismatch
from genmnist.interrupt import InterruptGuard, TrainingInterrupted
from genmnist.threads import ThreadPolicy
from genmnist.training.checks import (
    check_finite_terms,
    check_finite_test,
    check_finite_weights,
)
from genmnist.training.config import Evaluator, Reporter, RunSettings, TrainConfig, TrainResult
from genmnist.training.loop import Epoch, Loop, batch_starts, run_epoch, to_device
from genmnist.training.meter import LossMeter
from genmnist.training.run_folder import RunFolder
from genmnist.training.sampler import fit_after_training
from genmnist.training.scoring import evaluate, picture, quality_evaluators, run_evaluators
from genmnist.training.state import TrainingState, learning_rate


@dataclass
class Run:
    """What one `fit` call works with, fixed once the state is built and the batches planned."""

    tcfg: TrainConfig
    state: TrainingState
    loop: Loop
    folder: RunFolder
    result: TrainResult
    train: Split
    test_images: torch.Tensor  # on the device
    test_labels: torch.Tensor
    reporter: Reporter
    record: dict[str, Any]  # how it runs (device, RunSettings), kept in the checkpoint
    evaluators: list[Evaluator] | tuple[Evaluator, ...] = ()


def fit(tcfg: TrainConfig, model_config: Any, train: Split, test: Split, run_dir: Path,
        device: torch.device, reporter: Reporter | None = None,
        resume: dict[str, Any] | None = None, info: DistInfo | None = None,
        evaluators: list[Evaluator] | tuple[Evaluator, ...] = (),
        settings: RunSettings | None = None,
        threads: ThreadPolicy | None = None) -> TrainResult:
    """Train `tcfg.model` on `train`, scoring `test` after every epoch, writing into `run_dir`.

    With `resume` (a checkpoint of this run) training continues where it stopped and ends with
    the weights an uninterrupted run would have. Under torchrun every rank calls this with its
    `info` (the process group joined, `device` its own); only rank 0 reports and runs the
    `evaluators` (see `Evaluator`). `settings` are recorded with the device, not read. A
    `threads` policy is told every batch's images and may change torch's thread count
    (genmnist.threads); each epoch's record says what it chose."""
    settings = settings or RunSettings()
    dist = Distributed(info or DistInfo(), device)
    folder = RunFolder(Path(run_dir))
    state = TrainingState.build(tcfg, model_config, device)
    if resume is not None:
        state.load_state_dict(resume)
        state.progress.history = folder.history(resume)
    if dist.enabled:
        state.seed_rank_noise(tcfg.seed, dist, resume)
    loop = plan(tcfg, state, train, dist)
    loop.threads = threads
    run = start(tcfg, state, loop, folder, train, test,
                reporter if reporter is not None and dist.is_main else Reporter(),
                [*quality_evaluators(tcfg, train, settings.data_dir), *evaluators],
                {"device": str(device), **asdict(settings)}, resumed=resume is not None)
    progress, loop = state.progress, run.loop
    with InterruptGuard() as stop:
        for number in range(progress.epoch + 1, tcfg.epochs + 1):
            run.reporter.start_epoch(number, tcfg.epochs, len(loop.starts))
            epoch, meter = open_epoch(state, loop, number)
            set_learning_rates(state, tcfg, number)
            check = functools.partial(check_finite_terms, checkpoint=folder.checkpoint,
                                      kept=progress.epoch)
            progress.step, stopped = run_epoch(loop, epoch, progress.step, meter, run.reporter,
                                               stop, check)
            if stopped is not None:
                save_snapshot(run, epoch, stopped, meter)
                raise TrainingInterrupted(f"at epoch {number} batch {stopped} of "
                                          f"{len(loop.starts)}", folder.path, folder.checkpoint)
            record = close_epoch(run, epoch, meter, check)
            if record is None:
                break  # not rank 0, after the last epoch: nobody waits on rank 0's scoring
            run.reporter.end_epoch(record)
            if number < tcfg.epochs and loop.dist.any_rank(stop.requested):
                raise TrainingInterrupted(f"after epoch {number}", folder.path,
                                          folder.checkpoint)
    return run.result


def plan(tcfg: TrainConfig, state: TrainingState, train: Split, dist: Distributed) -> Loop:
    """The whole split on the device and the epoch's batches: a global batch of `bs // world`
    images on every rank; checked against a mid-epoch checkpoint's permutation."""
    device, model = state.device, state.model
    n, bs = len(train), min(tcfg.batch_size, len(train))
    partial = state.progress.partial
    with dist.reported_once():
        if bs < dist.world:
            raise BatchTooSmall(bs, dist.world)
        bs -= bs % dist.world
        starts = batch_starts(n, bs)
        if partial is not None and (len(partial["perm"]) != n
                                    or partial["batch"] >= len(starts)):
            raise ResumeMismatch(len(partial["perm"]), n)
    # Reading a CPU scalar costs no device sync, but under torchrun it costs an all-reduce
    # (~1-2 ms on gloo): then the ranks agree on losses and Ctrl-C every SHOW_EVERY batches.
    return Loop(dist.wrap(model), model, state.optimizers, to_device(train.images, device),
                to_device(train.labels, device), starts, bs, dist, state.scalers,
                tcfg.precision, check_every_batch=device.type == "cpu" and not dist.enabled,
                binarize=tcfg.binarize)


def run_config(tcfg: TrainConfig, model, record: dict[str, Any] | None = None) -> dict[str, Any]:
    """What config.json records: the configs, with the values used rather than `null` for
    "the default": each player's optimizer settings, and the learning rate (one number, or one
    per player where the papers' values differ); and how the run runs (`record`: device,
    threads, data)."""
    specs = {p: model.optimizer_spec(p) for p in model.players}
    optimizers = {p: {"kind": s.kind, "lr": learning_rate(s, tcfg.lr),
                      "betas": list(s.betas)} for p, s in specs.items()}
    train_config = asdict(tcfg)
    rates = {p: o["lr"] for p, o in optimizers.items()}
    train_config["lr"] = next(iter(rates.values())) if len(set(rates.values())) == 1 else rates
    return {"model": tcfg.model, "model_config": asdict(model.config),
            "train_config": train_config, "optimizers": optimizers,
            **({"run": record} if record is not None else {})}


def start(tcfg: TrainConfig, state: TrainingState, loop: Loop, folder: RunFolder, train: Split,
          test: Split, reporter: Reporter, evaluators, record: dict[str, Any],
          resumed: bool) -> Run:
    """The test images on the device, and the run folder prepared (rank 0): config.json, and
    metrics.jsonl rewritten from the checkpoint's history when resuming."""
    test = test.head(tcfg.eval_size)
    if tcfg.binarize:  # held-out terms on the binarised test set that likelihoods are reported on
        test = test.binarized()
    device, progress = state.device, state.progress
    config = run_config(tcfg, state.model, record)
    loop.dist.on_main(lambda: folder.prepare(config, progress.history if resumed else None))
    result = TrainResult(folder.path, folder.checkpoint, list(progress.history))
    return Run(tcfg, state, loop, folder, result, train, to_device(test.images, device),
               to_device(test.labels, device), reporter, record, evaluators)


def open_epoch(state: TrainingState, loop: Loop, number: int) -> tuple[Epoch, LossMeter]:
    """A new epoch's permutation, or the rest of the epoch a Ctrl-C stopped, batch for batch."""
    meter = LossMeter(loop.dist, multi=len(state.model.players) > 1)
    partial, device = state.progress.partial, state.device
    if partial is None:
        perm = torch.randperm(len(loop.images), generator=state.shuffle).to(device)
        return Epoch(number, perm), meter
    state.progress.partial = None
    meter.load_state_dict(partial)
    return Epoch(number, partial["perm"].to(device), int(partial["batch"]),
                 float(partial["seconds"])), meter


def set_learning_rates(state: TrainingState, tcfg: TrainConfig, number: int) -> None:
    """Each player's rate for epoch `number` under `tcfg.lr_schedule`."""
    if tcfg.lr_schedule == "constant":
        return
    factor = 0.5 * (1 + math.cos(math.pi * (number - 1) / tcfg.epochs))
    for player, opt in state.optimizers.items():
        base = learning_rate(state.model.optimizer_spec(player), tcfg.lr)
        for group in opt.param_groups:
            group["lr"] = base * factor


def save_snapshot(run: Run, epoch: Epoch, batch: int, meter: LossMeter) -> None:
    """Collective: rank 0 writes a mid-epoch checkpoint, after checking the weights."""
    state, folder = run.state, run.folder
    snapshot = {"epoch": epoch.number, "batch": batch, "perm": epoch.perm.cpu(),
                **meter.state_dict(), "seconds": epoch.seconds}
    ranks = state.rank_rngs(run.loop.dist)

    def save() -> None:
        check_finite_weights(state.model, epoch.number, folder.checkpoint, state.progress.epoch)
        state.progress.partial = snapshot
        folder.save_checkpoint(state.checkpoint(run.tcfg, ranks, run.record))

    run.loop.dist.on_main(save)


def close_epoch(run: Run, epoch: Epoch, meter: LossMeter, check) -> dict[str, Any] | None:
    """Collective: the epoch's mean terms, checked; then rank 0 ends the epoch while the others
    wait -- except after the last epoch, where they go on. Returns the record (None there)."""
    dist = run.loop.dist
    train_terms = meter.means()[0]
    with dist.reported_once():
        check(train_terms, epoch.number, len(run.loop.starts))
    seen, ranks = dist.gather_ints(epoch.seen), run.state.rank_rngs(dist)
    done = functools.partial(end_epoch, run, epoch, train_terms, seen, ranks)
    if epoch.number < run.tcfg.epochs:
        return dist.on_main(done)
    return done() if dist.is_main else None


def threads_record(policy: ThreadPolicy | None) -> dict[str, Any]:
    """The thread count chosen at the epoch's end (not one a probe is timing), whether it was
    measured, and the changes made."""
    if policy is None:
        return {}
    return {"threads": {"threads": policy.chosen, "measured": policy.adaptive,
                        "probes": policy.probes, "changes": policy.take_events()}}


def end_epoch(run: Run, epoch: Epoch, train_terms: dict[str, float], seen: list[int],
              ranks: list[Any] | None) -> dict[str, Any]:
    """Rank 0: fit the sampler (last epoch), score, draw, log and save the epoch."""
    state, folder, loop, number = run.state, run.folder, run.loop, epoch.number
    model, progress = state.model, state.progress
    check_finite_weights(model, number, folder.checkpoint, progress.epoch)  # before the sampler
    test_terms = evaluate(model, run.test_images, run.test_labels)  # is fit on its codes,
    check_finite_test(test_terms, number, folder.checkpoint, progress.epoch)  # and the epoch saved
    if number == run.tcfg.epochs:
        run.result.note = fit_after_training(model, run.train.float_images(), run.train.labels,
                                             loop.batch_size, run.tcfg.sampler_components,
                                             run.tcfg.seed, run.reporter)
    record = {"epoch": number, "seconds": round(epoch.seconds, 3),
              "images_per_sec": round(len(loop.starts) * loop.batch_size / epoch.seconds, 1),
              "train": train_terms, "test": test_terms,
              "world_size": loop.dist.world, "rank_images": seen, **threads_record(loop.threads),
              **run_evaluators(model, number, run.evaluators)}
    grid, kind = picture(model, run.tcfg.seed, run.test_images)
    folder.save_grid(number, grid)
    folder.append_metrics(record, progress.epoch)  # before the checkpoint (see run_folder)
    progress.epoch = number
    progress.history.append(record)
    progress.partial = None
    folder.save_checkpoint(state.checkpoint(run.tcfg, ranks, run.record))
    run.result.history.append({**record, "grid": kind})
    return record
