"""VAE-GAN (Larsen, Sønderby, Larochelle & Winther, "Autoencoding beyond pixels using a learned
similarity metric", ICML 2016).

A VAE whose decoder is also a GAN generator. The reconstruction error is measured in a hidden layer
of the discriminator, Dis_l, under a unit Gaussian: L_llike = 1/2 ||Dis_l(x) - Dis_l(x~)||^2, with
x~ = Dec(z), z ~ Enc(x). The paper's three losses (its Algorithm 1), one per player:

    encoder:        L_prior + L_llike        (L_prior = KL(q(z|x) || N(0, I)))
    decoder:        gamma * L_llike - L_GAN
    discriminator:  L_GAN                    (fakes: Dec(Enc(x)) and samples Dec(z_p))

with the generator's half of L_GAN in its non-saturating form. Defaults from the paper: RMSProp,
learning rate 3e-4, batch 64, batch norm and ReLU/LeakyReLU in DCGAN-style nets (here the 28x28
nets of gan_nets.py, with the conv encoder of conv.py). gamma trades content (L_llike) against
style (L_GAN); the paper leaves its value to the data set; docs/models-gan.md says how
the default here was chosen.

The encoder's dict also reports "recon": the pixel-space cross-entropy of x~ (nats per image,
comparable with the VAE family); it is watched, not trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genmnist.models.base import GenerativeModel, OptimizerSpec, register
from genmnist.models.conv import ConvEncoder
from genmnist.models.gan_nets import Discriminator, Generator, from_tanh, frozen, to_tanh


@dataclass
class VAEGANConfig:
    latent_dim: int = 32
    channels: int = 16
    hidden: int = 256  # encoder's fully connected layer
    gamma: float = 1e-2  # weight of L_llike in the decoder's loss
    beta: float = 1.0  # weight of L_prior (KL), as in beta-VAE; 1 is the paper's


@register
class VAEGAN(GenerativeModel):
    """VAE-GAN; the paper's losses and defaults are in the module docstring."""

    name = "vaegan"
    terms = {"encoder": ("loss", "kl", "llike", "recon"), "decoder": ("loss", "llike", "gan"),
             "discriminator": ("loss",)}
    config_class = VAEGANConfig
    players = ("encoder", "decoder", "discriminator")
    has_encoder = True
    latent_density = True

    def __init__(self, config: VAEGANConfig):
        super().__init__(config)
        c, d = config.channels, config.latent_dim
        self.encoder = ConvEncoder(2 * d, c, config.hidden)
        self.decoder = Generator(d, c)
        self.discriminator = Discriminator(c)

    def player_parameters(self, player):
        return getattr(self, player).parameters()

    def optimizer_spec(self, player):
        return OptimizerSpec("rmsprop", 3e-4)  # the paper's; --lr overrides

    def _posterior(self, x):
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def _reconstruct(self, x):
        mu, logvar = self._posterior(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return mu, logvar, self.decoder(z)  # x~ in [-1, 1]

    def loss(self, x, y=None, player="encoder"):
        if player == "discriminator":
            return self._discriminator_terms(x)
        # The encoder's loss reaches the encoder only, the decoder's the decoder only (Algorithm
        # 1): the nets in between pass the gradient on without computing weight gradients.
        others = [self.discriminator] + ([self.decoder] if player == "encoder" else [])
        with frozen(*others):
            return self._coder_terms(x, player)

    def _discriminator_terms(self, x):
        b, dev = x.shape[0], x.device
        with torch.no_grad():
            _, _, x_tilde = self._reconstruct(x)
            x_p = self.decoder(torch.randn(b, self.config.latent_dim, device=dev))
        ones, zeros = torch.ones(b, device=dev), torch.zeros(b, device=dev)
        bce = F.binary_cross_entropy_with_logits
        l_gan = (bce(self.discriminator(to_tanh(x)), ones) + bce(self.discriminator(x_tilde), zeros)
                 + bce(self.discriminator(x_p), zeros))
        return {"loss": l_gan}

    def _coder_terms(self, x, player):
        b, dev = x.shape[0], x.device
        if player == "encoder":
            mu, logvar, x_tilde = self._reconstruct(x)
        else:  # the decoder's turn: the encoder's output is a given
            with torch.no_grad():
                mu, logvar = self._posterior(x)
                z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            x_tilde = self.decoder(z)
        with torch.no_grad():
            target = self.discriminator.features(to_tanh(x))
        feats = self.discriminator.features(x_tilde)
        l_llike = 0.5 * (feats - target).pow(2).sum() / b
        if player == "encoder":
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / b
            recon = F.binary_cross_entropy(from_tanh(x_tilde.detach()).clamp(1e-6, 1 - 1e-6), x,
                                           reduction="sum") / b
            return {"loss": self.config.beta * kl + l_llike, "kl": kl, "llike": l_llike,
                    "recon": recon}
        # decoder: gamma * L_llike minus the generator's (non-saturating) half of L_GAN; the
        # reconstructions' logits reuse the features already computed for L_llike.
        x_p = self.decoder(torch.randn(b, self.config.latent_dim, device=dev))
        ones = torch.ones(b, device=dev)
        l_gen = (F.binary_cross_entropy_with_logits(self.discriminator.head(feats).squeeze(1), ones)
                 + F.binary_cross_entropy_with_logits(self.discriminator(x_p), ones))
        return {"loss": self.config.gamma * l_llike + l_gen, "llike": l_llike, "gan": l_gen}

    def encode(self, x, y=None):
        return self._posterior(x)[0]

    def decode(self, z, y=None):
        return from_tanh(self.decoder(z))

    def sample(self, n, y=None, generator=None):
        dev = next(self.parameters()).device
        z = torch.randn(n, self.config.latent_dim, generator=generator).to(dev)
        return self.decode(z)
