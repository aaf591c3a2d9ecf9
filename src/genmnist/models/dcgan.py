"""DCGAN (Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", ICLR 2016), and `GANBase`, what every pure GAN here shares.

Defaults from the paper: Adam with learning rate 2e-4 and beta1 0.5, latent z of 100 dimensions
drawn from a standard normal (the paper draws it uniformly; a normal is the common choice since and
what `interpolate --method slerp` assumes), batch norm, ReLU/LeakyReLU(0.2), N(0, 0.02) weights.
The loss is the non-saturating one of Goodfellow et al. (2014): the generator maximises
log D(G(z)) rather than minimising log(1 - D(G(z))). The paper's batch size is 128.

A GAN has no encoder: `reconstruct` says so, and `interpolate` walks between two random codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genmnist.models.base import GenerativeModel, OptimizerSpec, register
from genmnist.models.gan_nets import Discriminator, Generator, from_tanh, frozen, to_tanh


class GANBase(GenerativeModel):
    """Generator + discriminator (or critic); subclasses give the players' losses."""

    players = ("discriminator", "generator")
    has_encoder = False
    critic_norm = "batch"
    critic_head_bias = True

    def __init__(self, config):
        super().__init__(config)
        self.generator = Generator(config.latent_dim, config.gen_channels)
        self.discriminator = Discriminator(config.channels, norm=self.critic_norm,
                                           head_bias=self.critic_head_bias)

    def player_parameters(self, player):
        return (self.generator if player == "generator" else self.discriminator).parameters()

    def noise(self, n: int, device: torch.device) -> torch.Tensor:
        return torch.randn(n, self.config.latent_dim, device=device)

    def fake(self, n: int, device: torch.device, grad: bool) -> torch.Tensor:
        """Generated images in [-1, 1]; without `grad` no graph is kept through the generator."""
        with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            return self.generator(self.noise(n, device))

    def decode(self, z, y=None):
        return from_tanh(self.generator(z))

    def sample(self, n, y=None, generator=None):
        dev = next(self.parameters()).device
        z = torch.randn(n, self.config.latent_dim, generator=generator).to(dev)
        return self.decode(z)


@dataclass
class DCGANConfig:
    latent_dim: int = 100
    channels: int = 16  # discriminator width
    gen_channels: int = 32  # generator width


@register
class DCGAN(GANBase):
    """DCGAN with the non-saturating loss; see the module docstring for the paper's defaults."""

    name = "dcgan"
    terms = {"discriminator": ("loss", "d_real", "d_fake"), "generator": ("loss",)}
    config_class = DCGANConfig

    def optimizer_spec(self, player):
        return OptimizerSpec("adam", 2e-4, (0.5, 0.999))  # the paper's; --lr overrides

    def loss(self, x, y=None, player="discriminator"):
        b, dev = x.shape[0], x.device
        ones, zeros = torch.ones(b, device=dev), torch.zeros(b, device=dev)
        if player == "generator":
            # Non-saturating: maximise log D(G(z)).
            with frozen(self.discriminator):
                score = self.discriminator(self.fake(b, dev, grad=True))
            return {"loss": F.binary_cross_entropy_with_logits(score, ones)}
        real = self.discriminator(to_tanh(x))
        fake = self.discriminator(self.fake(b, dev, grad=False))
        loss = (F.binary_cross_entropy_with_logits(real, ones)
                + F.binary_cross_entropy_with_logits(fake, zeros))
        # D(x) and D(G(z)) as pytorch/examples' DCGAN prints them: 0.5 and 0.5 at equilibrium.
        return {"loss": loss, "d_real": torch.sigmoid(real).mean().detach(),
                "d_fake": torch.sigmoid(fake).mean().detach()}
