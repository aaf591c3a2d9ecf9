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
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from genmnist import __version__
from genmnist.errors import GenmnistError, NoRunFound
from genmnist.fileio import write_atomically

FORMAT = "genmnist-checkpoint"
FORMAT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(payload: dict[str, Any], path: str | Path) -> Path:
    """Write a checkpoint atomically: killed at any moment, the old or the new one is there."""
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION,
               "genmnist_version": __version__, **payload}
    return write_atomically(Path(path), lambda f: torch.save(payload, f))


def resolve_checkpoint_path(path: str | Path) -> Path:
    """Accept a checkpoint file or a run folder holding one."""
    p = Path(path)
    if p.is_dir():
        p = p / CHECKPOINT_NAME
    if not p.exists():
        if p.is_symlink():  # exists() follows links: a loop or a dangling link says False
            raise GenmnistError(f"checkpoint {p} is a symbolic link that leads nowhere (a loop, "
                                f"or a missing target: {os.readlink(p)})")
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
        code = re.search(r"GLOBAL (\S+)", str(e))
        if code:
            raise GenmnistError(
                f"{p} was refused: it holds pickled code ({code.group(1)}) that genmnist never "
                "runs; load only checkpoints written by genmnist") from e
        raise GenmnistError(
            f"{p} was refused: it is not a genmnist checkpoint (not plain tensor data; genmnist "
            "never unpickles code)") from e
    except PermissionError as e:
        raise GenmnistError(f"cannot read {p}: permission denied") from e
    except Exception as e:  # truncated file, not a zip, wrong magic number, ...
        raise GenmnistError(
            f"{p} is not a readable genmnist checkpoint (truncated or corrupt file)") from e
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
        raise NoRunFound(root)
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
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise GenmnistError(f"{path}: its model config does not fit model {name!r} "
                            f"({type(e).__name__}: {str(e).splitlines()[0]})") from e
    state = ckpt.get("state_dict")
    problems = state_dict_mismatch(model.state_dict(), state) if isinstance(state, dict) \
        else ["no weights (state_dict)"]
    if problems:
        raise GenmnistError(f"{path} does not match model {name!r}: {'; '.join(problems)}")
    model.load_state_dict(state)
    if ckpt.get("sampler") is not None:  # a density fitted to the codes (genmnist.samplers)
        from genmnist.samplers import LatentSampler

        model.latent_sampler = LatentSampler.from_state_dict(ckpt["sampler"])
    return model.to(device).eval(), ckpt


def state_dict_mismatch(expected: dict[str, Any], given: dict[str, Any],
                        show: int = 3) -> list[str]:
    """What keeps `given` weights from loading into a model whose own are `expected`, in
    words (torch's message puts its details on lines after "Error(s) in loading ...")."""
    def names(keys) -> str:
        keys = sorted(keys)
        return ", ".join(keys[:show]) + (f" and {len(keys) - show} more" if len(keys) > show
                                         else "")

    missing, extra = expected.keys() - given.keys(), given.keys() - expected.keys()
    shapes = [f"{k} is {tuple(getattr(given[k], 'shape', ()))} in the checkpoint, "
              f"{tuple(expected[k].shape)} in the model"
              for k in sorted(expected.keys() & given.keys())
              if getattr(given[k], "shape", None) != expected[k].shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} weights missing ({names(missing)})")
    if extra:
        problems.append(f"{len(extra)} unexpected weights ({names(extra)})")
    if shapes:
        problems.append(f"{len(shapes)} of other shape ({'; '.join(shapes[:show])}"
                        f"{f'; and {len(shapes) - show} more' if len(shapes) > show else ''})")
    return problems
