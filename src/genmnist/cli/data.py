"""`genmnist data ...`: MNIST as PNG folders, and the classifier behind `fid --features mnist`.

`export` writes real digits in exactly the format `genmnist generate` writes (the `real/` of
`genmnist fid samples/ real/`); `train-classifier` rebuilds the MNIST classifier file that
ships in the package, from a fixed seed, and reports its test accuracy.
"""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path

import torch
import typer

from genmnist.cli.app import app
from genmnist.cli.common import console, data_dir_option, positive
from genmnist.data import load_mnist
from genmnist.errors import GenmnistError
from genmnist.images import output_folder, write_pngs
from genmnist.metrics import classifier as clf
from genmnist.runtime import choose_threads

data_app = typer.Typer(help="MNIST as image folders, and the classifier behind --features mnist.",
                       no_args_is_help=True)
app.add_typer(data_app, name="data")


class SplitName(str, Enum):
    test = "test"
    train = "train"


@data_app.command("export")
def export(
    out: Path = typer.Argument(..., show_default=False, help="Folder for the PNGs."),
    split: SplitName = typer.Option(SplitName.test, "--split", help="MNIST split to export."),
    n: int = typer.Option(None, "--n", "-n", show_default=False,
                          help="Export the first N images [default: the whole split, 10000 "
                               "for test, 60000 for train]."),
    force: bool = typer.Option(False, "--force", help="Replace images already in OUT."),
    data_dir: Path = data_dir_option(),
) -> None:
    """Write MNIST images as 28x28 grayscale PNGs (00000.png, ...), as `generate` writes them."""
    positive("--n", n)
    t0 = time.perf_counter()
    data = load_mnist(split.value, data_dir).head(n)
    count = 0
    with output_folder(out, force, {"n": len(data), "written_by": "genmnist data export"}) \
            as folder:
        for i in range(0, len(data), 1000):
            count += write_pngs(data.float_images(slice(i, i + 1000)), folder, start=i)
    note = f" (the whole split has {len(data)})" if n is not None and n > len(data) else ""
    console.print(f"wrote {count} MNIST {split.value} images (28x28 grayscale PNG){note} to "
                  f"{folder}/ in {time.perf_counter() - t0:.1f}s")


@data_app.command("train-classifier")
def train_classifier(
    out: Path = typer.Option(Path("mnist_classifier.pt"), "--out", "-o",
                             help=f"Weights file to write; the shipped one is {clf.ASSET.name} "
                                  "in genmnist/assets."),
    epochs: int = typer.Option(4, "--epochs", "-e", help="Passes over the training images."),
    seed: int = typer.Option(0, "--seed", help="Seed: same seed, threads and torch, same file."),
    threads: int = typer.Option(1, "--threads", min=1,
                                help="CPU threads; results are reproducible for a fixed count."),
    subset: int = typer.Option(None, "--subset", show_default=False,
                               help="Train on the first N training images only (quick checks)."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
    data_dir: Path = data_dir_option(),
) -> None:
    """Train the MNIST classifier behind `fid --features mnist` and report its test accuracy.

    The defaults rebuild the shipped weights (~4 min on one CPU thread). To replace them,
    write to src/genmnist/assets/mnist_classifier.pt, or point `fid --classifier` at the
    file; cached reference statistics are keyed by the file's hash, so they refresh.
    """
    positive("--epochs", epochs)
    positive("--subset", subset)
    if out.is_dir():
        raise GenmnistError(f"--out {out} is a folder; give a .pt file name")
    if out.exists() and not force:
        raise GenmnistError(f"{out} already exists; pass --force to overwrite it")
    choose_threads(threads)
    train, test = load_mnist("train", data_dir).head(subset), load_mnist("test", data_dir)

    def report(r: dict) -> None:
        console.print(f"epoch {r['epoch']}/{epochs}  {r['seconds']:5.1f}s  loss {r['loss']:.4f}"
                      f"  test accuracy {100 * r['test_accuracy']:.2f}%")

    model, info = clf.train_classifier(train.images, train.labels, test.images, test.labels,
                                       epochs=epochs, seed=seed, on_epoch=report)
    clf.save_classifier(model, info, out)
    size = out.stat().st_size / 1e6
    console.print(f"test accuracy {100 * info['test_accuracy']:.2f}% on {len(test)} MNIST test "
                  f"images; wrote {out} ({size:.2f} MB, sha256 {clf.file_digest(out)}, torch "
                  f"{torch.__version__})")
