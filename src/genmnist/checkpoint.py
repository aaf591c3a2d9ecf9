"""Checkpoints: everything needed to rebuild a model, and nothing that can run code.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, saved with
`torch.save` and always loaded with `torch.load(weights_only=True)`, which refuses pickled code.
It holds the weights, the model name and flat config, the training config, optimizer states, the
epoch, RNG states and the package version, so every command rebuilds the model from it alone
(the nanoGPT habit: `Model(Config(**ckpt["model_config"]))`).
"""

from __future__ import annotations

import os
import pickle
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from genmnist import __version__
from genmnist.errors import GenmnistError

FORMAT = "genmnist-checkpoint"
FORMAT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_atomically(path: Path, write) -> Path:
    """Call `write(file)` on a temporary file in `path`'s folder, fsync, then rename it over
    `path`: a process killed at any moment leaves the old or the new file, never half of one.
    A failed write (disk full, read-only folder) is one GenmnistError; the old file is kept."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide the run from its group
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        kept = " (the previous one is kept)" if path.exists() else ""
        raise GenmnistError(f"cannot write {path}: {e.strerror or e}{kept}") from e
    except BaseException:  # Ctrl-C twice, ...: never leave a half-written temporary behind
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_checkpoint(payload: dict[str, Any], path: str | Path) -> Path:
    """Write a checkpoint atomically (see `_write_atomically`)."""
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION,
               "genmnist_version": __version__, **payload}
    return _write_atomically(Path(path), lambda f: torch.save(payload, f))


def write_text_atomically(path: str | Path, text: str) -> Path:
    """Replace a small text file (config.json, metrics.jsonl) without ever leaving half of it."""
    return _write_atomically(Path(path), lambda f: f.write(text.encode()))


def remove_stale_temporaries(folder: str | Path) -> None:
    """Delete temporaries a killed writer left in `folder` (only ours: `.NAME-*.tmp`)."""
    for p in Path(folder).glob(".*-*.tmp"):
        p.unlink(missing_ok=True)


def resolve_checkpoint_path(path: str | Path) -> Path:
    """Accept a checkpoint file or a run folder holding one."""
    p = Path(path)
    if p.is_dir():
        p = p / CHECKPOINT_NAME
    if not p.exists():
        raise GenmnistError(f"checkpoint not found: {p}")
    if not p.is_file():
        raise GenmnistError(f"checkpoint is not a file: {p}")
    return p


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and check a genmnist checkpoint; every failure is one clear GenmnistError."""
    p = resolve_checkpoint_path(path)
    if p.stat().st_size == 0:
        raise GenmnistError(f"{p} is empty: not a genmnist checkpoint (was its writer killed?)")
    try:
        with warnings.catch_warnings():  # torch warns about old pickle protocols on stderr
            warnings.simplefilter("ignore")
            ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise GenmnistError(
            f"{p} was refused: it is not a genmnist checkpoint, or it holds pickled objects "
            "(code) that genmnist never loads") from e
    except PermissionError as e:
        raise GenmnistError(f"cannot read {p}: permission denied") from e
    except Exception as e:  # truncated file, not a zip, wrong magic number, ...
        raise GenmnistError(
            f"{p} is not a readable genmnist checkpoint ({type(e).__name__})") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise GenmnistError(f"{p} is not a genmnist checkpoint")
    version = ckpt.get("format_version")
    if version != FORMAT_VERSION:
        raise GenmnistError(
            f"{p} has checkpoint format {version}, this genmnist {__version__} reads format "
            f"{FORMAT_VERSION}; use the genmnist version that wrote it "
            f"({ckpt.get('genmnist_version', 'unknown')})")
    return ckpt


def find_latest_run(runs_dir: str | Path = "runs") -> Path:
    """The checkpoint of the most recently written run under `runs_dir`."""
    root = Path(runs_dir)
    found = sorted(root.glob(f"*/{CHECKPOINT_NAME}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise GenmnistError(
            f"no checkpoint given and no run found under {root}/: train one with "
            "`genmnist train MODEL`, or pass --checkpoint")
    return found[-1]


def load_model(path: str | Path, device: torch.device | str = "cpu"):
    """Rebuild the model a checkpoint describes, in eval mode. Returns (model, checkpoint)."""
    from genmnist.models import MODELS, build_model

    ckpt = load_checkpoint(path)
    name = ckpt.get("model")
    if name not in MODELS:
        raise GenmnistError(f"checkpoint holds unknown model {name!r}; this genmnist knows "
                            f"{', '.join(MODELS)}")
    try:
        model = build_model(name, dict(ckpt["model_config"]))
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, RuntimeError) as e:
        raise GenmnistError(f"checkpoint does not match model {name!r}: {e}".splitlines()[0]) from e
    return model.to(device).eval(), ckpt
