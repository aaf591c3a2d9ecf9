"""VQ-VAE (van den Oord, Vinyals & Kavukcuoglu, "Neural Discrete Representation Learning",
NeurIPS 2017) with a gated PixelCNN prior over its code maps.

The encoder maps a digit to a 7x7 grid of D-dimensional vectors z_e; each is replaced by its
nearest of K codebook vectors e_k, and the decoder sees those. The paper's loss (its equation 3):

    log p(x | z_q) + ||sg[z_e] - e||^2 + beta ||z_e - sg[e]||^2,    beta (commitment) = 0.25

with the straight-through estimator copying the decoder's gradient from z_q to z_e. The
likelihood here is Bernoulli (cross-entropy in nats per image, like the VAE family), and the two
codebook terms are summed over the code map likewise, so their weights mean what the paper's mean.

Sampling (the paper's section 3.2): the autoencoder is trained first, then a gated PixelCNN
(pixelcnn.py) is fitted to the code maps of the training images, and `sample` draws code maps
from it and decodes them. `genmnist train vqvae` does both; the checkpoint holds both. Decoding
uniformly random codes is kept as `sample_uniform_codes`, the baseline the prior must beat.

`encode` returns the continuous map z_e and `decode` quantises before decoding, so interpolating
between two code maps walks z_e and snaps each point to the codebook.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genmnist.errors import PriorNotFitted
from genmnist.models.base import GenerativeModel, OptimizerSpec, register
from genmnist.models.pixelcnn import GatedPixelCNN


@dataclass
class VQVAEConfig:
    latent_dim: int = 16  # D, the size of each code vector
    codebook_size: int = 64  # K
    channels: int = 16
    commitment: float = 0.25  # beta in the paper
    prior_channels: int = 24
    prior_layers: int = 4
    prior_epochs: int = 2  # passes of the PixelCNN over the training code maps
    prior_batch_size: int = 256
    prior_lr: float = 1e-3


@register
class VQVAE(GenerativeModel):
    """VQ-VAE and its PixelCNN prior; the paper's loss and defaults are in the module docstring."""

    name = "vqvae"
    terms = {"model": ("loss", "recon", "vq", "commit", "perplexity")}
    config_class = VQVAEConfig
    has_encoder = True
    prior_name = "PixelCNN prior over its code maps"

    def __init__(self, config: VQVAEConfig):
        super().__init__(config)
        c, d, k = config.channels, config.latent_dim, config.codebook_size
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1), nn.ReLU(),                       # (B, c, 14, 14)
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.ReLU(),                   # (B, 2c, 7, 7)
            nn.Conv2d(2 * c, 2 * c, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(2 * c, d, 1),                                    # (B, D, 7, 7): z_e
        )
        self.codebook = nn.Embedding(k, d)
        self.codebook.weight.data.uniform_(-1 / k, 1 / k)
        self.decoder = nn.Sequential(
            nn.Conv2d(d, 2 * c, 3, 1, 1), nn.ReLU(),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.ReLU(),         # (B, c, 14, 14)
            nn.ConvTranspose2d(c, 1, 4, 2, 1),                         # (B, 1, 28, 28) logits
        )
        # The codebook starts as encoder outputs of the first training batch (as in Dhariwal et
        # al.'s Jukebox, 2020): from the paper's tiny uniform init, Adam needs thousands of steps
        # to reach the encoder's scale, and most codes die before they get there.
        self.register_buffer("codebook_ready", torch.zeros((), dtype=torch.bool))
        self.prior = GatedPixelCNN(k, config.prior_channels, config.prior_layers)
        # Set once the prior is fitted; saved with the weights so `generate` can check it.
        self.register_buffer("prior_fitted", torch.zeros((), dtype=torch.bool))

    def player_parameters(self, player):
        # The prior is fitted afterwards, by after_training; the autoencoder's step leaves it be.
        return [p for n, p in self.named_parameters() if not n.startswith("prior.")]

    @property
    def latent_shape(self):
        return (self.config.latent_dim, 7, 7)

    # --- quantisation -------------------------------------------------------------------------
    def codes_of(self, z_e: torch.Tensor) -> torch.Tensor:
        """Nearest codebook index per position: (B, D, H, W) -> (B, H, W)."""
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, z_e.shape[1])           # (B*H*W, D)
        e = self.codebook.weight
        dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ e.T + e.pow(2).sum(1)
        return dist.argmin(1).view(z_e.shape[0], *z_e.shape[2:])

    @torch.no_grad()
    def _init_codebook(self, z_e: torch.Tensor) -> None:
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, z_e.shape[1])
        pick = torch.randint(len(flat), (self.config.codebook_size,), device=flat.device)
        self.codebook.weight.copy_(flat[pick])
        self.codebook_ready.fill_(True)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, H, W) indices -> (B, D, H, W) codebook vectors."""
        return self.codebook(codes).permute(0, 3, 1, 2)

    def loss(self, x, y=None, player="model"):
        b = x.shape[0]
        z_e = self.encoder(x)
        if self.training and not bool(self.codebook_ready):
            self._init_codebook(z_e.detach())
        codes = self.codes_of(z_e)
        z_q = self.lookup(codes)
        logits = self.decoder(z_e + (z_q - z_e).detach())  # straight-through
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / b
        vq = (z_q - z_e.detach()).pow(2).sum() / b
        commit = (z_e - z_q.detach()).pow(2).sum() / b
        # Perplexity of code use in the batch: K when every code is used equally, 1 when one is.
        p = torch.bincount(codes.flatten(), minlength=self.config.codebook_size).float()
        p = p / p.sum()
        perplexity = torch.exp(-(p * torch.log(p + 1e-10)).sum())
        return {"loss": recon + vq + self.config.commitment * commit, "recon": recon, "vq": vq,
                "commit": commit, "perplexity": perplexity}

    # --- the contract -------------------------------------------------------------------------
    def encode(self, x, y=None):
        return self.encoder(x)

    def decode(self, z, y=None):
        return self.decode_codes(self.codes_of(z))

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(self.lookup(codes)))

    def sample(self, n, y=None, generator=None):
        if not bool(self.prior_fitted):
            raise PriorNotFitted(self.name, "PixelCNN")
        dev = self.codebook.weight.device
        return self.decode_codes(self.prior.sample(n, (7, 7), generator, dev))

    def sample_uniform_codes(self, n: int, generator: torch.Generator | None = None):
        """The baseline: every position's code drawn uniformly at random."""
        codes = torch.randint(self.config.codebook_size, (n, 7, 7), generator=generator)
        return self.decode_codes(codes.to(self.codebook.weight.device))

    # --- the prior, fitted after the autoencoder ----------------------------------------------
    @torch.no_grad()
    def code_maps(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        dev = self.codebook.weight.device
        return torch.cat([self.codes_of(self.encoder(images[i:i + batch_size].to(dev)))
                          for i in range(0, len(images), batch_size)])

    def after_training(self, images, labels, batch_size, fit_sampler=None):
        if fit_sampler is None:
            raise ValueError("vqvae fits its prior with the trainer's loop: pass fit_sampler "
                             "(genmnist.training.fit_sampler)")
        was_training = self.training
        self.eval()
        codes = self.code_maps(images)                                      # (N, 7, 7)
        self.train(was_training)
        cfg = self.config
        nll = fit_sampler(self.prior, self.prior.loss, codes, epochs=cfg.prior_epochs,
                          batch_size=cfg.prior_batch_size,
                          spec=OptimizerSpec("adam", cfg.prior_lr), name="prior")
        self.prior.eval()
        self.prior_fitted.fill_(True)
        used = len(torch.unique(codes))
        return (f"vqvae: fitted a gated PixelCNN prior over the {len(codes)} training code maps "
                f"(7x7, {used} of {cfg.codebook_size} codes used) in {cfg.prior_epochs} epochs: "
                f"{nll:.3f} nats per code; `generate` samples from it")
