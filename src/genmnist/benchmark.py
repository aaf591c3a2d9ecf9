"""`genmnist benchmark`: train every model, sample N images from each, score them the same way.

The comparison follows the protocol of Lucic et al., "Are GANs Created Equal? A Large-Scale
Study" (NeurIPS 2018): one training budget, one sample size, one metric implementation for all
models, and the scores of real data (the floor) and of noise (the ceiling) in the same table so a
number can be read against both ends.

Each model works in its own run folder, `OUT/runs/MODEL/`, and is marked done by writing
`result.json` there atomically, last. A benchmark stopped at any moment and rerun with the same
settings skips the models that have a result and starts the others over (a run folder without a
result is an interrupted training; it is removed and trained again from scratch, since the
trainer does not resume mid-run). The report files are rebuilt from all results at the end.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from genmnist import __version__
from genmnist.checkpoint import load_model
from genmnist.data import Split, load_mnist
from genmnist.errors import NotABenchmarkFolder, OptionError
from genmnist.fileio import write_json_atomically
from genmnist.images import save_grid
from genmnist.models import MODELS, get_model_class, make_config
from genmnist.recipes import recipe_for
from genmnist.runtime import choose_threads
from genmnist.samplers import resolve_sampler
from genmnist.sampling import draw_samples
from genmnist.training import Reporter, RunSettings, TrainConfig, fit

# A scorer maps samples (N, 1, 28, 28) in [0, 1] on the CPU, a feature space, a device and the
# MNIST folder to named scores against the MNIST test set (at least the `METRICS`).
Scorer = Callable[[torch.Tensor, str, torch.device, str | None], dict[str, Any]]

METRICS = ("fid", "kid_mean", "kid_std", "precision", "recall", "inception_score",
           "digit_entropy")
REAL, NOISE = "real (MNIST train)", "noise (uniform)"
BASELINES = {"real": REAL, "noise": NOISE}  # file stem -> row name
SETTINGS_FILE = "benchmark.json"
# Settings that change the numbers: a folder holding results from other values is refused.
COMPARABLE = ("epochs", "n", "features", "seed", "subset")


@dataclass
class BenchmarkConfig:
    models: list[str] = field(default_factory=lambda: list(MODELS))
    epochs: int | None = None  # None: each model's default recipe (genmnist.recipes)
    n: int = 10000
    features: str = "mnist"
    out: Path = Path("benchmark")
    seed: int = 0
    device: str = "cpu"  # already resolved, e.g. "cpu" or "cuda"
    subset: int | None = None
    threads: int | None = None
    data_dir: str | None = None
    eval_size: int = 10000  # test images whose loss is recorded after each epoch
    sample_batch: int = 1000
    seeds: int = 1  # trainings per model, seeds seed, seed+1, ...: the report gives mean ± std
    quality_points: int = 6  # quality scores during each training (FID against compute)
    quality_n: int = 2000

    def settings(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in COMPARABLE}


class BenchmarkReporter(Reporter):
    """Training progress (the trainer's `Reporter`) plus the benchmark's own steps."""

    def start_item(self, name: str, index: int, total: int) -> None: ...

    def phase(self, name: str, total: int | None) -> None: ...

    def advance(self, k: int) -> None: ...

    def end_item(self, row: dict[str, Any], skipped: bool) -> None: ...


def score_samples(images: torch.Tensor, features: str, device: torch.device,
                  data_dir: str | None = None) -> dict[str, Any]:
    """The one place the benchmark calls the scoring package (`genmnist.metrics.score`, what
    `genmnist fid` prints): every metric for `images` against the MNIST test set, under the
    column names of `METRICS`, plus the digit histogram, the feature-space label and warnings."""
    from genmnist import metrics

    space, reference = _scoring_context(features, str(device), data_dir)
    said: list[str] = []
    s = metrics.score(images, reference, features=features, device=device, data_dir=data_dir,
                      space=space, warn=said.append)
    return {"fid": s["fid"], "kid_mean": s["kid"], "kid_std": s["kid_std"],
            "precision": s["precision"], "recall": s["recall"],
            "inception_score": s["inception_score"], "digit_entropy": s["digit_entropy"],
            "digit_histogram": list(s["digit_histogram"]), "feature_label": s["features"],
            "score_warnings": said}


@functools.lru_cache(maxsize=4)
def _scoring_context(features: str, device: str, data_dir: str | None):
    """The feature network and the test set's statistics, built once per benchmark."""
    from genmnist.metrics.features import feature_space
    from genmnist.metrics.score import load_source

    space = feature_space(features, device=torch.device(device))
    return space, load_source("mnist-test", space, data_dir)


def check_scoring(features: str) -> None:
    """Fail before hours of training, not after, when the scores cannot be computed."""
    from genmnist.metrics.features import SPACES

    if features not in SPACES:
        raise OptionError("unknown {features} {value!r}; use one of: {choices}", ("features",),
                          value=features, choices=", ".join(SPACES))


def parse_models(values: list[str] | None) -> list[str]:
    """`--models a,b --models c` -> ["a", "b", "c"] in the order given; default: all."""
    names = [s.strip() for v in (values or []) for s in v.split(",") if s.strip()]
    if not names:
        return list(MODELS)
    for name in names:
        get_model_class(name)  # one clean error line for an unknown name
    return list(dict.fromkeys(names))


def hardware(device: torch.device) -> str:
    """The machine the timings come from, in one line."""
    if device.type == "cuda":
        what = torch.cuda.get_device_name(device)
    else:
        what = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo") as f:
                what = next((ln.split(":", 1)[1].strip() for ln in f
                             if ln.startswith("model name")), what)
        except OSError:
            pass
        what = f"{what}, {os.cpu_count()} cores"
    return f"{what}; torch {torch.__version__}, genmnist {__version__}"


# Everything the benchmark writes into OUT, and nothing else: --force removes only these.
OUTPUTS = ("runs", "baselines", "grids", "report.md", "results.csv", "results.json",
           "samples_side_by_side.png", "loss_curves.png", "quality_vs_compute.png",
           SETTINGS_FILE)


def check_out(cfg: BenchmarkConfig, force: bool) -> bool:
    """Refuse to mix results from other settings (or another tool's files) unless `force`.
    Returns whether the results already in OUT must be discarded first."""
    out = cfg.out
    if out.exists() and not out.is_dir():
        raise OptionError("{out} {path} is an existing file, not a folder", ("out",), path=out)
    settings_path = out / SETTINGS_FILE
    if settings_path.is_file():
        try:
            old = json.loads(settings_path.read_text())
        except ValueError:
            old = {}
        diff = [f"{k} {old.get(k)} -> {v}" for k, v in cfg.settings().items() if old.get(k) != v]
        if diff and not force:
            raise OptionError("{path} holds a benchmark with other settings ({diff}); use "
                              "another {out}, or {force} to discard its results",
                              ("out", "force"), path=out, diff=", ".join(diff))
        return bool(diff)
    if out.is_dir() and any(out.iterdir()) and not force:
        raise NotABenchmarkFolder(out)
    return False


def prepare_out(cfg: BenchmarkConfig, discard: bool) -> None:
    if discard:
        for name in OUTPUTS:
            p = cfg.out / name
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    for sub in ("runs", "baselines", "grids"):
        (cfg.out / sub).mkdir(parents=True, exist_ok=True)
    write_json_atomically(cfg.out / SETTINGS_FILE, cfg.settings())


def _final_losses(history: list[dict[str, Any]]) -> dict[str, Any]:
    last = history[-1] if history else {"train": {}, "test": {}}
    return {"train_loss": last["train"].get("loss"), "test_loss": last["test"].get("loss"),
            "final_train": last["train"], "final_test": last["test"]}


def _score(name: str, images: torch.Tensor, cfg: BenchmarkConfig, scorer: Scorer,
           reporter: BenchmarkReporter, dev: torch.device) -> dict[str, Any]:
    reporter.phase("scoring", None)
    t0 = time.perf_counter()
    scores = scorer(images, cfg.features, dev, cfg.data_dir)
    missing = [m for m in METRICS if m not in scores]
    assert not missing, f"scorer returned no {missing}"
    save_grid(images[:100], cfg.out / "grids" / f"{name}.png", nrow=10)
    return {**scores, "score_seconds": round(time.perf_counter() - t0, 3)}


NLL_K, NLL_N = 100, 1000  # importance samples and test images of the benchmark's NLL column


def _likelihood(model, test: Split, dev: torch.device, n: int = NLL_N) -> dict[str, Any]:
    """The models with a likelihood: the IWAE estimate (k=100) on the first `n` test images,
    in nats, on the pixels the model trained on (grey here: a cross-entropy, see report)."""
    if not model.has_likelihood:
        return {}
    from genmnist.metrics.likelihood import estimate_nll

    head = test.head(n)
    r = estimate_nll(model, head.images.to(dev), head.labels.to(dev), NLL_K, binarized=False)
    return {"nll": round(r.nll, 3), "nll_k": NLL_K, "nll_n": r.n}


def run_name(model: str, seed_index: int, seed: int) -> str:
    """A run folder per training: MODEL for the first seed, MODEL-seedS for the others."""
    return model if seed_index == 0 else f"{model}-seed{seed}"


def bench_model(name: str, cfg: BenchmarkConfig, train: Split, test: Split, scorer: Scorer,
                reporter: BenchmarkReporter, dev: torch.device,
                seed_index: int = 0) -> dict[str, Any]:
    """Train, sample and score one model in OUT/runs/RUN; write its result.json last.

    Every sampler the model has is scored (its prior, and the latent density fitted after
    training); the row's own metrics are those of the default sampler (the fitted density
    where there is one), the others sit under "samplers"."""
    seed = cfg.seed + seed_index
    run = run_name(name, seed_index, seed)
    run_dir = cfg.out / "runs" / run
    if run_dir.exists():  # an interrupted earlier attempt: its metrics.jsonl would mix in
        reporter.message(f"{run}: restarting, its earlier run did not finish")
        shutil.rmtree(run_dir)
    recipe = recipe_for(name)
    threads = choose_threads(cfg.threads, recipe.cpu_threads)
    epochs = cfg.epochs or recipe.epochs
    tcfg = TrainConfig(model=name, epochs=epochs, batch_size=recipe.batch_size, lr=recipe.lr,
                       seed=seed, eval_size=cfg.eval_size,
                       quality_every=max(1, round(epochs / cfg.quality_points))
                       if cfg.quality_points else 0, quality_n=cfg.quality_n)
    settings = RunSettings(subset=cfg.subset, data_dir=cfg.data_dir, threads=threads)
    t0 = time.perf_counter()
    result = fit(tcfg, make_config(name, recipe.model), train, test, run_dir, dev, reporter,
                 settings=settings)
    train_seconds = time.perf_counter() - t0
    if result.note:
        reporter.message(f"{run}: {result.note}")
    model, _ = load_model(result.checkpoint, dev)
    kinds = (["prior"] if model.has_prior else []) + (["gmm"] if model.latent_sampler else [])
    default = "gmm" if model.latent_sampler else "prior"
    scored: dict[str, dict[str, Any]] = {}
    for kind in [default] + [k for k in kinds if k != default]:
        reporter.phase(f"sampling ({kind})", cfg.n)
        t1 = time.perf_counter()
        images = draw_samples(model, cfg.n, seed, cfg.sample_batch, reporter.advance,
                              resolve_sampler(model, kind))
        sample_seconds = time.perf_counter() - t1
        grid = run if kind == default else f"{run}-{kind}"
        scored[kind] = {"sample_seconds": round(sample_seconds, 3),
                        **_score(grid, images, cfg, scorer, reporter, dev)}
        if model.conditional:  # drawn for digit i % 10: did it draw that digit?
            from genmnist.metrics.conditional import score_conditional

            acc = score_conditional(images, torch.arange(cfg.n) % 10)
            scored[kind].update(cond_accuracy=acc["accuracy"], cond_per_digit=acc["per_digit"])
    row = {"model": name, "kind": "model", "run": run, "seed": seed,
           **_likelihood(model, test, dev, min(NLL_N, cfg.eval_size)),
           "params": sum(p.numel() for p in model.parameters()),
           "epochs": epochs, "batch_size": recipe.batch_size, "lr": recipe.lr,
           "model_config": asdict(model.config),
           "train_images": len(train), "train_seconds": round(train_seconds, 3),
           "n": cfg.n, "features": cfg.features, "device": str(dev), "threads": threads,
           "sampler": default, **scored[default],
           "fid_prior": scored["prior"]["fid"] if "prior" in scored else None,
           "samplers": scored, **_final_losses(result.history)}
    write_json_atomically(run_dir / "result.json", row)
    return row


def bench_baseline(stem: str, cfg: BenchmarkConfig, train_full: Split, scorer: Scorer,
                   reporter: BenchmarkReporter, dev: torch.device) -> dict[str, Any]:
    """Score N real training images (the floor) or N uniform-noise images (the ceiling)."""
    g = torch.Generator().manual_seed(cfg.seed)
    if stem == "real":
        idx = torch.randperm(len(train_full), generator=g)[:cfg.n]
        images = train_full.float_images(idx)
    else:
        images = torch.rand(cfg.n, 1, 28, 28, generator=g)
    row = {"model": BASELINES[stem], "kind": "baseline", "params": None, "epochs": None,
           "train_images": None, "train_seconds": None, "sample_seconds": None, "n": cfg.n,
           "features": cfg.features, "device": str(dev), "threads": None,
           **_score(stem, images, cfg, scorer, reporter, dev),
           "train_loss": None, "test_loss": None}
    write_json_atomically(cfg.out / "baselines" / f"{stem}.json", row)
    return row


def _done(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def run_benchmark(cfg: BenchmarkConfig, reporter: BenchmarkReporter | None = None,
                  scorer: Scorer | None = None, force: bool = False) -> list[dict[str, Any]]:
    """Benchmark `cfg.models` and the two baselines; returns the rows, baselines first.

    `scorer` defaults to `score_samples` (the scoring package); tests pass their own.
    """
    reporter = reporter or BenchmarkReporter()
    if cfg.n < 1 or (cfg.epochs is not None and cfg.epochs < 1) or cfg.seeds < 1:
        raise OptionError("{n}, {epochs} and {seeds} must be at least 1", ("n", "epochs", "seeds"))
    discard = check_out(cfg, force)
    if scorer is None:
        check_scoring(cfg.features)
        scorer = score_samples
    dev = torch.device(cfg.device)
    train_full = load_mnist("train", cfg.data_dir)
    if cfg.n > len(train_full):
        raise OptionError("{n} must be at most {most}: the real-data baseline scores N "
                          "distinct training images", ("n",), most=len(train_full))
    test = load_mnist("test", cfg.data_dir)
    prepare_out(cfg, discard)
    train = train_full.head(cfg.subset)
    items = [("baseline", s, 0) for s in BASELINES] + \
        [("model", m, k) for k in range(cfg.seeds) for m in cfg.models]
    rows = []
    for i, (kind, name, k) in enumerate(items):
        run = run_name(name, k, cfg.seed + k)
        done_path = (cfg.out / "baselines" / f"{name}.json" if kind == "baseline"
                     else cfg.out / "runs" / run / "result.json")
        reporter.start_item(BASELINES.get(name, name) if kind == "baseline" else run,
                            i, len(items))
        row = _done(done_path)
        if row is None:
            row = (bench_baseline(name, cfg, train_full, scorer, reporter, dev)
                   if kind == "baseline"
                   else bench_model(name, cfg, train, test, scorer, reporter, dev, k))
            reporter.end_item(row, skipped=False)
        else:
            reporter.end_item(row, skipped=True)
        rows.append(row)
    return rows
