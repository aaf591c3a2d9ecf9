"""`genmnist train MODEL`: train a model and write a run folder."""

from __future__ import annotations

import contextlib
import shlex
import shutil
import sys
import time
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from genmnist import distributed
from genmnist.capacity import check_model_fits
from genmnist.checkpoint import CHECKPOINT_NAME
from genmnist.cli.app import app
from genmnist.cli.common import (
    RUNS_DIR,
    console,
    data_dir_option,
    device_option,
    positive,
    threads_option,
)
from genmnist.cli.progress import RichReporter
from genmnist.cli.wording import explain
from genmnist.data import load_mnist
from genmnist.distributed import DistInfo
from genmnist.errors import GenmnistError, QuietError
from genmnist.fileio import check_can_create, make_folder
from genmnist.interrupt import TrainingInterrupted
from genmnist.lock import FolderLock
from genmnist.models import MODELS, make_config, parse_settings
from genmnist.precision import PRECISIONS, resolve_precision
from genmnist.recipes import recipe_for
from genmnist.resume import plan_resume
from genmnist.runtime import resolve_device, thread_policy
from genmnist.training import Reporter, RunSettings, TrainConfig, fit

ModelName = Enum("ModelName", {name: name for name in MODELS}, type=str)


class LrSchedule(str, Enum):
    constant = "constant"
    cosine = "cosine"


def new_run_dir(out: Path, name: str | None, model: str) -> Path:
    """Reserve a new run folder by creating it (`mkdir` is atomic), so that two runs started
    in the same second never share one: a default name that is taken gets a -2, -3, ...
    suffix; a --name that exists is refused."""
    if out.exists() and not out.is_dir():
        raise GenmnistError(f"--out {out} is an existing file, not a folder")
    base = name or f"{model}-{time.strftime('%Y%m%d-%H%M%S')}"
    check_can_create(out / base, "run folder")  # now, not after loading MNIST
    made_out = not out.exists()
    make_folder(out, "runs folder")
    for i in range(1, 1000):
        run = out / (base if i == 1 else f"{base}-{i}")
        try:
            run.mkdir()
            return run
        except FileExistsError:
            if name is not None:
                break
        except OSError as e:
            raise GenmnistError(f"cannot create run folder {run}: {e.strerror or e}") from e
    if made_out:
        out.rmdir()
    raise GenmnistError(f"run folder {out / base} already exists; choose another --name "
                        "(genmnist never overwrites a run)")


def abandon_run(run_dir: Path) -> str:
    """After a new run failed: remove its folder if it holds no checkpoint (nothing in it can
    be resumed or sampled), with the runs folder if that is left empty; say what is left."""
    if (run_dir / CHECKPOINT_NAME).is_file():
        return (f"{run_dir} keeps its last checkpoint: continue with `genmnist train --resume "
                f"{shlex.quote(str(run_dir))}`")
    shutil.rmtree(run_dir, ignore_errors=True)
    with contextlib.suppress(OSError):
        run_dir.parent.rmdir()  # the runs folder too, if nothing else is in it
    return f"removed the run folder {run_dir}, which held no checkpoint"


def load_splits(settings: RunSettings, info: DistInfo):
    """The train and test splits; under torchrun each node's local rank 0 reads (or downloads)
    MNIST first, so that no two processes download into the same folder."""
    first = info.local_rank == 0
    splits = (load_mnist("train", settings.data_dir).head(settings.subset),
              load_mnist("test", settings.data_dir)) if first else None
    distributed.Distributed(info).barrier()
    return splits or (load_mnist("train", settings.data_dir).head(settings.subset),
                      load_mnist("test", settings.data_dir))


RUN_OPTIONS = ("--batch-size", "--lr", "--latent-dim", "--beta", "--seed", "--subset", "--name",
               "--out", "--set", "--binarize", "--lr-schedule")


@app.command()
def train(
    model: ModelName = typer.Argument(None, show_default=False, metavar="MODEL",
                                      help="Model to train; optional with --resume, where it "
                                           "must be the run's model."),
    epochs: int = typer.Option(None, "--epochs", "-e", show_default=False,
                               help="Passes over the training images; with --resume, the total "
                                    "to reach [default: the model's recipe (genmnist.recipes); "
                                    "with --resume, the run's own]."),
    batch_size: int = typer.Option(None, "--batch-size", "-b", show_default=False,
                                   help="Images per step, over all processes under torchrun "
                                        "[default: the model's recipe]."),
    lr: float = typer.Option(None, "--lr", show_default=False,
                             help="Learning rate for every player [default: each model's paper "
                                  "value, 1e-3 for VAEs]."),
    lr_schedule: LrSchedule = typer.Option(None, "--lr-schedule", show_default=False,
                                           help="constant, or cosine: the rate falls from --lr "
                                                "towards 0 over the run, set per epoch "
                                                "[default: the model's recipe, constant for "
                                                "most]."),
    latent_dim: int = typer.Option(None, "--latent-dim", "-z", show_default=False,
                                   help="Size of the latent code [default: the model's, 20 for "
                                        "vae, 16 for conv models and vqvae's code vectors, 100 "
                                        "for GANs]; 1 and 2 work."),
    beta: float = typer.Option(None, "--beta", show_default=False,
                               help="KL weight of VAE models and vaegan (beta-VAE); 1 is the "
                                    "plain VAE [default: 1]."),
    seed: int = typer.Option(None, "--seed", show_default=False,
                             help="Seed for weights, shuffling and noise [default: 0]."),
    model_settings: list[str] = typer.Option(None, "--set", show_default=False, metavar="KEY=VALUE",
                                       help="Set a field of the model's config, e.g. --set "
                                            "channels=32 (repeatable; on top of the model's "
                                            "recipe; the fields are in docs/models.md)."),
    device: str = device_option(),
    threads: int = threads_option(),
    precision: str = typer.Option(None, "--precision", show_default=False,
                                  help="Arithmetic of the forward pass: auto, bf16, fp16 or fp32 "
                                       "[default: auto = bf16 on CUDA GPUs that have it, else "
                                       "fp32; with --resume, the run's own]."),
    out: Path = typer.Option(None, "--out", "-o", show_default=False,
                             help=f"Folder that holds run folders [default: {RUNS_DIR}]."),
    name: str = typer.Option(None, "--name", show_default=False,
                             help="Run folder name [default: MODEL-YYYYmmdd-HHMMSS]."),
    data_dir: Path = data_dir_option(),
    subset: int = typer.Option(None, "--subset", show_default=False,
                               help="Train on the first N training images only (quick checks)."),
    quality_every: int = typer.Option(0, "--quality-every", min=0,
                                      help="Score samples every K epochs (and after the last): "
                                           "MNIST-feature FID and digit coverage, in "
                                           "metrics.jsonl and on the progress line; 0 = never."),
    quality_n: int = typer.Option(2000, "--quality-n", min=100,
                                  help="Samples scored each time by --quality-every."),
    binarize: bool = typer.Option(False, "--binarize", show_default=False,
                                  help="Train on dynamically binarised MNIST (each batch's "
                                       "pixels drawn as Bernoulli of their grey level), as the "
                                       "likelihood literature does, with the model's likelihood "
                                       "recipe; the test loss is then on a fixed binarised test "
                                       "set (see genmnist nll, docs/likelihood.md)."),
    components: int = typer.Option(None, "--sampler-components", show_default=False,
                                   help="Components of the Gaussian mixture fitted to the "
                                        "training codes after training (models with a "
                                        "continuous latent) [default: 50, by measurement]."),
    resume: Path = typer.Option(None, "--resume", show_default=False,
                                help="Continue the run in this folder (or its checkpoint.pt) "
                                     "from its last checkpoint -- weights, optimizer, epoch, "
                                     "RNG -- ending as if never stopped. Only --epochs, "
                                     "--device, --threads, --precision and --data-dir may be "
                                     "given with it."),
) -> None:
    """Train MODEL on MNIST; write a run folder with checkpoint, config, metrics and grids.

    The run folder (OUT/NAME) holds checkpoint.pt (weights, config, optimizer state; every
    other command rebuilds the model from it), config.json, metrics.jsonl (one line per
    epoch, with the test-set loss) and samples/epoch_NNN.png. Ctrl-C saves a checkpoint after
    the current batch; `genmnist train --resume RUN` continues from it.

    On several GPUs or processes: `torchrun --nproc_per_node=N -m genmnist train MODEL ...`
    (--batch-size is then the global batch, split across the N processes; see
    docs/distributed.md).
    """
    positive("--epochs", epochs)
    positive("--batch-size", batch_size)
    positive("--lr", lr)
    positive("--latent-dim", latent_dim)
    positive("--beta", beta)
    positive("--subset", subset)
    positive("--sampler-components", components)
    if resume is not None:
        given = dict(zip(RUN_OPTIONS, (batch_size, lr, latent_dim, beta, seed, subset, name, out,
                                       model_settings or None, binarize or None, lr_schedule),
                         strict=True))
        for flag, value in given.items():
            if value is not None:
                raise GenmnistError(f"{flag} cannot be given with --resume: the run continues "
                                    "as it was started (start a new run to change it)")
    elif model is None:
        raise GenmnistError(f"give the MODEL to train ({', '.join(MODELS)}), or --resume "
                            "RUN to continue a run")
    if precision is not None and precision.lower() not in PRECISIONS:
        raise GenmnistError(f"unknown --precision {precision!r}; use one of: "
                            f"{', '.join(PRECISIONS)}")
    info = distributed.from_env()  # torchrun's ranks; a single process without it
    dev = distributed.setup(info, resolve_device(device))
    ranks = distributed.Distributed(info, dev)
    try:
        if resume is not None:  # rank 0 reads the run and hands it to the others
            tcfg, model_config, ckpt, run_dir = ranks.on_main(lambda: plan_resume(
                resume, model.value if model else None, epochs))
            settings = RunSettings.from_checkpoint(ckpt)
            settings.data_dir = str(data_dir) if data_dir else settings.data_dir
            precision = precision or tcfg.precision
        else:
            ckpt = None
            recipe = recipe_for(model.value, binarize)
            model_config = make_config(model.value, {
                **recipe.model, **parse_settings(model.value, model_settings or []),
                "latent_dim": latent_dim, "beta": beta})
            check_model_fits(model.value, model_config, dev)  # before a run folder exists
            run_dir = ranks.on_main(lambda: new_run_dir(out or RUNS_DIR, name, model.value))
            given = {"seed": seed, "quality_every": quality_every, "quality_n": quality_n,
                     "sampler_components": components, "binarize": binarize or None,
                     "lr_schedule": lr_schedule.value if lr_schedule else recipe.lr_schedule}
            settings = RunSettings(subset=subset, data_dir=str(data_dir) if data_dir else None)
            tcfg = TrainConfig(model=model.value, epochs=epochs or recipe.epochs,
                               batch_size=batch_size or recipe.batch_size,
                               lr=lr if lr is not None else recipe.lr,
                               **{k: v for k, v in given.items() if v is not None})
        with FolderLock(run_dir, "run folder") if info.is_main else contextlib.nullcontext():
            try:
                settings.threads = threads
                _train(tcfg, settings, model_config, ckpt, run_dir, dev, info,
                       resolve_precision(precision, dev))
            except GenmnistError as e:
                if resume is not None or not info.is_main or isinstance(e, QuietError):
                    raise
                raise GenmnistError(f"{explain(e)}; {abandon_run(run_dir)}") from e
            except BaseException:
                if resume is None and info.is_main:
                    abandon_run(run_dir)
                raise
    finally:
        distributed.teardown()


def _train(tcfg: TrainConfig, settings: RunSettings, model_config, ckpt, run_dir: Path, dev,
           info: DistInfo, precision: str) -> None:
    """Train on this process's device and report (rank 0 only under torchrun); `settings`
    holds the --threads given (None: the default), and then the count used (None: measured)."""
    default = recipe_for(tcfg.model).cpu_threads
    # Under torchrun on CPU the local processes share the cores instead of each taking all;
    # on one CPU process the thread count is measured while it trains (genmnist.threads).
    shared = distributed.default_threads(info)
    policy = thread_policy(settings.threads, min(default, shared or default),
                           measure=dev.type == "cpu" and not info.enabled)
    settings.threads, tcfg.precision = None if policy.adaptive else policy.threads, precision
    train_split, test_split = load_splits(settings, info)
    out = console if info.is_main else Console(quiet=True)
    start = f"-> {run_dir}"
    if ckpt is not None:
        part = ckpt.get("partial")
        start = (f"resuming {run_dir} at epoch {part['epoch']} batch {part['batch'] + 1}" if part
                 else f"resuming {run_dir} at epoch {ckpt['epoch'] + 1}")
    where = f"device {dev}" if not info.enabled else \
        f"{info.world} processes ({dev.type}, {distributed.backend()})"
    per = min(tcfg.batch_size, len(train_split)) // info.world
    split = f" ({per} per process)" if info.enabled else ""
    pixels = "dynamically binarised " if tcfg.binarize else ""
    counts = " or ".join(map(str, policy.candidates))
    how = f"{counts} threads, measured" if policy.adaptive else f"{policy.threads} threads"
    out.print(f"[bold]{tcfg.model}[/] on {len(train_split)} {pixels}images, {where}"
              f"{f', {how}' if dev.type == 'cpu' else ''}, {precision}, "
              f"batch {tcfg.batch_size}{split}, {tcfg.epochs} epochs {start}")
    t0 = time.perf_counter()
    shown = RichReporter(out) if info.is_main else contextlib.nullcontext(Reporter())
    try:
        with shown as reporter:
            result = fit(tcfg, model_config, train_split, test_split, run_dir, dev, reporter,
                         resume=ckpt, info=info, settings=settings, threads=policy)
    except TrainingInterrupted as stop:  # every rank stops at the same batch
        if info.is_main:
            sys.stderr.write(f"genmnist: interrupted {stop.where}, checkpoint saved; resume "
                             f"with: {resume_command(tcfg.model, run_dir, info)}\n")
            sys.stderr.flush()
        # torchrun stops the rest when one exits: rank 0 goes first
        distributed.Distributed(info, dev).barrier()
        raise typer.Exit(130) from None
    if not info.is_main:
        return
    if result.note:
        out.print(result.note)
    last = result.history[-1]
    test = "; test " + "  ".join(f"{k} {v:.4g}" for k, v in last["test"].items())
    out.print(f"done in {time.perf_counter() - t0:.1f}s{test}")
    out.print(f"checkpoint: {result.checkpoint}\nnext: genmnist generate --checkpoint "
              f"{result.run_dir} --n 10000")


def resume_command(model: str, run_dir: Path, info: DistInfo) -> str:
    """The command that continues this run, launched the way this one was."""
    launch = "genmnist" if not info.enabled else \
        f"torchrun --nproc_per_node={info.local_world} -m genmnist"
    return f"{launch} train {model} --resume {shlex.quote(str(run_dir))}"
