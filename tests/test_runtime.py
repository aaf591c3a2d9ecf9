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
