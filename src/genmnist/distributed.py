"""Data-parallel training under PyTorch's own launcher, `torchrun`.

`torchrun --nproc_per_node=N -m genmnist train MODEL ...` starts N copies of the same command;
each reads its rank from the environment torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK), joins a
process group (NCCL on GPUs, Gloo on CPUs) and wraps the model in DistributedDataParallel
(Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel Training", VLDB 2020),
which averages gradients across ranks during backward. Each rank trains on its own shard of every
epoch's permutation; `--batch-size` stays the global batch, split across ranks, so a run's
hyperparameters mean the same at any world size. Only rank 0 writes files and shows progress.

Without torchrun (WORLD_SIZE unset or 1) everything here is a no-op.

Errors: what every rank decides alike (a NaN loss, rank 0's verdict on the run folder) is printed
once, by rank 0; the other ranks exit with `QuietError`. A rank that dies alone makes torchrun
stop the others; the process group's timeout ends any wait that nothing else ends.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from genmnist.errors import GenmnistError, QuietError, TooFewGPUs

# Long enough for rank 0 to download MNIST or score a test set while the others wait at a
# barrier; short enough that a lost rank does not hold the others (and their GPUs) for hours.
TIMEOUT = timedelta(minutes=30)
T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_env() -> DistInfo:
    """The rank layout torchrun describes in the environment (all 0/1 without torchrun)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return DistInfo(rank=int(os.environ.get("RANK", "0")), world=world,
                    local_rank=int(os.environ.get("LOCAL_RANK", "0")),
                    local_world=int(os.environ.get("LOCAL_WORLD_SIZE", str(world))))


def setup(info: DistInfo, device: torch.device) -> torch.device:
    """Join the process group; on CUDA each local rank takes its own GPU. Returns the device."""
    if not info.enabled:
        return device
    if device.type == "cuda":
        if torch.cuda.device_count() < info.local_world:
            raise TooFewGPUs(info.local_world, torch.cuda.device_count())
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise GenmnistError(f"distributed training runs on cuda or cpu, not {device.type}")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=TIMEOUT)
    return device


def backend() -> str:
    return dist.get_backend() if dist.is_available() and dist.is_initialized() else "none"


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def default_threads(info: DistInfo) -> int | None:
    """Under torchrun on CPU, share the cores among the local processes instead of
    oversubscribing them; None = no opinion (use the model's own default)."""
    if not info.enabled:
        return None
    return max(1, (os.cpu_count() or 1) // info.local_world)


@dataclass(frozen=True)
class Distributed:
    """This process's place in the job and the collectives the trainer needs, each a no-op
    (returning its argument) without torchrun."""

    info: DistInfo = DistInfo()
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.info.enabled

    @property
    def is_main(self) -> bool:
        return self.info.is_main

    @property
    def world(self) -> int:
        return self.info.world

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module the trainer calls for losses: the model itself, or its DDP wrapper.

        Multi-player models leave one player's parameters out of another player's graph (the
        generator is detached in the critic's step), so DDP must look for unused parameters
        there."""
        if not self.enabled:
            return model
        multi = len(getattr(model, "players", ("model",))) > 1
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids,
                                                   find_unused_parameters=multi)

    def shard(self, perm: torch.Tensor) -> torch.Tensor:
        """This rank's share of an epoch's permutation (every rank draws the same one)."""
        return perm[self.info.rank::self.info.world] if self.enabled else perm

    def all_sum(self, values: torch.Tensor) -> torch.Tensor:
        """Sum a tensor over ranks."""
        if self.enabled:
            values = values.clone()
            dist.all_reduce(values)
        return values

    def gather_ints(self, value: int) -> list[int]:
        """Every rank's `value`, in rank order (used to log that each rank did its share)."""
        if not self.enabled:
            return [value]
        out = [torch.zeros(1, dtype=torch.long, device=self.device)
               for _ in range(self.info.world)]
        dist.all_gather(out, torch.tensor([value], dtype=torch.long, device=self.device))
        return [int(t) for t in out]

    def any_rank(self, flag: bool) -> bool:
        """True on every rank when `flag` is true on any (e.g. a Ctrl-C one rank saw)."""
        if not self.enabled:
            return flag
        t = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(t)
        return bool(t.item() > 0)

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every rank's `obj` (small picklable things such as RNG states), in rank order."""
        if not self.enabled:
            return [obj]
        out: list[Any] = [None] * self.info.world
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def on_main(self, decide: Callable[[], T]) -> T:
        """Run `decide()` on rank 0 only and hand every rank its result (e.g. the run folder,
        whose default name holds the time). If it raises a GenmnistError, rank 0 raises it and
        the others a QuietError, so the user reads the line once and no rank waits."""
        if not self.enabled:
            return decide()
        box: list[Any] = [None, None]
        if self.is_main:
            try:
                box[0] = decide()
            except GenmnistError as e:
                box[1] = e
        dist.broadcast_object_list(box, src=0)
        if box[1] is not None:
            raise box[1] if self.is_main else QuietError(str(box[1]))
        return box[0]

    @contextmanager
    def reported_once(self) -> Iterator[None]:
        """For checks every rank makes alike (the loss terms are all-reduced, the weights are
        the same everywhere): rank 0 reports a failure, the others fail quietly."""
        try:
            yield
        except GenmnistError as e:
            if self.is_main or isinstance(e, QuietError):
                raise
            raise QuietError(str(e)) from e
