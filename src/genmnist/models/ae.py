"""Deterministic autoencoder (Hinton & Salakhutdinov, Science 2006) with a fitted code prior.

An autoencoder has no prior to sample from. After training, genmnist fits a Gaussian mixture to
the training-set codes -- one full-covariance Gaussian per digit class, weighted by class
frequency -- and `sample` draws codes from it, the "ex-post density estimation" of Ghosh et al.,
"From Variational to Deterministic Autoencoders" (ICLR 2020). `generate` says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genmnist.errors import GenmnistError
from genmnist.models.base import GenerativeModel
from genmnist.models.conv import ConvDecoder, ConvEncoder


@dataclass
class AEConfig:
    latent_dim: int = 16
    channels: int = 16
    hidden: int = 256
    mixture_components: int = 10  # one per digit class


class AE(GenerativeModel):
    name = "ae"
    config_class = AEConfig
    has_encoder = True
    sampling_note = ("ae has no prior: codes are drawn from a Gaussian mixture "
                     "(one per digit) fitted to the training-set codes after training")

    def __init__(self, config: AEConfig):
        super().__init__(config)
        c, h, d, k = config.channels, config.hidden, config.latent_dim, config.mixture_components
        self.encoder = ConvEncoder(d, c, h)
        self.decoder = ConvDecoder(d, c, h)
        # The fitted mixture lives in buffers, so it is saved and loaded with the weights.
        self.register_buffer("prior_weights", torch.zeros(k))
        self.register_buffer("prior_means", torch.zeros(k, d))
        self.register_buffer("prior_scale_tril", torch.eye(d).repeat(k, 1, 1))

    def loss(self, x, y=None, player="model"):
        logits = self.decoder(self.encoder(x))
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
        return {"loss": recon, "recon": recon}

    def encode(self, x, y=None):
        return self.encoder(x)

    def decode(self, z, y=None):
        return torch.sigmoid(self.decoder(z))

    @torch.no_grad()
    def after_training(self, images, labels, batch_size, fit_sampler=None):
        dev = self.prior_means.device
        codes = torch.cat([self.encoder(images[i:i + 1024].to(dev)).cpu()
                           for i in range(0, len(images), 1024)]).double()
        k, d = self.config.mixture_components, self.config.latent_dim
        weights = torch.zeros(k, dtype=torch.float64)
        means = torch.zeros(k, d, dtype=torch.float64)
        trils = torch.eye(d, dtype=torch.float64).repeat(k, 1, 1)
        for c in range(k):
            zc = codes[labels == c]
            if len(zc) < 2:
                continue
            weights[c] = len(zc)
            means[c] = zc.mean(0)
            cov = torch.atleast_2d(torch.cov(zc.T)) + 1e-5 * torch.eye(d, dtype=torch.float64)
            trils[c] = torch.linalg.cholesky(cov)
        self.prior_weights.copy_(weights / weights.sum())
        self.prior_means.copy_(means)
        self.prior_scale_tril.copy_(trils)
        used = int((weights > 0).sum())
        return f"fitted a {used}-component Gaussian mixture to {len(codes)} training codes"

    @torch.no_grad()
    def sample(self, n, y=None, generator=None):
        if float(self.prior_weights.sum()) == 0:
            raise GenmnistError(
                "this autoencoder has no fitted code prior (its training did not finish)")
        w, mu, tril = (t.cpu() for t in (self.prior_weights, self.prior_means,
                                         self.prior_scale_tril))
        comp = torch.multinomial(w, n, replacement=True, generator=generator) if y is None else y
        eps = torch.randn(n, self.config.latent_dim, generator=generator)
        z = mu[comp] + torch.einsum("nij,nj->ni", tril[comp], eps)
        return self.decode(z.to(self.prior_means.device))
