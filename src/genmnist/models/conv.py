"""Convolutional encoder and decoder shared by `cvae`, `cond-vae` and `ae`.

Sized for a 2-core CPU: two stride-2 4x4 convolutions (28 -> 14 -> 7) and their transposes, in
the style of DCGAN (Radford et al. 2016) without batch norm, which the VAE objective does not need.
Class labels, when given, are appended to the flattened features and to the code (Sohn et al.
2015), so the same nets serve the conditional VAE.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvEncoder(nn.Module):
    def __init__(self, out_dim: int, channels: int = 32, hidden: int = 256, cond_dim: int = 0):
        super().__init__()
        c = channels
        self.conv = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1), nn.LeakyReLU(0.2),          # (B, c, 14, 14)
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.LeakyReLU(0.2),      # (B, 2c, 7, 7)
            nn.Flatten(),
        )
        self.fc = nn.Sequential(nn.Linear(2 * c * 49 + cond_dim, hidden), nn.LeakyReLU(0.2),
                                nn.Linear(hidden, out_dim))

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv(x)
        if cond is not None:
            h = torch.cat([h, cond], dim=1)
        return self.fc(h)


class ConvDecoder(nn.Module):
    """Code -> logits of shape (B, 1, 28, 28)."""

    def __init__(self, in_dim: int, channels: int = 32, hidden: int = 256, cond_dim: int = 0):
        super().__init__()
        c = channels
        self.c = c
        self.fc = nn.Sequential(nn.Linear(in_dim + cond_dim, hidden), nn.ReLU(),
                                nn.Linear(hidden, 2 * c * 49), nn.ReLU())
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.ReLU(),     # (B, c, 14, 14)
            nn.ConvTranspose2d(c, 1, 4, 2, 1),                    # (B, 1, 28, 28)
        )

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if cond is not None:
            z = torch.cat([z, cond], dim=1)
        return self.deconv(self.fc(z).view(-1, 2 * self.c, 7, 7))
