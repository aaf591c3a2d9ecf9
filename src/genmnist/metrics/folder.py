"""Read a folder of 28x28 grayscale PNGs (what `genmnist generate` and `data export` write)
into one uint8 tensor, checking every file.

The contract is strict because a score silently computed on the wrong pixels is worse than an
error: every image must decode, be 28x28 and be 8-bit grayscale (PIL mode "L"). The first bad
file is named in a one-line `GenmnistError`. Files whose suffix is not an image's are skipped
with a warning, as `python -m pytorch_fid` skips them, so both tools count the same images.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from genmnist.errors import GenmnistError

# pytorch-fid's IMAGE_EXTENSIONS, so that both tools read the same files
IMAGE_SUFFIXES = {".bmp", ".jpg", ".jpeg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp"}
SIZE = (28, 28)


def list_images(folder: str | Path) -> tuple[list[Path], list[Path]]:
    """Sorted image files of `folder`, and the other (non-hidden) files it holds."""
    folder = Path(folder)
    if not folder.exists():
        raise GenmnistError(f"{folder} does not exist")
    if not folder.is_dir():
        raise GenmnistError(f"{folder} is not a folder of images (nor a .npz statistics file)")
    images, others = [], []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or p.is_dir():
            continue
        (images if p.suffix.lower() in IMAGE_SUFFIXES else others).append(p)
    if not images:
        what = f" (it holds {len(others)} files that are not images)" if others else ""
        raise GenmnistError(f"{folder} holds no images{what}; expected 28x28 grayscale PNGs")
    return images, others


def _decode(path: Path) -> np.ndarray:
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            if im.size != SIZE:
                raise GenmnistError(f"{path} is {im.size[0]}x{im.size[1]}; genmnist fid reads "
                                    "28x28 images only (MNIST's size)")
            if im.mode != "L":
                raise GenmnistError(f"{path} is a {im.mode} image; genmnist fid reads 8-bit "
                                    "grayscale (mode L) images, as `genmnist generate` writes")
            return np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        if isinstance(e, GenmnistError):
            raise
        raise GenmnistError(f"{path} is not a readable image (corrupt or not an image "
                            "file)") from e


def read_folder(folder: str | Path, warn=None) -> torch.Tensor:
    """All images of `folder` as uint8 (N, 1, 28, 28), in sorted file-name order.

    `warn(message)` is told about skipped non-image files. Decoding is sequential: a 28x28 PNG
    costs ~0.1 ms, mostly Python-side overhead under the GIL, and a thread pool measured slower.
    """
    files, others = list_images(folder)
    if others and warn is not None:
        names = ", ".join(p.name for p in others[:3]) + (", ..." if len(others) > 3 else "")
        warn(f"skipped {len(others)} non-image file(s) in {folder}: {names}")
    out = np.empty((len(files), *SIZE), dtype=np.uint8)
    for i, path in enumerate(files):
        out[i] = _decode(path)
    return torch.from_numpy(out).unsqueeze(1)
