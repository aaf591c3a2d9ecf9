"""Pick OpenMP's wait policy before torch loads libgomp (so: no torch import here).

OpenMP worker threads spin while they wait for work. On a quiet 2-core machine spinning is what
makes two intra-op threads pay (vae 23400 vs 13300 img/s with one thread; cvae 3800 vs 2600).
When other processes hold the cores, the spinning threads fight them and a 2-thread cvae step
ran 20x slower (170 img/s), while OMP_WAIT_POLICY=PASSIVE ran 1000-1900 img/s there and the best
of all settings under load -- but 30-40% slower than spinning on a quiet machine (measured with
bench/speed.py and the loop in docs/performance.md). So genmnist looks at how many other tasks
are runnable when it starts and asks for PASSIVE only when they already fill the cores. A value
the user set always wins.
"""

from __future__ import annotations

import os
import time


def other_runnable_tasks(samples: int = 5) -> float | None:
    """Mean number of runnable tasks besides this one over a few ms (Linux), else None."""
    counts = []
    try:
        for _ in range(samples):
            with open("/proc/loadavg") as f:  # "0.52 0.58 0.59 2/467 12345": runnable/total
                counts.append(int(f.read().split()[3].split("/")[0]) - 1)
            time.sleep(0.002)
    except (OSError, ValueError, IndexError):
        return None
    return sum(counts) / len(counts)


def choose_wait_policy(threads: int = 2) -> str | None:
    """Set OMP_WAIT_POLICY=PASSIVE when the cores our `threads` need are taken; return it."""
    if "OMP_WAIT_POLICY" in os.environ:
        return os.environ["OMP_WAIT_POLICY"]
    others = other_runnable_tasks()
    # Half a task of slack: a kernel thread seen in one sample of five is no busy core.
    if others is not None and others > (os.cpu_count() or 1) - threads + 0.5:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        return "PASSIVE"
    return None
