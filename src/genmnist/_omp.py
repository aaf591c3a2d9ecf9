"""How long idle OpenMP threads spin before they sleep, set before torch loads libgomp (so: no
torch import here).

libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, when it loads (`initialize_env`, a
constructor in GCC's libgomp/env.c): set after `import torch` they change nothing -- measured
here, an idle worker burnt 0.98 s of CPU in a 1 s sleep with OMP_WAIT_POLICY=ACTIVE set before
the import and 0.01 s with it set after (docs/performance.md). So the spin is fixed for the
process, and what follows the load is the thread count, which torch changes at any time
(genmnist.threads measures it as the work runs).

The spin is chosen by measurement (bench/threads.py --part wait, 2 threads, images/s of a
training step): libgomp's default of 300000 spins collapses beside two busy processes (vae
400, cvae 171, where one thread runs 7700-8200 and 1270-1490); PASSIVE (no spin) and 3000 spins
hold up there but lose 15% of cvae's quiet rate; 30000 spins kept the quiet rate (cvae 3313-3820
vs 3118-3160 at the default) and fell 4-14x less than the default under load. A value the user
set (either variable) always wins.
"""

from __future__ import annotations

import os

SPIN_COUNT = "30000"


def choose_wait_policy() -> str | None:
    """Set GOMP_SPINCOUNT to SPIN_COUNT unless the user set it or OMP_WAIT_POLICY; return
    what is in effect ("OMP_WAIT_POLICY=..." or "GOMP_SPINCOUNT=...")."""
    for var in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        if var in os.environ:
            return f"{var}={os.environ[var]}"
    os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT
    return f"GOMP_SPINCOUNT={SPIN_COUNT}"
