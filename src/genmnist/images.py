"""Image folders and grids: the PNG format that `generate` writes and `fid` reads.

A sample folder holds N 28x28 8-bit grayscale PNGs named 00000.png, 00001.png, ... -- the layout
that both `python -m pytorch_fid` and `genmnist fid` read. Which files of a folder are images is
decided here, once (`is_image_file`), for `fid` and for `generate --force`'s clean-up alike.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import math
import multiprocessing as mp
import os
import signal
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genmnist.errors import GenmnistError, OptionError
from genmnist.fileio import make_folder, write_atomically, write_text_atomically
from genmnist.lock import FolderLock

# pytorch-fid's IMAGE_EXTENSIONS. It lists a folder with `Path.glob(f"*.{ext}")`: the match is
# case-sensitive (x.PNG is not an image to it) and `*` matches dot-files (.x.png is one).
IMAGE_SUFFIXES = (".bmp", ".jpg", ".jpeg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp")
# Present while a writer fills the folder: an interrupted, killed or failed `generate` leaves it,
# and `genmnist fid` refuses a folder that has it. No image suffix, so no reader counts it (nor
# the writers' temporaries, .NNNNN.png.tmp, nor the lock, .genmnist.lock).
INCOMPLETE_NAME = ".genmnist-incomplete"


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
    """Make `folder` ready for new images without ever mixing old and new ones (no lock, no
    mark: for scripts; `output_folder` is what the commands use).

    A folder that holds images is refused unless `force`, which deletes those images (and only
    those); an existing *file* at that path is always refused.
    """
    folder = _checked_folder(folder)
    old = existing_images(folder)
    if old and not force:
        raise _holds_images(folder, len(old))
    make_folder(folder, "output folder")
    _remove(old, folder)
    return folder


def _checked_folder(folder: str | Path) -> Path:
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise GenmnistError(f"output path {folder} is an existing file, not a folder")
    return folder


def _remove(files: list[Path], folder: Path) -> None:
    try:
        for p in files:
            p.unlink(missing_ok=True)
    except OSError as e:
        raise GenmnistError(f"cannot write to {folder}: {e.strerror or e}") from e


def unfinished(folder: str | Path) -> dict | None:
    """What an interrupted or failed writer left in its mark (n, written_by), or None when
    `folder` is not marked: its images are complete."""
    mark = Path(folder) / INCOMPLETE_NAME
    if not mark.is_file():
        return None
    try:
        plan = json.loads(mark.read_text())
    except (OSError, ValueError):
        plan = None
    return plan if isinstance(plan, dict) else {}


def _holds_images(folder: Path, count: int) -> OptionError:
    return OptionError("{folder} already holds {count} images; pass {force} to replace them "
                       "(mixing old and new samples would corrupt a score)", ("force",),
                       folder=folder, count=count)


def describe_unfinished(folder: str | Path, plan: dict) -> str:
    """'S holds 3000 of the 10000 images an interrupted `genmnist generate` meant to write'."""
    have = len(existing_images(Path(folder)))
    of = f" of the {plan['n']}" if isinstance(plan.get("n"), int) else ""
    by = plan.get("written_by", "genmnist")
    return f"{folder} holds {have}{of} images an interrupted or failed `{by}` meant to write"


@contextmanager
def output_folder(folder: str | Path, force: bool, plan: dict) -> Iterator[Path]:
    """`with output_folder(out, force, {"n": n, "written_by": "genmnist generate"}) as f:`.

    In this order, so that nothing is destroyed before every check has passed: refuse a file in
    the way or a folder another process holds (a lock, released when this process ends however
    it ends); refuse old images unless `force`; mark the folder unfinished (which is also the
    proof that it is writable); only then delete the old images. The mark is removed when the
    block ends without an exception: a folder interrupted or killed at any moment stays marked,
    and `genmnist fid` refuses it.
    """
    folder = _checked_folder(folder)
    created = not folder.exists()
    make_folder(folder, "output folder")
    written = False
    try:
        with FolderLock(folder, "output folder"):
            old = existing_images(folder)
            left = unfinished(folder)
            if old and not force:
                if left is not None:
                    raise OptionError("{what}; pass {force} to redo it", ("force",),
                                      what=describe_unfinished(folder, left))
                raise _holds_images(folder, len(old))
            _mark(folder, plan)
            written = True  # from here on the folder is ours to leave marked
            _remove(old + sorted(folder.glob(".*.png.tmp")), folder)
            yield folder
            (folder / INCOMPLETE_NAME).unlink(missing_ok=True)
    finally:
        if created and not written:  # refused before anything was written: leave no trace
            with contextlib.suppress(OSError):
                folder.rmdir()


def _mark(folder: Path, plan: dict) -> None:
    try:
        write_text_atomically(folder / INCOMPLETE_NAME, json.dumps(plan) + "\n")
    except GenmnistError as e:  # a full disk: nothing was deleted yet
        raise GenmnistError(f"cannot write images to {folder}: {str(e).rsplit(': ', 1)[-1]}") \
            from e


def _save_one(a: np.ndarray, path: Path) -> None:
    """One PNG, encoded in memory and renamed into place: a reader, a kill or a full disk never
    leaves a partial file under the final name (the temporary is hidden from image readers)."""
    buf = io.BytesIO()
    # compress_level=1: PNG stays lossless, and writing is ~3x faster than the default 6.
    Image.fromarray(a, mode="L").save(buf, format="PNG", compress_level=1)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(buf.getbuffer())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _save_arrays(arr: np.ndarray, folder: Path, start: int, digits: int) -> int:
    """Save uint8 (N, H, W) as numbered PNGs. Only numpy and PIL here: this runs in forked
    writer processes, where touching torch (its OpenMP pool) after fork can deadlock."""
    for i, a in enumerate(arr):
        _save_one(a, folder / f"{start + i:0{digits}d}.png")
    return len(arr)


def write_pngs(images: torch.Tensor, folder: Path, start: int = 0, digits: int = 5) -> int:
    """Write a batch (N, 1, 28, 28) in [0, 1] as grayscale PNGs numbered from `start`."""
    try:
        return _save_arrays(to_uint8(images), folder, start, digits)
    except OSError as e:
        raise GenmnistError(f"cannot write images to {folder}: {e.strerror or e}") from e


def _writer_init(parent: int) -> None:
    """In each forked writer: the parent alone decides on Ctrl-C and SIGTERM (it finishes or
    cancels the batches in flight), and a writer dies with its parent, even by SIGKILL, instead
    of living on as an orphan (Linux's PR_SET_PDEATHSIG)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class PngWriter:
    """Write numbered PNGs, optionally in `workers` forked processes so that encoding overlaps
    with sampling. The bytes written are the same for any number of workers.

    Memory stays bounded by the work in flight: at most two batches per writer wait to be
    encoded; `write` blocks on the oldest beyond that, however many images the job asks for."""

    def __init__(self, folder: Path, workers: int = 0, digits: int = 5):
        self.folder, self.digits, self.pending = folder, digits, deque()
        self.pool, self.limit = None, 2 * max(workers, 1)
        if workers > 1 and "fork" in mp.get_all_start_methods():
            self.pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"),
                                            initializer=_writer_init, initargs=(os.getpid(),))

    def write(self, images: torch.Tensor, start: int) -> int:
        arr = to_uint8(images)  # the tensor work stays in this process
        if self.pool is None:
            return self._check(lambda: _save_arrays(arr, self.folder, start, self.digits))
        while len(self.pending) >= self.limit:
            self._check(self.pending.popleft().result)
        self.pending.append(self.pool.submit(_save_arrays, arr, self.folder, start, self.digits))
        return len(arr)

    def _check(self, fn):
        try:
            return fn()
        except OSError as e:
            raise GenmnistError(f"cannot write images to {self.folder}: {e.strerror or e}") from e

    def close(self) -> None:
        """Wait for every batch handed over; a failed write raises its GenmnistError."""
        try:
            while self.pending:
                self._check(self.pending.popleft().result)
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)

    def abort(self) -> None:
        """Stop now (a second Ctrl-C, a failed write): drop queued batches, end the writers,
        and remove the temporaries a writer stopped mid-file left."""
        if self.pool is not None:
            processes = list((getattr(self.pool, "_processes", None) or {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            for p in processes:
                p.kill()
            for p in processes:
                p.join(5)
        self.pending.clear()
        for tmp in self.folder.glob(".*.png.tmp"):
            tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self.close()
            except BaseException:  # a failed write, or a second Ctrl-C while waiting
                self.abort()
                raise
        else:  # a failed write, or a Ctrl-C that wants out now (the first one only stops
            self.abort()  # the loop, which then leaves this block normally)


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
