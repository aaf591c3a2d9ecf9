"""`genmnist fit-sampler`: fit (or refit) the latent density of a trained model's checkpoint."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from genmnist.checkpoint import save_checkpoint
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
from genmnist.quality import score_model
from genmnist.samplers import DEFAULT_COMPONENTS, describe, fit_latent_sampler
from genmnist.training import RunSettings


@app.command("fit-sampler")
def fit_sampler_cmd(
    checkpoint: Path = checkpoint_option(),
    components: int = typer.Option(DEFAULT_COMPONENTS, "--components", "-k",
                                   help="Gaussian mixture components (per digit for a "
                                        "conditional model)."),
    seed: int = typer.Option(0, "--seed", help="Seed of EM's k-means start."),
    score: int = typer.Option(0, "--score", min=0,
                              help="Then score this many samples from each sampler (prior and "
                                   "gmm) against the MNIST test set, MNIST features; 0 = no."),
    data_dir: Path = data_dir_option(),
    device: str = device_option(),
    threads: int = threads_option(),
) -> None:
    """Fit a Gaussian mixture to a trained model's training-set codes and save it in the
    checkpoint, replacing the one it had.

    For models with a continuous latent (ae, vae, cvae, cond-vae, vaegan): their codes do not
    fill the N(0, I) prior, so samples drawn from a density fitted to the codes (Ghosh et al.
    2020) look like digits more often. Unconditional models never see the labels; cond-vae gets
    one mixture per digit. Works on checkpoints of any age; the weights are not touched.
    """
    positive("--components", components)
    model, ckpt, dev, path = open_model(checkpoint, device, threads)
    if not model.latent_density:
        raise GenmnistError(f"model '{model.name}' has no continuous latent code to fit a "
                            "density to; it samples from its own prior")
    if ckpt.get("epoch") is not None and ckpt.get("partial"):
        raise GenmnistError(f"{path} holds an interrupted training; finish it with "
                            f"`genmnist train --resume` first")
    train = load_mnist("train", data_dir).head(RunSettings.from_checkpoint(ckpt).subset)
    t0 = time.perf_counter()
    with console.status(f"fitting a {components}-component mixture to {len(train)} codes"):
        sampler = fit_latent_sampler(model, train.float_images().to(dev), train.labels.to(dev),
                                     components, seed)
    ckpt["sampler"] = sampler.state_dict()
    target = path if Path(path).is_file() else Path(path) / "checkpoint.pt"
    save_checkpoint(ckpt, target)
    console.print(f"fitted a {describe(model, sampler)} in {time.perf_counter() - t0:.1f}s; "
                  f"saved in {target}")
    if score:
        table = Table("sampler", "FID (MNIST features)", "digit coverage",
                      title=f"{score} samples vs mnist-test")
        kinds = ([("prior", None)] if model.has_prior else []) + [("gmm", sampler)]
        for name, s in kinds:
            r = score_model(model, score, seed, s, str(data_dir) if data_dir else None)
            table.add_row(name, f"{r['fid']:.2f}", f"{r['digit_entropy']:.3f}")
        console.print(table)
