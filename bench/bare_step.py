"""What genmnist's training loop costs over a bare step: `vae` epochs both ways, alternating.

    python bench/bare_step.py [--rounds 2] [--epochs 3] [--threads 2]

The bare side is the least a trainer can do per batch: index the in-memory uint8 images, scale
them, the model's loss, backward, fused Adam -- nothing read back, no progress, no thread
policy. genmnist's side is a real `genmnist train vae --threads N` process; its seconds per
epoch come from metrics.jsonl (training only). Prints every epoch's seconds and the medians.
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
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("GENMNIST_DATA", str(REPO.parent / "shared" / "data"))

import torch  # noqa: E402

from genmnist.data import load_mnist  # noqa: E402
from genmnist.models import build_model, make_config  # noqa: E402
from genmnist.runtime import flush_denormals  # noqa: E402


def bare_epochs(images: torch.Tensor, epochs: int, batch_size: int = 128) -> list[float]:
    model = build_model("vae", make_config("vae", {}))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    seconds = []
    for _ in range(epochs):
        perm = torch.randperm(len(images))
        t = time.perf_counter()
        for s in range(0, len(images) - batch_size + 1, batch_size):
            x = images[perm[s:s + batch_size]].float().div_(255)
            opt.zero_grad(set_to_none=True)
            model.loss(x)["loss"].backward()
            opt.step()
        seconds.append(time.perf_counter() - t)
    return seconds


def genmnist_epochs(epochs: int, threads: int, out: Path) -> list[float]:
    name = f"vae-{time.monotonic_ns()}"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    subprocess.run([sys.executable, "-m", "genmnist", "train", "vae", "--epochs", str(epochs),
                    "--threads", str(threads), "--sampler-components", "1", "--device", "cpu",
                    "--out", str(out), "--name", name], env=env, check=True,
                   capture_output=True)
    return [json.loads(line)["seconds"]
            for line in (out / name / "metrics.jsonl").read_text().splitlines()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    flush_denormals()  # as the CLI does, before torch starts its threads
    torch.set_num_threads(args.threads)
    images = load_mnist("train", None).images
    seconds: dict[str, list[float]] = {"bare step": [], "genmnist train": []}
    with tempfile.TemporaryDirectory() as d:
        for _ in range(args.rounds):
            seconds["bare step"] += bare_epochs(images, args.epochs)
            seconds["genmnist train"] += genmnist_epochs(args.epochs, args.threads, Path(d))
    print(f"\n| loop ({args.threads} threads) | median s/epoch | epochs |\n|---|---|---|")
    for name, s in seconds.items():
        print(f"| {name} | {statistics.median(s):.2f} | {' '.join(f'{x:.2f}' for x in s)} |")


if __name__ == "__main__":
    main()
