"""genmnist's `vae` against pythae's trainer on the same 784-400-20 VAE, seconds per epoch,
alternating in one run (issue 17's peer target: at least 2x).

    python bench/pythae_speed.py --pythae-python /path/to/venv-with-pythae/bin/python

pythae is not a genmnist dependency: give the Python of a separate environment where
`pip install pythae` worked (its torch may be the same). Both sides train on all 60000 MNIST
training images at batch 128 with Adam at 1e-3 and a Bernoulli (BCE) decoder. pythae's side is
`BaseTrainer.train_step` timed per epoch (its DataLoader over a `BaseDataset`, 2 threads, no
evaluation set); genmnist's is `genmnist train vae` (metrics.jsonl's per-epoch seconds) with
nothing set (the thread policy) and with --threads 2.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from threads import SETTINGS, clean_env, train  # noqa: E402  (bench/threads.py)

REPO = Path(__file__).resolve().parents[1]
PYTHAE = r'''
import sys, time, json, tempfile
import numpy as np, torch
from torch import nn
from pythae.data.datasets import BaseDataset
from pythae.models import VAE, VAEConfig
from pythae.models.base.base_utils import ModelOutput
from pythae.models.nn import BaseDecoder, BaseEncoder
from pythae.trainers import BaseTrainer, BaseTrainerConfig
sys.path.insert(0, sys.argv[2])
from genmnist.data import load_mnist

class Encoder(BaseEncoder):
    def __init__(self):
        super().__init__()
        self.fc, self.mu, self.logvar = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
    def forward(self, x):
        h = torch.relu(self.fc(x.reshape(len(x), 784)))
        return ModelOutput(embedding=self.mu(h), log_covariance=self.logvar(h))

class Decoder(BaseDecoder):
    def __init__(self):
        super().__init__()
        self.fc, self.out = nn.Linear(20, 400), nn.Linear(400, 784)
    def forward(self, z):
        return ModelOutput(reconstruction=torch.sigmoid(self.out(torch.relu(self.fc(z))))
                           .reshape(len(z), 1, 28, 28))

torch.set_num_threads(2)
torch.manual_seed(0)
train = load_mnist("train", None)
x = train.images.float().div_(255).reshape(-1, 1, 28, 28)
config = VAEConfig(input_dim=(1, 28, 28), latent_dim=20, reconstruction_loss="bce")
model = VAE(config, encoder=Encoder(), decoder=Decoder())
with tempfile.TemporaryDirectory() as d:
    tcfg = BaseTrainerConfig(output_dir=d, num_epochs=int(sys.argv[1]), learning_rate=1e-3,
                             per_device_train_batch_size=128, optimizer_cls="Adam",
                             no_cuda=True)
    trainer = BaseTrainer(model, train_dataset=BaseDataset(x, train.labels),
                          training_config=tcfg)
    trainer.prepare_training()
    seconds = []
    for epoch in range(1, int(sys.argv[1]) + 1):
        t = time.perf_counter()
        trainer.train_step(epoch)
        seconds.append(time.perf_counter() - t)
print(json.dumps(seconds))
'''


def pythae_epochs(python: str, epochs: int) -> list[float]:
    out = subprocess.run([python, "-c", PYTHAE, str(epochs), str(REPO / "src")],
                         env=clean_env(REPO / "src", {}), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pythae-python", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    assert "policy" in SETTINGS
    seconds: dict[str, list[float]] = {"pythae (2 threads)": [], "genmnist, policy": [],
                                       "genmnist, --threads 2": []}
    with tempfile.TemporaryDirectory() as d:
        for _ in range(args.rounds):
            seconds["pythae (2 threads)"] += pythae_epochs(args.pythae_python, args.epochs)
            seconds["genmnist, policy"] += train("vae", "policy", args.epochs, Path(d))["seconds"]
            seconds["genmnist, --threads 2"] += train("vae", "2-spin", args.epochs,
                                                      Path(d))["seconds"]
            print(f"# {seconds}", flush=True)
    peer = statistics.median(seconds["pythae (2 threads)"])
    print("\n| trainer | median s/epoch | epochs | pythae / this |\n|---|---|---|---|")
    for name, s in seconds.items():
        print(f"| {name} | {statistics.median(s):.2f} | {' '.join(f'{x:.2f}' for x in s)} | "
              f"{peer / statistics.median(s):.2f}x |")


if __name__ == "__main__":
    main()
