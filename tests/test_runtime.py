"""Thread and OpenMP-policy choices (src/genmnist/_omp.py, runtime.py)."""

from __future__ import annotations

import pytest

from genmnist import _omp
from genmnist.errors import GenmnistError
from genmnist.runtime import choose_threads, resolve_device


@pytest.mark.parametrize("others, cores, expected", [
    (0.0, 2, None),        # idle 2-core machine: let the threads spin
    (0.4, 2, None),
    (1.0, 2, "PASSIVE"),   # one other busy task already holds a core we need
    (3.0, 16, None),       # a big machine has room for our two threads
    (15.0, 16, "PASSIVE"),
])
def test_passive_only_when_other_tasks_fill_the_cores(monkeypatch, others, cores, expected):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(_omp, "other_runnable_tasks", lambda samples=5: others)
    monkeypatch.setattr(_omp.os, "cpu_count", lambda: cores)
    assert _omp.choose_wait_policy(threads=2) == expected
    import os
    assert os.environ.get("OMP_WAIT_POLICY") == expected


def test_a_users_wait_policy_wins(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    monkeypatch.setattr(_omp, "other_runnable_tasks", lambda samples=5: 99.0)
    assert _omp.choose_wait_policy() == "ACTIVE"


def test_runnable_tasks_are_read_on_linux():
    others = _omp.other_runnable_tasks(samples=2)
    assert others is None or others >= 0


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


def test_the_cli_flushes_denormals_before_its_threads_start(tmp_path):
    """Late in training denormal moments slowed vae 25-30%; the CLI treats them as zero."""
    import platform
    import subprocess
    import sys

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("flush-to-zero is an x86 mode")
    code = ("import torch\n"
            "from genmnist.cli import app\n"
            "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
            "torch.set_num_threads(2)\n"
            "x = torch.full((4096,), 1e-39)\n"
            "print(float((x * 1.0).sum()), float(torch.tensor([1e-30]).item()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()[-1].split()
    assert float(out[0]) == 0.0 and float(out[1]) == pytest.approx(1e-30)
