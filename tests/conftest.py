"""Shared fixtures. Tests never touch the network: MNIST comes from ../shared/data (or
$GENMNIST_DATA), and every test runs in its own temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def _data_dir() -> Path:
    env = os.environ.get("GENMNIST_DATA")
    return Path(env) if env else SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def _offline_mnist():
    d = _data_dir()
    if not (d / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file():
        pytest.exit(f"MNIST not found at {d}: set GENMNIST_DATA to the shared data folder", 1)
    os.environ["GENMNIST_DATA"] = str(d)
    torch.set_num_threads(1)
    yield


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _data_dir()


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def mnist_test():
    from genmnist.data import load_mnist

    return load_mnist("test", _data_dir())
