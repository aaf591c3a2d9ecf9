"""The MNIST digit classifier whose features `genmnist fid --features mnist` compares.

A small LeNet-style CNN (LeCun et al. 1998, "Gradient-based learning applied to document
recognition") with batch norm: three 3x3 conv blocks and a 128-unit hidden layer. Its 128-d
penultimate activations play the role that Inception's 2048-d pool features play in FID (Heusel
et al. 2017), and its softmax gives the Inception-style score and the digit histogram.

The trained weights ship inside the package (`genmnist/assets/mnist_classifier.pt`, ~0.4 MB);
`genmnist data train-classifier` rebuilds that file from MNIST with a fixed seed.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from genmnist.errors import ClassifierMissing, GenmnistError, NotAClassifier
from genmnist.training.config import Reporter
from genmnist.training.loop import Epoch, Loop, Objective, batch_starts, run_epoch
from genmnist.training.meter import LossMeter

ASSET = Path(__file__).resolve().parent.parent / "assets" / "mnist_classifier.pt"
FORMAT = "genmnist-mnist-classifier"
MEAN, STD = 0.1307, 0.3081  # MNIST pixel statistics, as in pytorch/examples


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2))


class MnistClassifier(nn.Module):
    """(N, 1, 28, 28) pixels in [0, 1] -> 10 logits; `features` gives the 128-d hidden layer."""

    feature_dim = 128

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(_block(1, 16), _block(16, 32), _block(32, 64))  # -> (N, 64, 3, 3)
        self.hidden = nn.Linear(64 * 3 * 3, self.feature_dim)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(self.feature_dim, 10)
        # per-unit mean and std of the hidden layer on MNIST train, set after training
        self.register_buffer("feature_mean", torch.zeros(self.feature_dim))
        self.register_buffer("feature_std", torch.ones(self.feature_dim))

    def hidden_units(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden layer before its ReLU: (N, 128)."""
        return self.hidden(self.body((x - MEAN) / STD).flatten(1))  # (N, 576) -> (N, 128)

    def standardize(self, hidden: torch.Tensor) -> torch.Tensor:
        """Features in units of MNIST train's spread, so FID and KID have a fixed scale.

        Taken before the ReLU: ~20 of the 128 units never fire on MNIST, which would make
        every covariance singular. Standardized, a feature vector has x.x / d ~ 1, the range
        KID's cubic kernel (x.y / d + 1)^3 is meant for; raw units of size ~10 made KID's
        variance explode.
        """
        return (hidden - self.feature_mean) / self.feature_std

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.standardize(self.hidden_units(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(F.relu(self.hidden_units(x))))


def for_inference(model: MnistClassifier) -> MnistClassifier:
    """An eval-only copy ~2x faster on CPU: batch norm folded into the convs, max-pool before
    ReLU (they commute) and channels-last memory. Features change by ~1e-6 relative only."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model = copy.deepcopy(model).eval()
    model.body = nn.Sequential(*[nn.Sequential(fuse_conv_bn_eval(conv, bn), pool, relu)
                                 for conv, bn, relu, pool in model.body])
    return model.to(memory_format=torch.channels_last)


def file_digest(path: Path) -> str:
    """A short content hash: names the classifier in cache keys and in every output."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:8]


def load_classifier(path: str | Path | None = None,
                    device: torch.device | str = "cpu") -> tuple[MnistClassifier, dict]:
    """Load the shipped classifier (or `path`) in eval mode; also return its metadata."""
    path = Path(path) if path is not None else ASSET
    if not path.is_file():
        raise ClassifierMissing(path, packaged=path == ASSET)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        assert payload.get("format") == FORMAT
        model = MnistClassifier()
        model.load_state_dict(payload["state_dict"])
    except Exception as e:
        raise NotAClassifier(path) from e
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    meta["digest"] = file_digest(path)
    meta["path"] = str(path)
    return model.to(device).eval(), meta


@torch.inference_mode()
def classify(model: MnistClassifier, images: torch.Tensor, batch_size: int = 500,
             want_probs: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Features (N, 128) float32 and softmax probabilities (N, 10) of uint8 or [0,1] images."""
    device = next(model.parameters()).device
    feats, probs = [], []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(device)
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        h = model.hidden_units(x.contiguous(memory_format=torch.channels_last))
        feats.append(model.standardize(h).cpu())
        if want_probs:
            probs.append(F.softmax(model.head(F.relu(h)), dim=1).cpu())
    return torch.cat(feats), (torch.cat(probs) if want_probs else None)


def _shift(x: torch.Tensor, g: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Random translations by up to `pad` pixels (one offset per batch keeps it cheap)."""
    dx, dy = torch.randint(-pad, pad + 1, (2,), generator=g).tolist()
    return torch.roll(F.pad(x, (pad,) * 4), (dy, dx), dims=(2, 3))[..., pad:-pad, pad:-pad]


def accuracy(model: MnistClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    _, probs = classify(model, images)
    return (probs.argmax(1) == labels).float().mean().item()


def train_classifier(train_images: torch.Tensor, train_labels: torch.Tensor,
                     test_images: torch.Tensor, test_labels: torch.Tensor, epochs: int = 4,
                     seed: int = 0, batch_size: int = 128, lr: float = 3e-3,
                     on_epoch: Callable[[dict], None] | None = None,
                     ) -> tuple[MnistClassifier, dict]:
    """Train from a fixed seed (Adam with a one-cycle schedule, small random shifts) with the
    training loop every genmnist model trains with (`genmnist.training.loop`).

    On CPU with a fixed thread count the result is bit-for-bit reproducible.
    """
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)  # shuffles, then shifts each batch
    model = MnistClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(train_images) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    trainee = Objective(model, lambda x, y: {"loss": F.cross_entropy(model(_shift(x, g)), y)},
                        after_step=sched.step)
    loop = Loop(trainee, trainee, {"model": opt}, train_images, train_labels,
                batch_starts(len(train_images), batch_size, drop_last=False), batch_size)
    history, step = [], 0
    for number in range(1, epochs + 1):
        model.train()
        epoch = Epoch(number, torch.randperm(len(train_images), generator=g))
        meter = LossMeter(loop.dist, weighted=True)  # the mean over images, not batches
        step, _ = run_epoch(loop, epoch, step, meter, Reporter())
        model.eval()
        record = {"epoch": number, "loss": meter.means()[0]["loss"],
                  "test_accuracy": accuracy(model, test_images, test_labels),
                  "seconds": epoch.seconds}
        history.append(record)
        if on_epoch:
            on_epoch(record)
    set_feature_scale(model, train_images)
    return model, {"epochs": epochs, "seed": seed, "history": history,
                   "test_accuracy": history[-1]["test_accuracy"]}


@torch.inference_mode()
def set_feature_scale(model: MnistClassifier, images: torch.Tensor) -> None:
    """Store the hidden layer's per-unit mean and std over `images` (MNIST train)."""
    model.eval()
    h = torch.cat([model.hidden_units(images[i:i + 1000].float() / 255.0)
                   for i in range(0, len(images), 1000)]).double()
    model.feature_mean.copy_(h.mean(0))
    model.feature_std.copy_(h.std(0).clamp_min(1e-6))


def save_classifier(model: MnistClassifier, info: dict, path: str | Path) -> Path:
    path = Path(path)
    payload = {"format": FORMAT, "version": 1, "state_dict": model.state_dict(),
               "test_accuracy": float(info["test_accuracy"]), "seed": int(info["seed"]),
               "epochs": int(info["epochs"]), "torch": str(torch.__version__)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(payload, path)
    except OSError as e:
        raise GenmnistError(f"cannot write {path}: {e.strerror or e}") from e
    return path
