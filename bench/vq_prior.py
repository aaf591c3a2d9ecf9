"""VQ-VAE: its PixelCNN prior against uniformly random codes, on one trained checkpoint.

The same decoder, the same number of samples and the same seed; only where the 7x7 code maps come
from differs. Scored in memory with genmnist's metrics (MNIST-classifier features, against the
MNIST test set):

    python bench/vq_prior.py bench-full/runs/vqvae --n 10000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import torch

from genmnist.checkpoint import load_model
from genmnist.metrics.score import score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="a vqvae run folder or checkpoint.pt")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    model, _ = load_model(args.checkpoint)
    if model.name != "vqvae":
        sys.exit(f"{args.checkpoint} holds a {model.name}, not a vqvae")
    rows = []
    with torch.inference_mode():
        for label, draw in (("PixelCNN prior (`generate`)", model.sample),
                            ("uniformly random codes", model.sample_uniform_codes)):
            g = torch.Generator().manual_seed(args.seed)
            x = torch.cat([draw(min(1000, args.n - i), generator=g)
                           for i in range(0, args.n, 1000)])
            s = score(x, "mnist-test", "mnist", metrics=("fid", "pr", "coverage"))
            rows.append(f"| {label} | {s['fid']:.1f} | {s['precision']:.3f} | {s['recall']:.3f} "
                        f"| {s['digit_entropy']:.3f} |")
    print(f"{args.n} samples from {args.checkpoint}, MNIST-classifier features vs mnist-test\n")
    print("| sampling | FID | precision | recall | digit coverage |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
