"""Default training recipes: what `genmnist train MODEL` and `genmnist benchmark` run when the
user gives no options.

A recipe is the training budget and the settings a family needs to reach its quality here
(epochs, batch size, learning rate, and model-config fields such as net widths), chosen by
measurement on the 2-core CPU and kept at or under about 15 minutes there, so that a full
benchmark fits in two hours. docs/benchmarks.md has the measurements behind each value. Every
field is overridden by the matching option (`--epochs`, `--batch-size`, `--lr`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Recipe:
    epochs: int = 10
    batch_size: int = 128
    lr: float | None = None  # None: each player's default from its paper
    model: dict[str, Any] = field(default_factory=dict)  # model-config fields, e.g. channels


RECIPES: dict[str, Recipe] = {
    "ae": Recipe(),
    "vae": Recipe(),
    "cvae": Recipe(),
    "cond-vae": Recipe(),
    "dcgan": Recipe(),
    "wgan": Recipe(batch_size=64),
    "wgan-gp": Recipe(batch_size=64),
    "vaegan": Recipe(batch_size=64),
    "vqvae": Recipe(),
}


def recipe_for(model: str) -> Recipe:
    """The model's default recipe (a plain one for a model that has none yet)."""
    return RECIPES.get(model, Recipe())
