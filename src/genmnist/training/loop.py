"""The one training loop: a per-batch step and an epoch runner, shared by the generative
models (`fit`), the samplers fitted after training (`fit_sampler`) and the MNIST classifier
(`genmnist.metrics.classifier`). Nothing here knows what a VAE or a GAN is (minGPT's habit).

Each batch, the trained module's `schedule(step)` names the players to update -- `("model",)`
for a VAE; the critic every batch and the generator every n-th batch for a WGAN -- and the step
runs one optimizer step per named player: zero_grad, the loss under autocast, a (scaled)
backward, the optimizer step, then `after_step(player)` (WGAN clips its critic there).

The training images live in memory as one uint8 tensor on the device and are batched by
indexing; uint8 pixels become floats in [0, 1] per batch, anything else (codes) is used as is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from genmnist.distributed import Distributed
from genmnist.precision import autocast
from genmnist.threads import ThreadPolicy
from genmnist.training.config import Reporter
from genmnist.training.meter import LossMeter

SHOW_EVERY = 20  # batches between progress updates (and, under torchrun, Ctrl-C checks)


def batch_starts(n: int, batch_size: int, drop_last: bool = True) -> list[int]:
    """Start offsets of the batches; the ragged tail is dropped unless `drop_last` is False
    (BatchNorm needs more than one image)."""
    if n <= batch_size:
        return [0]
    return list(range(0, n - batch_size + 1 if drop_last else n, batch_size))


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """One copy of a whole split to the device; on CUDA from pinned memory, as one DMA transfer
    that does not block the host (there is no per-batch copy at all afterwards)."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


class Objective(nn.Module):
    """Any module and loss as a one-player trainee: `loss_fn(x, y) -> {"loss": ..., ...}`,
    and `after_step()` after each optimizer step (e.g. a learning-rate schedule)."""

    players = ("model",)
    conditional = True  # y is passed whenever the data has labels

    def __init__(self, module: nn.Module, loss_fn: Callable[..., dict[str, torch.Tensor]],
                 after_step: Callable[[], None] | None = None):
        super().__init__()
        self.module, self.loss_fn, self._after_step = module, loss_fn, after_step

    def forward(self, x, y=None, player: str = "model") -> dict[str, torch.Tensor]:
        return self.loss_fn(x, y)

    def schedule(self, step: int) -> tuple[str, ...]:
        return self.players

    def after_step(self, player: str) -> None:
        if self._after_step is not None:
            self._after_step()


@dataclass
class Loop:
    """What every batch of a run needs, fixed for the run."""

    net: nn.Module  # what losses go through: the trainee, or its DDP wrapper
    trainee: nn.Module  # players, schedule(step), after_step(player), conditional
    optimizers: dict[str, torch.optim.Optimizer]
    images: torch.Tensor  # the whole split, on the device
    labels: torch.Tensor | None
    starts: list[int]  # batch offsets into an epoch's permutation
    batch_size: int  # the global batch
    dist: Distributed = Distributed()
    scalers: dict[str, torch.amp.GradScaler] | None = None  # fp16: one per player
    precision: str = "fp32"
    check_every_batch: bool = False  # read the loss (NaN guard, Ctrl-C) after every batch
    binarize: bool = False  # draw each batch's pixels as Bernoulli of their grey level
    threads: ThreadPolicy | None = None  # told every batch; may change torch's thread count

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = self.images[idx]
        x = x.float().div_(255) if x.dtype == torch.uint8 else x
        if self.binarize:  # from the global RNG, which checkpoints save: resume stays exact
            x = torch.bernoulli(x)
        use_y = self.labels is not None and self.trainee.conditional
        return x, self.labels[idx] if use_y else None


@dataclass
class Epoch:
    """One pass: its number, its permutation, the first batch to run (a Ctrl-C snapshot resumes
    mid-epoch), the seconds it has taken so far and the images this rank has trained on."""

    number: int
    perm: torch.Tensor
    first: int = 0
    seconds: float = 0.0
    seen: int = 0


def backward_and_step(loss: torch.Tensor, opt: torch.optim.Optimizer,
                      scaler: torch.amp.GradScaler | None) -> None:
    if scaler is None:
        loss.backward()
        opt.step()
    else:  # fp16: scale the loss, skip a step whose gradients overflowed
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()


def train_step(loop: Loop, x: torch.Tensor, y: torch.Tensor | None, players: tuple[str, ...],
               meter: LossMeter) -> None:
    """One optimizer step for each player in `players` on the batch (x, y)."""
    scalers = loop.scalers or {}
    for p in players:
        loop.optimizers[p].zero_grad(set_to_none=True)
        with autocast(loop.precision, x.device):
            terms = loop.net(x, y, player=p)
        backward_and_step(terms["loss"], loop.optimizers[p], scalers.get(p))
        loop.trainee.after_step(p)
        meter.add(p, terms, len(x))


CheckTerms = Callable[[dict[str, float], int, int], None]  # (means, epoch, batch): raise to stop


def run_epoch(loop: Loop, epoch: Epoch, step: int, meter: LossMeter, reporter: Reporter,
              stop=None, check: CheckTerms | None = None) -> tuple[int, int | None]:
    """Train on `epoch`'s batches from `epoch.first` on. Returns the step count after it and,
    when a Ctrl-C (`stop.requested`, agreed by all ranks) ended it early, the batches done.

    The loss is read (an all-reduce under torchrun, so the ranks agree on NaNs and Ctrl-C) every
    SHOW_EVERY batches and at the end, or after every batch with `loop.check_every_batch`."""
    last, t0 = len(loop.starts) - 1, time.perf_counter() - epoch.seconds
    if loop.threads is not None:
        loop.threads.resume()  # the scoring and saving since the last epoch do not count
    for b in range(epoch.first, last + 1):
        s = loop.starts[b]
        idx = loop.dist.shard(epoch.perm[s:s + loop.batch_size])
        x, y = loop.batch(idx)
        epoch.seen += len(idx)
        train_step(loop, x, y, loop.trainee.schedule(step), meter)
        step += 1
        if loop.threads is not None and (change := loop.threads.step(len(idx))) is not None:
            reporter.threads_changed(change)
        shown = b % SHOW_EVERY == SHOW_EVERY - 1 or b == last
        means, agreed = None, False
        if shown or loop.check_every_batch:
            means, agreed = meter.means(stop is not None and stop.requested)
            if check is not None:
                with loop.dist.reported_once():
                    check(means, epoch.number, b + 1)
            if shown:
                reporter.update(b + 1, means, (b + 1 - epoch.first) * loop.batch_size
                                / max(time.perf_counter() - t0 - epoch.seconds, 1e-9))
        requested = stop is not None and stop.requested  # (a reporter may have pressed it)
        if (agreed if loop.dist.enabled else requested) and b < last:
            if check is not None:
                with loop.dist.reported_once():
                    check(means or meter.means()[0], epoch.number, b + 1)
            epoch.seconds = time.perf_counter() - t0
            return step, b + 1
    epoch.seconds = time.perf_counter() - t0
    return step, None
