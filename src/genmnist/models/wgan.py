"""Wasserstein GANs: weight clipping and gradient penalty.

`wgan`: Arjovsky, Chintala & Bottou, "Wasserstein Generative Adversarial Networks" (ICML 2017).
The critic f estimates W(P_r, P_g) = max E[f(x)] - E[f(G(z))] over 1-Lipschitz f, kept
Lipschitz by clipping its weights to [-c, c] after every step. The paper's defaults (its
Algorithm 1): RMSProp, learning rate 5e-5, c = 0.01, n_critic = 5 critic steps per generator step,
batch 64. Each critic step sees a fresh real batch. Left out: the reference code's 100 critic
steps for the first 25 generator steps, which at 937 batches per MNIST epoch would spend the
first 2.7 epochs on 25 generator updates.

`wgan-gp`: Gulrajani et al., "Improved Training of Wasserstein GANs" (NeurIPS 2017). Clipping
is replaced by a penalty lambda * (||grad f(x_hat)|| - 1)^2 on random points x_hat between real
and fake images. The paper's defaults (its Algorithm 1): lambda = 10, n_critic = 5, Adam with
learning rate 1e-4 and betas (0, 0.9), batch 64, and no batch norm in the critic (layer norm here).

The critic's loss dict carries "wasserstein", its running estimate of the distance: the number the
WGAN paper shows falling as samples improve.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genmnist.models.base import OptimizerSpec, register
from genmnist.models.dcgan import GANBase
from genmnist.models.gan_nets import frozen, to_tanh


@dataclass
class WGANConfig:
    latent_dim: int = 100
    channels: int = 16  # critic width
    gen_channels: int = 32  # generator width
    clip: float = 0.01
    n_critic: int = 5


@dataclass
class WGANGPConfig:
    latent_dim: int = 100
    channels: int = 16  # critic width
    gen_channels: int = 32  # generator width
    penalty: float = 10.0  # lambda
    n_critic: int = 5


class WGANBase(GANBase):
    players = ("critic", "generator")
    critic_head_bias = False  # the difference of means cancels it

    def schedule(self, step):
        # n_critic critic steps, each on its own batch, then one generator step.
        if step % self.config.n_critic == self.config.n_critic - 1:
            return ("critic", "generator")
        return ("critic",)

    def critic_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        real = to_tanh(x)
        fake = self.fake(len(x), x.device, grad=False)
        w = self.discriminator(real).mean() - self.discriminator(fake).mean()
        return {"loss": -w, "wasserstein": w.detach()}

    def loss(self, x, y=None, player="critic"):
        if player == "generator":
            with frozen(self.discriminator):
                return {"loss": -self.discriminator(self.fake(len(x), x.device, grad=True)).mean()}
        return self.critic_terms(x)


@register
class WGAN(WGANBase):
    """WGAN with weight clipping; the paper's defaults are in the module docstring."""

    name = "wgan"
    terms = {"critic": ("loss", "wasserstein"), "generator": ("loss",)}
    config_class = WGANConfig

    def optimizer_spec(self, player):
        return OptimizerSpec("rmsprop", 5e-5)

    @torch.no_grad()
    def after_step(self, player):
        if player == "critic":
            for p in self.discriminator.parameters():
                p.clamp_(-self.config.clip, self.config.clip)


@register
class WGANGP(WGANBase):
    """WGAN with gradient penalty; the paper's defaults are in the module docstring."""

    name = "wgan-gp"
    terms = {"critic": ("loss", "wasserstein", "penalty"), "generator": ("loss",)}
    config_class = WGANGPConfig
    critic_norm = "layer"

    def optimizer_spec(self, player):
        return OptimizerSpec("adam", 1e-4, (0.0, 0.9))

    def critic_terms(self, x):
        real = to_tanh(x)
        fake = self.fake(len(x), x.device, grad=False)
        eps = torch.rand(len(x), 1, 1, 1, device=x.device)
        # Training differentiates through the penalty (create_graph); evaluate() needs its value.
        train = torch.is_grad_enabled()
        with torch.enable_grad():
            x_hat = torch.lerp(fake, real, eps).requires_grad_(True)
            (grad,) = torch.autograd.grad(self.discriminator(x_hat).sum(), x_hat,
                                          create_graph=train)
        penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
        w = self.discriminator(real).mean() - self.discriminator(fake).mean()
        return {"loss": -w + self.config.penalty * penalty, "wasserstein": w.detach(),
                "penalty": penalty.detach()}
