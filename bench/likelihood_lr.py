"""The learning rate of vae's likelihood recipe: short cosine runs on binarised MNIST, one per rate.

    python bench/likelihood_lr.py [--lrs 1e-3,2e-3,4e-3,8e-3] [--epochs 40] [--n 2000] [--k 100]

Each rate trains `genmnist train vae --binarize --epochs E --lr LR` (the recipe's cosine
schedule, so every run ends its decay) one after the other, never side by side, then scores
`genmnist nll --k K --n N` on the same first N binarised test images. Prints, per rate: the
training seconds, the final test -ELBO and KL of metrics.jsonl, and the NLL with its standard
error. Differences between rates are paired on the same images, so they are far more precise
than the standard error printed. The recipe's rate in src/genmnist/recipes.py comes from this
table (docs/likelihood.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def genmnist(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    env.setdefault("GENMNIST_DATA", str(REPO.parent / "shared" / "data"))
    r = subprocess.run([sys.executable, "-m", "genmnist", *args], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"genmnist {' '.join(args)} failed:\n{r.stderr[-2000:]}")
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lrs", default="1e-3,2e-3,4e-3,8e-3")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--n", type=int, default=2000, help="test images scored")
    ap.add_argument("--k", type=int, default=100, help="importance samples")
    args = ap.parse_args()
    print(f"| lr | train s | test -ELBO | test KL | NLL (k={args.k}, first {args.n}) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for lr in args.lrs.split(","):
            t = time.perf_counter()
            genmnist("train", "vae", "--binarize", "--epochs", str(args.epochs), "--lr", lr,
                     "--device", "cpu", "--out", d, "--name", lr)
            seconds = time.perf_counter() - t
            last = json.loads((Path(d) / lr / "metrics.jsonl").read_text().splitlines()[-1])
            nll = json.loads(genmnist("nll", "-c", str(Path(d) / lr), "--k", str(args.k),
                                      "--n", str(args.n), "--json").stdout)
            print(f"| {lr} | {seconds:.0f} | {last['test']['loss']:.2f} | "
                  f"{last['test']['kl']:.2f} | {nll['nll']:.2f} ± {nll['nll_se']:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
