"""The MNIST classifier behind `--features mnist`: the shipped file is small, loads with
`weights_only=True`, is at least 99% accurate, and `data train-classifier` is reproducible."""

from __future__ import annotations

import torch
from PIL import Image

from genmnist.metrics.classifier import ASSET, accuracy, load_classifier
from helpers import assert_clean_error, cli


def test_shipped_classifier_is_small_and_accurate(mnist_test):
    assert ASSET.is_file() and ASSET.stat().st_size < 1_000_000
    model, meta = load_classifier()
    assert meta["test_accuracy"] >= 0.99 and len(meta["digest"]) == 8
    assert accuracy(model, mnist_test.images, mnist_test.labels) >= 0.99


def test_train_classifier_is_reproducible(tmp_path):
    paths = [tmp_path / "a.pt", tmp_path / "b.pt"]
    for p in paths:
        r = cli("data", "train-classifier", "--out", p, "--epochs", "1", "--subset", "256",
                "--seed", "3")
        assert r.exit_code == 0, r.stderr
        assert "test accuracy" in r.stdout and "on 10000 MNIST test images" in r.stdout
    (a, _), (b, _) = (load_classifier(p) for p in paths)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert_clean_error(cli("data", "train-classifier", "--out", paths[0]), "already exists")
    bad = tmp_path / "bad.pt"
    torch.save({"weights": 1}, bad)
    real = tmp_path / "real"
    real.mkdir()
    for i in range(2):
        Image.new("L", (28, 28)).save(real / f"{i:05d}.png")
    assert_clean_error(cli("fid", real, "--classifier", bad), "not a genmnist MNIST classifier")
