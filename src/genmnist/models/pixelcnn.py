"""Gated PixelCNN (van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu,
"Conditional Image Generation with PixelCNN Decoders", NeurIPS 2016) over a grid of code indices:
the prior VQ-VAE samples from (van den Oord et al. 2017, section 3.2).

p(c) = prod_i p(c_i | c_<i) in raster order. Two stacks avoid the blind spot of the first
PixelCNN: a vertical stack that sees every row above, and a horizontal stack that sees the pixels
to the left in the current row and takes the vertical stack's output. Each layer is
tanh(W_f * h) . sigmoid(W_g * h) (the paper's gated unit, equation 2), with a residual connection on
the horizontal stack. The first layer is masked ("A": the current position is hidden); later ones
may see it ("B"), since their inputs at that position already depend on earlier codes only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GatedLayer(nn.Module):
    def __init__(self, channels: int, kernel: int, first: bool):
        super().__init__()
        c, k, half = channels, kernel, kernel // 2
        self.first = first
        # Vertical: a (half+1, k) kernel over rows i-half..i; cropping the output to the first
        # H rows makes row i see rows <= i. The first layer drops its own row (mask A) so row i
        # sees rows < i, and every later layer then inherits "rows above only".
        self.vert = nn.Conv2d(c, 2 * c, (half + 1, k), padding=(half, half))
        # Horizontal: a (1, half+1) kernel over columns j-half..j; mask A drops column j.
        self.horiz = nn.Conv2d(c, 2 * c, (1, half + 1), padding=(0, half))
        self.v_to_h = nn.Conv2d(2 * c, 2 * c, 1)
        self.h_out = nn.Conv2d(c, c, 1)
        if first:
            vmask = torch.ones_like(self.vert.weight)
            vmask[:, :, -1] = 0
            hmask = torch.ones_like(self.horiz.weight)
            hmask[:, :, :, -1] = 0
            self.register_buffer("vmask", vmask, persistent=False)
            self.register_buffer("hmask", hmask, persistent=False)

    @staticmethod
    def gate(h: torch.Tensor) -> torch.Tensor:
        a, b = h.chunk(2, dim=1)
        return torch.tanh(a) * torch.sigmoid(b)

    def _conv(self, conv: nn.Conv2d, x: torch.Tensor, mask: torch.Tensor | None):
        w = conv.weight if mask is None else conv.weight * mask
        return F.conv2d(x, w, conv.bias, padding=conv.padding)

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        height, width = v.shape[-2:]
        hv = self._conv(self.vert, v, self.vmask if self.first else None)[:, :, :height]
        hh = self._conv(self.horiz, h, self.hmask if self.first else None)[:, :, :, :width]
        out = self.h_out(self.gate(hh + self.v_to_h(hv)))
        # The first layer's horizontal input is the code at (i, j) itself: no residual there.
        return self.gate(hv), out if self.first else out + h


class GatedPixelCNN(nn.Module):
    """Code map (B, H, W) of indices in [0, K) -> logits (B, K, H, W) of each code given those
    before it in raster order."""

    def __init__(self, num_codes: int, channels: int = 32, layers: int = 5, kernel: int = 3):
        super().__init__()
        self.num_codes = num_codes
        self.embed = nn.Embedding(num_codes, channels)
        self.layers = nn.ModuleList(GatedLayer(channels, kernel, first=(i == 0))
                                    for i in range(layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(),
                                  nn.Conv2d(channels, num_codes, 1))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        x = self.embed(codes).permute(0, 3, 1, 2)  # (B, C, H, W)
        v, h = x, x
        for layer in self.layers:
            v, h = layer(v, h)
        return self.head(h)

    def loss(self, codes: torch.Tensor) -> dict[str, torch.Tensor]:
        """Mean negative log-likelihood per code, in nats."""
        nll = F.cross_entropy(self(codes), codes)
        return {"loss": nll, "nll": nll.detach()}

    @torch.no_grad()
    def sample(self, n: int, shape: tuple[int, int], generator: torch.Generator | None = None,
               device: torch.device | str = "cpu") -> torch.Tensor:
        """Draw n code maps, one position at a time in raster order. The uniforms come from
        `generator` on the CPU and pick codes by inverse CDF, so a seed gives the same maps on
        every device."""
        height, width = shape
        u = torch.rand(n, height, width, generator=generator, dtype=torch.float64).to(device)
        codes = torch.zeros(n, height, width, dtype=torch.long, device=device)
        for i in range(height):
            for j in range(width):
                # Only rows <= i can influence position (i, j): run the net on those alone.
                probs = self(codes[:, :i + 1])[:, :, i, j].double().softmax(dim=1)
                cdf = probs.cumsum(dim=1)
                pick = torch.searchsorted(cdf, u[:, i, j, None] * cdf[:, -1:])
                codes[:, i, j] = pick.squeeze(1).clamp_(max=self.num_codes - 1)
        return codes
