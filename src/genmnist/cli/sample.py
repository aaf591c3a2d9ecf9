"""`genmnist generate`, `reconstruct` and `interpolate`: everything that reads a checkpoint."""

from __future__ import annotations

import os
import shlex
import sys
import time
from enum import Enum
from pathlib import Path

import torch
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

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
from genmnist.cli.progress import threads_text
from genmnist.cli.wording import explain, sampling_note
from genmnist.data import load_mnist
from genmnist.errors import GenmnistError
from genmnist.fileio import check_can_create
from genmnist.images import describe_unfinished, output_folder, save_grid, unfinished
from genmnist.interrupt import GenerationInterrupted
from genmnist.recipes import recipe_for
from genmnist.runtime import thread_policy
from genmnist.samplers import describe, resolve_sampler
from genmnist.sampling import (
    check_digit,
    check_generate_request,
    check_steps,
    generate_to_folder,
    interpolate,
    interpolate_random,
    reconstruct,
    reconstruction_error,
    require_encoder,
    sample_batches,
)


class SamplerChoice(str, Enum):
    auto = "auto"
    prior = "prior"
    gmm = "gmm"


def sampler_option():
    return typer.Option(SamplerChoice.auto, "--sampler",
                        help="Where codes come from: prior (the model's own, N(0, I) for VAEs "
                             "and GANs), gmm (the Gaussian mixture fitted to the training codes "
                             "after training; see fit-sampler), or auto = gmm where the "
                             "checkpoint has one (it measured better), else prior.")


def default_workers(n: int) -> int:
    """PNG encoding is a third of `generate --n 10000`; two writer processes hide it behind
    sampling on a multi-core machine (docs/performance.md). Small jobs skip the pool start-up."""
    return 2 if n >= 2000 and (os.cpu_count() or 1) >= 2 else 0


class ConditionalTally:
    """Judges each batch a conditional model writes with the shipped MNIST classifier: how
    often it drew the digit asked for (`digit`, or digit i % 10 for image i)."""

    def __init__(self, digit: int | None):
        from genmnist.metrics.classifier import load_classifier

        self.digit, self.done = digit, 0
        self.classifier, _ = load_classifier()
        self.probs: list[torch.Tensor] = []

    def __call__(self, images: torch.Tensor) -> None:
        from genmnist.metrics.classifier import classify

        self.probs.append(classify(self.classifier, images.cpu())[1])

    def summary(self) -> str:
        from genmnist.metrics.digits import conditional_accuracy

        probs = torch.cat(self.probs)
        n = len(probs)
        intended = torch.full((n,), self.digit) if self.digit is not None else torch.arange(n) % 10
        acc = conditional_accuracy(probs, intended)
        worst = min((a, d) for d, a in enumerate(acc["per_digit"]) if a is not None)
        tail = "" if self.digit is not None else f"; lowest: digit {worst[1]} at {worst[0]:.3f}"
        return (f"conditional accuracy {acc['accuracy']:.3f}: the share of images the MNIST "
                f"classifier calls the digit asked for{tail}")


def output_file(path: Path, force: bool) -> Path:
    """Refuse to overwrite an existing picture unless --force; never write over a folder."""
    if path.is_dir():
        raise GenmnistError(f"output path {path} is a folder; give a .png file name")
    if path.exists() and not force:
        raise GenmnistError(f"{path} already exists; pass --force to overwrite it")
    if path.suffix.lower() != ".png":
        raise GenmnistError(f"output {path} must be a .png file")
    check_can_create(path)
    return path


@app.command()
def generate(
    checkpoint: Path = checkpoint_option(),
    n: int = typer.Option(10000, "--n", "-n", help="Number of images to write."),
    out: Path = typer.Option(Path("samples"), "--out", "-o", help="Folder for the PNGs."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed writes the same images."),
    digit: int = typer.Option(None, "--digit", show_default=False,
                              help="Only this digit, 0-9 (conditional models such as cond-vae) "
                                   "[default: every digit in turn]."),
    batch_size: int = typer.Option(1000, "--batch-size", "-b", help="Images per forward pass."),
    workers: int = typer.Option(None, "--workers", min=0, show_default=False,
                                help="Processes that encode PNGs while the model samples; 0 = "
                                     "none [default: 2 for 2000+ images on a multi-core CPU, "
                                     "else 0]. The images are the same either way."),
    sampler: SamplerChoice = sampler_option(),
    force: bool = typer.Option(False, "--force", help="Replace images already in --out."),
    grid: Path = typer.Option(None, "--grid", show_default=False,
                              help="Also save a 10x10 preview grid of the first samples here."),
    device: str = device_option(),
    threads: int = threads_option(),
) -> None:
    """Sample N images into a folder of 28x28 grayscale PNGs (00000.png, 00001.png, ...).

    The folder is what `genmnist fid` and `python -m pytorch_fid` read. A folder that already
    holds images is refused unless --force: mixing old and new samples corrupts a score.
    """
    positive("--n", n)
    positive("--batch-size", batch_size)
    check_generate_request(n, batch_size)
    if digit is not None and not (0 <= digit <= 9):
        raise GenmnistError(f"--digit must be between 0 and 9, got {digit}")
    if grid is not None:
        output_file(grid, force)
    t0 = time.perf_counter()
    model, _, dev, path = open_model(checkpoint, device, threads)
    # measured over the batches as it samples (genmnist.threads), as `train` does
    policy = thread_policy(threads, recipe_for(model.name).cpu_threads,
                           measure=dev.type == "cpu", probe_s=0.1,
                           min_batches=2)
    chosen = resolve_sampler(model, sampler.value)
    check_digit(model, digit)  # every check before output_folder, which may delete old images
    if note := sampling_note(model):
        console.print(f"note: {note}")
    console.print(f"sampler: {describe(model, chosen)}")
    judge = ConditionalTally(digit) if model.conditional else None
    plan = {"n": n, "seed": seed, "digit": digit, "checkpoint": str(path),
            "sampler": sampler.value, "written_by": "genmnist generate"}
    redo = (f"genmnist generate -c {shlex.quote(str(path))} --n {n} --seed {seed}"
            f"{f' --digit {digit}' if digit is not None else ''} --sampler {sampler.value} "
            f"--out {shlex.quote(str(out))} --force")
    with output_folder(out, force, plan) as folder:
        try:
            with Progress(TextColumn("generating"), BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn(), console=console, transient=True) as bar:
                task = bar.add_task("generate", total=n)
                policy.resume()
                count = generate_to_folder(
                    model, n, folder, seed=seed, digit=digit, batch_size=batch_size,
                    on_batch=lambda b: (bar.advance(task, b), policy.step(b)),
                    workers=default_workers(n) if workers is None else workers,
                    sampler=chosen, inspect=judge)
        except GenerationInterrupted as stop:
            _stopped(f"interrupted after {stop.written} of {n} images", folder, redo, 130)
        except KeyboardInterrupt:
            _stopped("interrupted", folder, redo, 130)
        except GenmnistError as e:
            _stopped(f"error: {explain(e)}", folder, redo, 1)
    if grid is not None:
        save_grid(next(sample_batches(model, 100, seed, digit, 100, chosen)), grid, nrow=10)
    what = f" of digit {digit}" if digit is not None else ""
    console.print(f"wrote {count} images{what} (28x28 grayscale PNG) to {folder}/ in "
                  f"{time.perf_counter() - t0:.1f}s from {model.name} ({path}), sampler "
                  f"{chosen.kind if chosen else 'prior'}")
    if judge is not None:
        console.print(judge.summary())
    for event in policy.take_events():
        console.print(threads_text(event))


def _stopped(what: str, folder: Path, redo: str, code: int) -> None:
    """One line: what stopped `generate`, what the folder holds, how to redo it."""
    left = describe_unfinished(folder, unfinished(folder) or {})
    sys.stderr.write(f"genmnist: {what}; {left}, and is marked unfinished so `genmnist fid` "
                     f"refuses it; redo it with: {redo}\n")
    sys.stderr.flush()
    raise typer.Exit(code)


def _test_images(data_dir: Path | None, device):
    test = load_mnist("test", data_dir)
    return test.float_images().to(device), test.labels.to(device)


@app.command("reconstruct")
def reconstruct_cmd(
    checkpoint: Path = checkpoint_option(),
    n: int = typer.Option(32, "--n", "-n", help="Test images shown in the picture."),
    start: int = typer.Option(0, "--start", help="Index of the first test image shown."),
    out: Path = typer.Option(Path("reconstruction.png"), "--out", "-o",
                             help="Picture: rows of test images over their reconstructions."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
    data_dir: Path = data_dir_option(),
    device: str = device_option(),
    threads: int = threads_option(),
) -> None:
    """Reconstruct test images; save originals over reconstructions, print the mean error.

    The error is averaged over the whole MNIST test set (10000 images): MSE per pixel and
    binary cross-entropy in nats per image.
    """
    positive("--n", n)
    output_file(out, force)
    model, _, dev, _ = open_model(checkpoint, device, threads)
    require_encoder(model, "reconstruct")
    x, y = _test_images(data_dir, dev)
    if not 0 <= start < len(x):
        raise GenmnistError(f"--start must be between 0 and {len(x) - 1}, got {start}")
    error = reconstruction_error(model, x, y)
    shown = x[start:start + n]
    recon, _ = reconstruct(model, shown, y[start:start + n])
    cols = min(len(shown), 8)
    rows = [t for i in range(0, len(shown), cols)
            for t in (shown[i:i + cols], recon[i:i + cols])]
    pad = [torch.cat([r, torch.ones(cols - len(r), 1, 28, 28, device=r.device)]) for r in rows]
    save_grid(torch.cat(pad), out, nrow=cols)
    console.print(f"mean reconstruction error on {len(x)} test images: "
                  f"MSE {error['mse']:.5f} per pixel, BCE {error['bce']:.2f} nats per image")
    console.print(f"picture: {out} (rows of test images over their reconstructions)")


class Path_(str, Enum):
    linear = "linear"
    slerp = "slerp"


def _pick(idx: int | None, digit: int | None, labels, which: str, default: int) -> int:
    if idx is not None and digit is not None:
        raise GenmnistError(f"give --{which} or --{which}-digit, not both")
    if digit is not None:
        if not 0 <= digit <= 9:
            raise GenmnistError(f"--{which}-digit must be between 0 and 9, got {digit}")
        return int((labels == digit).nonzero()[0])
    idx = default if idx is None else idx
    if not 0 <= idx < len(labels):
        raise GenmnistError(f"--{which} must be a test-image index 0-{len(labels) - 1}, got {idx}")
    return idx


@app.command("interpolate")
def interpolate_cmd(
    checkpoint: Path = checkpoint_option(),
    from_: int = typer.Option(None, "--from", show_default=False,
                              help="Index of the first test image [default: 0]."),
    to: int = typer.Option(None, "--to", show_default=False,
                           help="Index of the second test image [default: 1]."),
    from_digit: int = typer.Option(None, "--from-digit", show_default=False,
                                   help="Start at the first test image of this digit."),
    to_digit: int = typer.Option(None, "--to-digit", show_default=False,
                                 help="End at the first test image of this digit."),
    steps: int = typer.Option(10, "--steps", help="Decoded points on the path, ends included."),
    seed: int = typer.Option(0, "--seed", help="Models without an encoder (GANs): seed of the "
                                               "two random codes the path joins."),
    method: Path_ = typer.Option(Path_.linear, "--method",
                                 help="linear, or slerp (spherical, keeps Gaussian norms)."),
    sampler: SamplerChoice = typer.Option(None, "--sampler", show_default=False,
                                          help="Join two codes drawn (with --seed) from this "
                                               "sampler, prior or gmm, instead of two test "
                                               "images' codes [default: test images for models "
                                               "with an encoder, prior codes for GANs]."),
    out: Path = typer.Option(Path("interpolation.png"), "--out", "-o",
                             help="Picture: image A, the decoded path, image B."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
    data_dir: Path = data_dir_option(),
    device: str = device_option(),
    threads: int = threads_option(),
) -> None:
    """Decode points on the path between the latent codes of two test images.

    A model without an encoder (dcgan, wgan, wgan-gp) has no code for a test image: it walks
    between two random codes drawn with --seed instead.
    """
    check_steps(steps)
    output_file(out, force)
    model, _, dev, _ = open_model(checkpoint, device, threads)
    if not model.has_encoder or sampler is not None:
        if any(v is not None for v in (from_, to, from_digit, to_digit)):
            why = ("has no encoder, so it cannot start or end at a test image" if sampler is None
                   else "joins two sampled codes with --sampler, not test images")
            raise GenmnistError(f"model '{model.name}' {why}; drop --from/--to and pick the "
                                "two random codes with --seed")
        chosen = resolve_sampler(model, sampler.value if sampler else "prior")
        path = interpolate_random(model, steps, method.value, seed, chosen)
        save_grid(path, out, nrow=steps, scale=3)
        console.print(f"interpolated {steps} points ({method.value}) between two random codes "
                      f"(seed {seed}) from the {describe(model, chosen)}: {out}")
        if model.conditional:
            console.print(f"held: the digit label, 0, for the whole path ({model.name})")
        return
    x, y = _test_images(data_dir, dev)
    a = _pick(from_, from_digit, y, "from", 0)
    b = _pick(to, to_digit, y, "to", 1)
    path = interpolate(model, x[a:a + 1], x[b:b + 1], steps, method.value,
                       y[a:a + 1], y[b:b + 1])
    save_grid(torch.cat([x[a:a + 1], path, x[b:b + 1]]), out, nrow=steps + 2, scale=3)
    console.print(f"interpolated {steps} points ({method.value}) from test image {a} "
                  f"(digit {int(y[a])}) to {b} (digit {int(y[b])}): {out}")
    if model.conditional:
        console.print(f"held: {model.name} decodes the path's codes with the label of image A "
                      f"({int(y[a])}) for the first half and of image B ({int(y[b])}) for the "
                      "second; only the code (style) moves smoothly")
