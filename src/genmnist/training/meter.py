"""Loss metering: running sums of every loss term on the device, read back only when shown.

A GPU never waits on Python for a `.item()` per step: terms are summed as tensors and turned
into floats when the progress display refreshes. Under torchrun the sums and counts of all ranks
travel in one all-reduce, together with one flag (a Ctrl-C any rank saw).
"""

from __future__ import annotations

from typing import Any

import torch

from genmnist.distributed import Distributed


class LossMeter:
    """Sums and counts per term; a term is named `player/term` when there are several players
    (or `prefix/term`). Unweighted, a count is a batch; `weighted`, an image."""

    def __init__(self, dist: Distributed, multi: bool = False, prefix: str | None = None,
                 weighted: bool = False):
        self.dist, self.multi, self.prefix, self.weighted = dist, multi, prefix, weighted
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, player: str, terms: dict[str, torch.Tensor], n: int) -> None:
        """Add one step's terms of `player` on a batch of `n` images."""
        prefix = player if self.multi else self.prefix
        for k, v in terms.items():
            key = f"{prefix}/{k}" if prefix else k
            v = v.detach().float()
            self.sums[key] = self.sums.get(key, 0) + (v * n if self.weighted else v)
            self.counts[key] = self.counts.get(key, 0) + (n if self.weighted else 1)

    def totals(self, flag: bool = False):
        """The sums and counts of all ranks, and whether `flag` is set on any rank (one
        all-reduce); without torchrun, as they are."""
        if not self.dist.enabled:
            return self.sums, self.counts, flag
        keys, device = list(self.sums), self.dist.device
        buf = self.dist.all_sum(torch.cat([
            torch.tensor([float(flag), *(float(self.counts[k]) for k in keys)],
                         dtype=torch.float64, device=device),
            torch.stack([self.sums[k].double() for k in keys])])).tolist()
        n = len(keys)
        return ({k: torch.tensor(buf[1 + n + i], dtype=torch.float64) for i, k in enumerate(keys)},
                {k: round(buf[1 + i]) for i, k in enumerate(keys)}, buf[0] > 0)

    def means(self, flag: bool = False) -> tuple[dict[str, float], bool]:
        """Mean terms so far over all ranks, and whether any rank has `flag` set."""
        sums, counts, flag = self.totals(flag)
        return {k: float(v) / counts[k] for k, v in sums.items()}, flag

    def state_dict(self) -> dict[str, Any]:
        """Collective: all ranks' totals, on the CPU (for a mid-epoch checkpoint)."""
        sums, counts, _ = self.totals()
        return {"sums": {k: v.cpu() for k, v in sums.items()}, "counts": dict(counts)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from saved totals. They are all ranks' together, so rank 0 carries them and
        every other rank starts from zero."""
        self.sums = {k: v.to(self.dist.device) for k, v in state["sums"].items()}
        self.counts = dict(state["counts"])
        if not self.dist.is_main:
            self.sums = {k: torch.zeros_like(v) for k, v in self.sums.items()}
            self.counts = dict.fromkeys(self.counts, 0)
