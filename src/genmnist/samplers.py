"""Latent density samplers: where a model with a continuous latent draws its codes from.

A VAE's codes of the training set do not fill its N(0, I) prior: the aggregate posterior has
holes, and codes drawn from the prior in them decode to blends of digits. The fix taken here is
the ex-post density estimation of Ghosh et al., "From Variational to Deterministic Autoencoders"
(ICLR 2020, the RAE paper, section 4): after training, fit a full-covariance Gaussian mixture by
EM to the training set's posterior means and draw codes from it (pythae calls it
`GaussianMixtureSampler`; Dai & Wipf 2019 make the same diagnosis with a second-stage VAE).

An unconditional model's mixture never sees a label. A conditional model (cond-vae) gets one
mixture per digit over the codes of that digit, so `--digit d` draws codes that digit d's
training images actually use (Sohn et al. 2015 sample z from the prior instead; issue 16 and
docs/models.md have the measurements).

The fitted sampler is a small dict of tensors stored in the checkpoint under "sampler"; the
model is untouched, so a sampler can be refitted on any checkpoint without retraining.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from genmnist.errors import GenmnistError

KINDS = ("prior", "gmm")
# On a 10-epoch cvae, FID of 10000 samples (bench/sampler_components.py): prior 29.2; mixtures
# of 10 components 13.6, 25 11.8, 50 10.5, 100 10.3 at 1.6x the fit time of 50: 50 is the knee.
DEFAULT_COMPONENTS = 50
MAX_CODES = 20000  # codes EM sees (a seeded subset): its time grows with them, its fit hardly


@dataclass
class GaussianMixture:
    """A fitted mixture: weights (K,), means (K, D), Cholesky factors of covariances (K, D, D)."""

    weights: torch.Tensor
    means: torch.Tensor
    scale_tril: torch.Tensor

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """`n` codes (n, D) in float32, drawn on the CPU from `generator`."""
        comp = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.means.shape[1], generator=generator, dtype=self.means.dtype)
        z = self.means[comp] + torch.einsum("nij,nj->ni", self.scale_tril[comp], eps)
        return z.float()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"weights": self.weights, "means": self.means, "scale_tril": self.scale_tril}


def fit_mixture(codes: torch.Tensor, components: int, seed: int = 0,
                max_codes: int | None = MAX_CODES) -> GaussianMixture:
    """EM for a full-covariance mixture (scikit-learn's GaussianMixture, k-means start) on at
    most `max_codes` codes, a seeded random subset: EM's cost grows with the codes, its
    estimate hardly does past a few hundred codes per component."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture as SkMixture

    if max_codes is not None and len(codes) > max_codes:
        keep = torch.randperm(len(codes), generator=torch.Generator().manual_seed(seed))
        codes = codes[keep[:max_codes]]
    x = codes.double().cpu().numpy()
    k = max(1, min(components, len(x) // 2))  # EM needs a few codes per component
    gm = SkMixture(n_components=k, covariance_type="full", reg_covar=1e-6, max_iter=200,
                   random_state=seed)
    with warnings.catch_warnings():  # a slow convergence still gives a usable density
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(x)
    chol = np.linalg.cholesky(gm.covariances_)
    return GaussianMixture(torch.from_numpy(gm.weights_).double(),
                           torch.from_numpy(gm.means_).double(), torch.from_numpy(chol).double())


@dataclass
class LatentSampler:
    """A fitted density over codes: one mixture, or one per digit for a conditional model."""

    mixtures: list[GaussianMixture]
    per_label: bool
    components: int
    codes: int  # how many training codes it was fitted to
    seconds: float = 0.0

    @property
    def kind(self) -> str:
        return "gmm"

    def describe(self) -> str:
        what = f"{self.components}-component Gaussian mixture"
        if self.per_label:
            what += " per digit"
        return f"gmm ({what} fitted to {self.codes} training codes)"

    def sample(self, n: int, y: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Codes (n, D): from digit y[i]'s mixture when per_label, else the one mixture."""
        if not self.per_label:
            return self.mixtures[0].sample(n, generator)
        if y is None:
            y = torch.arange(n) % len(self.mixtures)
        y = y.cpu().long()
        z = torch.empty(n, self.mixtures[0].means.shape[1])
        for d in range(len(self.mixtures)):  # in digit order, so a seed gives the same codes
            idx = (y == d).nonzero().flatten()
            if len(idx):
                z[idx] = self.mixtures[d].sample(len(idx), generator)
        return z

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "gmm", "per_label": self.per_label, "components": self.components,
                "codes": self.codes, "seconds": self.seconds,
                "mixtures": [m.state_dict() for m in self.mixtures]}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> LatentSampler:
        if state.get("kind") != "gmm":
            raise GenmnistError(f"checkpoint holds an unknown sampler {state.get('kind')!r}")
        return cls([GaussianMixture(**m) for m in state["mixtures"]], bool(state["per_label"]),
                   int(state["components"]), int(state["codes"]), float(state.get("seconds", 0)))


def fit_latent_sampler(model, images: torch.Tensor, labels: torch.Tensor,
                       components: int = DEFAULT_COMPONENTS, seed: int = 0,
                       max_codes: int | None = MAX_CODES) -> LatentSampler:
    """Fit the density of `model`'s posterior-mean codes of `images` (float, [0, 1]).

    `labels` are read only by a conditional model (to encode and to split the codes by digit);
    an unconditional model's fit is the same whatever they are."""
    from genmnist.latent import encode_codes

    if not model.latent_density:
        raise GenmnistError(f"model '{model.name}' has no continuous latent code to fit a "
                            "density to")
    if components < 1:
        raise GenmnistError(f"the number of mixture components must be at least 1, got "
                            f"{components}")
    was_training = model.training
    model.eval()
    try:
        codes = encode_codes(model, images, labels)
    finally:
        model.train(was_training)
    if not torch.isfinite(codes).all():
        raise GenmnistError("the model's codes hold NaN or inf: no density can be fitted")
    t0 = time.perf_counter()
    if model.conditional:
        per = None if max_codes is None else max(1, max_codes // 10)
        mixtures = [fit_mixture(codes[labels.cpu() == d], components, seed, per)
                    for d in range(10)]
    else:
        mixtures = [fit_mixture(codes, components, seed, max_codes)]
    return LatentSampler(mixtures, model.conditional, components, len(codes),
                         round(time.perf_counter() - t0, 2))


def resolve_sampler(model, kind: str | None) -> LatentSampler | None:
    """The sampler to draw with: None means the model's own prior. `kind` None or "auto" takes
    the fitted density where the checkpoint has one (it measured better for every model,
    docs/benchmarks.md), else the prior."""
    fitted = getattr(model, "latent_sampler", None)
    if kind in (None, "auto"):
        return fitted
    if kind not in KINDS:
        raise GenmnistError(f"unknown sampler {kind!r}; use one of: auto, {', '.join(KINDS)}")
    if kind == "prior":
        if not model.has_prior:
            raise GenmnistError(f"model '{model.name}' has no prior to sample from; use the "
                                "fitted density (gmm)")
        return None
    if fitted is None:
        raise GenmnistError(f"this {model.name} checkpoint has no fitted latent density"
                            if model.latent_density else
                            f"model '{model.name}' has no continuous latent code, so no gmm "
                            "sampler; it samples from its own prior")
    return fitted


def describe(model, sampler: LatentSampler | None) -> str:
    """One line naming what the codes were drawn from."""
    if sampler is not None:
        return sampler.describe()
    return f"prior ({model.prior_name})"


def draw(model, n: int, y: torch.Tensor | None, generator: torch.Generator | None,
         sampler: LatentSampler | None) -> torch.Tensor:
    """`n` samples (n, 1, 28, 28) in [0, 1]: decoded codes of `sampler`, else `model.sample`."""
    if sampler is None:
        return model.sample(n, y, generator=generator)
    dev = next(model.parameters()).device
    z = sampler.sample(n, y, generator).to(dev)
    return model.decode(z, y.to(dev) if (y is not None and model.conditional) else None)
