"""`genmnist fid SAMPLES [REFERENCE]`: FID and the metrics that FID alone hides.

The numbers come from `genmnist.metrics.score`; this module parses options and prints a Rich
table (or JSON). Every output names the feature space, because an FID in MNIST classifier
features and an FID in Inception features are different numbers.
"""

from __future__ import annotations

import json
import os
from enum import Enum
from pathlib import Path

import typer
from rich.table import Table

from genmnist.cli import app
from genmnist.cli.common import console, data_dir_option, device_option, err_console
from genmnist.metrics.features import feature_space
from genmnist.metrics.reference import check_npz_target, save_npz
from genmnist.metrics.score import METRICS, load_source, parse_metrics, score
from genmnist.runtime import choose_threads, resolve_device


class Features(str, Enum):
    mnist = "mnist"
    inception = "inception"


def _warn(message: str) -> None:
    err_console.print(f"genmnist: warning: {message}", soft_wrap=True)


def _table(r: dict) -> Table:
    ref_n = f" ({r['n_reference']} images)" if r["n_reference"] else ""
    t = Table(title=f"{r['samples']} ({r['n_samples']} images) vs {r['reference']}{ref_n}\n"
                    f"in {r['features']}", title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("reading")
    space = f"{'MNIST' if r['feature_space'] == 'mnist' else 'Inception'}, {r['dims']}-d"
    if "fid" in r:
        t.add_row(f"FID ({space})", f"{r['fid']:.4f}", "lower is better; 0 = same stats")
    if "kid" in r:
        t.add_row(f"KID x 1000 ({space})", f"{1000 * r['kid']:.3f} ± {1000 * r['kid_std']:.3f}",
                  "lower is better; ~0 = same")
    if "precision" in r:
        t.add_row("precision (k=3)", f"{r['precision']:.4f}", "realism; blur lowers it")
        t.add_row("recall (k=3)", f"{r['recall']:.4f}", "diversity; dropped modes lower it")
    if "inception_score" in r:
        t.add_row("IS (MNIST classifier)", f"{r['inception_score']:.3f}",
                  "higher is better; max 10")
    if "digit_entropy" in r:
        t.add_row("digit coverage", f"{r['digit_entropy']:.4f}", "1 = all digits equally often")
    return t


def _histogram(hist: list[float]) -> str:
    return "predicted digits: " + "  ".join(f"{d}:{100 * p:.1f}%" for d, p in enumerate(hist))


FEATURES_HELP = ("Feature space: mnist (the 128-d features of genmnist's own MNIST classifier; "
                 "offline, seconds) or inception (pytorch-fid's Inception-v3, the FID of papers; "
                 "needs its weights). The two give different numbers; outputs always say which.")
METRICS_HELP = f"Comma list of {', '.join(METRICS)} (pr = precision and recall), or all."
WEIGHTS_HELP = ("pytorch-fid's Inception weights file (pt_inception-2015-12-05-6726825d.pth) "
                "[default: torch hub's cache, else download when online].")


@app.command()
def fid(
    samples: str = typer.Argument(..., show_default=False,
                                  help="Folder of 28x28 grayscale PNGs, a .npz statistics file, "
                                       "or a named reference."),
    reference: str = typer.Argument("mnist-test",
                                    help="Folder, .npz, or named reference: mnist-test or "
                                         "mnist-train (statistics computed once, then cached)."),
    features: Features = typer.Option(Features.mnist, "--features", "-f", help=FEATURES_HELP),
    dims: int = typer.Option(None, "--dims", show_default=False,
                             help="Inception features: 64, 192, 768 or 2048, as in pytorch-fid "
                                  "[default: 2048]; mnist features are always 128-d."),
    metrics: str = typer.Option("all", "--metrics", "-m", help=METRICS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
    save_stats: Path = typer.Option(None, "--save-stats", show_default=False,
                                    help="Also write SAMPLES' statistics (mu, sigma: pytorch-fid's "
                                         "format) to this .npz."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --save-stats file."),
    inception_weights: Path = typer.Option(None, "--inception-weights", show_default=False,
                                           help=WEIGHTS_HELP),
    classifier: Path = typer.Option(None, "--classifier", show_default=False,
                                    help="MNIST classifier weights [default: the file shipped "
                                         "with genmnist]."),
    data_dir: Path = data_dir_option("MNIST folder for named references"),
    device: str = device_option(),
    threads: int = typer.Option(None, "--threads", min=1, show_default=False,
                                help="CPU threads for torch [default: $GENMNIST_THREADS, else 1 "
                                     "for mnist features (measured fastest: small ops), all "
                                     "cores for inception]."),
) -> None:
    """Score SAMPLES against REFERENCE: FID, KID, precision/recall, IS and digit coverage.

    Default: MNIST classifier features (offline, seconds on a CPU) against mnist-test.
    --features inception gives the FID of papers, equal to `python -m pytorch_fid A B` for
    the same folders; without weights and offline it stops with one line naming the file
    and where to put it. IS and digit coverage describe SAMPLES only, with the MNIST
    classifier in either feature space. See docs/fid.md and docs/metrics.md.
    """
    asked = parse_metrics(metrics)
    dev = resolve_device(device)
    # one thread: 10.7-14 s vs 16-17 s with two for 10000 samples on the loaded 2-core box
    choose_threads(threads, 1 if features is Features.mnist else (os.cpu_count() or 1))
    space = feature_space(features.value, dims, dev, classifier, inception_weights)
    if save_stats is not None:
        check_npz_target(save_stats, force)  # before minutes of work, not after
    with err_console.status(f"scoring in {space.label} ..."):
        stats = load_source(samples, space, data_dir, _warn)
        if save_stats is not None:
            save_npz(stats, space, save_stats, force=True)
        result = score(stats, reference, metrics=asked, data_dir=data_dir, warn=_warn,
                       space=space)
    if as_json:
        typer.echo(json.dumps(result))
        return
    console.print(_table(result))
    if "digit_histogram" in result:
        console.print(_histogram(result["digit_histogram"]))
    if save_stats is not None:
        console.print(f"statistics of {samples} ({space.label}) saved to {save_stats}")
    console.print(f"[{result['seconds']:.1f}s]")
