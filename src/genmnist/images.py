"""Image folders and grids: the PNG format that `generate` writes and `fid` reads.

A sample folder holds N 28x28 8-bit grayscale PNGs named 00000.png, 00001.png, ... -- the layout
that both `python -m pytorch_fid` and `genmnist fid` read. Which files of a folder are images is
decided here, once (`is_image_file`), for `fid` and for `generate --force`'s clean-up alike.
"""

from __future__ import annotations

import math
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genmnist.errors import GenmnistError
from genmnist.fileio import make_folder, write_atomically

# pytorch-fid's IMAGE_EXTENSIONS. It lists a folder with `Path.glob(f"*.{ext}")`: the match is
# case-sensitive (x.PNG is not an image to it) and `*` matches dot-files (.x.png is one).
IMAGE_SUFFIXES = (".bmp", ".jpg", ".jpeg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp")


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(N, 1, H, W) floats in [0, 1] -> (N, H, W) uint8, rounding to nearest."""
    x = x.detach().float().clamp(0, 1).mul(255).round_().to(torch.uint8)
    return x.squeeze(1).cpu().numpy()


def is_image_file(path: Path) -> bool:
    """The one rule for "this file is an image", everywhere in genmnist: pytorch-fid's, so that
    both tools score the same files. Lower-case suffixes only; hidden files count."""
    return path.name.endswith(IMAGE_SUFFIXES) and not path.is_dir()


def existing_images(folder: Path) -> list[Path]:
    """The images of `folder` (sorted; none if it is not a folder), by `is_image_file`."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if is_image_file(p))


def prepare_output_folder(folder: str | Path, force: bool) -> Path:
    """Make `folder` ready for new images without ever mixing old and new ones.

    A folder that holds images is refused unless `force`, which deletes those images (and only
    those); an existing *file* at that path is always refused.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise GenmnistError(f"output path {folder} is an existing file, not a folder")
    old = existing_images(folder)
    if old and not force:
        raise GenmnistError(
            f"{folder} already holds {len(old)} images; pass --force to replace them "
            "(mixing old and new samples would corrupt a score)")
    make_folder(folder, "output folder")
    try:
        for p in old:
            p.unlink()
    except OSError as e:
        raise GenmnistError(f"cannot write to {folder}: {e.strerror or e}") from e
    return folder


def _save_arrays(arr: np.ndarray, folder: Path, start: int, digits: int) -> int:
    """Save uint8 (N, H, W) as numbered PNGs. Only numpy and PIL here: this runs in forked
    writer processes, where touching torch (its OpenMP pool) after fork can deadlock."""
    for i, a in enumerate(arr):
        # compress_level=1: PNG stays lossless, and writing is ~3x faster than the default 6.
        Image.fromarray(a, mode="L").save(folder / f"{start + i:0{digits}d}.png",
                                          compress_level=1)
    return len(arr)


def write_pngs(images: torch.Tensor, folder: Path, start: int = 0, digits: int = 5) -> int:
    """Write a batch (N, 1, 28, 28) in [0, 1] as grayscale PNGs numbered from `start`."""
    try:
        return _save_arrays(to_uint8(images), folder, start, digits)
    except OSError as e:
        raise GenmnistError(f"cannot write images to {folder}: {e.strerror or e}") from e


class PngWriter:
    """Write numbered PNGs, optionally in `workers` forked processes so that encoding overlaps
    with sampling. The bytes written are the same for any number of workers."""

    def __init__(self, folder: Path, workers: int = 0, digits: int = 5):
        self.folder, self.digits, self.pending = folder, digits, []
        self.pool = None
        if workers > 1 and "fork" in mp.get_all_start_methods():
            self.pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"))

    def write(self, images: torch.Tensor, start: int) -> int:
        arr = to_uint8(images)  # the tensor work stays in this process
        if self.pool is None:
            return self._check(lambda: _save_arrays(arr, self.folder, start, self.digits))
        self.pending.append(self.pool.submit(_save_arrays, arr, self.folder, start, self.digits))
        return len(arr)

    def _check(self, fn):
        try:
            return fn()
        except OSError as e:
            raise GenmnistError(f"cannot write images to {self.folder}: {e.strerror or e}") from e

    def close(self) -> None:
        try:
            for f in self.pending:
                self._check(f.result)
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile (N, 1, H, W) images in [0, 1] into one uint8 array, `nrow` images per row."""
    n, _, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad), 255, dtype=np.uint8)
    for i, a in enumerate(to_uint8(images)):
        r, c = divmod(i, nrow)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h,
             pad + c * (w + pad): pad + c * (w + pad) + w] = a
    return grid


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None,
              scale: int = 2) -> Path:
    """Save a picture grid, upscaled `scale` times (nearest) so digits are visible at a glance."""
    path = Path(path)
    img = Image.fromarray(make_grid(images, nrow), mode="L")
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    make_folder(path.parent)
    # atomic: a full disk must not leave half of the picture that --force was replacing
    return write_atomically(path, lambda f: img.save(f, format="PNG"))
