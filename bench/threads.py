"""Thread policy benchmark (issue 17): genmnist's measured thread count against fixed settings,
side by side in one run (settings alternate within each round).

    python bench/threads.py --part wait      # OpenMP spin settings, one step timed, quiet/loaded
    python bench/threads.py --part quiet     # (a) per-epoch seconds on a quiet machine
    python bench/threads.py --part start     # (b) a 1 s busy process started beside genmnist
    python bench/threads.py --part midrun    # (c) two busy loops started after epoch 1

Every training is a real `genmnist train` process (`python -m genmnist`, this checkout's src);
per-epoch seconds come from its metrics.jsonl. Settings:
  policy     nothing set: genmnist measures 1 or 2 threads as it trains (genmnist.threads)
  1          --threads 1
  2-spin     --threads 2 with libgomp's default spin (GOMP_SPINCOUNT=300000, as when unset)
  2-passive  --threads 2, OMP_WAIT_POLICY=PASSIVE
`--part start` also runs the checkout given by --before (default ../main/src) for comparison.
Busy loops are plain Python processes at normal priority, killed when the run ends.
Results go to stdout as markdown tables (for docs/performance.md) and, raw, to --json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = os.environ.get("GENMNIST_DATA", str(REPO.parent / "shared" / "data"))
BUSY = "import time\nt = time.time()\nwhile time.time() - t < {s}: pass"
SETTINGS = {  # name: (extra arguments, extra environment)
    "policy": ([], {}),
    "1": (["--threads", "1"], {}),
    "2-spin": (["--threads", "2"], {"GOMP_SPINCOUNT": "300000"}),
    "2-passive": (["--threads", "2"], {"OMP_WAIT_POLICY": "PASSIVE"}),
}
MODELS = {"vae": 60000, "cvae": 20000}  # training images per epoch (cvae: a third, for time)


def clean_env(src: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS",
                        "GENMNIST_THREADS")}
    return {**env, "PYTHONPATH": str(src), "GENMNIST_DATA": DATA, **extra}


def busy(seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", BUSY.format(s=seconds)])


def train(model: str, setting: str, epochs: int, out: Path, src: Path = REPO / "src",
          beside: float | None = None, load_after: int | None = None) -> dict:
    """One `genmnist train` run; per-epoch seconds and the thread records. `beside`: a busy
    process of that many seconds starts with it; `load_after`: two busy loops start once that
    many epochs are in metrics.jsonl and run until the end."""
    args, extra = SETTINGS[setting]
    name = f"{model}-{setting}-{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "genmnist", "train", model, "--epochs", str(epochs),
           "--subset", str(MODELS[model]), "--sampler-components", "1", "--device", "cpu",
           "--out", str(out), "--name", name, *args]
    loads = [busy(beside)] if beside else []
    proc = subprocess.Popen(cmd, env=clean_env(src, extra), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    metrics = out / name / "metrics.jsonl"
    try:
        if load_after is not None:
            while proc.poll() is None and (not metrics.exists()
                                           or len(metrics.read_text().splitlines()) < load_after):
                time.sleep(0.05)
            loads += [busy(3600), busy(3600)]
        output = proc.communicate()[0]
    finally:
        for p in loads:
            p.kill()
            p.wait()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{output}")
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    return {"model": model, "setting": setting, "seconds": [r["seconds"] for r in records],
            "threads": [r.get("threads") for r in records],
            "log": [ln for ln in output.splitlines() if ln.startswith("threads:")]}


def median_epoch(runs: list[dict], model: str, setting: str, epochs=slice(None)) -> float:
    return statistics.median(s for r in runs if r["model"] == model and r["setting"] == setting
                             for s in r["seconds"][epochs])


def mean_epoch(runs: list[dict], model: str, setting: str, epochs=slice(None)) -> float:
    return statistics.mean(s for r in runs if r["model"] == model and r["setting"] == setting
                           for s in r["seconds"][epochs])


def part_quiet(out: Path, rounds: int, epochs: int) -> list[dict]:
    runs = []
    for r in range(rounds):
        order = list(SETTINGS) if r % 2 == 0 else list(reversed(SETTINGS))
        for model in MODELS:
            for setting in order:
                runs.append(train(model, setting, epochs, out))
                print(f"# {runs[-1]['model']} {setting}: {runs[-1]['seconds']}", flush=True)
    print("\n(a) quiet machine, mean seconds per epoch (all epochs, probes included)\n")
    print("| model | " + " | ".join(SETTINGS) + " | policy vs best fixed |\n|"
          + "---|" * (len(SETTINGS) + 2))
    for model in MODELS:
        means = {s: mean_epoch(runs, model, s) for s in SETTINGS}
        best = min(v for s, v in means.items() if s != "policy")
        print(f"| {model} | " + " | ".join(f"{v:.2f}" for v in means.values())
              + f" | {means['policy'] / best:.3f}x |")
    return runs


def part_start(out: Path, rounds: int, epochs: int, before: Path) -> list[dict]:
    runs = []
    for _ in range(rounds):
        for src, label in ((REPO / "src", "this"), (before, "before")):
            for beside in (None, 1.0):
                run = train("vae", "policy", epochs, out, src=src, beside=beside)
                run["setting"] = f"{label}{'+short' if beside else ''}"
                runs.append(run)
                print(f"# {run['setting']}: {run['seconds']}", flush=True)
    print("\n(b) vae, nothing set; a 1 s busy process started with genmnist: seconds per epoch"
          " (each run's mean; one per round)\n")
    print("| code | quiet start | short process at start | ratio |\n|---|---|---|---|")
    for label in ("this", "before"):
        quiet = [statistics.mean(r["seconds"]) for r in runs if r["setting"] == label]
        short = [statistics.mean(r["seconds"]) for r in runs if r["setting"] == label + "+short"]
        print(f"| {label} | {' '.join(f'{x:.2f}' for x in quiet)} | "
              f"{' '.join(f'{x:.2f}' for x in short)} | "
              f"{statistics.median(short) / statistics.median(quiet):.2f}x |")
    return runs


def part_midrun(out: Path, epochs: int) -> list[dict]:
    runs = []
    for model in MODELS:
        for setting in SETTINGS:
            runs.append(train(model, setting, epochs, out, load_after=1))
            print(f"# {model} {setting}: {runs[-1]['seconds']} {runs[-1]['log']}", flush=True)
    print("\n(c) two busy loops from the end of epoch 1: mean seconds per loaded epoch "
          "(epochs 2 on)\n")
    print("| model | " + " | ".join(SETTINGS) + " | policy vs best fixed |\n|"
          + "---|" * (len(SETTINGS) + 2))
    for model in MODELS:
        means = {s: mean_epoch(runs, model, s, slice(1, None)) for s in SETTINGS}
        best = min(v for s, v in means.items() if s != "policy")
        print(f"| {model} | " + " | ".join(f"{v:.2f}" for v in means.values())
              + f" | {means['policy'] / best:.2f}x |")
    return runs


WAIT = [("1 thread", "1", {}), ("2, spin 300000 (default)", "2", {"GOMP_SPINCOUNT": "300000"}),
        ("2, spin 30000", "2", {"GOMP_SPINCOUNT": "30000"}),
        ("2, spin 3000", "2", {"GOMP_SPINCOUNT": "3000"}),
        ("2, PASSIVE", "2", {"OMP_WAIT_POLICY": "PASSIVE"})]
STEP = """
import sys, time, torch
from genmnist.data import load_mnist
from genmnist.models import build_model
from genmnist.training import make_optimizer
torch.set_num_threads(int(sys.argv[2])); torch.manual_seed(0)
model = build_model(sys.argv[1]).train()
opt = make_optimizer(model.player_parameters("model"), model.optimizer_spec("model"), None)
train = load_mnist("train", None)
x = train.images[:128].float().div_(255)
y = train.labels[:128] if model.conditional else None
def step():
    opt.zero_grad(set_to_none=True); model(x, y)["loss"].backward(); opt.step()
for _ in range(5): step()
t, n = time.perf_counter(), 0
while time.perf_counter() - t < float(sys.argv[3]):
    step(); n += 1
print(n * 128 / (time.perf_counter() - t))
"""


def part_wait(seconds: float, rounds: int) -> list[dict]:
    """Images/s of one training step, per spin setting, quiet and beside two busy loops
    (the wait policy is read when libgomp loads: one process per setting)."""
    rows = []
    for _ in range(rounds):
        for load in (False, True):
            for model in MODELS:
                for label, threads, extra in WAIT:
                    loads = [busy(3600), busy(3600)] if load else []
                    try:
                        out = subprocess.run([sys.executable, "-c", STEP, model, threads,
                                              str(seconds)], env=clean_env(REPO / "src", extra),
                                             capture_output=True, text=True, check=True)
                    finally:
                        for p in loads:
                            p.kill()
                            p.wait()
                    rows.append({"model": model, "setting": label, "loaded": load,
                                 "rate": float(out.stdout.split()[-1])})
                    print(f"# {rows[-1]}", flush=True)
    print("\nimages/s of one training step (batch 128), best of rounds\n")
    print("| setting | " + " | ".join(f"{m} quiet | {m} 2 busy loops" for m in MODELS)
          + " |\n|" + "---|" * (1 + 2 * len(MODELS)))
    for label, _, _ in WAIT:
        cells = [max(r["rate"] for r in rows if r["model"] == m and r["setting"] == label
                     and r["loaded"] == load) for m in MODELS for load in (False, True)]
        print(f"| {label} | " + " | ".join(f"{c:.0f}" for c in cells) + " |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("wait", "quiet", "start", "midrun"), required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0, help="--part wait: seconds per rate")
    ap.add_argument("--before", type=Path, default=REPO.parent / "main" / "src")
    ap.add_argument("--json", type=Path, help="write the raw runs here")
    args = ap.parse_args()
    print(f"# {open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].splitlines()[0]}"
          f", {os.cpu_count()} cores; part {args.part}", flush=True)
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)
        if args.part == "quiet":
            runs = part_quiet(out, args.rounds, args.epochs)
        elif args.part == "start":
            runs = part_start(out, args.rounds, args.epochs, args.before)
        elif args.part == "midrun":
            runs = part_midrun(out, args.epochs)
        else:
            runs = part_wait(args.seconds, args.rounds)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
