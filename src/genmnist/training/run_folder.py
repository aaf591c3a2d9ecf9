"""The run folder a training run writes: config.json, metrics.jsonl (one line per epoch),
samples/epoch_NNN.png and checkpoint.pt. Only rank 0 writes here.

The metrics line of an epoch goes in before its checkpoint: killed in between, a resumed run
rewrites metrics.jsonl from the checkpoint's history and runs that epoch again, so no line is
lost or duplicated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genmnist.checkpoint import CHECKPOINT_NAME, save_checkpoint
from genmnist.errors import GenmnistError, kept_text
from genmnist.fileio import make_folder, remove_stale_temporaries, write_text_atomically
from genmnist.images import save_grid


@dataclass(frozen=True)
class RunFolder:
    path: Path

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT_NAME

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    def prepare(self, config: dict[str, Any], history: list[dict[str, Any]] | None) -> None:
        """Create (or, resuming with the checkpoint's `history`, tidy) the folder: config.json,
        and metrics.jsonl holding one line per epoch the checkpoint has."""
        make_folder(self.path, "run folder")
        write_text_atomically(self.path / "config.json", json.dumps(config, indent=2) + "\n")
        if history is not None:
            remove_stale_temporaries(self.path)  # a killed writer's half checkpoint
            write_text_atomically(self.metrics, "".join(json.dumps(r) + "\n" for r in history))

    def history(self, ckpt: dict[str, Any]) -> list[dict[str, Any]]:
        """The per-epoch records up to the checkpoint: stored in it, or (for checkpoints written
        before they held them) the metrics.jsonl lines up to its epoch."""
        if "history" in ckpt:
            return list(ckpt["history"])
        done, kept = int(ckpt.get("epoch", 0)), []
        lines = self.metrics.read_text().splitlines() if self.metrics.exists() else []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:  # half a line from a killed writer
                continue
            if isinstance(record, dict) and isinstance(record.get("epoch"), int) \
                    and record["epoch"] <= done and record["epoch"] > len(kept):
                kept.append(record)
        return kept

    def save_grid(self, epoch: int, grid: torch.Tensor) -> None:
        save_grid(grid, self.path / "samples" / f"epoch_{epoch:03d}.png", nrow=10)

    def append_metrics(self, record: dict[str, Any], kept_epoch: int) -> None:
        try:
            with open(self.metrics, "a") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as e:
            raise GenmnistError(f"cannot write {self.metrics}: {e.strerror or e}; "
                                f"{kept_text(self.checkpoint, kept_epoch)}") from e

    def save_checkpoint(self, payload: dict[str, Any]) -> Path:
        return save_checkpoint(payload, self.checkpoint)
