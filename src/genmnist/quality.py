"""Quality during training: the MNIST-feature FID of a few thousand samples, every K epochs.

A loss says little about how samples look (a GAN's losses hardly move while its digits
sharpen), so the trainer can score samples as it goes: in the shipped MNIST classifier's feature
space, 2000 samples take a few seconds on a CPU. FID on 2000 samples is biased upwards against
the 10000 of the benchmark (the bias falls as 1/N, Chong & Forsyth, "Effectively Unbiased FID",
CVPR 2020), so these numbers compare epochs of one run, not runs of different sizes.

Models with a prior are scored through it while they train; the fitted latent density exists
only after the last epoch, where both are scored. An autoencoder, which has no prior, is scored
through a quick mixture fitted to 10000 training codes.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from genmnist.data import Split
from genmnist.errors import GenmnistError
from genmnist.samplers import LatentSampler, fit_latent_sampler
from genmnist.sampling import draw_samples

QUICK_FIT_CODES = 10000


def score_model(model, n: int, seed: int, sampler: LatentSampler | None,
                data_dir: str | None) -> dict[str, float]:
    """FID and digit coverage of `n` samples against the MNIST test set (MNIST features)."""
    from genmnist import metrics

    was_training = model.training
    model.eval()
    try:
        images = draw_samples(model, n, seed, 1000, sampler=sampler)
    finally:
        model.train(was_training)
    s = metrics.score(images, "mnist-test", features="mnist", metrics=("fid", "coverage"),
                      data_dir=data_dir, warn=lambda _: None)
    out = {"fid": round(float(s["fid"]), 4), "digit_entropy": round(float(s["digit_entropy"]), 4)}
    if model.conditional:  # sample_batches drew digit i % 10
        from genmnist.metrics.conditional import score_conditional

        out["cond_accuracy"] = round(score_conditional(images, torch.arange(n) % 10)["accuracy"], 4)
    return out


def training_quality(model, n: int, seed: int, train: Split,
                     data_dir: str | None) -> dict[str, Any]:
    """The epoch's quality record: scores under "prior" (or a quick "gmm" fit for a model
    without a prior), plus "gmm" once the full latent density is fitted."""
    t0 = time.perf_counter()
    out: dict[str, Any] = {"n": n}
    if model.has_prior:
        try:
            out["prior"] = score_model(model, n, seed, None, data_dir)
        except GenmnistError:  # a prior fitted after training (vqvae's PixelCNN) is not there yet
            pass
    if model.latent_sampler is not None:
        out["gmm"] = score_model(model, n, seed, model.latent_sampler, data_dir)
    elif not model.has_prior:
        head = train.head(QUICK_FIT_CODES)
        quick = fit_latent_sampler(model, head.float_images(), head.labels, 10, seed)
        out["gmm_quick"] = score_model(model, n, seed, quick, data_dir)
    best = min((v["fid"] for k, v in out.items() if isinstance(v, dict)), default=float("nan"))
    out["fid"] = best
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out
