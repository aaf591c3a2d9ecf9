"""Thread and OpenMP-policy choices (src/genmnist/_omp.py, runtime.py)."""

from __future__ import annotations

import os

import pytest

from genmnist import _omp
from genmnist.errors import GenmnistError
from genmnist.runtime import choose_threads, resolve_device


def test_a_moderate_spin_unless_the_user_chose(monkeypatch):
    for var in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(var, raising=False)
    assert _omp.choose_wait_policy() == f"GOMP_SPINCOUNT={_omp.SPIN_COUNT}"
    import os
    assert os.environ["GOMP_SPINCOUNT"] == _omp.SPIN_COUNT


@pytest.mark.parametrize("var, value", [("OMP_WAIT_POLICY", "PASSIVE"),
                                        ("GOMP_SPINCOUNT", "infinite")])
def test_a_users_wait_setting_wins(monkeypatch, var, value):
    for v in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv(var, value)
    assert _omp.choose_wait_policy() == f"{var}={value}"
    import os
    assert os.environ.get("GOMP_SPINCOUNT") == (value if var == "GOMP_SPINCOUNT" else None)


def test_the_wait_policy_is_read_when_libgomp_loads():
    """The evidence behind _omp.py: OMP_WAIT_POLICY=ACTIVE set after `import torch` leaves
    an idle OpenMP worker asleep (no CPU burnt while the main thread sleeps); set before, it
    spins. Measured in CPU seconds of the process, not wall time."""
    import subprocess
    import sys

    code = """
import os, resource, sys, time
if sys.argv[1] == "before": os.environ["OMP_WAIT_POLICY"] = "ACTIVE"
import torch
if sys.argv[1] == "after": os.environ["OMP_WAIT_POLICY"] = "ACTIVE"
torch.set_num_threads(2)
x = torch.randn(4_000_000)
for _ in range(20): x.add_(1.0)
r0 = resource.getrusage(resource.RUSAGE_SELF); time.sleep(0.5)
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
"""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    burnt = {w: float(subprocess.run([sys.executable, "-c", code, w], env=env, check=True,
                                     capture_output=True, text=True).stdout)
             for w in ("before", "after")}
    assert burnt["after"] < 0.1
    if burnt["before"] < 0.1:  # a machine with one core, or a torch without libgomp
        pytest.skip(f"no spinning worker to see here: {burnt}")


def test_threads_default_env_and_bounds(monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("GENMNIST_THREADS", raising=False)
        assert choose_threads(None, 1) == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("GENMNIST_THREADS", "2")
        assert choose_threads(None, 1) == 2
        assert choose_threads(1, 2) == 1
        with pytest.raises(GenmnistError, match="at least 1"):
            choose_threads(0)
    finally:
        torch.set_num_threads(before)


def test_unknown_device_is_a_user_error():
    with pytest.raises(GenmnistError, match="unknown device"):
        resolve_device("tpu")
