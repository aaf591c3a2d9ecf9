"""Variational autoencoder (Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014).

`VAEBase` holds what every VAE here shares: the reparameterised ELBO with a Bernoulli likelihood
and the analytic KL to N(0, I) (the paper's Appendix B), weighted by beta as in beta-VAE
(Higgins et al., "beta-VAE: Learning Basic Visual Concepts...", ICLR 2017). beta = 1 is the plain
VAE. Subclasses supply `_encode` (-> mean, log-variance) and `_decode_logits`.
`log_weights` gives the importance weights log p(x, z) - log q(z|x) of K posterior draws, from
which `genmnist.metrics.likelihood` estimates log p(x) (Burda, Grosse & Salakhutdinov,
"Importance Weighted Autoencoders", ICLR 2016).

`VAE` is the classic MLP of the paper and of pytorch/examples: 784-400-20, ReLU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genmnist.models.base import GenerativeModel, register


@dataclass
class VAEConfig:
    latent_dim: int = 20
    hidden: int = 400
    beta: float = 1.0
    iwae_k: int = 1  # > 1: train on the IWAE bound with this many draws (Burda et al. 2016)


class VAEBase(GenerativeModel):
    has_encoder = True
    latent_density = True
    has_likelihood = True

    def _encode(self, x, y=None) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _decode_logits(self, z, y=None) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, x, y=None, player="model"):
        k = getattr(self.config, "iwae_k", 1)
        if k > 1:
            return self._iwae_loss(x, y, k)
        b = x.shape[0]
        mu, logvar = self._encode(x, y)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = self._decode_logits(z, y)
        # Both terms are nats per image (summed over pixels / latent dims, averaged over the batch).
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / b
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / b
        return {"loss": recon + self.config.beta * kl, "recon": recon, "kl": kl}

    def _iwae_loss(self, x, y, k: int):
        """The IWAE objective (Burda et al. 2016, eq. 8): -L_k, k draws per image; recon and
        kl are the single-draw ELBO's terms averaged over the draws (kl by Monte Carlo)."""
        log_px_z, log_prior_ratio = self._log_weight_terms(x, y, k, None)
        log_w = log_px_z + self.config.beta * log_prior_ratio
        bound = torch.logsumexp(log_w, 0) - math.log(k)
        return {"loss": -bound.mean(), "recon": -log_px_z.mean(), "kl": -log_prior_ratio.mean()}

    def log_weights(self, x, y=None, k: int = 1, generator=None) -> torch.Tensor:
        """log p(x|z) + log p(z) - log q(z|x) for `k` draws z ~ q(z|x) per image: (k, n), in
        nats. Batched over the draws: the decoder sees k*n codes at once. Noise is drawn on the
        CPU from `generator`, so a seed gives the same estimate on every device."""
        log_px_z, log_prior_ratio = self._log_weight_terms(x, y, k, generator)
        return log_px_z + log_prior_ratio

    def _log_weight_terms(self, x, y, k: int, generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(log p(x|z), log p(z) - log q(z|x)), each (k, n), for k draws z ~ q(z|x)."""
        n = x.shape[0]
        mu, logvar = self._encode(x, y)
        eps = torch.randn(k, *mu.shape, generator=generator).to(mu.device)
        z = mu + eps * torch.exp(0.5 * logvar)  # (k, n, d)
        yk = None if y is None else y.repeat(k)
        logits = self._decode_logits(z.reshape(k * n, -1), yk).reshape(k, n, -1)
        log_px_z = -F.binary_cross_entropy_with_logits(
            logits, x.reshape(1, n, -1).expand_as(logits), reduction="none").sum(-1)
        # log N(z; 0, I) - log N(z; mu, sigma^2): the 2 pi terms cancel
        log_prior_ratio = (-0.5 * z.pow(2) + 0.5 * eps.pow(2) + 0.5 * logvar).sum(-1)
        return log_px_z, log_prior_ratio

    def encode(self, x, y=None):
        return self._encode(x, y)[0]

    def decode(self, z, y=None):
        return torch.sigmoid(self._decode_logits(z, y))

    def sample(self, n, y=None, generator=None):
        dev = next(self.parameters()).device
        z = torch.randn(n, self.config.latent_dim, generator=generator).to(dev)
        return self.decode(z, y)


@register
class VAE(VAEBase):
    """The classic MLP VAE: 784-400-latent, Bernoulli decoder."""

    name = "vae"
    terms = {"model": ("loss", "recon", "kl")}
    config_class = VAEConfig

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        h, d = config.hidden, config.latent_dim
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.ReLU())
        self.enc_mu_logvar = nn.Linear(h, 2 * d)  # one matmul for both heads
        self.dec = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, 784))

    def _encode(self, x, y=None):
        return self.enc_mu_logvar(self.enc(x)).chunk(2, dim=1)

    def _decode_logits(self, z, y=None):
        return self.dec(z).view(-1, 1, 28, 28)
