"""The generator and discriminator every adversarial model here shares: DCGAN (Radford, Metz &
Chintala, "Unsupervised Representation Learning with Deep Convolutional Generative Adversarial
Networks", ICLR 2016) scaled to 28x28.

The paper's rules, kept: strided (transposed) convolutions instead of pooling, batch norm in the
generator and in the discriminator except its input layer, ReLU in the generator with tanh at the
output, LeakyReLU(0.2) in the discriminator, weights drawn from N(0, 0.02). Its 64x64 nets are cut
to two stride-2 layers (7 -> 14 -> 28) so that an epoch of MNIST takes well under a minute on a
2-core CPU (docs/models-gan.md has the measurements).

Pixels are in [-1, 1] inside these nets (tanh output); the models map to and from [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Build the graph without these modules' weights: gradients still flow *through* them to the
    player being trained, but no weight gradients are computed that nobody would step on."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)


def dcgan_init(module: nn.Module) -> None:
    """The paper's initialisation: N(0, 0.02) weights, N(1, 0.02) batch-norm scales."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """z (B, latent_dim) -> images (B, 1, 28, 28) in [-1, 1]."""

    def __init__(self, latent_dim: int, channels: int = 32):
        super().__init__()
        c = channels
        self.c = c
        self.fc = nn.Sequential(nn.Linear(latent_dim, 2 * c * 49, bias=False),
                                nn.BatchNorm1d(2 * c * 49), nn.ReLU())
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            # (B, c, 14, 14)
            nn.ConvTranspose2d(c, 1, 4, 2, 1), nn.Tanh(),                  # (B, 1, 28, 28)
        )
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(-1, 2 * self.c, 7, 7))


class Discriminator(nn.Module):
    """images (B, 1, 28, 28) in [-1, 1] -> one logit (or critic score) per image.

    `norm` is "batch" (DCGAN, WGAN, VAE-GAN) or "layer": WGAN-GP's penalty is taken per image, so
    its critic must not mix images in a batch (Gulrajani et al. 2017, section 4). A Wasserstein
    critic has no `head_bias`: E[f(x)] - E[f(G(z))] cancels it, so it would never learn.
    """

    def __init__(self, channels: int = 32, norm: str = "batch", head_bias: bool = True):
        super().__init__()
        c = channels
        if norm == "batch":
            norm_layer: nn.Module = nn.BatchNorm2d(2 * c)
        elif norm == "layer":
            norm_layer = nn.GroupNorm(1, 2 * c)  # layer norm over (C, H, W)
        else:
            raise ValueError(f"unknown norm {norm!r}")
        self.body = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1), nn.LeakyReLU(0.2),                   # (B, c, 14, 14)
            nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), norm_layer, nn.LeakyReLU(0.2),
            nn.Flatten(),                                                  # (B, 2c * 49)
        )
        self.head = nn.Linear(2 * c * 49, 1, bias=head_bias)
        dcgan_init(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer, flattened: VAE-GAN measures reconstructions here."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(1)


def to_tanh(x: torch.Tensor) -> torch.Tensor:
    return x * 2 - 1


def from_tanh(x: torch.Tensor) -> torch.Tensor:
    return (x + 1) / 2
