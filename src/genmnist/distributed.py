"""Data-parallel training under PyTorch's own launcher, `torchrun`.

`torchrun --nproc_per_node=N -m genmnist train MODEL ...` starts N copies of the same command;
each reads its rank from the environment torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK), joins a
process group (NCCL on GPUs, Gloo on CPUs) and wraps the model in DistributedDataParallel
(Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel Training", VLDB 2020),
which averages gradients across ranks during backward. Each rank trains on its own shard of every
epoch's permutation; `--batch-size` stays the global batch, split across ranks, so a run's
hyperparameters mean the same at any world size. Only rank 0 writes files and shows progress.

Without torchrun (WORLD_SIZE unset or 1) everything here is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from genmnist.errors import GenmnistError


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
            raise GenmnistError(f"{info.local_world} processes per node but only "
                                f"{torch.cuda.device_count()} GPUs; lower --nproc_per_node")
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise GenmnistError(f"distributed training runs on cuda or cpu, not {device.type}")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    """The module the trainer calls for losses: the model itself, or its DDP wrapper.

    Multi-player models leave one player's parameters out of another player's graph (the
    generator is detached in the critic's step), so DDP must look for unused parameters there.
    """
    if not info.enabled:
        return model
    multi = len(getattr(model, "players", ("model",))) > 1
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids,
                                               find_unused_parameters=multi)


def shard(perm: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """This rank's share of an epoch's permutation (every rank draws the same permutation)."""
    return perm[info.rank::info.world] if info.enabled else perm


def all_sum(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum a tensor over ranks (identity without torchrun)."""
    if info.enabled:
        values = values.clone()
        dist.all_reduce(values)
    return values


def gather_ints(value: int, info: DistInfo, device: torch.device) -> list[int]:
    """Every rank's `value`, in rank order (used to log that each rank did its share)."""
    if not info.enabled:
        return [value]
    out = [torch.zeros(1, dtype=torch.long, device=device) for _ in range(info.world)]
    dist.all_gather(out, torch.tensor([value], dtype=torch.long, device=device))
    return [int(t) for t in out]


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def default_threads(info: DistInfo) -> int | None:
    """Under torchrun on CPU, share the cores among the local processes instead of
    oversubscribing them; None = no opinion (use the model's own default)."""
    if not info.enabled:
        return None
    return max(1, (os.cpu_count() or 1) // info.local_world)
