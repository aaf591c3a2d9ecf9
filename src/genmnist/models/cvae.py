"""Convolutional VAE (`cvae`) and conditional VAE (`cond-vae`).

`cvae` is the VAE of Kingma & Welling (2014) with the convolutional nets of `conv.py`: the
flagship model, sharp digits in a few minutes of CPU training.
`cond-vae` is the conditional VAE of Sohn, Lee & Yan, "Learning Structured Output Representation
using Deep Conditional Generative Models" (NeurIPS 2015): encoder and decoder both see the digit
label, so `sample(n, y)` draws the digits asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genmnist.models.base import one_hot, register
from genmnist.models.conv import ConvDecoder, ConvEncoder
from genmnist.models.vae import VAEBase


@dataclass
class ConvVAEConfig:
    latent_dim: int = 16
    channels: int = 16
    hidden: int = 256
    beta: float = 1.0
    iwae_k: int = 1  # > 1: train on the IWAE bound with this many draws (Burda et al. 2016)


@register
class ConvVAE(VAEBase):
    name = "cvae"
    terms = {"model": ("loss", "recon", "kl")}
    config_class = ConvVAEConfig

    def __init__(self, config: ConvVAEConfig):
        super().__init__(config)
        c, h, d = config.channels, config.hidden, config.latent_dim
        self.encoder = ConvEncoder(2 * d, c, h)
        self.decoder = ConvDecoder(d, c, h)

    def _encode(self, x, y=None):
        return self.encoder(x).chunk(2, dim=1)

    def _decode_logits(self, z, y=None):
        return self.decoder(z)


@dataclass
class CondVAEConfig:
    latent_dim: int = 16
    channels: int = 16
    hidden: int = 256
    beta: float = 1.0
    iwae_k: int = 1  # > 1: train on the IWAE bound with this many draws (Burda et al. 2016)
    num_classes: int = 10


@register
class CondVAE(VAEBase):
    name = "cond-vae"
    terms = {"model": ("loss", "recon", "kl")}
    config_class = CondVAEConfig
    conditional = True

    def __init__(self, config: CondVAEConfig):
        super().__init__(config)
        c, h, d, k = config.channels, config.hidden, config.latent_dim, config.num_classes
        self.encoder = ConvEncoder(2 * d, c, h, cond_dim=k)
        self.decoder = ConvDecoder(d, c, h, cond_dim=k)

    def _label(self, y, n, device):
        if y is None:  # no label asked for: every digit in turn, so samples stay balanced
            y = torch.arange(n) % self.config.num_classes
        return one_hot(y.to(device), self.config.num_classes)

    def _encode(self, x, y=None):
        return self.encoder(x, self._label(y, x.shape[0], x.device)).chunk(2, dim=1)

    def _decode_logits(self, z, y=None):
        return self.decoder(z, self._label(y, z.shape[0], z.device))
