"""`genmnist latent`: pictures of a trained model's latent space."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from genmnist.cli.app import app
from genmnist.cli.common import (
    checkpoint_option,
    console,
    data_dir_option,
    device_option,
    open_model,
    positive,
    threads_option,
)
from genmnist.data import load_mnist
from genmnist.errors import GenmnistError
from genmnist.latent import latent_pictures
from genmnist.sampling import require_encoder

PICTURES = ("latent_scatter.png", "latent_manifold.png")


class Method(str, Enum):
    pca = "pca"
    tsne = "tsne"


@app.command()
def latent(
    checkpoint: Path = checkpoint_option(),
    method: Method = typer.Option(Method.pca, "--method",
                                  help="Projection of latents larger than 2-d: pca, or tsne "
                                       "(slower; needs scikit-learn). 1-d and 2-d codes are "
                                       "plotted as they are."),
    n: int = typer.Option(None, "--n", "-n", show_default=False,
                          help="Test images encoded [default: 10000, 2000 with tsne]."),
    range_: float = typer.Option(3.0, "--range",
                                 help="The manifold grid spans [-RANGE, RANGE] per latent dim."),
    grid_size: int = typer.Option(20, "--grid-size", help="Decodings per side of the manifold."),
    digit: int = typer.Option(None, "--digit", show_default=False,
                              help="Conditional models (cond-vae): decode the manifold for this "
                                   "digit, 0-9 [default: no manifold]."),
    out: Path = typer.Option(Path("."), "--out", "-o",
                             help="Folder for latent_scatter.png and latent_manifold.png."),
    force: bool = typer.Option(False, "--force", help="Overwrite those pictures if they exist."),
    seed: int = typer.Option(0, "--seed", help="Seed for t-SNE and the strip plot's jitter."),
    data_dir: Path = data_dir_option(),
    device: str = device_option(),
    threads: int = threads_option(),
) -> None:
    """Plot the test set's latent codes coloured by digit; decode the manifold of 1-d/2-d latents.

    Writes OUT/latent_scatter.png: the codes themselves for a 2-d latent, a strip plot (code
    against digit) for a 1-d latent, a PCA or t-SNE projection otherwise. For 1-d and 2-d
    latents also OUT/latent_manifold.png: decodings of a grid of codes over [-RANGE, RANGE].
    Train a 2-d model with `genmnist train vae --latent-dim 2`.
    """
    positive("--n", n)
    positive("--range", range_)
    positive("--grid-size", grid_size)
    if out.exists() and not out.is_dir():
        raise GenmnistError(f"--out {out} is an existing file; give a folder")
    taken = [str(out / p) for p in PICTURES if (out / p).exists()]
    if taken and not force:
        raise GenmnistError(f"{', '.join(taken)} already exists; pass --force to overwrite")
    model, _, dev, path = open_model(checkpoint, device, threads)
    require_encoder(model, "show its latent space")
    if digit is not None:
        if not model.conditional:
            raise GenmnistError(f"model '{model.name}' is not conditional: --digit needs a "
                                "conditional model such as cond-vae")
        if not 0 <= digit <= 9:
            raise GenmnistError(f"--digit must be between 0 and 9, got {digit}")
    n = n or (2000 if method is Method.tsne else 10000)
    test = load_mnist("test", data_dir).head(n)
    out.mkdir(parents=True, exist_ok=True)
    result = latent_pictures(model, test.float_images(), test.labels, out, method.value,
                             range_, grid_size, digit, seed)
    console.print(f"{model.name} ({path}): {len(test)} test codes -> {result.scatter}")
    if result.manifold is not None:
        console.print(f"decoded manifold, {grid_size} per side over [-{range_:g}, {range_:g}] "
                      f"-> {result.manifold}")
    elif result.needs_digit:
        console.print(f"{result.note}; pass --digit 0-9 to decode its manifold for a digit")
    else:
        console.print(result.note)
