"""`genmnist train MODEL`: train a model and write a run folder."""

from __future__ import annotations

import shlex
import sys
import time
from enum import Enum
from pathlib import Path

import typer

from genmnist.cli import app
from genmnist.cli.common import RUNS_DIR, console, device_option, positive, threads_option
from genmnist.cli.progress import RichReporter
from genmnist.data import load_mnist
from genmnist.errors import GenmnistError
from genmnist.fileio import check_can_create
from genmnist.interrupt import TrainingInterrupted
from genmnist.models import MODELS, get_model_class, make_config
from genmnist.resume import plan_resume
from genmnist.runtime import choose_threads, resolve_device
from genmnist.train import TrainConfig, fit

ModelName = Enum("ModelName", {name: name for name in MODELS}, type=str)


def new_run_dir(out: Path, name: str | None, model: str) -> Path:
    if out.exists() and not out.is_dir():
        raise GenmnistError(f"--out {out} is an existing file, not a folder")
    run = out / (name or f"{model}-{time.strftime('%Y%m%d-%H%M%S')}")
    check_can_create(run, "run folder")  # now, not after loading MNIST
    if run.exists():
        raise GenmnistError(f"run folder {run} already exists; choose another --name "
                            "(genmnist never overwrites a run)")
    return run


RUN_OPTIONS = ("--batch-size", "--lr", "--latent-dim", "--beta", "--seed", "--subset", "--name",
               "--out")


@app.command()
def train(
    model: ModelName = typer.Argument(None, show_default=False, metavar="MODEL",
                                      help="Model to train; optional with --resume, where it "
                                           "must be the run's model."),
    epochs: int = typer.Option(None, "--epochs", "-e", show_default=False,
                               help="Passes over the training images; with --resume, the total "
                                    "to reach [default: 10; with --resume, the run's own]."),
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
    seed: int = typer.Option(None, "--seed", show_default=False,
                             help="Seed for weights, shuffling and noise [default: 0]."),
    device: str = device_option(),
    threads: int = threads_option(),
    out: Path = typer.Option(None, "--out", "-o", show_default=False,
                             help=f"Folder that holds run folders [default: {RUNS_DIR}]."),
    name: str = typer.Option(None, "--name", show_default=False,
                             help="Run folder name [default: MODEL-YYYYmmdd-HHMMSS]."),
    data_dir: Path = typer.Option(None, "--data-dir", show_default=False,
                                  help="MNIST folder (torchvision layout) [default: "
                                       "$GENMNIST_DATA, else ~/.cache/genmnist/data]."),
    subset: int = typer.Option(None, "--subset", show_default=False,
                               help="Train on the first N training images only (quick checks)."),
    resume: Path = typer.Option(None, "--resume", show_default=False,
                                help="Continue the run in this folder (or its checkpoint.pt) "
                                     "from its last checkpoint -- weights, optimizer, epoch, "
                                     "RNG -- ending as if never stopped. Only --epochs, "
                                     "--device, --threads and --data-dir may be given with it."),
) -> None:
    """Train MODEL on MNIST; write a run folder with checkpoint, config, metrics and grids.

    The run folder (OUT/NAME) holds checkpoint.pt (weights, config, optimizer state; every
    other command rebuilds the model from it), config.json, metrics.jsonl (one line per
    epoch, with the test-set loss) and samples/epoch_NNN.png. Ctrl-C saves a checkpoint after
    the current batch; `genmnist train --resume RUN` continues from it.
    """
    positive("--epochs", epochs)
    positive("--batch-size", batch_size)
    positive("--lr", lr)
    positive("--latent-dim", latent_dim)
    positive("--beta", beta)
    positive("--subset", subset)
    if resume is not None:
        given = dict(zip(RUN_OPTIONS, (batch_size, lr, latent_dim, beta, seed, subset, name, out),
                         strict=True))
        for flag, value in given.items():
            if value is not None:
                raise GenmnistError(f"{flag} cannot be given with --resume: the run continues "
                                    "as it was started (start a new run to change it)")
        tcfg, model_config, ckpt, run_dir = plan_resume(
            resume, model.value if model else None, epochs,
            str(data_dir) if data_dir else None)
        name_ = tcfg.model
    else:
        if model is None:
            raise GenmnistError(f"give the MODEL to train ({', '.join(MODELS)}), or --resume "
                                "RUN to continue a run")
        name_, ckpt = model.value, None
        model_config = make_config(name_, {"latent_dim": latent_dim, "beta": beta})
    cls = get_model_class(name_)
    dev = resolve_device(device)
    n_threads = choose_threads(threads, cls.cpu_threads)
    if ckpt is None:
        run_dir = new_run_dir(out or RUNS_DIR, name, name_)
        tcfg = TrainConfig(model=name_, epochs=epochs or 10,
                           batch_size=batch_size or cls.default_batch_size, lr=lr,
                           seed=seed or 0, subset=subset,
                           data_dir=str(data_dir) if data_dir else None)
    tcfg.device, tcfg.threads = str(dev), n_threads
    train_split = load_mnist("train", tcfg.data_dir).head(tcfg.subset)
    test_split = load_mnist("test", tcfg.data_dir)
    start = f"-> {run_dir}"
    if ckpt is not None:
        part = ckpt.get("partial")
        start = (f"resuming {run_dir} at epoch {part['epoch']} batch {part['batch'] + 1}" if part
                 else f"resuming {run_dir} at epoch {ckpt['epoch'] + 1}")
    console.print(f"[bold]{name_}[/] on {len(train_split)} images, device {dev}"
                  f"{f', {n_threads} threads' if dev.type == 'cpu' else ''}, "
                  f"batch {tcfg.batch_size}, {tcfg.epochs} epochs {start}")
    t0 = time.perf_counter()
    try:
        with RichReporter(console) as reporter:
            result = fit(tcfg, model_config, train_split, test_split, run_dir, dev, reporter,
                         resume=ckpt)
    except TrainingInterrupted as stop:
        sys.stderr.write(f"genmnist: interrupted {stop.where}, checkpoint saved; resume with: "
                         f"genmnist train {name_} --resume {shlex.quote(str(run_dir))}\n")
        raise typer.Exit(130) from None
    if result.note:
        console.print(result.note)
    last = result.history[-1]
    test = "; test " + "  ".join(f"{k} {v:.4g}" for k, v in last["test"].items())
    console.print(f"done in {time.perf_counter() - t0:.1f}s{test}")
    console.print(f"checkpoint: {result.checkpoint}\nnext: genmnist generate --checkpoint "
                  f"{result.run_dir} --n 10000")
