"""`genmnist fid SAMPLES [REFERENCE]`: FID and the metrics that FID alone hides.

The numbers come from `genmnist.metrics.score`; this module parses options, shows progress on
stderr and prints a Rich table (or JSON). Every output names the feature space, because an FID
in MNIST classifier features and an FID in Inception features are different numbers. It also
takes pytorch-fid's spellings (`--batch-size`, `--num-workers`, `--save-stats A OUT.npz`).
"""

from __future__ import annotations

import json
import math
import os
import time
from enum import Enum
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand

from genmnist.cli.app import app
from genmnist.cli.common import console, data_dir_option, device_option, err_console, positive
from genmnist.cli.progress import threads_text
from genmnist.cli.sample import SamplerChoice, sampler_option
from genmnist.cli.wording import explain, sampling_note
from genmnist.errors import GenmnistError
from genmnist.metrics.features import FeatureSpace, feature_space
from genmnist.metrics.folder import NotMnistImage
from genmnist.metrics.generator import generator_stats, is_checkpoint
from genmnist.metrics.kid import KID_SUBSET_SIZE, KID_SUBSETS
from genmnist.metrics.reference import Stats, check_npz_target, save_npz
from genmnist.metrics.score import METRICS, load_source, parse_metrics, score
from genmnist.runtime import resolve_device, thread_policy


class Features(str, Enum):
    mnist = "mnist"
    inception = "inception"


def _warn(message: str) -> None:
    err_console.print(f"genmnist: warning: {message}", soft_wrap=True)


def _note(model, warn) -> None:
    if note := sampling_note(model):
        warn(note)


def _table(r: dict) -> Table:
    ref_n = f" ({r['n_reference']} images)" if r["n_reference"] else ""
    t = Table(title=f"{r['samples']} ({r['n_samples']} images) vs {r['reference']}{ref_n}\n"
                    f"in {r['features']}", title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("reading")
    space = f"{'MNIST' if r['feature_space'] == 'mnist' else 'Inception'}, {r['dims']}-d"
    if "fid" in r:
        t.add_row(f"FID ({space})", _num(r["fid"], ".4f"), "lower is better; 0 = same stats")
    if "kid" in r:
        kid = "n/a" if r["kid"] is None or r["kid_std"] is None else \
            f"{1000 * r['kid']:.3f} ± {1000 * r['kid_std']:.3f}"
        t.add_row(f"KID x 1000 ({space})", kid, "lower is better; ~0 = same")
    if "precision" in r:
        t.add_row("precision (k=3)", _num(r["precision"], ".4f"), "realism; blur lowers it")
        t.add_row("recall (k=3)", _num(r["recall"], ".4f"), "diversity; dropped modes lower it")
    if "inception_score" in r:
        t.add_row("IS (MNIST classifier)", _num(r["inception_score"], ".3f"),
                  "higher is better; max 10")
    if "digit_entropy" in r:
        t.add_row("digit coverage", _num(r["digit_entropy"], ".4f"),
                  "1 = all digits equally often")
    return t


class _Rate(ProgressColumn):
    def render(self, task) -> Text:
        return Text(f"{task.speed:,.0f} img/s" if task.speed else "", style="progress.data.speed")


class _Bars:
    """`progress(what, done, total)` for the core: one transient bar per stage (reading,
    sampling, features of each side) with images done, rate and time left, on stderr. Not on a
    terminal (a log, a pipe) it stays silent: Rich would still write a blank line there."""

    def __init__(self):
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             _Rate(), TimeRemainingColumn(), console=err_console, transient=True,
                             disable=not err_console.is_terminal)
        self.tasks: dict[str, int] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        if what not in self.tasks:
            self.tasks[what] = self.bars.add_task(what, total=total)
        self.bars.update(self.tasks[what], completed=done)

    def __enter__(self):
        self.bars.start()
        return self

    def __exit__(self, *exc):
        self.bars.stop()


def _finite_or_none(result: dict, warn) -> dict:
    """JSON has no NaN or Infinity: a number that is not finite becomes null (None), and a
    warning names it, so that no reader takes it for a score."""
    def finite(k, v):
        if isinstance(v, list):
            return [finite(k, x) for x in v]
        if isinstance(v, float) and not math.isfinite(v):
            warn(f"{k} is not a finite number ({v}); reported as null")
            return None
        return v

    return {k: finite(k, v) for k, v in result.items()}


def _num(v, fmt: str) -> str:
    return "n/a" if v is None else format(v, fmt)


def _histogram(hist: list[float]) -> str:
    return "predicted digits: " + "  ".join(f"{d}:{100 * p:.1f}%" for d, p in enumerate(hist))


FEATURES_HELP = ("Feature space: mnist (the 128-d features of genmnist's own MNIST classifier; "
                 "offline, seconds) or inception (pytorch-fid's Inception-v3, the FID of papers; "
                 "needs its weights). The two give different numbers; outputs always say which.")
METRICS_HELP = f"Comma list of {', '.join(METRICS)} (pr = precision and recall), or all."
WEIGHTS_HELP = ("pytorch-fid's Inception weights file (pt_inception-2015-12-05-6726825d.pth) "
                "[default: torch hub's cache, else download when online].")
SAVE_STATS_FORMS = ("genmnist fid SAMPLES --save-stats OUT.npz --stats-only (or pytorch-fid's "
                    "order: genmnist fid --save-stats SAMPLES OUT.npz)")
CONVERT_HINT = ("pass --convert to convert such images (to grayscale by luminance, resized to "
                "28x28), or convert them yourself: PIL's .convert('L').resize((28, 28))")


class _PlainUsage(TyperCommand):
    """Usage `genmnist fid [OPTIONS] SAMPLES [REFERENCE]`, as man pages and the other commands
    write it: Typer writes a required argument as {SAMPLES}, which reads like a set of choices."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p
                for p in super().collect_usage_pieces(ctx)]


def _save_stats_form(samples: str, reference: str | None, save_stats: Path | None,
                     stats_only: bool) -> tuple[str, str | None, Path | None, bool]:
    """pytorch-fid's `--save-stats SAMPLES OUT.npz` reaches Typer as --save-stats=SAMPLES and
    SAMPLES=OUT.npz; genmnist's own form is `SAMPLES --save-stats OUT.npz`. Both mean: write
    the statistics. pytorch-fid's also means: score nothing."""
    if save_stats is None or save_stats.suffix == ".npz":
        return samples, reference, save_stats, stats_only
    if samples.endswith(".npz") and reference is None:
        return str(save_stats), None, Path(samples), True
    raise GenmnistError(f"--save-stats {save_stats} must end in .npz: it names the file to "
                        f"write; type {SAVE_STATS_FORMS}")


def _load(src: str, space: FeatureSpace, n: int, seed: int, sampler: str, convert: bool, device,
          data_dir: Path | None, warn=_warn) -> Stats:
    """One side's statistics: a checkpoint is sampled in memory, anything else is read."""
    try:
        if is_checkpoint(src):
            return generator_stats(src, n, seed, space, device, sampler,
                                   lambda model: _note(model, warn))
        return load_source(src, space, data_dir, warn, convert=convert)
    except NotMnistImage as e:
        raise GenmnistError(f"{explain(e)}; {CONVERT_HINT}") from e


@app.command(cls=_PlainUsage)
def fid(
    samples: str = typer.Argument(..., show_default=False, metavar="SAMPLES",
                                  help="Folder of 28x28 grayscale PNGs, a .npz statistics file, "
                                       "a named reference, or a checkpoint (.pt file or run "
                                       "folder) to sample --n images from, in memory."),
    reference: str = typer.Argument(None, show_default=False, metavar="REFERENCE",
                                    help="Folder, .npz, checkpoint, or named reference: "
                                         "mnist-test or mnist-train (statistics computed once, "
                                         "then cached) [default: mnist-test]."),
    features: Features = typer.Option(Features.mnist, "--features", "-f", help=FEATURES_HELP),
    dims: int = typer.Option(None, "--dims", show_default=False,
                             help="Inception features: 64, 192, 768 or 2048, as in pytorch-fid "
                                  "[default: 2048]; mnist features are always 128-d."),
    metrics: str = typer.Option("all", "--metrics", "-m", help=METRICS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
    batch_size: int = typer.Option(None, "--batch-size", "-b", show_default=False,
                                   help="Images per forward pass of the feature network, as "
                                        "pytorch-fid's --batch-size [default: 50 for inception, "
                                        "as pytorch-fid; 500 for mnist]. Scores do not depend "
                                        "on it."),
    num_workers: int = typer.Option(None, "--num-workers", min=0, show_default=False,
                                    help="Accepted for pytorch-fid's command lines; it changes "
                                         "nothing: genmnist decodes the PNGs once, in this "
                                         "process (measured faster than worker pools)."),
    n: int = typer.Option(10000, "--n", "-n",
                          help="Images to sample when SAMPLES or REFERENCE is a checkpoint."),
    seed: int = typer.Option(0, "--seed", help="Seed of those samples: the images `genmnist "
                                               "generate --seed` writes, unrounded."),
    sampler: SamplerChoice = sampler_option(),
    save_stats: Path = typer.Option(None, "--save-stats", show_default=False,
                                    help="Also write SAMPLES' statistics (mu, sigma: pytorch-fid's "
                                         "format) to this .npz. pytorch-fid's order, "
                                         "--save-stats SAMPLES OUT.npz, works too and scores "
                                         "nothing."),
    stats_only: bool = typer.Option(False, "--stats-only",
                                    help="With --save-stats: write the statistics and score "
                                         "nothing (no REFERENCE, no pass over it)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --save-stats file."),
    convert: bool = typer.Option(False, "--convert",
                                 help="Convert images that are not 28x28 grayscale (RGB to L by "
                                      "luminance, resized bicubic to 28x28), with a warning, "
                                      "instead of refusing them."),
    inception_weights: Path = typer.Option(None, "--inception-weights", show_default=False,
                                           help=WEIGHTS_HELP),
    classifier: Path = typer.Option(None, "--classifier", show_default=False,
                                    help="MNIST classifier weights [default: the file shipped "
                                         "with genmnist]."),
    kid_subset_size: int = typer.Option(KID_SUBSET_SIZE, "--kid-subset-size", min=2,
                                        help="KID: samples per side in each random subset "
                                             "(as torch-fidelity's option)."),
    kid_subsets: int = typer.Option(KID_SUBSETS, "--kid-subsets", min=1,
                                    help="KID: how many random subsets are averaged."),
    data_dir: Path = data_dir_option("MNIST folder for named references"),
    device: str = device_option(),
    digit: int = typer.Option(None, "--digit", min=0, max=9, show_default=False,
                              help="SAMPLES were all made for this digit (`generate --digit D`): "
                                   "also report the conditional accuracy, the share of them the "
                                   "MNIST classifier calls D."),
    threads: int = typer.Option(None, "--threads", min=1, show_default=False,
                                help="CPU threads for torch [default: $GENMNIST_THREADS, else "
                                     "$OMP_NUM_THREADS, else measured while it runs: 1 "
                                     "or all cores, whichever computes features faster "
                                     "(docs/performance.md)]."),
) -> None:
    """Score SAMPLES against REFERENCE: FID, KID, precision/recall, IS and digit coverage.

    Default: MNIST classifier features (offline, seconds on a CPU) against mnist-test.
    --features inception gives the FID of papers, equal to `python -m pytorch_fid A B` for
    the same folders; without weights and offline it stops with one line naming the file
    and where to put it. IS and digit coverage describe SAMPLES only, with the MNIST
    classifier in either feature space. See docs/fid.md and docs/metrics.md.
    """
    asked = parse_metrics(metrics)
    positive("--batch-size", batch_size)
    positive("--n", n)
    samples, reference, save_stats, stats_only = _save_stats_form(samples, reference,
                                                                  save_stats, stats_only)
    if stats_only and save_stats is None:
        raise GenmnistError(f"--stats-only writes statistics and needs a file to write: "
                            f"{SAVE_STATS_FORMS}")
    if stats_only and reference is not None:
        raise GenmnistError(f"--stats-only scores nothing, so REFERENCE {reference} is not "
                            "used; drop it, or drop --stats-only to score")
    dev = resolve_device(device)
    # Measured while it runs: one thread was faster for MNIST features on a loaded 2-core box
    # (10.7-14 s vs 16-17 s for 10000 samples), two on a quiet one (genmnist.threads).
    policy = thread_policy(threads, os.cpu_count() or 1, measure=dev.type == "cpu",
                           probe_s=0.1, min_batches=2)
    space = feature_space(features.value, dims, dev, classifier, inception_weights)
    space.batch_size, space.threads = batch_size, policy
    if save_stats is not None:
        check_npz_target(save_stats, force)  # before minutes of work, not after
    warnings: list[str] = []

    def warn(message: str) -> None:  # on stderr now, and in the result: --json keeps them
        warnings.append(message)
        _warn(message)

    t0 = time.perf_counter()
    with _Bars() as bars:
        space.progress = bars
        stats = _load(samples, space, n, seed, sampler.value, convert, dev, data_dir, warn)
        if save_stats is not None:
            save_npz(stats, space, save_stats, force=True)
        if not stats_only:
            ref = _load(reference or "mnist-test", space, n, seed, sampler.value, convert, dev,
                        data_dir, warn)
            result = score(stats, ref, metrics=asked, data_dir=data_dir, warn=warn, space=space,
                           kid_subset_size=kid_subset_size, kid_subsets=kid_subsets)
            result["seconds"] = time.perf_counter() - t0  # reading and sampling included
    if stats_only:
        _print_saved(stats, space, save_stats, as_json)
        return
    result = _finite_or_none(result, warn)
    if digit is not None:
        if "digit_histogram" not in result:
            raise GenmnistError("--digit needs the samples' images and the coverage metric "
                                "(not a .npz, and --metrics with coverage)")
        # every sample was asked to be `digit`: the share classified as it is the accuracy
        result["conditional_accuracy"] = result["digit_histogram"][digit]
        result["intended_digit"] = digit
    result["warnings"] = warnings
    result["threads"] = {"threads": policy.chosen, "measured": policy.adaptive,
                         "changes": policy.take_events()}
    if as_json:
        typer.echo(json.dumps(result, allow_nan=False))  # strict JSON: no NaN, no Infinity
        return
    console.print(_table(result))
    if "digit_histogram" in result:
        console.print(_histogram(result["digit_histogram"]))
    if digit is not None:
        console.print(f"conditional accuracy {result['conditional_accuracy']:.3f}: the share of "
                      f"samples the MNIST classifier calls {digit}, the digit they were made for")
    if save_stats is not None:
        console.print(f"statistics of {stats.source} ({space.label}) saved to {save_stats}")
    for event in result["threads"]["changes"]:
        console.print(threads_text(event))
    console.print(f"[{result['seconds']:.1f}s]")


def _print_saved(stats: Stats, space: FeatureSpace, path: Path, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"feature_space": space.name, "features": space.label,
                               "dims": space.dims, "samples": stats.source,
                               "n_samples": stats.n, "saved_stats": str(path)}))
        return
    console.print(f"statistics of {stats.source} ({stats.n} images, {space.label}) saved to "
                  f"{path}; nothing scored")
