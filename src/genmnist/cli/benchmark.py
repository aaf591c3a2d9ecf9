"""`genmnist benchmark`: train, sample and score every model; write a report folder."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from genmnist.benchmark import (
    BenchmarkConfig,
    BenchmarkReporter,
    hardware,
    parse_models,
    run_benchmark,
)
from genmnist.cli.app import app
from genmnist.cli.common import console, data_dir_option, device_option, positive, threads_option
from genmnist.cli.progress import quality_text
from genmnist.models import MODELS
from genmnist.report import markdown_table, verdict, write_report
from genmnist.runtime import resolve_device


class RichBenchmarkReporter(BenchmarkReporter):
    """One overall bar over models and baselines, one bar for the current one's work."""

    def __init__(self, console: Console):
        self.progress = Progress(
            TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
            console=console, transient=True)
        self.overall = self.current = None
        self.name = ""

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def start_item(self, name, index, total):
        if self.overall is None:
            self.overall = self.progress.add_task("benchmark", total=total, info="")
        self.progress.update(self.overall, completed=index, info=name)
        self.name = name

    def _bar(self, description, total):
        if self.current is not None:
            self.progress.remove_task(self.current)
        self.current = self.progress.add_task(description, total=total, info="")

    def start_epoch(self, epoch, epochs, batches):
        self._bar(f"  {self.name} epoch {epoch}/{epochs}", batches)

    def update(self, batches_done, terms, images_per_sec):
        info = f"{images_per_sec:.0f} img/s  " + "  ".join(f"{k} {v:.4g}"
                                                           for k, v in terms.items())
        self.progress.update(self.current, completed=batches_done, info=info)

    def end_epoch(self, record):
        test = "  ".join(f"{k} {v:.4g}" for k, v in record["test"].items())
        self.message(f"  {self.name} epoch {record['epoch']}: {record['seconds']:.1f}s, "
                     f"test {test}{quality_text(record.get('quality'))}")

    def phase(self, name, total):
        self._bar(f"  {self.name} {name}", total)

    def advance(self, k):
        self.progress.advance(self.current, k)

    def end_item(self, row, skipped):
        if self.current is not None:
            self.progress.remove_task(self.current)
            self.current = None
        self.progress.advance(self.overall)
        fid = row.get("fid")
        what = "already done, kept" if skipped else "done"
        self.message(f"{row['model']}: {what}; FID {fid:.4g}" if fid is not None
                     else f"{row['model']}: {what}")

    def message(self, text):
        self.progress.console.print(text)


@app.command()
def benchmark(
    models: list[str] = typer.Option(None, "--models", "-m", show_default=False,
                                     help="Models to compare, comma-separated or repeated "
                                          f"[default: all: {','.join(MODELS)}]."),
    epochs: int = typer.Option(None, "--epochs", "-e", show_default=False,
                               help="Training epochs for every model [default: each model's "
                                    "own recipe, genmnist.recipes]."),
    n: int = typer.Option(10000, "--n", "-n", help="Samples drawn and scored per model."),
    features: str = typer.Option("mnist", "--features",
                                 help="Feature space the metrics compare in (see `genmnist fid "
                                      "--help`): mnist is the MNIST classifier."),
    out: Path = typer.Option(Path("benchmark"), "--out", "-o",
                             help="Report folder; rerun with the same settings to resume."),
    seed: int = typer.Option(0, "--seed", help="Seed for training, sampling and baselines."),
    seeds: int = typer.Option(1, "--seeds", min=1,
                              help="Train each model this many times (seeds SEED, SEED+1, ...) "
                                   "and report mean ± std, so that differences can be told "
                                   "from seed noise."),
    subset: int = typer.Option(None, "--subset", show_default=False,
                               help="Train on the first N training images only (quick checks)."),
    force: bool = typer.Option(False, "--force",
                               help="Discard a report in --out made with other settings."),
    data_dir: Path = data_dir_option(),
    device: str = device_option(),
    threads: int = threads_option(),
) -> None:
    """Train every model, sample N images from each and score them against the MNIST test set.

    The report folder gets report.md (the table), results.csv, results.json, grids/MODEL.png,
    samples_side_by_side.png, loss_curves.png and a run folder per model under runs/. Real
    training images (the floor) and uniform noise (the ceiling) are scored the same way.
    A benchmark stopped halfway continues, when rerun with the same settings, with the models
    it had not finished.
    """
    for name, value in (("--epochs", epochs), ("--n", n), ("--subset", subset)):
        positive(name, value)
    dev = resolve_device(device)
    cfg = BenchmarkConfig(models=parse_models(models), epochs=epochs, n=n, features=features,
                          out=out, seed=seed, seeds=seeds, device=str(dev), subset=subset,
                          threads=threads,
                          data_dir=str(data_dir) if data_dir else None)
    budget = f"{epochs} epoch{'s' * (epochs > 1)}" if epochs else "default recipes"
    console.print(f"benchmark of {', '.join(cfg.models)}: {budget}, "
                  f"{n} samples each, "
                  f"{features} features, device {dev} -> {out}/")
    t0 = time.perf_counter()
    with RichBenchmarkReporter(console) as reporter:
        rows = run_benchmark(cfg, reporter, force=force)
    settings = {k: v for k, v in vars(cfg).items() if k != "out"} | {"out": str(out)}
    written = write_report(rows, out, settings, hardware(dev), command_line(cfg))
    console.print(markdown_table(rows))
    console.print(verdict(rows))
    console.print(f"done in {time.perf_counter() - t0:.1f}s; report: "
                  f"{', '.join(str(p) for p in written[:3])} and figures in {out}/")


def command_line(cfg: BenchmarkConfig) -> str:
    """The `genmnist benchmark` command that reproduces these numbers."""
    parts = ["genmnist benchmark"]
    if cfg.models != list(MODELS):
        parts.append(f"--models {','.join(cfg.models)}")
    parts += [f"--epochs {cfg.epochs}"] if cfg.epochs else []
    parts += [f"--seeds {cfg.seeds}"] if cfg.seeds > 1 else []
    parts += [f"--n {cfg.n}", f"--features {cfg.features}",
              f"--seed {cfg.seed}"]
    if cfg.subset:
        parts.append(f"--subset {cfg.subset}")
    parts.append(f"--out {cfg.out}")
    return " ".join(parts)
