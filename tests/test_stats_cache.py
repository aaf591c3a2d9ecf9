"""Cached reference statistics are keyed on everything that changes them (issue 12, class 7):
the feature space, its weights (by content), the MNIST files and the genmnist version. Another
--inception-weights file must never reuse the statistics of the first.

Inception at 299x299 takes minutes for a reference, so the network is replaced by features
that depend on the weights file's bytes; the caching code under test is the real one."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from genmnist.metrics import reference
from genmnist.metrics.features import FeatureSpace, feature_space


@pytest.fixture
def fake_inception(monkeypatch, tmp_path, mnist_test):
    """50 MNIST test images; 'features' scaled by the weights file's first byte."""
    calls = []

    def extract(self, images, what="images"):
        calls.append(self.inception_weights)
        scale = float(self.inception_weights.read_bytes()[0])
        return images.float().flatten(1)[:, 300:364] * scale, None

    monkeypatch.setattr(FeatureSpace, "extract", extract)
    monkeypatch.setattr(reference, "load_mnist", lambda split, data_dir=None: mnist_test.head(50))
    monkeypatch.setenv("GENMNIST_CACHE", str(tmp_path / "cache"))
    return calls


def weights(tmp_path, name: str, first: int):
    path = tmp_path / name
    path.write_bytes(bytes([first]) + b"rest of a weights file")
    return path


def test_other_inception_weights_never_reuse_cached_statistics(tmp_path, fake_inception):
    a, b = weights(tmp_path, "a.pth", 1), weights(tmp_path, "b.pth", 3)
    sa = reference.reference_stats("mnist-test", feature_space("inception", 64, "cpu", None, a))
    sb = reference.reference_stats("mnist-test", feature_space("inception", 64, "cpu", None, b))
    assert np.allclose(sb.mu, 3 * sa.mu) and not np.allclose(sa.mu, sb.mu)
    assert len(list((tmp_path / "cache" / "stats").glob("mnist-test-inception64-*.npz"))) == 2
    again = reference.reference_stats("mnist-test",
                                      feature_space("inception", 64, "cpu", None, a))
    assert fake_inception == [a, b]  # the third call read the cache
    assert np.array_equal(again.mu, sa.mu)


def test_the_key_follows_the_data_files_and_the_version(tmp_path, data_dir, monkeypatch):
    space = feature_space("mnist")
    key = reference.cache_key("mnist-test", space, data_dir)
    assert key is not None and key == reference.cache_key("mnist-test", space, data_dir)
    copy = tmp_path / "data" / "MNIST" / "raw"
    shutil.copytree(data_dir / "MNIST" / "raw", copy)
    assert reference.cache_key("mnist-test", space, tmp_path / "data") == key  # same bytes
    labels = copy / "t10k-labels-idx1-ubyte"
    raw = bytearray(labels.read_bytes())
    raw[-1] = (raw[-1] + 1) % 10
    labels.write_bytes(bytes(raw))
    assert reference.cache_key("mnist-test", space, tmp_path / "data") != key
    assert reference.cache_key("mnist-train", space, data_dir) != key
    monkeypatch.setattr(reference, "__version__", "99.0")
    assert reference.cache_key("mnist-test", space, data_dir) != key


def test_weights_not_downloaded_yet_are_not_keyed(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    assert reference.cache_key("mnist-test", feature_space("inception", 64)) is None
