"""Default training recipes: what `genmnist train MODEL` and `genmnist benchmark` run when the
user gives no options.

A recipe is the training budget and the settings a family needs to reach its quality here
(epochs, batch size, learning rate, model-config fields such as net widths, and the CPU threads
it runs fastest with), chosen by
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
    lr_schedule: str = "constant"  # or "cosine" (genmnist.training.TrainConfig)
    model: dict[str, Any] = field(default_factory=dict)  # model-config fields, e.g. channels
    # Intra-op threads on a CPU when none are asked for: 2 ran every model 1.33-1.50x faster
    # than 1 on a quiet 2-core machine (bench/speed.py, docs/performance.md); a model's recipe
    # can lower it if it measures so. `runtime.choose_threads` caps it at the cores there are.
    cpu_threads: int = 2


RECIPES: dict[str, Recipe] = {
    # The VAE family and the autoencoder: quality keeps improving past the old 10 epochs
    # (the quality-against-compute figure of docs/benchmarks.md); sampled through the latent
    # mixture fitted after training.
    "ae": Recipe(epochs=20),
    # The MLP: ~5 s an epoch. At 30 epochs its in-training FID is still falling (2000 samples,
    # prior: 42.3 at 20, 40.8 at 25, 38.7 at 30; mixture 13.7 at the end): more epochs are
    # the next lever, not yet benchmarked (docs/benchmarks.md).
    "vae": Recipe(epochs=30),
    "cvae": Recipe(epochs=20),
    "cond-vae": Recipe(epochs=20),
    # The VQ-VAE's PixelCNN prior is what its samples are made of: it gets more passes too.
    "vqvae": Recipe(epochs=12, model={"prior_epochs": 4}),
    # DCGAN at its paper's 64 channels: the old 16/32-channel nets plateau at FID ~15.5 (2000
    # samples) after 5 epochs, while 64/64 is still falling fast at epoch 2 (34.0 -> 22.0) at
    # 107 s an epoch (bench/gan_width.py, docs/models-gan.md).
    "dcgan": Recipe(epochs=8, model={"channels": 64, "gen_channels": 64}),
    # The Wasserstein GANs need many generator steps (one per n_critic = 5 batches): at this
    # budget they keep the narrow nets, which step 2.7x faster; --set widens them on a GPU.
    "wgan": Recipe(epochs=25, batch_size=64),
    "wgan-gp": Recipe(epochs=15, batch_size=64),
    "vaegan": Recipe(epochs=7, batch_size=64),
}


# Recipes for likelihood (training on dynamically binarised MNIST, where papers report test-set
# NLL): the budget is 30 minutes of the 2-core CPU, measured in docs/likelihood.md.
LIKELIHOOD_RECIPES: dict[str, Recipe] = {
    # 40-epoch cosine runs (bench/likelihood_lr.py; NLL, k=100, first 2000 test images): lr
    # 1e-3 94.32, 2e-3 93.19, 3e-3 92.81, 4e-3 92.74 (some KL lost), 8e-3 collapsed (test -ELBO
    # 104.7, latent units dead): 3e-3 keeps a margin from the collapse. 300 epochs fill the
    # 30 minutes once denormals are flushed (27.2 min; docs/likelihood.md).
    "vae": Recipe(epochs=300, lr=3e-3, lr_schedule="cosine"),
}


def recipe_for(model: str, binarize: bool = False) -> Recipe:
    """The model's default recipe (a plain one for a model that has none yet); with `binarize`,
    its likelihood recipe where it has one."""
    if binarize and model in LIKELIHOOD_RECIPES:
        return LIKELIHOOD_RECIPES[model]
    return RECIPES.get(model, Recipe())
