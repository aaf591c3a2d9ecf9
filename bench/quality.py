"""The quality claims of docs/models-gan.md and docs/models-vqvae.md, measured.

1. Each GAN (dcgan, wgan, wgan-gp, vaegan) against the `vae` model after the same number of
   epochs on the same images: FID in MNIST-classifier features (`genmnist fid`, lower is better).
2. VQ-VAE sampled through its PixelCNN prior against the same decoder fed uniformly random codes.
3. Digit coverage of every sample folder: a GAN that collapses onto a few digits is a bug, so the
   share of the rarest predicted digit is printed and flagged below 2%.

Samples are written here (this worktree's models); scoring runs `genmnist fid FOLDER mnist-test
--metrics fid,coverage --json` in a subprocess, so it can use another checkout's scorer
(`--scoring-src /path/to/src`) before the branches are merged.

    PYTHONPATH=src python bench/quality.py --epochs 2 --subset 10000 --n 2000 --out /tmp/quality
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from genmnist.checkpoint import load_model
from genmnist.data import load_mnist
from genmnist.images import prepare_output_folder, write_pngs
from genmnist.models import make_config
from genmnist.recipes import recipe_for
from genmnist.sampling import generate_to_folder
from genmnist.training import RunSettings, TrainConfig, fit

MODELS = ["vae", "dcgan", "wgan", "wgan-gp", "vaegan", "vqvae"]


def train_and_sample(name: str, epochs: int, subset: int, n: int, out: Path, seed: int,
                     train, test) -> dict:
    tcfg = TrainConfig(model=name, epochs=epochs, batch_size=recipe_for(name).batch_size,
                       seed=seed, eval_size=1000)
    t0 = time.perf_counter()
    result = fit(tcfg, make_config(name), train, test, out / "runs" / name, torch.device("cpu"),
                 settings=RunSettings(subset=subset))
    seconds = time.perf_counter() - t0
    model, _ = load_model(result.checkpoint)
    folders = {name: prepare_output_folder(out / "samples" / name, force=True)}
    generate_to_folder(model, n, folders[name], seed=seed)
    if name == "vqvae":  # the baseline the prior must beat
        folders["vqvae-uniform"] = prepare_output_folder(out / "samples" / "vqvae-uniform", True)
        with torch.inference_mode():
            g = torch.Generator().manual_seed(seed)
            for s in range(0, n, 1000):
                write_pngs(model.sample_uniform_codes(min(1000, n - s), g),
                           folders["vqvae-uniform"], start=s)
    epoch_s = [r["seconds"] for r in result.history]
    return {"folders": folders, "train_seconds": round(seconds, 1),
            "seconds_per_epoch": round(sum(epoch_s) / len(epoch_s), 1)}


def score(folder: Path, scoring_src: str | None, threads: int) -> dict:
    env = dict(os.environ)
    if scoring_src:
        env["PYTHONPATH"] = scoring_src
    cmd = [sys.executable, "-m", "genmnist", "fid", str(folder), "mnist-test",
           "--metrics", "fid,coverage", "--json", "--threads", str(threads)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"scoring failed: {' '.join(cmd)}\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--subset", type=int, default=10000, help="training images")
    ap.add_argument("--n", type=int, default=2000, help="samples scored per model")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--scoring-src", default=None,
                    help="PYTHONPATH for the `genmnist fid` subprocess [default: this one]")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    train = load_mnist("train").head(args.subset)
    test = load_mnist("test")
    rows = {}
    for name in args.models.split(","):
        info = train_and_sample(name, args.epochs, args.subset, args.n, args.out, args.seed,
                                train, test)
        for label, folder in info["folders"].items():
            r = score(folder, args.scoring_src, args.threads)
            hist = r.get("digit_histogram", [])
            rows[label] = {"fid": r["fid"], "digit_entropy": r.get("digit_entropy"),
                           "rarest_digit_share": min(hist) if hist else None,
                           "digit_histogram": hist, "features": r.get("features"),
                           "seconds_per_epoch": info["seconds_per_epoch"]}
            print(f"{label:14s} FID {r['fid']:8.3f}  coverage {rows[label]['digit_entropy']}  "
                  f"rarest digit {rows[label]['rarest_digit_share']}", flush=True)
    (args.out / "results.json").write_text(json.dumps(
        {"args": {k: str(v) for k, v in vars(args).items()}, "results": rows}, indent=2) + "\n")

    print(f"\n| model | FID ({args.epochs} epochs, {args.subset} images, {args.n} samples) "
          "| digit coverage | rarest digit | s/epoch |\n| --- | --- | --- | --- | --- |")
    for label, r in rows.items():
        flag = " (collapse?)" if r["rarest_digit_share"] is not None and \
            r["rarest_digit_share"] < 0.02 else ""
        print(f"| {label} | {r['fid']:.2f} | {r['digit_entropy']:.3f} | "
              f"{100 * r['rarest_digit_share']:.1f}%{flag} | {r['seconds_per_epoch']} |")
    if "vae" in rows:
        for gan in ("dcgan", "wgan", "wgan-gp", "vaegan"):
            if gan in rows:
                a, b = rows[gan]["fid"], rows["vae"]["fid"]
                print(f"{gan} {'beats' if a < b else 'does NOT beat'} vae: FID {a:.2f} vs {b:.2f}")
    if "vqvae" in rows:
        a, b = rows["vqvae"]["fid"], rows["vqvae-uniform"]["fid"]
        print(f"vqvae PixelCNN prior {'beats' if a < b else 'does NOT beat'} uniform codes: "
              f"FID {a:.2f} vs {b:.2f}")


if __name__ == "__main__":
    main()
