"""`genmnist nll`: the test-set negative log-likelihood of a VAE, in nats, as papers report it.

The estimate is `genmnist.metrics.likelihood` (IWAE, Burda et al. 2016, eq. 7); this module
picks the test pixels (binarised or grey), shows progress and prints a table or JSON, and says
in one line why a model without a likelihood has no number.
"""

from __future__ import annotations

import json
import math
from enum import Enum
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from genmnist.cli.app import app
from genmnist.cli.common import (
    checkpoint_option,
    console,
    data_dir_option,
    device_option,
    err_console,
    open_model,
    positive,
    threads_option,
)
from genmnist.data import TEST_BINARIZE_SEED, load_mnist
from genmnist.errors import GenmnistError
from genmnist.metrics.likelihood import estimate_nll

DEFAULT_K = 1000  # by measurement: docs/likelihood.md, "how many draws"

# Why a model has no number, by what it lacks.
WHY_NOT = {
    "ae": "its encoder is deterministic and it has no prior, so it defines no likelihood",
    "vqvae": "its codes are discrete and deterministic; its likelihood would need the PixelCNN "
             "prior's, which this estimator does not compute",
    "vaegan": "its decoder is trained through a discriminator's features, not a pixel "
              "likelihood, so it defines no log p(x)",
}


class Pixels(str, Enum):
    auto = "auto"
    binarized = "binarized"
    grey = "grey"


def why_not(model) -> str:
    if not model.has_encoder:
        return (f"{model.name} is a GAN: it defines samples, not a density, so there is no "
                "log-likelihood to estimate (compare it by FID: genmnist fid)")
    reason = WHY_NOT.get(model.name, "it has no decoder density")
    return f"{model.name} has no likelihood to estimate: {reason}"


@app.command()
def nll(
    checkpoint: Path = checkpoint_option(),
    k: int = typer.Option(DEFAULT_K, "--k", "-k",
                          help="Importance samples per test image (papers use 5000; the "
                               "default is chosen by measured time against stability, see "
                               "docs/likelihood.md). --k 1 gives the ELBO."),
    n: int = typer.Option(None, "--n", "-n", show_default=False,
                          help="Test images scored, the first N [default: all 10000]."),
    pixels: Pixels = typer.Option(Pixels.auto, "--pixels",
                                  help="Test pixels: binarized (a fixed, seeded Bernoulli draw "
                                       "of each grey level: the likelihood papers report), grey "
                                       "(a cross-entropy, not a likelihood), or auto: binarized "
                                       "if the run trained with --binarize, else grey."),
    binarize_seed: int = typer.Option(TEST_BINARIZE_SEED, "--binarize-seed",
                                      help="Seed of the test set's binarisation."),
    seed: int = typer.Option(0, "--seed", help="Seed of the importance samples."),
    batch_size: int = typer.Option(100, "--batch-size", "-b", help="Test images per batch."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead."),
    data_dir: Path = data_dir_option(),
    device: str = device_option(),
    threads: int = threads_option(),
) -> None:
    """Estimate the test-set negative log-likelihood -log p(x) of a VAE, in nats per image.

    The importance-weighted bound of Burda, Grosse & Salakhutdinov (2016, eq. 7) with K draws
    from the encoder: the NLL with its standard error over images, and the ELBO beside it.
    Comparable with papers only on binarised MNIST: train with `genmnist train vae --binarize`.
    """
    positive("--k", k)
    positive("--n", n)
    positive("--batch-size", batch_size)
    model, ckpt, dev, path = open_model(checkpoint, device, threads)
    if not model.has_likelihood:
        raise GenmnistError(why_not(model))
    trained_binary = bool(ckpt.get("train_config", {}).get("binarize", False))
    binarized = trained_binary if pixels is Pixels.auto else pixels is Pixels.binarized
    test = load_mnist("test", data_dir).head(n)
    if binarized:
        test = test.binarized(binarize_seed)
    with Progress(TextColumn(f"nll, k={k}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task("nll", total=len(test))
        r = estimate_nll(model, test.images.to(dev), test.labels.to(dev), k, batch_size, seed,
                         binarized, progress=lambda done: bar.update(task, completed=done))
    if as_json:
        out = {**r.to_dict(), "checkpoint": str(path), "model": model.name,
               "trained_binarized": trained_binary,
               "binarize_seed": binarize_seed if binarized else None}
        print(json.dumps({key: (None if isinstance(v, float) and not math.isfinite(v) else v)
                          for key, v in out.items()}))
        return
    console.print(_table(r, model.name, path, trained_binary, binarize_seed))
    if not binarized:
        console.print("note: on grey levels a Bernoulli decoder's log-probability is a "
                      "cross-entropy, not a density of the data: not comparable with papers' "
                      "NLL (use a model trained with --binarize, scored with --pixels binarized)")
    elif not trained_binary:
        console.print("note: this model was trained on grey levels and is scored on binary "
                      "pixels; train with --binarize for a number comparable with papers")


def _table(r, name: str, path: Path, trained_binary: bool, binarize_seed: int) -> Table:
    what = (f"binarised test set (seed {binarize_seed})" if r.binarized
            else "grey-level test set: a cross-entropy, not a likelihood")
    t = Table(title=f"{name} ({path}), {r.n} test images, {what}", title_justify="left")
    t.add_column("quantity")
    t.add_column("nats per image", justify="right")
    t.add_column("reading")
    label = "NLL" if r.binarized else "cross-entropy"
    t.add_row(f"{label}, IWAE k={r.k}", f"{r.nll:.2f} ± {r.nll_se:.2f}",
              "-log p(x), importance-weighted bound; lower is better")
    t.add_row("-ELBO", f"{-r.elbo:.2f} ± {r.elbo_se:.2f}", "the training objective's bound")
    t.add_row("gap", f"{-r.elbo - r.nll:.2f}", "what K draws gain over the ELBO")
    t.caption = (f"{r.seconds:.1f}s; trained on {'binarised' if trained_binary else 'grey'} "
                 f"pixels; ± is the standard error over images")
    return t
