"""The benchmark's report: results.csv / results.json for programs, report.md and two figures
for people.

The table is sorted by FID (Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge
to a Local Nash Equilibrium", NeurIPS 2017) and places every model between the real-data floor and
the noise ceiling. Figures are drawn with matplotlib's object API (`Figure` + `savefig`), which
needs no display and leaves the user's pyplot backend alone.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from genmnist.benchmark import METRICS, NOISE, REAL

COLUMNS = ("model", "kind", "run", "seed", "sampler", "params", "epochs", "batch_size", "lr",
           "train_images", "train_seconds", "sample_seconds", "score_seconds", "n", "features",
           *METRICS, "fid_prior", "cond_accuracy", "nll", "train_loss", "test_loss", "device",
           "threads")
# Averaged over the seeds of a model by `aggregate`.
MEANS = (*METRICS, "fid_prior", "cond_accuracy", "nll", "train_seconds", "sample_seconds",
         "test_loss")


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in COLUMNS}


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if v is None else v for k, v in _flat(r).items()})


def _num(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, int):
        return f"{v / 1e6:.2f}M" if v >= 1e5 else str(v)
    v = v + 0.0  # -0.0 prints as 0
    return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:.0f}"


def aggregate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per model: a model trained with several seeds gets the mean of each number in
    MEANS and its sample standard deviation as NAME_std, and "seeds" = how many."""
    out: list[dict[str, Any]] = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["kind"] != "model":
            out.append(r)
        elif r["model"] not in groups:
            groups[r["model"]] = [r]
            out.append(r)  # placeholder, replaced below
        else:
            groups[r["model"]].append(r)
    for i, r in enumerate(out):
        group = groups.get(r["model"]) if r["kind"] == "model" else None
        if not group or len(group) == 1:
            continue
        merged = {**group[0], "seeds": len(group), "run": group[0].get("run", r["model"])}
        for k in MEANS:
            vals = [g[k] for g in group if isinstance(g.get(k), int | float)]
            if len(vals) == len(group):
                merged[k] = float(np.mean(vals))
                merged[f"{k}_std"] = float(np.std(vals, ddof=1))
        out[i] = merged
    return out


def _pm(r: dict[str, Any], key: str, digits: int = 4) -> str:
    """'12.3 ± 0.4' where the row has a spread over seeds, else the number."""
    std = r.get(f"{key}_std")
    return _num(r.get(key), digits) + (f" ± {_num(std, 2)}" if std is not None else "")


def _by_fid(rows):
    return sorted(rows, key=lambda r: (r.get("fid") is None, r.get("fid") or 0.0))


def markdown_table(rows: list[dict[str, Any]]) -> str:
    head = ["model", "sampler", "FID ↓", "FID, prior ↓", "KID x 1000 ↓", "precision ↑",
            "recall ↑", "IS ↑", "digit coverage ↑", "cond. accuracy ↑", "NLL, grey ↓", "epochs",
            "params",
            "train s", "sample s", "test loss"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in _by_fid(aggregate(rows)):
        name = f"*{r['model']}*" if r["kind"] == "baseline" else f"**{r['model']}**"
        # x1000 as the fid command prints it; results.csv/json keep the raw values
        kid = (f"{_num(1000 * r['kid_mean'])} ± {_num(1000 * r['kid_std'], 2)}"
               if r.get("kid_mean") is not None else "–")
        prior = _pm(r, "fid_prior") if r.get("sampler") == "gmm" else "–"
        cells = [name, r.get("sampler") or "–", _pm(r, "fid"), prior, kid,
                 _num(r.get("precision")),
                 _num(r.get("recall")), _num(r.get("inception_score")),
                 _num(r.get("digit_entropy")), _pm(r, "cond_accuracy", 3), _pm(r, "nll"),
                 _num(r.get("epochs")), _num(r.get("params")),
                 _num(r.get("train_seconds")), _num(r.get("sample_seconds")),
                 _num(r.get("test_loss"), 4)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(rows: list[dict[str, Any]]) -> str:
    """One sentence: the best model by FID, read against the floor and the ceiling."""
    rows = aggregate(rows)
    by = {r["model"]: r for r in rows}
    models = [r for r in rows if r["kind"] == "model" and r.get("fid") is not None]
    if not models or REAL not in by or NOISE not in by:
        return ""
    best = min(models, key=lambda r: r["fid"])
    floor, ceil = by[REAL]["fid"], by[NOISE]["fid"]
    span = ceil - floor
    where = (f", {100 * (best['fid'] - floor) / span:.1f}% of the way from the floor to the "
             "ceiling" if span > 0 else "")
    return (f"Best model by FID: **{best['model']}** at {best['fid']:.4g}, against {floor:.4g} "
            f"for real training images (the floor) and {ceil:.4g} for uniform noise (the "
            f"ceiling){where}.")


def write_report(rows: list[dict[str, Any]], out: Path, settings: dict[str, Any],
                 hardware: str, command: str) -> list[Path]:
    """Write every report file into `out` from the result rows; returns the paths written."""
    write_csv(rows, out / "results.csv")
    (out / "results.json").write_text(json.dumps(
        {"settings": settings, "hardware": hardware, "command": command, "rows": rows},
        indent=2) + "\n")
    figures = [side_by_side(aggregate(rows), out), loss_curves(aggregate(rows), out),
               quality_vs_compute(aggregate(rows), out)]
    n, feats = settings["n"], settings["features"]
    subset = settings.get("subset")
    label = next((r["feature_label"] for r in rows if r.get("feature_label")), None)
    feats = f"{feats}` feature space ({label})" if label else f"{feats}` feature space"
    train_on = f"the first {subset} training images" if subset else "all 60000 training images"
    budget = (f"for {settings['epochs']} epoch(s)" if settings.get("epochs")
              else "by its default recipe (genmnist.recipes; epochs in the table)")
    k = settings.get("seeds") or 1
    seeds = (f"seed {settings['seed']}" if k == 1 else
             f"{k} times, seeds {settings['seed']}-{settings['seed'] + k - 1}: numbers are "
             "mean ± standard deviation over the seeds")
    md = [
        "# Benchmark", "",
        f"Command: `{command}`", "",
        f"Every model trained {budget} on {train_on} ({seeds}), then {n} samples each "
        "scored against the 10000 MNIST test images "
        f"in the `{feats}. Baselines: {n} real training images (the floor) and "
        f"{n} images of uniform noise (the ceiling), scored the same way.", "",
        f"Hardware: {hardware}.", "",
        markdown_table(rows), "",
        verdict(rows), "",
        "Arrows say which way is better. KID is mean ± standard deviation over subsets, "
        "times 1000 (as the fid command prints it; results.csv and results.json hold it raw). "
        "IS is the Inception-style score of the MNIST classifier (at most 10); digit coverage "
        "is the entropy of the predicted-digit histogram over log 10 (1: every digit equally "
        "often, 0: one digit only). "
        "Train seconds are the wall time of training, including the test-set loss after each "
        "epoch; sample seconds are the time to draw the samples in memory. Test loss is each "
        "model's own objective on the test set (not comparable across model families; "
        "multi-player models have one per player, in results.json).", "",
        "![samples](samples_side_by_side.png)", "",
        "The sampler column says where the codes came from: gmm is the Gaussian mixture fitted "
        "to the training codes after training (genmnist.samplers), prior the model's own; "
        "models that have both are scored with both. Conditional accuracy (conditional models "
        "only) is the share of samples drawn for digit d that the MNIST classifier calls d. "
        "NLL, grey (VAEs only) is the importance-weighted estimate of -log p(x) with k=100 "
        "draws on the first 1000 test images, in nats: these models train on grey levels, so "
        "it is a Bernoulli cross-entropy, comparable between them but not with papers' "
        "binarised-MNIST likelihoods (`genmnist nll`, docs/likelihood.md).", "",
        "![quality against compute](quality_vs_compute.png)", "",
        "![training loss](loss_curves.png)", "",
    ]
    (out / "report.md").write_text("\n".join(md))
    return [out / "report.md", out / "results.csv", out / "results.json", *figures]


def _grid_name(row: dict[str, Any]) -> str:
    return {REAL: "real", NOISE: "noise"}.get(row["model"], row.get("run", row["model"]))


def side_by_side(rows: list[dict[str, Any]], out: Path) -> Path:
    """One figure of every sample grid, real data first, then the models by FID."""
    from matplotlib.figure import Figure

    order = [r for r in rows if r["model"] == REAL] + \
        [r for r in _by_fid(rows) if r["kind"] == "model"]
    order = [r for r in order if (out / "grids" / f"{_grid_name(r)}.png").is_file()]
    cols = min(4, max(1, len(order)))
    nrows = math.ceil(len(order) / cols) or 1
    fig = Figure(figsize=(3.2 * cols, 3.6 * nrows), layout="constrained")
    for i, r in enumerate(order):
        ax = fig.add_subplot(nrows, cols, i + 1)
        ax.imshow(np.asarray(Image.open(out / "grids" / f"{_grid_name(r)}.png")),
                  cmap="gray", vmin=0, vmax=255)
        fid = f"FID {r['fid']:.3g}" if r.get("fid") is not None else ""
        ax.set_title(f"{r['model']}\n{fid}", fontsize=10)
        ax.set_axis_off()
    path = out / "samples_side_by_side.png"
    fig.savefig(path, dpi=100)
    return path


def _history(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(s) for s in path.read_text().splitlines() if s.strip()]


def loss_curves(rows: list[dict[str, Any]], out: Path) -> Path:
    """Per-epoch train (solid) and test (dashed) loss of each model; one line per player."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    models = [r["model"] for r in rows if r["kind"] == "model"]
    runs = [r.get("run", r["model"]) for r in rows if r["kind"] == "model"]
    cols = min(4, max(1, len(models)))
    nrows = math.ceil(len(models) / cols) or 1
    fig = Figure(figsize=(3.6 * cols, 2.8 * nrows), layout="constrained")
    for i, name in enumerate(models):
        ax = fig.add_subplot(nrows, cols, i + 1)
        hist = _history(out / "runs" / runs[i])
        epochs = [h["epoch"] for h in hist]
        keys = [k for k in (hist[0]["train"] if hist else {}) if k.split("/")[-1] == "loss"]
        for j, key in enumerate(keys):
            color = f"C{j}"
            ax.plot(epochs, [h["train"].get(key, np.nan) for h in hist], "-o", ms=3,
                    color=color, label=f"{key} train")
            ax.plot(epochs, [h["test"].get(key, np.nan) for h in hist], ls="--", marker="s", ms=3,
                    color=color, label=f"{key} test")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        if len(epochs) <= 10:
            ax.set_xticks(epochs)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7)
    path = out / "loss_curves.png"
    fig.savefig(path, dpi=100)
    return path


def quality_vs_compute(rows: list[dict[str, Any]], out: Path) -> Path:
    """FID of the samples scored during training against cumulative training seconds, one
    line per model (its first seed), and the final FID of its default sampler as a star."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    models = [r for r in rows if r["kind"] == "model"]
    for i, r in enumerate(models):
        hist = _history(out / "runs" / r.get("run", r["model"]))
        seconds, xs, ys = 0.0, [], []
        for h in hist:
            seconds += h["seconds"]
            q = h.get("quality")
            during = (q or {}).get("prior") or (q or {}).get("gmm_quick")
            if during:
                xs.append(seconds)
                ys.append(during["fid"])
        color = f"C{i % 10}"
        if xs:
            ax.plot(xs, ys, "-o", ms=3, color=color, label=r["model"])
        if r.get("fid") is not None and seconds:
            ax.plot([seconds], [r["fid"]], "*", ms=12, color=color,
                    label=None if xs else r["model"])
    ax.set_xlabel("training seconds")
    ax.set_ylabel("FID (lower is better)")
    ax.set_yscale("log")
    ax.set_title("Quality against compute: lines are FID during training (2000 samples, the "
                 "prior, or a quick\nmixture for ae), stars the final FID of the default sampler",
                 fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    if models:
        ax.legend(fontsize=8, ncol=2)
    path = out / "quality_vs_compute.png"
    fig.savefig(path, dpi=100)
    return path
