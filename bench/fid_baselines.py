"""Baselines for `genmnist fid` in MNIST feature space: what real, noisy, blurred and
mode-dropped "samples" score against mnist-test. The table goes into docs/metrics.md.

    GENMNIST_DATA=../shared/data PYTHONPATH=src python bench/fid_baselines.py [--threads 2]

Each row scores 10000 images against the cached mnist-test statistics through
`genmnist.metrics.score`, the function `genmnist fid` calls; the first row also builds the cache.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from genmnist.data import load_mnist
from genmnist.metrics import score


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur (N, 1, 28, 28) images with a normalized Gaussian kernel of std `sigma` pixels."""
    r = int(3 * sigma + 0.5)
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)  # genmnist fid's default for mnist
    ap.add_argument("--n", type=int, default=10000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    train, test = load_mnist("train"), load_mnist("test")
    pick = torch.randperm(len(train), generator=g)[:args.n]
    real_train = train.float_images(pick)
    rows = [
        ("MNIST test (itself)", test.float_images()[:args.n]),
        ("MNIST train (random 10k)", real_train),
        ("MNIST train, digits 0-4 only", train.float_images(
            (train.labels < 5).nonzero().squeeze(1)[:args.n])),
        ("MNIST test, Gaussian blur s=1", gaussian_blur(test.float_images()[:args.n], 1.0)),
        ("MNIST test, Gaussian blur s=2", gaussian_blur(test.float_images()[:args.n], 2.0)),
        ("uniform noise", torch.rand(args.n, 1, 28, 28, generator=g)),
    ]
    head = (f"{'samples (10000) vs mnist-test':32} {'FID':>9} {'KIDx1000':>16} {'prec':>6} "
            f"{'recall':>6} {'IS':>6} {'cover':>6} {'sec':>5}")
    print(f"MNIST classifier features, 128-d; torch threads {args.threads}")
    print(head)
    print("-" * len(head))
    for name, x in rows:
        t0 = time.perf_counter()
        r = score(x, "mnist-test", features="mnist")
        kid = f"{1000 * r['kid']:.2f} ± {1000 * r['kid_std']:.2f}"
        print(f"{name:32} {r['fid']:9.3f} {kid:>16} {r['precision']:6.3f} {r['recall']:6.3f} "
              f"{r['inception_score']:6.2f} {r['digit_entropy']:6.3f} "
              f"{time.perf_counter() - t0:5.1f}", flush=True)


if __name__ == "__main__":
    main()
