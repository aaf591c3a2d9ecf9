"""Seconds per 60000-image epoch of each model on this machine's CPU, through the real trainer.

Trains one epoch on the first N training images (default 3200) with `genmnist.training.fit` and
scales its images/second to a full MNIST epoch. Evaluation and sampling are not counted.

    PYTHONPATH=src python bench/epoch_seconds.py --threads 1 --models dcgan,wgan,vqvae
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from genmnist.data import load_mnist
from genmnist.models import MODELS, make_config
from genmnist.recipes import recipe_for
from genmnist.training import TrainConfig, fit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--images", type=int, default=3200)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    train, test = load_mnist("train").head(args.images), load_mnist("test")
    for name in args.models.split(","):
        tcfg = TrainConfig(model=name, epochs=1, batch_size=recipe_for(name).batch_size,
                           eval_size=200)
        with tempfile.TemporaryDirectory() as tmp:
            rec = fit(tcfg, make_config(name), train, test, Path(tmp) / "run",
                      torch.device("cpu")).history[-1]
        ips = rec["images_per_sec"]
        print(f"{name:10s} {args.threads} thread(s): {ips:7.0f} img/s = "
              f"{60000 / ips:6.1f} s per 60000-image epoch", flush=True)


if __name__ == "__main__":
    main()
