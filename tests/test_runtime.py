"""Thread and device choices (runtime.py)."""

from __future__ import annotations

import pytest

from genmnist.errors import GenmnistError
from genmnist.runtime import choose_threads, resolve_device


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
