"""What `generate`, `reconstruct` and `interpolate` compute, apart from any CLI.

Interpolation follows the usual practice: decode points on the path between two codes, either
on the straight line or on the great circle (slerp, Shoemake 1985), which White ("Sampling
Generative Networks", 2016) recommends for Gaussian latents because it keeps the norm typical.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from genmnist.errors import GenmnistError
from genmnist.images import PngWriter
from genmnist.models import GenerativeModel


def check_digit(model: GenerativeModel, digit: int | None) -> None:
    if digit is None:
        return
    if not model.conditional:
        raise GenmnistError(f"model '{model.name}' is not conditional: --digit needs a "
                            "conditional model such as cond-vae")
    if not 0 <= digit <= 9:
        raise GenmnistError(f"--digit must be between 0 and 9, got {digit}")


@torch.inference_mode()
def generate_to_folder(model: GenerativeModel, n: int, folder: Path, seed: int = 0,
                       digit: int | None = None, batch_size: int = 1000,
                       on_batch: Callable[[int], None] | None = None, workers: int = 0) -> int:
    """Write `n` samples as PNGs into `folder` (already prepared). Same seed, same images;
    `workers` > 1 encodes PNGs in that many processes while the model samples."""
    if n < 1:
        raise GenmnistError(f"--n must be at least 1, got {n}")
    if batch_size < 1:
        raise GenmnistError(f"--batch-size must be at least 1, got {batch_size}")
    check_digit(model, digit)
    g = torch.Generator().manual_seed(seed)
    digits = len(str(n - 1)) if n > 100000 else 5
    done = 0
    with PngWriter(folder, workers, digits) as writer:
        while done < n:
            b = min(batch_size, n - done)
            y = None
            if model.conditional:  # a fixed digit, or every digit in turn: a balanced folder
                y = (torch.full((b,), digit) if digit is not None
                     else torch.arange(done, done + b) % 10)
            done += writer.write(model.sample(b, y, generator=g), start=done)
            if on_batch:
                on_batch(b)
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
    if steps < 2:
        raise GenmnistError(f"--steps must be at least 2, got {steps}")
    if method not in ("linear", "slerp"):
        raise GenmnistError(f"unknown interpolation {method!r}: use linear or slerp")
    t = torch.linspace(0, 1, steps, device=za.device)
    return torch.lerp(za, zb, t[:, None]) if method == "linear" else slerp(za, zb, t)


@torch.inference_mode()
def interpolate_random(model: GenerativeModel, steps: int = 10, method: str = "linear",
                       seed: int = 0) -> torch.Tensor:
    """For a model without an encoder (a GAN): decode `steps` points between two codes drawn
    from its N(0, I) prior with `seed`."""
    g = torch.Generator().manual_seed(seed)
    za, zb = torch.randn(2, *model.latent_shape, generator=g).to(next(model.parameters()).device)
    z = path_between(za.flatten(), zb.flatten(), steps, method)
    return model.decode(z.view(steps, *model.latent_shape))


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
