"""GAN widths on this CPU: quality against training time for the nets' widths.

DCGAN's paper uses 64 base channels; genmnist's default nets are narrower so that an epoch takes
well under a minute on a 2-core CPU. Whether the cut costs quality depends on the budget: this
trains each width for the epochs given, scores 2000 samples (MNIST-feature FID) after every
epoch, and prints FID against cumulative training seconds, so widths can be compared at equal
time:

    python bench/gan_width.py --model dcgan --widths 16x32:12,64x64:3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import torch

from genmnist.data import load_mnist
from genmnist.models import make_config
from genmnist.recipes import recipe_for
from genmnist.training import RunSettings, TrainConfig, fit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="dcgan")
    ap.add_argument("--widths", default="16x32:12,64x64:3",
                    help="DISCxGEN:EPOCHS, comma-separated (critic/discriminator and generator "
                         "channels)")
    ap.add_argument("--n", type=int, default=2000, help="samples scored after each epoch")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    torch.set_num_threads(2)
    train, test = load_mnist("train", args.data_dir), load_mnist("test", args.data_dir)
    recipe = recipe_for(args.model)
    print(f"{'widths':>8s} {'epoch':>5s} {'train s':>8s} {'FID':>8s} {'coverage':>8s}")
    for spec in args.widths.split(","):
        widths, epochs = spec.split(":")
        d, g = (int(v) for v in widths.split("x"))
        cfg = make_config(args.model, {**recipe.model, "channels": d, "gen_channels": g})
        tcfg = TrainConfig(model=args.model, epochs=int(epochs), batch_size=recipe.batch_size,
                           lr=recipe.lr, quality_every=1, quality_n=args.n)
        with tempfile.TemporaryDirectory() as tmp:
            result = fit(tcfg, cfg, train, test, Path(tmp) / "run", torch.device("cpu"),
                         settings=RunSettings(data_dir=args.data_dir, threads=2))
        seconds = 0.0
        for h in result.history:
            seconds += h["seconds"]
            q = h["quality"]["prior"]
            print(f"{widths:>8s} {h['epoch']:5d} {seconds:8.1f} {q['fid']:8.2f} "
                  f"{q['digit_entropy']:8.3f}", flush=True)


if __name__ == "__main__":
    main()
