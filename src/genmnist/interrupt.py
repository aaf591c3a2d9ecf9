"""Ctrl-C during training: finish the batch, save, stop -- instead of losing the epoch.

The usual pattern of long-running trainers (e.g. PyTorch Lightning's graceful SIGINT handling):
while the loop runs, the first SIGINT only raises a flag that the loop reads after each batch, so
the model, optimizers and RNGs are in a consistent state when the checkpoint is written. A second
SIGINT raises `KeyboardInterrupt` at once (the checkpoint writer is atomic, so the last complete
checkpoint survives even that). The previous handler is restored when the loop ends.
"""

from __future__ import annotations

import signal
import threading


class InterruptGuard:
    """`with InterruptGuard() as stop:` ... `if stop.requested:` save and leave the loop."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None
        self._installed = False

    def _handle(self, signum, frame) -> None:
        if self.requested:  # second Ctrl-C: the user really wants out now
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> InterruptGuard:
        # Python only runs signal handlers in the main thread, and only it may install them;
        # elsewhere (a trainer driven from a worker thread) Ctrl-C keeps its usual meaning.
        # A process started with SIGINT ignored (`nohup`, a background job) keeps ignoring it.
        if threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training and a checkpoint was saved. A KeyboardInterrupt, so a caller
    that does not know about resuming (e.g. a benchmark loop) stops as it would on any Ctrl-C
    instead of carrying on with a half-trained model; `genmnist train` catches it and prints
    how to resume."""

    def __init__(self, where: str, run_dir, checkpoint):
        super().__init__(f"interrupted {where}")
        self.where, self.run_dir, self.checkpoint = where, run_dir, checkpoint
