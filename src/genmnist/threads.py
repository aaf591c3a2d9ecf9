"""Torch's intra-op thread count, chosen from the rate the work itself measures, and re-checked
while it runs.

On a small CPU the best thread count depends on what else runs there: on a quiet 2-core machine
two threads train `cvae` 1.6x faster than one, while beside two busy processes two OpenMP
threads ran up to 10x slower than one (docs/performance.md). A choice made once at start-up,
from a glance at the load, is wrong whenever the load changes -- so `ThreadPolicy` times a few
batches with each candidate (`torch.set_num_threads` works at any time), keeps the faster, and
probes again when its rate drifts or after a while (less often each time the choice holds).

The caller calls `step(images)` after every batch and `resume()` after a pause that must not
count (evaluation between epochs). The policy never prints: its decisions are `events` (dicts),
which the trainer writes to metrics.jsonl and the CLI shows. A thread count the user set is
a policy with one candidate: it is set once and never changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any


def _set_torch_threads(n: int) -> None:
    import torch  # here, not at import: importing genmnist must not load torch's OpenMP

    torch.set_num_threads(n)


class ThreadPolicy:
    """Pick among `candidates` (thread counts) by measured images/s; see the module docstring.

    `probe_s` is how long each candidate is timed (at least `min_batches` batches, after
    `warmup` batches that are not counted: a new thread pool starts slow); `watch_s` the
    window over which the chosen count's rate is watched; a rate `drift` (a fraction) away
    from the one measured when it was chosen starts a probe, and so does `recheck_s` without
    one -- doubled each time a probe keeps the choice, up to `max_recheck_s`."""

    def __init__(self, candidates: Sequence[int], *,
                 set_threads: Callable[[int], None] | None = None,
                 clock: Callable[[], float] = time.perf_counter, probe_s: float = 0.25,
                 warmup: int = 1, min_batches: int = 3, watch_s: float = 1.0,
                 drift: float = 0.35, recheck_s: float = 10.0, max_recheck_s: float = 80.0):
        if not candidates or min(candidates) < 1:
            raise ValueError(f"thread candidates must be counts of at least 1, got {candidates}")
        self.candidates = sorted(set(candidates))
        self._set = set_threads or _set_torch_threads
        self._clock = clock
        self.probe_s, self.warmup, self.min_batches = probe_s, warmup, min_batches
        self.watch_s, self.drift = watch_s, drift
        self.recheck_s, self.max_recheck_s = recheck_s, max_recheck_s
        self.threads = self.candidates[-1]  # the largest (the model's default) until measured
        self.events: list[dict[str, Any]] = []  # every change of count (take_events: the new ones)
        self.probes = 0
        self._t0 = clock()
        self._interval = recheck_s
        self._rates: dict[int, float] = {}
        self._queue: list[int] = []  # candidates still to time in the current probe
        self._reason = "start"
        self._taken = 0  # events already handed out by take_events
        self._skip = warmup
        self._first = True  # the run's first batch pays its start-up: it never counts
        self._set(self.threads)
        if self.adaptive:
            self._start_probe("start")
        self.resume()

    @property
    def adaptive(self) -> bool:
        return len(self.candidates) > 1

    @property
    def probing(self) -> bool:
        return bool(self._queue)

    @property
    def chosen(self) -> int:
        """The count the last probe decided on. During a probe `threads` is the candidate being
        timed, which is not a choice: records say this one."""
        return self.events[-1]["threads"] if self.events else self.threads

    def resume(self) -> None:
        """Work starts again after a pause: the time since the last batch does not count."""
        self._since, self._images, self._batches = self._clock(), 0, 0

    def step(self, images: int) -> dict[str, Any] | None:
        """One batch of `images` is done. Returns the decision taken now, if any."""
        if not self.adaptive:
            return None
        seconds = self._clock() - self._since
        if self._first:
            self._first = False
            self.resume()
            return None
        if self._skip > 0:
            self._skip -= 1
            if seconds < self.probe_s:  # a warm-up batch of a freshly set count: not counted
                self.resume()
                return None
            # (one that alone lasts a probe is not warming up but slow: it counts)
        self._images += images
        self._batches += 1
        if not self._window_done(seconds):
            return None
        rate = self._images / seconds
        if self.probing:
            return self._timed(rate)
        now = self._clock()
        ref = self._rates[self.threads]
        if abs(rate - ref) > self.drift * ref:
            self._start_probe(f"rate {'fell' if rate < ref else 'rose'} from {ref:.0f} to "
                              f"{rate:.0f} images/s")
        elif now >= self._next:
            self._start_probe("recheck")
        self.resume()
        return None

    def _window_done(self, seconds: float) -> bool:
        """A probe times at least `min_batches` batches for `probe_s` -- or for twice that,
        however few batches (slow ones); the chosen count is watched for `watch_s`."""
        if not self.probing:
            return seconds >= self.watch_s
        return seconds >= self.probe_s and (self._batches >= self.min_batches
                                            or seconds >= 2 * self.probe_s)

    def _start_probe(self, reason: str) -> None:
        # The other counts first, the current one last: when it stays best, no switch back.
        self._queue = [n for n in self.candidates if n != self.threads] + [self.threads]
        self._rates, self._reason = {}, reason
        self.probes += 1
        self._use(self._queue[0])

    def _timed(self, rate: float) -> dict[str, Any] | None:
        """The probe's current candidate ran at `rate`: time the next, or decide."""
        self._rates[self._queue.pop(0)] = rate
        if self._queue:
            self._use(self._queue[0])
            self.resume()
            return None
        before = self.events[-1]["threads"] if self.events else None
        best = max(self._rates, key=self._rates.get)
        if before is not None and self._rates.get(before, 0) * 1.03 >= self._rates[best]:
            best = before  # within 3%: not worth a change
        self._use(best)
        self._interval = self.recheck_s if best != before else min(2 * self._interval,
                                                                    self.max_recheck_s)
        self._next = self._clock() + self._interval
        self.resume()
        if best == before:
            return None
        event = {"at_s": round(self._clock() - self._t0, 2), "threads": best, "was": before,
                 "reason": self._reason,
                 "images_per_sec": {str(n): round(r, 1) for n, r in sorted(self._rates.items())}}
        self.events.append(event)
        return event

    def _use(self, n: int) -> None:
        if n != self.threads:
            self._set(n)
            self.threads = n
            self._skip = self.warmup

    def take_events(self) -> list[dict[str, Any]]:
        """The decisions since the last call (each epoch's record keeps its own)."""
        out, self._taken = self.events[self._taken:], len(self.events)
        return out


def fixed(threads: int, **kwargs) -> ThreadPolicy:
    """A thread count the user chose: set once, never changed."""
    return ThreadPolicy([threads], **kwargs)
