"""How many importance samples `genmnist nll` needs: the estimate and its time against K.

    python bench/nll_k.py RUN [--n 1000] [--ks 1,10,100,1000,5000] [--seeds 3]

For each K, the IWAE estimate of the NLL (nats) on the first N images of the binarised test set
(seed 0), once per seed of the importance draws: prints the mean over seeds, the spread between
seeds (what the draws alone move the number by), the standard error over images, and the
seconds per run. The default K of `genmnist nll` is chosen from this table (docs/likelihood.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("GENMNIST_DATA", str(REPO.parent / "shared" / "data"))

import torch  # noqa: E402

from genmnist.checkpoint import load_model  # noqa: E402
from genmnist.data import load_mnist  # noqa: E402
from genmnist.metrics.likelihood import estimate_nll  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a run folder or checkpoint.pt")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--ks", default="1,10,100,1000,5000")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, _ = load_model(args.run, "cpu")
    test = load_mnist("test").head(args.n).binarized(0)
    print(f"{model.name} ({args.run}), {args.n} binarised test images, {args.seeds} seeds of the "
          f"draws; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{args.threads} threads, torch {torch.__version__}")
    print("| K | NLL, mean over seeds | spread between seeds (max-min) | SE over images "
          "| seconds per run |")
    print("|---|---|---|---|---|")
    for k in map(int, args.ks.split(",")):
        runs = [estimate_nll(model, test.images, test.labels, k, batch_size=100, seed=s)
                for s in range(args.seeds)]
        nlls = [r.nll for r in runs]
        print(f"| {k} | {statistics.mean(nlls):.3f} | {max(nlls) - min(nlls):.3f} | "
              f"{runs[0].nll_se:.2f} | {statistics.mean(r.seconds for r in runs):.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
