"""The one contract every genmnist model follows.

A model is an `nn.Module` built from a flat dataclass config (saved in every checkpoint) with:

- `loss(x, y=None, player="model") -> dict[str, Tensor]`: named terms with a `"loss"` total that
  the trainer back-propagates. Adversarial models have several players (`players`), each with its
  own loss dict, its own parameters (`player_parameters`) and optimizer (`optimizer_spec`).
- `sample(n, y=None, generator=None) -> (n, 1, 28, 28)` images in [0, 1]. Noise is drawn on the
  CPU from `generator` and then moved, so a seed gives the same samples on every device.
- `encode(x, y=None) -> (n, latent_dim)` and `decode(z, y=None)`, where the model has them
  (`has_encoder`); `latent_shape` tells interpolation what a code looks like.

Models never touch optimizers, the CLI or progress bars: `genmnist.training` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from genmnist.errors import GenmnistError


@dataclass(frozen=True)
class OptimizerSpec:
    """What the trainer should build for one player; the paper's defaults live in each model."""

    kind: str = "adam"  # "adam" | "rmsprop"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)


class GenerativeModel(nn.Module):
    name: ClassVar[str] = ""
    config_class: ClassVar[type] = object
    players: ClassVar[tuple[str, ...]] = ("model",)
    conditional: ClassVar[bool] = False  # takes digit labels y
    has_encoder: ClassVar[bool] = False  # encode/decode exist, so reconstruct works
    # A continuous code that a density can be fitted to after training (genmnist.samplers):
    # `encode` gives posterior means, `decode` maps codes back. `has_prior`: the model has a
    # prior of its own to sample from (an autoencoder has none).
    latent_density: ClassVar[bool] = False
    has_prior: ClassVar[bool] = True
    # `log_weights(x, y, k, generator) -> (k, n)` importance weights exist, so the test-set
    # log-likelihood can be estimated (genmnist.metrics.likelihood).
    has_likelihood: ClassVar[bool] = False
    prior_name: ClassVar[str] = "N(0, I)"
    # The exact loss terms `loss(x, y, player)` returns, per player (the tests check them).
    terms: ClassVar[dict[str, tuple[str, ...]]] = {"model": ("loss",)}

    def __init__(self, config: Any):
        super().__init__()
        self.config = config
        # The fitted density over codes (genmnist.samplers.LatentSampler), or None; saved in the
        # checkpoint beside the weights, not in them, so it can be refitted without retraining.
        self.latent_sampler = None

    # --- the contract -------------------------------------------------------------------------
    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None,
             player: str = "model") -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def sample(self, n: int, y: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise GenmnistError(f"model '{self.name}' has no encoder")

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise GenmnistError(f"model '{self.name}' has no decoder")

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    # --- hooks the trainer calls; the defaults fit a single-player model ----------------------
    def forward(self, x, y=None, player: str = "model"):
        # forward() is loss(), so a DistributedDataParallel wrapper sees every training call.
        return self.loss(x, y, player)

    def player_parameters(self, player: str) -> Iterable[nn.Parameter]:
        return self.parameters()

    def optimizer_spec(self, player: str) -> OptimizerSpec:
        return OptimizerSpec()

    def schedule(self, step: int) -> tuple[str, ...]:
        """Players to update on training batch `step` (0-based), in order."""
        return self.players

    def after_step(self, player: str) -> None:
        """Called after each optimizer step of `player` (WGAN clips its critic here)."""

    def evaluate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        """Held-out loss terms; prefixed by player when there are several."""
        out: dict[str, float] = {}
        with torch.no_grad():
            for p in self.players:
                terms = self.loss(x, y, p)
                prefix = "" if len(self.players) == 1 else f"{p}/"
                out.update({prefix + k: float(v) for k, v in terms.items()})
        return out

    def after_training(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                       fit_sampler: Callable[..., float] | None = None) -> str | None:
        """Fit whatever the model samples from after its weights are trained (AE: a Gaussian
        mixture over codes; VQ-VAE: a PixelCNN prior). A sampler that is itself a network is
        trained with `fit_sampler` (`genmnist.training.fit_sampler`), so the trainer still builds
        every optimizer. Returns a line for the user, or None."""
        return None


MODELS: dict[str, type[GenerativeModel]] = {}


def register(cls: type[GenerativeModel]) -> type[GenerativeModel]:
    """Class decorator: add a model to the registry under its `name` (the CLI's choices)."""
    if not cls.name or cls.name in MODELS:
        raise ValueError(f"model name {cls.name!r} is empty or already registered")
    MODELS[cls.name] = cls
    return cls


def one_hot(y: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    return nn.functional.one_hot(y.long(), num_classes).float()
