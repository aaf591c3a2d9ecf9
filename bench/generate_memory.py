"""Peak memory of `genmnist generate` at two sizes: it should not grow with --n.

Trains a one-epoch vae on 64 images (its sampling is fast, so the PNG writers fall behind and
any unbounded queue shows), then runs `genmnist generate` at each size in a fresh process and
reads that process's peak resident memory from wait4(2) (the largest of it and its writers):

    GENMNIST_DATA=../shared/data python bench/generate_memory.py --sizes 10000 100000
    PYTHONPATH=/path/to/other/src python bench/generate_memory.py  # another checkout's code
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def genmnist(*args: str, cwd: Path) -> tuple[float, int, float]:
    """Run `python -m genmnist ARGS`; return (seconds, peak RSS in bytes, exit status)."""
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(SRC)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "genmnist", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"genmnist {' '.join(args)} failed: {proc.stderr.read().decode()}")
    return time.perf_counter() - t0, usage.ru_maxrss * 1024, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        genmnist("train", "vae", "--subset", "64", "--epochs", "1", "--batch-size", "32",
                 "--device", "cpu", "--name", "vae", cwd=root)
        print(f"genmnist generate, tiny vae, --workers {args.workers}, --batch-size "
              f"{args.batch_size} (code: {os.environ.get('PYTHONPATH') or SRC})")
        print(f"{'--n':>10}  {'seconds':>8}  {'peak RSS':>9}")
        for n in args.sizes:
            seconds, peak, _ = genmnist(
                "generate", "-c", "runs/vae", "--n", str(n), "--out", f"s{n}", "--device", "cpu",
                "--workers", str(args.workers), "--batch-size", str(args.batch_size), cwd=root)
            print(f"{n:>10}  {seconds:>8.1f}  {peak / 2**20:>6.0f} MB", flush=True)


if __name__ == "__main__":
    main()
