"""Pictures of a model's latent space: test-set codes coloured by digit, and the decoded manifold.

Both follow Kingma & Welling, "Auto-Encoding Variational Bayes" (ICLR 2014), Figure 4: with a
2-d latent, the codes are plotted as they are and a grid of codes over [-r, r]^2 is decoded.
Larger latents are projected to 2-d by PCA (the top two principal directions, via an SVD) or by
t-SNE (van der Maaten & Hinton, JMLR 2008; scikit-learn's implementation). A 1-d latent is drawn
as a strip plot: the code against the digit, with jitter so the points do not hide each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genmnist.errors import GenmnistError, OptionError
from genmnist.images import make_grid
from genmnist.models import GenerativeModel
from genmnist.sampling import require_encoder

METHODS = ("pca", "tsne")


@torch.inference_mode()
def encode_codes(model: GenerativeModel, images: torch.Tensor, labels: torch.Tensor,
                 batch_size: int = 1000) -> torch.Tensor:
    """Codes (N, D) on the CPU for `images` in [0, 1]; code maps (VQ-VAE) are flattened."""
    require_encoder(model, "show its latent space")
    dev = next(model.parameters()).device
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(dev)
        y = labels[i:i + batch_size].to(dev) if model.conditional else None
        out.append(model.encode(x, y).float().flatten(1).cpu())
    return torch.cat(out)


def project(codes: torch.Tensor, method: str = "pca",
            seed: int = 0) -> tuple[np.ndarray, tuple[str, ...]]:
    """2-d points to plot and their axis names. 1-d and 2-d codes are returned as they are."""
    d = codes.shape[1]
    if d <= 2:
        return codes.numpy(), tuple(f"z{i + 1}" for i in range(d))
    if method == "pca":
        x = codes.double() - codes.double().mean(0)
        _, s, vt = torch.linalg.svd(x, full_matrices=False)
        share = (s ** 2 / (s ** 2).sum())[:2] * 100
        return (x @ vt[:2].T).float().numpy(), tuple(
            f"PC{i + 1} ({share[i]:.0f}% of variance)" for i in range(2))
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
            from threadpoolctl import threadpool_limits
        except ImportError as e:
            raise OptionError("{method} tsne needs scikit-learn: pip install scikit-learn",
                              ("method",)) from e
        perplexity = min(30.0, (len(codes) - 1) / 3)
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
        # The thread count chosen for torch: OpenMP's default of one per core made
        # t-SNE of 150 points take 20 s instead of 1 s on a busy 2-core machine.
        with threadpool_limits(limits=torch.get_num_threads()):
            pts = tsne.fit_transform(codes.numpy())
        return pts, ("t-SNE 1", "t-SNE 2")
    raise OptionError("unknown {method} {value!r}: use one of {choices}", ("method",),
                      value=method, choices=", ".join(METHODS))


def manifold_codes(dim: int, r: float, size: int) -> torch.Tensor:
    """Codes on a regular grid over [-r, r]^dim, row-major with z2 decreasing down the rows
    (so the picture has the scatter plot's orientation): (size**dim, dim)."""
    t = torch.linspace(-r, r, size)
    if dim == 1:
        return t[:, None]
    z2, z1 = torch.meshgrid(t.flip(0), t, indexing="ij")
    return torch.stack([z1.flatten(), z2.flatten()], dim=1)


@torch.inference_mode()
def decode_manifold(model: GenerativeModel, r: float, size: int,
                    digit: int | None = None) -> torch.Tensor:
    """Decodings (size**d, 1, 28, 28) of the grid codes for a 1-d or 2-d latent."""
    require_encoder(model, "decode a latent manifold")
    shape = model.latent_shape
    if len(shape) != 1 or shape[0] > 2:
        raise GenmnistError(f"the decoded manifold needs a 1-d or 2-d latent; {model.name} has "
                            f"latent shape {tuple(shape)}")
    dev = next(model.parameters()).device
    z = manifold_codes(shape[0], r, size).to(dev)
    y = torch.full((len(z),), digit, device=dev) if model.conditional else None
    return model.decode(z, y).float().clamp(0, 1).cpu()


def plot_scatter(points: np.ndarray, labels: np.ndarray, axes: tuple[str, ...], title: str,
                 path: Path, seed: int = 0) -> Path:
    """Points coloured by digit (tab10); a 1-d code becomes a jittered strip per digit."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot(1, 1, 1)
    if points.shape[1] == 1:  # code on x, digit (+ jitter) on y
        jitter = np.random.default_rng(seed).uniform(-0.3, 0.3, len(points))
        points = np.stack([points[:, 0], labels + jitter], axis=1)
        axes = (axes[0], "digit")
        ax.set_yticks(range(10))
    for digit in range(10):
        m = labels == digit
        ax.scatter(points[m, 0], points[m, 1], s=4, alpha=0.6, color=f"C{digit}",
                   label=str(digit), rasterized=True)
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title, fontsize=11)
    ax.legend(title="digit", markerscale=3, fontsize=8, loc="center left",
              bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_manifold(images: torch.Tensor, dim: int, r: float, size: int, title: str,
                  path: Path) -> Path:
    """The decodings as one picture, with the code values on the axes."""
    from matplotlib.figure import Figure

    grid = make_grid(images, nrow=size, pad=0)
    side = 8 if dim == 2 else min(16, 0.6 * size + 1)
    fig = Figure(figsize=(side, side if dim == 2 else 2.2))
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(grid, cmap="gray", vmin=0, vmax=255, extent=(-r, r, -r, r) if dim == 2
              else (-r, r, 0, 2 * r / size))
    ax.set_xlabel("z1")
    if dim == 2:
        ax.set_ylabel("z2")
    else:
        ax.set_yticks([])
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


@dataclass
class LatentResult:
    scatter: Path
    manifold: Path | None
    note: str | None  # why there is no manifold, when there is none
    needs_digit: bool = False  # a conditional model's manifold is drawn for one digit


def latent_pictures(model: GenerativeModel, images: torch.Tensor, labels: torch.Tensor,
                    out: Path, method: str = "pca", r: float = 3.0, size: int = 20,
                    digit: int | None = None, seed: int = 0) -> LatentResult:
    """Write `out/latent_scatter.png` and, for 1-d/2-d latents, `out/latent_manifold.png`."""
    codes = encode_codes(model, images, labels)
    points, axes = project(codes, method, seed)
    shape = tuple(model.latent_shape)
    how = "the codes" if codes.shape[1] <= 2 else ("PCA" if method == "pca" else "t-SNE")
    latent = f"{shape[0]}-d latent" if len(shape) == 1 else \
        f"{'x'.join(map(str, shape))} code map"
    scatter = plot_scatter(points, labels.cpu().numpy(), axes,
                           f"{model.name}: {len(codes)} test codes, {latent}, {how}",
                           out / "latent_scatter.png", seed)
    if len(shape) != 1 or shape[0] > 2:
        what = "a code map" if len(shape) > 1 else f"a {shape[0]}-d latent"
        return LatentResult(scatter, None, f"no decoded manifold: {model.name} has {what}; "
                                           "it is drawn for 1-d and 2-d latents only")
    if model.conditional and digit is None:
        return LatentResult(scatter, None, f"no decoded manifold: {model.name} is conditional",
                            needs_digit=True)
    imgs = decode_manifold(model, r, size, digit)
    of = f" for digit {digit}" if model.conditional else ""
    manifold = plot_manifold(imgs, shape[0], r, size,
                             f"{model.name}: decoded codes over [-{r:g}, {r:g}]{of}",
                             out / "latent_manifold.png")
    return LatentResult(scatter, manifold, None)
