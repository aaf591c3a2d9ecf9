"""Ctrl-C (or SIGTERM) during training or sampling: finish the batch, save, stop -- instead of
losing the work.

The usual pattern of long-running trainers (e.g. PyTorch Lightning's graceful SIGINT handling):
while the loop runs, the first SIGINT only raises a flag that the loop reads after each batch, so
the model, optimizers and RNGs are in a consistent state when the checkpoint is written. A second
SIGINT raises `KeyboardInterrupt` at once (the checkpoint writer is atomic, so the last complete
checkpoint survives even that). SIGTERM, how `timeout`, `kill` and job schedulers (Slurm,
Kubernetes) stop a job, is treated the same. The previous handlers are restored when the loop
ends.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)

# The signal whose KeyboardInterrupt `terminate_as_interrupt` raised and nobody has handled yet.
# Python raises it wherever the main thread is, and there it can be lost: inside a finaliser or
# an import lock's weakref callback it is only printed ("Exception ignored in ...") and the
# command would go on as if never stopped (seen: a SIGTERM while MNIST loaded, then a whole
# epoch trained and exit 0). The next `InterruptGuard` re-raises it (`raise_if_pending`).
_pending: list[int] = []


def _interrupt(signum, frame) -> None:
    _pending.append(signum)
    raise KeyboardInterrupt


def raise_if_pending() -> None:
    """Raise the KeyboardInterrupt of a signal that was swallowed before it could stop us."""
    if _pending:
        _pending.clear()
        raise KeyboardInterrupt


def clear_pending() -> None:
    """The interrupt was handled (the command is ending with its line)."""
    _pending.clear()


class InterruptGuard:
    """`with InterruptGuard() as stop:` ... `if stop.requested:` save and leave the loop."""

    def __init__(self) -> None:
        self.requested = False
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.requested:  # second Ctrl-C: the user really wants out now
            raise KeyboardInterrupt
        self.requested, self.signum = True, signum

    def __enter__(self) -> InterruptGuard:
        raise_if_pending()
        # Python only runs signal handlers in the main thread, and only it may install them;
        # elsewhere (a trainer driven from a worker thread) Ctrl-C keeps its usual meaning.
        # A process started with SIGINT ignored (`nohup`, a background job) keeps ignoring it.
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM stops a command as Ctrl-C does (a KeyboardInterrupt: clean-up
    runs, one line is printed) instead of killing it mid-write, and both are remembered until
    handled (see `_pending`). Only where SIGTERM still has its default action and SIGINT
    Python's, and only in the main thread (where Python runs handlers)."""
    previous, hook = {}, sys.unraisablehook
    if threading.current_thread() is threading.main_thread():
        sys.unraisablehook = functools.partial(_quiet_about_interrupts, hook)
        for sig, default in ((signal.SIGTERM, signal.SIG_DFL),
                             (signal.SIGINT, signal.default_int_handler)):
            if signal.getsignal(sig) is default:
                previous[sig] = signal.signal(sig, _interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sys.unraisablehook = hook


def _quiet_about_interrupts(hook, unraisable) -> None:
    """An interrupt swallowed in a finaliser is remembered (`_pending`), not printed."""
    if not (issubclass(unraisable.exc_type, KeyboardInterrupt) and _pending):
        hook(unraisable)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training and a checkpoint was saved. A KeyboardInterrupt, so a caller
    that does not know about resuming (e.g. a benchmark loop) stops as it would on any Ctrl-C
    instead of carrying on with a half-trained model; `genmnist train` catches it and prints
    how to resume."""

    def __init__(self, where: str, run_dir, checkpoint):
        super().__init__(f"interrupted {where}")
        self.where, self.run_dir, self.checkpoint = where, run_dir, checkpoint


class GenerationInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped `generate_to_folder` after `written` of `n` images, all of
    them complete files; the folder stays marked unfinished. `genmnist generate` prints it."""

    def __init__(self, written: int, n: int, folder):
        super().__init__(f"interrupted after {written} of {n} images")
        self.written, self.n, self.folder = written, n, folder
