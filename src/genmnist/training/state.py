"""The training state: model, optimizers, loss scalers, the shuffling generator and where the
run stands, as one object with `state_dict`/`load_state_dict`, as PyTorch's own objects have.

What it saves is what exact resume needs (Lightning's `fit_loop` state and Accelerate's
`save_state` hold the same): besides weights, the optimizer states (Adam's moments), the step
counter (`schedule(step)` picks the players of multi-player models), the global torch RNG (the
VAE's reparameterisation noise, dropout), the CUDA RNG on a GPU, and the generator that shuffles
each epoch. A checkpoint written mid-epoch (Ctrl-C) also holds that epoch's permutation, the next
batch and the partial loss sums (`Progress.partial`), so the epoch finishes as if never stopped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from genmnist.checkpoint import state_dict_mismatch
from genmnist.distributed import Distributed
from genmnist.errors import GenmnistError
from genmnist.models import GenerativeModel, OptimizerSpec, build_model
from genmnist.precision import make_scalers
from genmnist.training.config import TrainConfig


@dataclass
class Progress:
    """Where a run stands: complete epochs, optimizer steps, the per-epoch records so far, and
    the epoch in progress when the checkpoint was written mid-epoch."""

    epoch: int = 0
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    partial: dict[str, Any] | None = None


def learning_rate(spec: OptimizerSpec, lr: float | None) -> float:
    """The rate a player trains at: the run's `lr` if given, else its paper's (`spec.lr`)."""
    return spec.lr if lr is None else lr


def make_optimizer(params, spec: OptimizerSpec, lr: float | None) -> torch.optim.Optimizer:
    lr = learning_rate(spec, lr)
    if spec.kind == "adam":
        params = list(params)
        # The fused kernel updates all tensors in one pass: ~20% more images/s for vae and cvae
        # on a CPU here (bench/speed.py); where a device lacks it, the foreach version.
        fused = all(p.device.type in ("cpu", "cuda", "mps") for p in params)
        return torch.optim.Adam(params, lr=lr, betas=spec.betas, fused=fused)
    if spec.kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    raise ValueError(f"unknown optimizer kind {spec.kind!r}")


@dataclass
class TrainingState:
    """Everything training changes; `state_dict()` is the training part of a checkpoint."""

    model: GenerativeModel
    optimizers: dict[str, torch.optim.Optimizer]
    scalers: dict[str, torch.amp.GradScaler]
    shuffle: torch.Generator
    device: torch.device
    progress: Progress = field(default_factory=Progress)

    @classmethod
    def build(cls, tcfg: TrainConfig, model_config: Any, device: torch.device) -> TrainingState:
        """A fresh state from the seed: the same seed gives the same initial weights."""
        torch.manual_seed(tcfg.seed)
        model = build_model(tcfg.model, model_config).to(device).train()
        optimizers = {p: make_optimizer(model.player_parameters(p), model.optimizer_spec(p),
                                        tcfg.lr) for p in model.players}
        return cls(model, optimizers, make_scalers(tcfg.precision, model.players, device),
                   torch.Generator().manual_seed(tcfg.seed), device)

    def rng_state(self) -> dict[str, Any]:
        state = {"torch": torch.get_rng_state(), "shuffle": self.shuffle.get_state()}
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def state_dict(self) -> dict[str, Any]:
        p = self.progress
        state = {"state_dict": self.model.state_dict(),
                 "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                 "epoch": p.epoch, "step": p.step, "history": p.history, "rng": self.rng_state()}
        if p.partial is not None:
            state["partial"] = p.partial
        if self.scalers:
            state["scalers"] = {k: s.state_dict() for k, s in self.scalers.items()}
        if self.model.latent_sampler is not None:  # fitted at the last epoch (genmnist.samplers)
            state["sampler"] = self.model.latent_sampler.state_dict()
        return state

    def load_state_dict(self, ckpt: dict[str, Any]) -> None:
        """Load weights, optimizer, scaler and RNG states and the progress from a checkpoint."""
        try:
            self.model.load_state_dict(ckpt["state_dict"])
            for player, opt in self.optimizers.items():
                opt.load_state_dict(ckpt["optimizers"][player])
            rng = ckpt["rng"]
            torch.set_rng_state(rng["torch"])
            self.shuffle.set_state(rng["shuffle"])
            if self.device.type == "cuda" and "cuda" in rng:
                torch.cuda.set_rng_state(rng["cuda"], self.device)
            self.progress = Progress(int(ckpt["epoch"]), int(ckpt["step"]),
                                     list(ckpt.get("history", [])), ckpt.get("partial"))
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            given = ckpt.get("state_dict")
            why = "; ".join(state_dict_mismatch(self.model.state_dict(), given)) \
                if isinstance(given, dict) else ""
            why = why or (f"{type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else 'missing entry'}")
            raise GenmnistError("cannot resume: the checkpoint's training state does not fit "
                                f"model {ckpt.get('model')!r} ({why})") from e
        for p, scaler in self.scalers.items():
            if p in ckpt.get("scalers", {}):
                scaler.load_state_dict(ckpt["scalers"][p])

    def rank_rngs(self, dist: Distributed) -> list[Any] | None:
        """Collective: every rank's noise RNG, for exact resume (None without torchrun)."""
        if not dist.enabled:
            return None
        return dist.gather_objects({k: v for k, v in self.rng_state().items() if k != "shuffle"})

    def seed_rank_noise(self, seed: int, dist: Distributed, ckpt: dict[str, Any] | None) -> None:
        """Give each rank its own noise (reparameterisation, dropout) for its own images: the
        RNG state this rank saved, when the checkpoint was written by as many ranks; else a
        fresh seed from (seed, rank, step) -- correct, but not the stream an unstopped run
        would have drawn."""
        saved, rank = ((ckpt or {}).get("rng") or {}).get("ranks"), dist.info.rank
        if saved is not None and len(saved) == dist.world:
            torch.set_rng_state(saved[rank]["torch"])
            if self.device.type == "cuda" and "cuda" in saved[rank]:
                torch.cuda.set_rng_state(saved[rank]["cuda"], self.device)
        else:  # ints hash the same in every process (PYTHONHASHSEED only salts str and bytes)
            torch.manual_seed(hash((seed, rank, self.progress.step)) % 2**63)

    def checkpoint(self, tcfg: TrainConfig, ranks: list[Any] | None,
                   run: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole checkpoint: names and configs (to rebuild the model) and this state.
        Under torchrun `ranks` holds every rank's noise RNG; rank 0's own is as of now. `run`:
        how the run runs (device, `RunSettings`), kept for the user and for resume."""
        state = self.state_dict()
        if ranks is not None:
            state["rng"]["ranks"] = [{k: v for k, v in state["rng"].items() if k != "shuffle"},
                                     *ranks[1:]]
        return {"model": tcfg.model, "model_config": asdict(self.model.config),
                "train_config": asdict(tcfg), **({"run": run} if run is not None else {}),
                **state}
