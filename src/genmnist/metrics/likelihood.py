"""Test-set log-likelihood by importance sampling, in nats, as VAE papers report it.

For each image the estimate is the IWAE bound of Burda, Grosse & Salakhutdinov, "Importance
Weighted Autoencoders" (ICLR 2016), eq. 7, with K draws z_k ~ q(z|x):

    log p(x) >= L_K = log (1/K) sum_k p(x, z_k) / q(z_k|x)

L_1 is the ELBO, L_K never falls as K grows (on average) and tends to log p(x). The number
reported is -mean(L_K) over the test images (the NLL, lower is better) with its standard error
over images, and the ELBO beside it (the mean single-draw weight, from the same draws).

It is a density of the data only where the data are binary: a Bernoulli decoder scored on grey
levels gives a cross-entropy, not a likelihood (`LikelihoodResult.binarized` says which), so
papers' numbers are on binarised MNIST (`genmnist.data.binarize`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from genmnist.errors import GenmnistError

MAX_DECODED = 50_000  # codes decoded at once (k draws x images); bounds memory (~160 MB)


class NoLikelihood(GenmnistError):
    """The model defines no log-likelihood this estimator can compute."""

    def __init__(self, model: str):
        self.model = model
        super().__init__(f"model '{model}' has no likelihood to estimate")


@dataclass
class LikelihoodResult:
    nll: float  # -mean over images of the K-draw bound, nats
    nll_se: float  # its standard error over images
    elbo: float  # mean single-draw ELBO (log-weight), nats: -elbo >= nll
    elbo_se: float
    k: int
    n: int  # test images
    binarized: bool  # True: a likelihood of binary data; False: a cross-entropy on grey levels
    seed: int
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def logmeanexp(log_w: torch.Tensor, dim: int = 0) -> torch.Tensor:
    return torch.logsumexp(log_w, dim) - math.log(log_w.shape[dim])


@torch.no_grad()
def image_bounds(model, x: torch.Tensor, y: torch.Tensor | None, k: int,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_K, ELBO) per image of x, (n,) each, drawing the K samples in chunks of at most
    MAX_DECODED codes and combining them exactly (a running log-sum-exp)."""
    n = x.shape[0]
    chunk = max(1, min(k, MAX_DECODED // max(n, 1)))
    lse = torch.full((n,), -math.inf, dtype=torch.float64, device=x.device)
    total = torch.zeros(n, dtype=torch.float64, device=x.device)
    done = 0
    while done < k:
        m = min(chunk, k - done)
        log_w = model.log_weights(x, y, m, generator).double()
        lse = torch.logaddexp(lse, torch.logsumexp(log_w, 0))
        total += log_w.sum(0)
        done += m
    return lse - math.log(k), total / k


def estimate_nll(model, images: torch.Tensor, labels: torch.Tensor | None, k: int,
                 batch_size: int = 100, seed: int = 0, binarized: bool = True,
                 progress: Callable[[int], None] | None = None) -> LikelihoodResult:
    """The importance-weighted NLL of `images` (uint8 or [0, 1] floats, on the model's device),
    K draws per image; `progress(n_done)` after each batch."""
    if not getattr(model, "has_likelihood", False):
        raise NoLikelihood(model.name)
    if k < 1 or len(images) == 0:
        raise GenmnistError("the estimate needs at least one draw and one image")
    g = torch.Generator().manual_seed(seed)
    model.eval()
    bounds, elbos = [], []
    t0 = time.perf_counter()
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        x = x.float().div(255) if x.dtype == torch.uint8 else x.float()
        y = labels[i:i + batch_size] if labels is not None and model.conditional else None
        bound, elbo = image_bounds(model, x, y, k, g)
        bounds.append(bound.cpu())
        elbos.append(elbo.cpu())
        if progress is not None:
            progress(min(i + batch_size, len(images)))
    b, e = torch.cat(bounds), torch.cat(elbos)
    return LikelihoodResult(nll=-float(b.mean()), nll_se=_se(b), elbo=float(e.mean()),
                            elbo_se=_se(e), k=k, n=len(b), binarized=binarized, seed=seed,
                            seconds=time.perf_counter() - t0)


def _se(v: torch.Tensor) -> float:
    return float(v.std() / math.sqrt(len(v))) if len(v) > 1 else float("nan")
