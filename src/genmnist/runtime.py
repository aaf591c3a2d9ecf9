"""Device and thread choice, passed explicitly to everything that computes.

Thread count matters on small CPUs: the ops of these small models are too short to split, and on
a 2-core machine two intra-op threads made the classic VAE several times *slower* than one
(`bench/speed.py` measures it), and which count is best changes with the load on the machine.
`thread_policy` measures it while the work runs (genmnist.threads); `choose_threads` sets a
count once, for work too short to measure.
"""

from __future__ import annotations

import os

import torch

from genmnist.errors import GenmnistError, SettingError
from genmnist.threads import ThreadPolicy, fixed

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str = "auto") -> torch.device:
    name = (name or "auto").lower()
    base = name.split(":")[0]
    if base not in DEVICES:
        raise GenmnistError(f"unknown device {name!r}; use one of: {', '.join(DEVICES)}")
    if base == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise SettingError("device", name, "asked for, but no CUDA GPU is available here",
                           ("cpu", "auto"))
    if base == "mps" and not (getattr(torch.backends, "mps", None)
                              and torch.backends.mps.is_available()):
        raise SettingError("device", name, "asked for, but Apple's MPS is not available here")
    return torch.device(name)


def user_threads(threads: int | None) -> int | None:
    """The thread count the user set: `threads` (--threads), else $GENMNIST_THREADS, else
    $OMP_NUM_THREADS (the standard setting, which torch itself follows); None if none."""
    if threads is not None:
        return threads
    for var in ("GENMNIST_THREADS", "OMP_NUM_THREADS"):
        env = os.environ.get(var, "").strip()
        if env.isdigit() and int(env) > 0:
            return int(env)
    return None


def thread_policy(threads: int | None, model_default: int = 2, measure: bool = True,
                  **kwargs) -> ThreadPolicy:
    """The work's thread policy: the count the user set (`user_threads`), fixed; else measured
    while the work runs between 1 and `model_default` threads, never more than the cores
    (genmnist.threads) -- or, without `measure`, `model_default` fixed. `kwargs` go to
    `ThreadPolicy` (probe lengths, a fake clock)."""
    chosen = user_threads(threads)
    if chosen is not None and chosen < 1:
        raise SettingError("threads", chosen, "is too few: give at least 1")
    most = max(1, min(model_default, os.cpu_count() or 1))
    if chosen is not None or not measure:
        return fixed(chosen or most, **kwargs)
    return ThreadPolicy({1, most}, **kwargs)


def choose_threads(threads: int | None, model_default: int = 1) -> int:
    """Set torch's intra-op threads: `threads` (the user's) if given, else $GENMNIST_THREADS,
    else $OMP_NUM_THREADS (the standard setting, which torch itself follows), else the model's
    measured best (its recipe's `cpu_threads`), never more than the cores there are.

    See docs/performance.md for the measurements behind each model's default.
    """
    threads = user_threads(threads)
    if threads is None:
        threads = min(model_default, os.cpu_count() or 1)
    if threads < 1:
        raise SettingError("threads", threads, "is too few: give at least 1")
    torch.set_num_threads(threads)
    return threads


def flush_denormals() -> bool:
    """Treat denormal floats as zero, in this thread and the worker threads it starts later (they
    inherit the floating-point mode, so call it before torch's first parallel op). Late in
    training, gradients and Adam's moments of weights that never matter (MNIST's always-black
    border pixels) decay into the denormal range, where x86 arithmetic is many times slower: a
    vae after 260 epochs trained 25-30% slower than a fresh one, and as fast again with this
    (docs/performance.md). Returns whether the CPU supports it."""
    return torch.set_flush_denormal(True)

