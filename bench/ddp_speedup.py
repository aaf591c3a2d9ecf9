"""Data-parallel speed-up: one epoch of `vae` and `cvae` in one process against two processes
under torchrun (Gloo on CPU, NCCL on GPUs), through the real `genmnist train` command.

    python bench/ddp_speedup.py                    # CPU, ~2-3 min on a 2-core machine
    python bench/ddp_speedup.py --device cuda --nproc 2 --subset 60000   # on a 2-GPU node

For each model it trains one epoch on the same first --subset training images, with the same
global batch, as: 1 process with 1 thread, 1 process with 2 threads (the best one process does
with 2 cores), and N processes under torchrun with 1 thread each. It reads the epoch's training
seconds from metrics.jsonl (the training loop only: start-up, test scoring and saving excluded)
and prints a markdown table with the speed-up of N processes over the best single process.
Set GENMNIST_DATA to the MNIST folder (default ../shared/data).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUBSETS = {"vae": 12800, "cvae": 3840}  # CPU: ~10 s of training each, a multiple of 128


def run(args: list[str], nproc: int, threads: int, device: str, out: Path, name: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS=str(threads))
    env["GENMNIST_DATA"] = os.environ.get("GENMNIST_DATA") or str(REPO.parent / "shared" / "data")
    launch = [sys.executable, "-m", "genmnist"] if nproc == 1 else \
        [sys.executable, "-m", "torch.distributed.run", "--standalone",
         f"--nproc_per_node={nproc}", "-m", "genmnist"]
    extra = ["--threads", str(threads)] if device == "cpu" else []
    r = subprocess.run([*launch, "train", *args, "--epochs", "1", "--device", device,
                        "--out", str(out), "--name", name, *extra],
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(r.args)}\n{r.stdout}\n{r.stderr}")
    return json.loads((out / name / "metrics.jsonl").read_text().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--subset", type=int, default=None,
                    help="training images per epoch [default: 12800 for vae, 3840 for cvae]")
    ap.add_argument("--models", nargs="+", default=["vae", "cvae"])
    a = ap.parse_args()
    configs = [(1, 1), (1, 2), (a.nproc, 1)] if a.device == "cpu" else [(1, 1), (a.nproc, 1)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in a.models:
            subset = a.subset or SUBSETS.get(model, 6400)
            secs = {}
            for nproc, threads in configs:
                name = f"{model}-{nproc}p{threads}t"
                rec = run([model, "--subset", str(subset)], nproc, threads, a.device,
                          Path(tmp), name)
                secs[(nproc, threads)] = rec["seconds"]
                print(f"{name}: {rec['seconds']:.2f} s, {rec['images_per_sec']:.0f} img/s",
                      file=sys.stderr)
            best_one = min(v for (p, _), v in secs.items() if p == 1)
            rows.append([model, subset] + [f"{secs[c]:.2f}" for c in configs]
                        + [f"{best_one / secs[(a.nproc, 1)]:.2f}x"])
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"device {a.device}; {cpu}, {os.cpu_count()} cores; one epoch, training loop seconds\n")
    heads = ["model", "images"] + [f"{p} proc x {t} thr (s)" for p, t in configs] \
        + [f"speed-up {a.nproc} proc vs best 1 proc"]
    print("| " + " | ".join(heads) + " |\n|" + "---|" * len(heads))
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")


if __name__ == "__main__":
    main()
