"""Deterministic autoencoder (Hinton & Salakhutdinov, Science 2006) with a fitted code density.

An autoencoder has no prior to sample from. After training, genmnist fits a full-covariance
Gaussian mixture by EM to the training-set codes, without their labels, and `sample` draws codes
from it: the "ex-post density estimation" of Ghosh et al., "From Variational to Deterministic
Autoencoders" (ICLR 2020). The mixture is the shared latent sampler of `genmnist.samplers`,
stored in the checkpoint; `generate` says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genmnist.errors import GenmnistError
from genmnist.models.base import GenerativeModel, register
from genmnist.models.conv import ConvDecoder, ConvEncoder

# Buffers of checkpoints written before the shared sampler: a mixture fitted with the digit
# labels, which an unconditional model must not see. They are dropped on load.
_LEGACY_PRIOR = ("prior_weights", "prior_means", "prior_scale_tril")


@dataclass
class AEConfig:
    latent_dim: int = 16
    channels: int = 16
    hidden: int = 256
    mixture_components: int = 10  # unused since the shared sampler; kept so old configs load


@register
class AE(GenerativeModel):
    name = "ae"
    terms = {"model": ("loss", "recon")}
    config_class = AEConfig
    has_encoder = True
    latent_density = True
    has_prior = False
    prior_name = "none"

    def __init__(self, config: AEConfig):
        super().__init__(config)
        c, h, d = config.channels, config.hidden, config.latent_dim
        self.encoder = ConvEncoder(d, c, h)
        self.decoder = ConvDecoder(d, c, h)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for key in _LEGACY_PRIOR:
            state_dict.pop(prefix + key, None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def loss(self, x, y=None, player="model"):
        logits = self.decoder(self.encoder(x))
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
        return {"loss": recon, "recon": recon}

    def encode(self, x, y=None):
        return self.encoder(x)

    def decode(self, z, y=None):
        return torch.sigmoid(self.decoder(z))

    @torch.no_grad()
    def sample(self, n, y=None, generator=None):
        if self.latent_sampler is None:
            raise GenmnistError("this autoencoder has no fitted code density (its training "
                                "did not finish, or it predates the shared sampler): refit one")
        z = self.latent_sampler.sample(n, None, generator)
        return self.decode(z.to(next(self.parameters()).device))
