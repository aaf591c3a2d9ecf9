"""MNIST (LeCun et al. 1998) as tensors held in memory.

The whole split is decoded once into a uint8 tensor (the train split is 47 MB) and batched by
indexing, so no per-image PIL transform runs in the training loop. Binarised MNIST, where the
likelihood literature reports its numbers, is drawn from the grey levels (`binarize`). Where the
files live: `--data-dir`, else `$GENMNIST_DATA`, else a per-user cache folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from genmnist.errors import GenmnistError, OptionError

ENV_VAR = "GENMNIST_DATA"
# The seed of the binarised test set that likelihoods are reported on, unless asked otherwise.
TEST_BINARIZE_SEED = 0
RAW_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def default_data_dir() -> Path:
    """The per-user cache folder used when neither --data-dir nor $GENMNIST_DATA is set."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "genmnist" / "data"


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return default_data_dir()


def _files_present(root: Path) -> bool:
    raw = root / "MNIST" / "raw"
    return all((raw / f).is_file() for pair in RAW_FILES.values() for f in pair)


def _missing(root: Path) -> OptionError:
    names = ", ".join(f for pair in RAW_FILES.values() for f in pair)
    return OptionError("MNIST not found and could not be downloaded: put the four files {names} "
                       "(uncompressed) in {raw}, or pass {data_dir} / set ${env}", ("data_dir",),
                       names=names, raw=root / "MNIST" / "raw", env=ENV_VAR)


@dataclass
class Split:
    """One MNIST split: images as uint8 (N, 1, 28, 28) and labels as int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def float_images(self, idx: torch.Tensor | slice | None = None) -> torch.Tensor:
        """Pixels scaled to [0, 1] as float32, optionally only rows `idx`."""
        x = self.images if idx is None else self.images[idx]
        return x.float().div_(255.0)

    def head(self, n: int | None) -> Split:
        if n is None or n >= len(self):
            return self
        return Split(self.images[:n], self.labels[:n])

    def binarized(self, seed: int = TEST_BINARIZE_SEED) -> Split:
        """A fixed stochastic binarisation: each pixel 1 with probability its grey level,
        drawn from `seed` (the same seed gives the same bits on every machine)."""
        return Split(binarize(self.images, torch.Generator().manual_seed(seed)), self.labels)


def binarize(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Stochastic binarisation of uint8 images (Salakhutdinov & Murray 2008; the IWAE paper's
    dynamic binarisation draws it afresh for every batch): 0 or 255, 255 with probability
    grey/255. Drawn on the CPU, so the bits do not depend on the device."""
    p = images.cpu().float().div_(255)
    return torch.bernoulli(p, generator=generator).mul_(255).to(torch.uint8).to(images.device)


def load_mnist(split: str = "train", data_dir: str | Path | None = None,
               download: bool = True) -> Split:
    """Load an MNIST split into memory, downloading it once if the files are missing."""
    if split not in RAW_FILES:
        raise GenmnistError(f"unknown MNIST split {split!r}: use 'train' or 'test'")
    root = resolve_data_dir(data_dir)
    from torchvision.datasets import MNIST  # imported late: torchvision is slow to import

    if not _files_present(root):
        if not download:
            raise _missing(root)
        try:
            root.mkdir(parents=True, exist_ok=True)
            MNIST(root=str(root), train=True, download=True)
            MNIST(root=str(root), train=False, download=True)
        except Exception as e:  # offline, DNS failure, read-only folder, ...
            raise _missing(root) from e
    try:
        ds = MNIST(root=str(root), train=(split == "train"), download=False)
        ok = ds.data.dim() == 3 and ds.data.shape[1:] == (28, 28) and len(ds.data) == len(
            ds.targets) > 0
    except Exception as e:  # truncated, empty or foreign files: torchvision's errors vary
        ok, cause = False, e
    else:
        cause = None
    if not ok:
        raise GenmnistError(f"could not read MNIST's {split} split in {root / 'MNIST' / 'raw'}: "
                            "the files are truncated or corrupt; replace them with the original "
                            "four files") from cause
    return Split(ds.data.unsqueeze(1).contiguous(), ds.targets.long())
