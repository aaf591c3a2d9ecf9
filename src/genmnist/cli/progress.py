"""Rich progress display for training: one bar per epoch with the loss terms and images/s."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from genmnist.training import Reporter


def _fmt(terms: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.4g}" for k, v in terms.items())


def quality_text(quality: dict | None) -> str:
    """'  FID prior 12.3 gmm 8.1 (2000 samples)' from an epoch's quality record."""
    if not quality:
        return ""
    parts = [f"{k} {v['fid']:.2f}" for k, v in quality.items() if isinstance(v, dict)]
    return f"  FID {' '.join(parts)} ({quality['n']} samples)"


def threads_text(event: dict) -> str:
    """'threads: 2 -> 1 at 12.3s (rate fell from 1500 to 150 images/s; measured 1: 900,
    2: 150 images/s)' from a thread policy's event (genmnist.threads)."""
    rates = ", ".join(f"{n}: {r:.0f}" for n, r in event["images_per_sec"].items())
    change = f"{event['was']} -> {event['threads']}" if event["was"] else str(event["threads"])
    why = "" if event["reason"] == "start" else f"{event['reason']}; "
    return f"threads: {change} at {event['at_s']:.1f}s ({why}measured {rates} images/s)"


class RichReporter(Reporter):
    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[ips]:>7.0f} img/s"), TimeRemainingColumn(),
            TextColumn("{task.fields[terms]}"), console=console, transient=True)
        self.task = None

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def start_epoch(self, epoch, epochs, batches):
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task("train", total=batches, epoch=f"{epoch}/{epochs}",
                                           ips=0.0, terms="")

    def update(self, batches_done, terms, images_per_sec):
        self.progress.update(self.task, completed=batches_done, ips=images_per_sec,
                             terms=_fmt(terms))

    def end_epoch(self, record):
        self.progress.console.print(
            f"epoch {record['epoch']:>3}  {record['seconds']:6.1f}s  "
            f"{record['images_per_sec']:7.0f} img/s  train: {_fmt(record['train'])}  "
            f"test: {_fmt(record['test'])}{quality_text(record.get('quality'))}")

    def message(self, text):
        self.progress.console.print(text)

    def threads_changed(self, event):
        self.progress.console.print(threads_text(event))
