"""Training speed of two source trees, side by side: does a refactor slow the trainer?

    python bench/compare_trees.py BEFORE/src AFTER/src [--rounds 3] [--models vae,cvae,wgan]

Runs `python -m genmnist train MODEL` from each tree in turn (alternating, round after round, so
that load on a shared machine falls on both alike), with the same explicit settings, and reads
the per-epoch seconds each run writes into metrics.jsonl. Prints, per model, the median images
per second of each tree over all its epochs and the ratio after/before. Used for issue 13
(the trainer redesign): before = the commit before it, after = main.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = os.environ.get("GENMNIST_DATA", str(REPO.parent / "shared" / "data"))
# The same work in both trees: explicit epochs, images, batch, threads and a 2-component mixture.
SETTINGS = {"vae": ["--subset", "30000", "--epochs", "3"],
            "cvae": ["--subset", "10000", "--epochs", "2"],
            "wgan": ["--subset", "10000", "--epochs", "2", "--batch-size", "64"]}


def one_run(src: str, model: str, out: Path, name: str, threads: int) -> list[float]:
    env = dict(os.environ, PYTHONPATH=src, GENMNIST_DATA=DATA)
    cmd = [sys.executable, "-m", "genmnist", "train", model, *SETTINGS[model], "--device", "cpu",
           "--threads", str(threads), "--sampler-components", "2", "--out", str(out),
           "--name", name]
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    rows = [json.loads(line) for line in (out / name / "metrics.jsonl").read_text().splitlines()]
    return [r["images_per_sec"] for r in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default="vae,cvae,wgan")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    models = args.models.split(",")
    rates: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.rounds):
            for model in models:
                order = ("before", "after") if rnd % 2 == 0 else ("after", "before")
                for which in order:
                    src = args.before if which == "before" else args.after
                    got = one_run(src, model, Path(tmp), f"{which}-{model}-{rnd}", args.threads)
                    rates.setdefault((model, which), []).extend(got)
                    print(f"round {rnd + 1} {model:5s} {which:6s} "
                          f"{' '.join(f'{r:.0f}' for r in got)} img/s", flush=True)
    print(f"\n{platform.machine()}, {os.cpu_count()} cores, {args.threads} threads, "
          f"{args.rounds} alternating rounds; median images/s over every epoch")
    print("| model | before | after | after / before |")
    print("|---|---|---|---|")
    for model in models:
        b = statistics.median(rates[(model, "before")])
        a = statistics.median(rates[(model, "after")])
        print(f"| {model} | {b:.0f} | {a:.0f} | {a / b:.3f} |")


if __name__ == "__main__":
    main()
