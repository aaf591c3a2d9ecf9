"""What `generate`, `reconstruct` and `interpolate` compute, apart from any CLI.

Interpolation follows the usual practice: decode points on the path between two codes, either
on the straight line or on the great circle (slerp, Shoemake 1985), which White ("Sampling
Generative Networks", 2016) recommends for Gaussian latents because it keeps the norm typical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.nn.functional as F

from genmnist.errors import GenmnistError, OptionError
from genmnist.images import PngWriter
from genmnist.interrupt import GenerationInterrupted, InterruptGuard
from genmnist.models import GenerativeModel
from genmnist.samplers import LatentSampler, draw

# Beyond these, a job is refused up front instead of filling the disk or the memory: ten
# million PNGs are ~10 GB of files (their 4 KiB blocks) and an hour of sampling on a CPU; a
# batch of 10000 conv-model samples already holds ~2 GB of activations.
MAX_IMAGES = 10_000_000
MAX_BATCH = 10_000
MAX_STEPS = 200  # interpolation points: a 200-step picture is already 18000 pixels wide


def check_generate_request(n: int, batch_size: int) -> None:
    """Refuse sizes no folder or memory can hold, before any model is loaded."""
    if not 1 <= n <= MAX_IMAGES:
        raise OptionError("{n} must be between 1 and {most} (ten million PNGs), got {value}; "
                          "write larger sets in several folders", ("n",), most=MAX_IMAGES,
                          value=n)
    if not 1 <= batch_size <= MAX_BATCH:
        raise OptionError("{batch_size} must be between 1 and {most}, got {value}",
                          ("batch_size",), most=MAX_BATCH, value=batch_size)


def check_steps(steps: int) -> None:
    if not 2 <= steps <= MAX_STEPS:
        raise OptionError("{steps} must be between 2 and {most}, got {value}", ("steps",),
                          most=MAX_STEPS, value=steps)


def check_digit(model: GenerativeModel, digit: int | None) -> None:
    if digit is None:
        return
    if not model.conditional:
        raise OptionError("model '{model}' is not conditional: {digit} needs a conditional "
                          "model such as cond-vae", ("digit",), model=model.name)
    if not 0 <= digit <= 9:
        raise OptionError("{digit} must be between 0 and 9, got {value}", ("digit",),
                          value=digit)


def sample_batches(model: GenerativeModel, n: int, seed: int = 0, digit: int | None = None,
                   batch_size: int = 1000, sampler: LatentSampler | None = None,
                   ) -> Iterator[torch.Tensor]:
    """`n` samples in batches of (b, 1, 28, 28) in [0, 1], drawn with `sampler` (None: the
    model's prior). Same seed, same images; a conditional model draws `digit`, or every digit in
    turn so that a folder is balanced."""
    if n < 1:
        raise GenmnistError(f"the number of samples must be at least 1, got {n}")
    if batch_size < 1:
        raise GenmnistError(f"the batch size must be at least 1, got {batch_size}")
    check_digit(model, digit)  # all checks now, before the caller writes anything
    return _batches(model, n, torch.Generator().manual_seed(seed), digit, batch_size, sampler)


@torch.inference_mode()
def _batches(model, n, g, digit, batch_size, sampler) -> Iterator[torch.Tensor]:
    # The decorator, not a `with` block: torch then enters inference mode for each step of the
    # generator only. A `with` around the yield would leave the caller in inference mode while the
    # generator is suspended, and after it is abandoned (a write that failed) until it is
    # garbage-collected: a training run in the same process then had no gradients.
    done = 0
    while done < n:
        b = min(batch_size, n - done)
        y = None
        if model.conditional:
            y = (torch.full((b,), digit) if digit is not None
                 else torch.arange(done, done + b) % 10)
        yield draw(model, b, y, g, sampler)
        done += b


def generate_to_folder(model: GenerativeModel, n: int, folder: Path, seed: int = 0,
                       digit: int | None = None, batch_size: int = 1000,
                       on_batch: Callable[[int], None] | None = None, workers: int = 0,
                       sampler: LatentSampler | None = None,
                       inspect: Callable[[torch.Tensor], None] | None = None) -> int:
    """Write `n` samples as PNGs into `folder` (already prepared). Same seed, same images;
    `workers` > 1 encodes PNGs in that many processes while the model samples. `inspect`
    sees every batch of images before it is written (e.g. to judge conditional accuracy).

    Ctrl-C or SIGTERM stops after the current batch, once the images handed to the writers are
    complete files, with GenerationInterrupted; a second one stops at once."""
    check_generate_request(n, batch_size)
    batches = sample_batches(model, n, seed, digit, batch_size, sampler)
    digits = len(str(n - 1)) if n > 100000 else 5
    done = 0
    with InterruptGuard() as stop:
        with PngWriter(folder, workers, digits) as writer:
            for images in batches:
                if inspect:
                    inspect(images)
                done += writer.write(images, start=done)
                if on_batch:
                    on_batch(len(images))
                if stop.requested:
                    break
        if done < n:
            raise GenerationInterrupted(done, n, folder)
    return done


def require_encoder(model: GenerativeModel, command: str) -> None:
    if not model.has_encoder:
        raise GenmnistError(f"model '{model.name}' has no encoder, so it cannot {command}; "
                            "use a model with an encoder (ae, vae, cvae, cond-vae, vaegan, vqvae)")


@torch.inference_mode()
def reconstruct(model: GenerativeModel, x: torch.Tensor,
                y: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Reconstructions of `x` (B, 1, 28, 28) in [0, 1] and mean errors per image."""
    require_encoder(model, "reconstruct")
    y = y if model.conditional else None
    r = model.decode(model.encode(x, y), y).clamp(0, 1)
    errors = {
        "mse": float(F.mse_loss(r, x)),  # per pixel
        "bce": float(F.binary_cross_entropy(r.clamp(1e-6, 1 - 1e-6), x, reduction="sum"))
        / len(x),  # nats per image
    }
    return r, errors


def reconstruction_error(model: GenerativeModel, x: torch.Tensor, y: torch.Tensor | None = None,
                         batch_size: int = 1000) -> dict[str, float]:
    """The mean reconstruction errors over all of `x`, in batches: MSE per pixel and binary
    cross-entropy in nats per image (as `reconstruct` gives them for one batch)."""
    totals = {"mse": 0.0, "bce": 0.0}
    for i in range(0, len(x), batch_size):
        part = x[i:i + batch_size]
        _, err = reconstruct(model, part, None if y is None else y[i:i + batch_size])
        for k in totals:
            totals[k] += err[k] * len(part)
    return {k: v / len(x) for k, v in totals.items()}


def draw_samples(model: GenerativeModel, n: int, seed: int, batch_size: int = 1000,
                 on_batch: Callable[[int], None] | None = None,
                 sampler: LatentSampler | None = None) -> torch.Tensor:
    """`n` samples (n, 1, 28, 28) as floats on the CPU, in `sample_batches`' order
    (conditional models draw every digit in turn)."""
    parts = []
    for images in sample_batches(model, n, seed, None, batch_size, sampler):
        parts.append(images.float().cpu())
        if on_batch:
            on_batch(len(images))
    return torch.cat(parts)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between flat codes a and b at fractions t (T,) -> (T, D)."""
    an, bn = a / a.norm(), b / b.norm()
    omega = torch.arccos((an * bn).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    if so.abs() < 1e-6:  # (anti)parallel codes: the great circle is undefined, go straight
        return torch.lerp(a, b, t[:, None])
    return (torch.sin((1 - t) * omega) / so)[:, None] * a + (torch.sin(t * omega) / so)[:, None] * b


def path_between(za: torch.Tensor, zb: torch.Tensor, steps: int, method: str) -> torch.Tensor:
    """`steps` points from flat code za to zb, ends included: (steps, D)."""
    check_steps(steps)
    if method not in ("linear", "slerp"):
        raise GenmnistError(f"unknown interpolation {method!r}: use linear or slerp")
    t = torch.linspace(0, 1, steps, device=za.device)
    return torch.lerp(za, zb, t[:, None]) if method == "linear" else slerp(za, zb, t)


@torch.inference_mode()
def interpolate_random(model: GenerativeModel, steps: int = 10, method: str = "linear",
                       seed: int = 0, sampler: LatentSampler | None = None) -> torch.Tensor:
    """Decode `steps` points between two codes drawn with `seed` from `sampler`, or from the
    model's N(0, I) prior (a GAN has no encoder to give codes of test images). A conditional
    model holds the digit fixed: both codes and the whole path are decoded as digit 0."""
    if model.conditional and sampler is not None and not sampler.per_label:
        raise GenmnistError("a conditional model needs a per-digit sampler")
    g = torch.Generator().manual_seed(seed)
    y = torch.zeros(2, dtype=torch.long) if model.conditional else None
    za, zb = (torch.randn(2, *model.latent_shape, generator=g) if sampler is None
              else sampler.sample(2, y, g)).to(next(model.parameters()).device)
    z = path_between(za.flatten(), zb.flatten(), steps, method)
    yp = torch.zeros(steps, dtype=torch.long, device=z.device) if model.conditional else None
    return model.decode(z.view(steps, *model.latent_shape), yp)


@torch.inference_mode()
def interpolate(model: GenerativeModel, xa: torch.Tensor, xb: torch.Tensor, steps: int = 10,
                method: str = "linear", ya: torch.Tensor | None = None,
                yb: torch.Tensor | None = None) -> torch.Tensor:
    """Decode `steps` points from code(xa) to code(xb); xa, xb are (1, 1, 28, 28)."""
    require_encoder(model, "interpolate between test images")
    cond = model.conditional
    za = model.encode(xa, ya if cond else None).flatten()
    zb = model.encode(xb, yb if cond else None).flatten()
    z = path_between(za, zb, steps, method)
    t = torch.linspace(0, 1, steps, device=za.device)
    y = None
    if cond:  # the label switches half-way; the style code moves smoothly
        y = torch.where(t < 0.5, ya.flatten()[0], yb.flatten()[0]).long()
    return model.decode(z.view(steps, *model.latent_shape), y)
