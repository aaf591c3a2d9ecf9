"""Conditional accuracy (genmnist.metrics.conditional) and what cond-vae does with it."""

from __future__ import annotations

import torch

from genmnist.metrics.conditional import score_conditional


def test_real_images_with_true_labels_score_near_one(mnist_test):
    x, y = mnist_test.float_images(slice(0, 2000)), mnist_test.labels[:2000]
    s = score_conditional(x, y)
    assert s["accuracy"] > 0.98
    assert all(a is not None and a > 0.9 for a in s["per_digit"])


def test_shuffled_labels_score_near_a_tenth(mnist_test):
    x, y = mnist_test.float_images(slice(0, 2000)), mnist_test.labels[:2000]
    shuffled = y[torch.randperm(2000, generator=torch.Generator().manual_seed(0))]
    assert 0.05 < score_conditional(x, shuffled)["accuracy"] < 0.15


def test_digits_never_asked_for_are_none(mnist_test):
    x, y = mnist_test.float_images(slice(0, 200)), mnist_test.labels[:200]
    keep = y == 7
    s = score_conditional(x[keep], y[keep])
    assert s["per_digit"][7] > 0.9 and s["per_digit"][3] is None


def test_conditional_interpolation_says_what_it_holds(tmp_path):
    from helpers import cli

    r = cli("train", "cond-vae", "--epochs", "1", "--subset", "256", "--batch-size", "64",
            "--out", tmp_path, "--name", "c", "--device", "cpu", "--latent-dim", "4",
            "--sampler-components", "2")
    assert r.exit_code == 0, r.stderr
    r = cli("interpolate", "-c", tmp_path / "c", "--from-digit", "3", "--to-digit", "8",
            "--steps", "4", "--out", tmp_path / "i.png")
    assert r.exit_code == 0, r.stderr
    assert "held:" in r.stdout and "label of image A (3)" in r.stdout
    r = cli("interpolate", "-c", tmp_path / "c", "--sampler", "gmm", "--steps", "4",
            "--out", tmp_path / "j.png")
    assert r.exit_code == 0, r.stderr
    assert "held: the digit label" in r.stdout


def test_fid_digit_reports_conditional_accuracy(tmp_path, mnist_test):
    """A folder of real sevens scored with --digit 7 is near 1; with --digit 3 near 0."""
    import json

    from PIL import Image

    from helpers import cli

    sevens = mnist_test.images[mnist_test.labels == 7][:60]
    (tmp_path / "s").mkdir()
    for i, im in enumerate(sevens):
        Image.fromarray(im.squeeze(0).numpy()).save(tmp_path / "s" / f"{i:05d}.png")
    r = cli("fid", tmp_path / "s", "mnist-test", "--digit", "7", "--metrics", "fid,coverage",
            "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["conditional_accuracy"] > 0.95
    r = cli("fid", tmp_path / "s", "mnist-test", "--digit", "3", "--metrics", "fid,coverage")
    assert r.exit_code == 0, r.stderr
    assert "conditional accuracy 0.0" in r.stdout
