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
import signal
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


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
    runs, one line is printed) instead of killing it mid-write. Only where SIGTERM still has its
    default action, and only in the main thread (where Python runs handlers)."""
    previous = None
    if threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


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
