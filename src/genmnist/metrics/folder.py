"""Read a folder of 28x28 grayscale PNGs (what `genmnist generate` and `data export` write)
into one uint8 tensor, checking every file.

Which files are images is `genmnist.images.is_image_file`: pytorch-fid's rule, so both tools
count the same images. The contract is strict because a score silently computed on the wrong
pixels is worse than an error: every image must decode, be 28x28 and be 8-bit grayscale (PIL
mode "L"); the first bad file is named in a one-line error. Asked to `convert`, other images
are converted instead (to L by luminance, resized to 28x28) and the caller is told.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from genmnist.errors import GenmnistError
from genmnist.images import is_image_file

SIZE = (28, 28)
Progress = Callable[[str, int, int], None]  # (what, done, total)


# PIL's mode names, in words: "is a I;16 image" says nothing to most people
MODE_WORDS = {"1": "1-bit black-and-white", "P": "palette (indexed color)",
              "RGB": "color (RGB)", "RGBA": "color with transparency (RGBA)",
              "LA": "grayscale with transparency (LA)", "CMYK": "CMYK color",
              "I;16": "16-bit grayscale", "I;16B": "16-bit grayscale", "I": "32-bit integer",
              "F": "32-bit float"}


class NotMnistImage(GenmnistError):
    """An image that decodes but is not 28x28 8-bit grayscale; `convert=True` would take it."""

    def __init__(self, path: Path, size: tuple[int, int], mode: str):
        self.path, self.size, self.mode = path, size, mode
        self.what = (f"is {size[0]}x{size[1]}" if size != SIZE
                     else f"is a {MODE_WORDS.get(mode, mode)} image (mode {mode}), not 8-bit "
                          "grayscale (mode L)")
        super().__init__(f"{path} {self.what}; only 28x28 8-bit grayscale images are read")


def list_images(folder: str | Path) -> tuple[list[Path], list[Path]]:
    """Sorted image files of `folder`, and its other visible files (to warn about)."""
    folder = Path(folder)
    if not folder.exists():
        raise GenmnistError(f"{folder} does not exist")
    if not folder.is_dir():
        raise GenmnistError(f"{folder} is not a folder of images (nor a .npz statistics file)")
    images, others = [], []
    for p in sorted(folder.iterdir()):
        if is_image_file(p):
            images.append(p)
        elif not p.name.startswith(".") and not p.is_dir():  # .DS_Store and co. go unsaid
            others.append(p)
    if not images:
        what = f" (it holds {len(others)} files that are not images)" if others else ""
        raise GenmnistError(f"{folder} holds no images{what}; expected 28x28 grayscale PNGs")
    return images, others


def _to_mnist(im: Image.Image) -> Image.Image:
    """Any image as 28x28 L: luminance (ITU-R 601, PIL's convert), then bicubic (antialiased
    when shrinking, as clean-fid resizes)."""
    if im.mode != "L":
        im = im.convert("L")
    if im.size != SIZE:
        im = im.resize(SIZE, Image.Resampling.BICUBIC)
    return im


def _decode(path: Path, convert: bool) -> tuple[np.ndarray, bool]:
    """(28, 28) uint8 pixels of `path`, and whether they had to be converted."""
    try:
        data = path.read_bytes()
    except OSError as e:  # a symlink loop, permissions, ...: not the image's fault
        raise GenmnistError(f"cannot read {path}: {e.strerror or e}") from e
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.size == SIZE and im.mode == "L":
                return np.asarray(im), False
            if not convert:
                raise NotMnistImage(path, im.size, im.mode)
            return np.asarray(_to_mnist(im)), True
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        if isinstance(e, GenmnistError):
            raise
        raise GenmnistError(f"{path} is not a readable image (corrupt or not an image "
                            "file)") from e


def _skipped(folder: Path, others: list[Path]) -> str:
    names = ", ".join(p.name for p in others[:3]) + (", ..." if len(others) > 3 else "")
    upper = sum(p.name.lower().endswith((".png", ".jpg", ".jpeg")) for p in others)
    why = (" (image suffixes count in lower case only, as in pytorch-fid: rename them to be "
           "scored)" if upper else "")
    return f"skipped {len(others)} non-image file(s) in {folder}: {names}{why}"


def read_folder(folder: str | Path, warn: Callable[[str], None] | None = None,
                convert: bool = False, progress: Progress | None = None) -> torch.Tensor:
    """All images of `folder` as uint8 (N, 1, 28, 28), in sorted file-name order.

    `warn(message)` is told about skipped files and converted images; `progress(what, done,
    total)` about decoding. Decoding is sequential: a 28x28 PNG costs ~0.1 ms, mostly
    Python-side overhead under the GIL, and a thread pool measured slower.
    """
    files, others = list_images(folder)
    if others and warn is not None:
        warn(_skipped(Path(folder), others))
    out = np.empty((len(files), *SIZE), dtype=np.uint8)
    converted = 0
    for i, path in enumerate(files):
        out[i], changed = _decode(path, convert)
        converted += changed
        if progress is not None and (i % 500 == 499 or i == len(files) - 1):
            progress(f"reading {folder}", i + 1, len(files))
    if converted and warn is not None:
        warn(f"converted {converted} of {len(files)} images in {folder} to 28x28 grayscale "
             "(RGB to L by luminance, resized bicubic): the scores are of the converted images")
    return torch.from_numpy(out).unsqueeze(1)
