"""Latent samplers on trained checkpoints: the prior against Gaussian mixtures of K components.

For each checkpoint, the same decoder, sample count and seed; only where the codes come from
differs. Mixtures are fitted by EM without labels (per digit for cond-vae) to the training set's
posterior means, as `genmnist fit-sampler` does; scored in memory in MNIST-classifier features
against the MNIST test set. This is the measurement behind `samplers.DEFAULT_COMPONENTS`:

    python bench/sampler_components.py runs/cvae runs/vae --ks 10,25,50,100,200 --n 10000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import torch

from genmnist.checkpoint import load_model
from genmnist.data import load_mnist
from genmnist.quality import score_model
from genmnist.samplers import fit_latent_sampler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", help="run folders or checkpoint.pt files")
    ap.add_argument("--ks", default="10,25,50,100,200", help="mixture sizes to try")
    ap.add_argument("--n", type=int, default=10000, help="samples scored per sampler")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--max-codes", type=int, default=20000, help="codes EM sees (0: all)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    train = load_mnist("train", args.data_dir)
    print(f"{'checkpoint':40s} {'sampler/codes':>16s} {'FID':>8s} {'coverage':>9s} {'fit s':>7s}")
    for path in args.checkpoints:
        model, ckpt = load_model(path)
        head = train.head(ckpt.get("train_config", {}).get("subset"))
        rows = [("prior", None)] if model.has_prior else []
        rows += [(f"gmm-{k}", int(k)) for k in args.ks.split(",")]
        for name, k in rows:
            t0 = time.perf_counter()
            sampler = k and fit_latent_sampler(model, head.float_images(), head.labels, k,
                                               args.seed, args.max_codes or None)
            secs = time.perf_counter() - t0
            r = score_model(model, args.n, args.seed, sampler or None, args.data_dir)
            label = name + f"/{args.max_codes}" * bool(k)
            print(f"{str(path)[-40:]:40s} {label:>16s} {r['fid']:8.2f} {r['digit_entropy']:9.3f} "
                  f"{secs:7.1f}", flush=True)


if __name__ == "__main__":
    main()
