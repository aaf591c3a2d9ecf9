"""`genmnist train MODEL`: train a model and write a run folder."""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path

import typer

from genmnist.cli import app
from genmnist.cli.common import RUNS_DIR, console, device_option, positive, threads_option
from genmnist.cli.progress import RichReporter
from genmnist.data import load_mnist
from genmnist.errors import GenmnistError
from genmnist.models import MODELS, get_model_class, make_config
from genmnist.runtime import choose_threads, resolve_device
from genmnist.train import TrainConfig, fit

ModelName = Enum("ModelName", {name: name for name in MODELS}, type=str)


def new_run_dir(out: Path, name: str | None, model: str) -> Path:
    if out.exists() and not out.is_dir():
        raise GenmnistError(f"--out {out} is an existing file, not a folder")
    run = out / (name or f"{model}-{time.strftime('%Y%m%d-%H%M%S')}")
    if run.exists():
        raise GenmnistError(f"run folder {run} already exists; choose another --name "
                            "(genmnist never overwrites a run)")
    return run


@app.command()
def train(
    model: ModelName = typer.Argument(..., help="Model to train.", show_default=False),
    epochs: int = typer.Option(10, "--epochs", "-e", help="Passes over the training images."),
    batch_size: int = typer.Option(None, "--batch-size", "-b", show_default=False,
                                   help="Images per step [default: the model's, 128 for VAEs, "
                                        "64 for WGAN]."),
    lr: float = typer.Option(None, "--lr", show_default=False,
                             help="Learning rate for every player [default: each model's paper "
                                  "value, 1e-3 for VAEs]."),
    latent_dim: int = typer.Option(None, "--latent-dim", "-z", show_default=False,
                                   help="Size of the latent code [default: the model's, 20 for "
                                        "vae, 16 for conv models and vqvae's code vectors, 100 "
                                        "for GANs]; 1 and 2 work."),
    beta: float = typer.Option(None, "--beta", show_default=False,
                               help="KL weight of VAE models and vaegan (beta-VAE); 1 is the "
                                    "plain VAE [default: 1]."),
    seed: int = typer.Option(0, "--seed", help="Seed for weights, shuffling and noise."),
    device: str = device_option(),
    threads: int = threads_option(),
    out: Path = typer.Option(RUNS_DIR, "--out", "-o", help="Folder that holds run folders."),
    name: str = typer.Option(None, "--name", show_default=False,
                             help="Run folder name [default: MODEL-YYYYmmdd-HHMMSS]."),
    data_dir: Path = typer.Option(None, "--data-dir", show_default=False,
                                  help="MNIST folder (torchvision layout) [default: "
                                       "$GENMNIST_DATA, else ~/.cache/genmnist/data]."),
    subset: int = typer.Option(None, "--subset", show_default=False,
                               help="Train on the first N training images only (quick checks)."),
) -> None:
    """Train MODEL on MNIST; write a run folder with checkpoint, config, metrics and grids.

    The run folder (OUT/NAME) holds checkpoint.pt (weights, config, optimizer state; every
    other command rebuilds the model from it), config.json, metrics.jsonl (one line per
    epoch, with the test-set loss) and samples/epoch_NNN.png.
    """
    name_ = model.value
    cls = get_model_class(name_)
    positive("--epochs", epochs)
    positive("--batch-size", batch_size)
    positive("--lr", lr)
    positive("--latent-dim", latent_dim)
    positive("--beta", beta)
    positive("--subset", subset)
    model_config = make_config(name_, {"latent_dim": latent_dim, "beta": beta})
    dev = resolve_device(device)
    n_threads = choose_threads(threads, cls.cpu_threads)
    run_dir = new_run_dir(out, name, name_)
    tcfg = TrainConfig(model=name_, epochs=epochs, batch_size=batch_size or cls.default_batch_size,
                       lr=lr, seed=seed, device=str(dev), subset=subset, threads=n_threads,
                       data_dir=str(data_dir) if data_dir else None)
    train_split = load_mnist("train", data_dir).head(subset)
    test_split = load_mnist("test", data_dir)
    console.print(f"[bold]{name_}[/] on {len(train_split)} images, device {dev}"
                  f"{f', {n_threads} threads' if dev.type == 'cpu' else ''}, "
                  f"batch {tcfg.batch_size}, {epochs} epochs -> {run_dir}")
    t0 = time.perf_counter()
    with RichReporter(console) as reporter:
        result = fit(tcfg, model_config, train_split, test_split, run_dir, dev, reporter)
    if result.note:
        console.print(result.note)
    last = result.history[-1]
    test = "; test " + "  ".join(f"{k} {v:.4g}" for k, v in last["test"].items())
    console.print(f"done in {time.perf_counter() - t0:.1f}s{test}")
    console.print(f"checkpoint: {result.checkpoint}\nnext: genmnist generate --checkpoint "
                  f"{result.run_dir} --n 10000")
