"""Small pieces every command shares: consoles, options, device and checkpoint resolution."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.console import Console

from genmnist.checkpoint import find_latest_run, load_model
from genmnist.errors import GenmnistError
from genmnist.recipes import recipe_for
from genmnist.runtime import choose_threads, resolve_device

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False)

DEVICE_HELP = "Where to compute: auto (CUDA, then MPS, then CPU), cpu, cuda or mps."
THREADS_HELP = ("CPU threads for torch, fixed [default: $GENMNIST_THREADS, else "
                "$OMP_NUM_THREADS, else measured while it runs: 1 or 2, whichever is faster "
                "now, re-checked as the load changes; see docs/performance.md].")
RUNS_DIR = Path("runs")


def device_option():
    return typer.Option("auto", "--device", help=DEVICE_HELP)


def data_dir_option(what: str = "MNIST folder (torchvision layout)"):
    return typer.Option(None, "--data-dir", show_default=False,
                        help=f"{what} [default: $GENMNIST_DATA, else ~/.cache/genmnist/data].")


def threads_option():
    return typer.Option(None, "--threads", min=1, help=THREADS_HELP, show_default=False)


def checkpoint_option():
    return typer.Option(None, "--checkpoint", "-c", show_default=False,
                        help="A checkpoint.pt or a run folder [default: the most recent run "
                             "under ./runs].")


def positive(name: str, value: int | float | None) -> None:
    """Refuse 0, negatives, and the floats `nan` and `inf` that Typer happily parses."""
    if value is not None and not (0 < value < math.inf):
        raise GenmnistError(f"{name} must be positive, got {value}")


def open_model(checkpoint: Path | None, device: str, threads: int | None = None):
    """Resolve device and checkpoint (default: latest run) and rebuild the model from it."""
    dev = resolve_device(device)
    path = checkpoint if checkpoint is not None else find_latest_run(RUNS_DIR)
    model, ckpt = load_model(path, dev)
    choose_threads(threads, recipe_for(model.name).cpu_threads)
    return model, ckpt, dev, path
