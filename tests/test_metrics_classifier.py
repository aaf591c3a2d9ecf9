"""The MNIST classifier behind `--features mnist`: the shipped file is small, loads with
`weights_only=True`, is at least 99% accurate, and `data train-classifier` is reproducible."""

from __future__ import annotations

import torch
from PIL import Image

from genmnist.metrics.classifier import (
    ASSET,
    accuracy,
    for_inference,
    load_classifier,
    train_classifier,
)
from helpers import assert_clean_error, cli


def test_shipped_classifier_is_small_and_accurate(mnist_test):
    assert ASSET.is_file() and ASSET.stat().st_size < 1_000_000
    model, meta = load_classifier()
    assert meta["test_accuracy"] >= 0.99 and len(meta["digest"]) == 8
    fast = for_inference(model)  # the network scoring uses: same predictions
    assert accuracy(fast, mnist_test.images, mnist_test.labels) >= 0.99
    x = mnist_test.images[:200].float() / 255
    with torch.inference_mode():
        torch.testing.assert_close(fast.features(x), model.features(x), rtol=1e-4, atol=1e-4)


def test_training_is_reproducible(mnist_test):
    from genmnist.data import load_mnist

    train = load_mnist("train").head(256)
    test = mnist_test.head(500)
    runs = [train_classifier(train.images, train.labels, test.images, test.labels, epochs=1,
                             seed=3)[0].state_dict() for _ in range(2)]
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert runs[0]["feature_std"].min() > 0 and not torch.equal(
        runs[0]["feature_mean"], torch.zeros(128))  # the feature scale was set after training


def test_train_classifier_command(tmp_path):
    out = tmp_path / "a.pt"
    r = cli("data", "train-classifier", "--out", out, "--epochs", "1", "--subset", "256")
    assert r.exit_code == 0, r.stderr
    assert "test accuracy" in r.stdout and "on 10000 MNIST test images" in r.stdout
    model, meta = load_classifier(out)
    assert meta["epochs"] == 1 and meta["seed"] == 0 and 0 < meta["test_accuracy"] < 1
    assert_clean_error(cli("data", "train-classifier", "--out", out), "already exists")
    bad = tmp_path / "bad.pt"
    torch.save({"weights": 1}, bad)
    real = tmp_path / "real"
    real.mkdir()
    for i in range(2):
        Image.new("L", (28, 28)).save(real / f"{i:05d}.png")
    assert_clean_error(cli("fid", real, "--classifier", bad), "not a genmnist MNIST classifier")
    assert_clean_error(cli("fid", real, "--classifier", tmp_path / "none.pt"), "none.pt not found")
