"""Messages the sweep found wanting (issue 12, "Also found"), the thread setting a user gives
in the standard variable, and config.json recording the values a run used."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from genmnist.checkpoint import load_checkpoint, save_checkpoint
from genmnist.models import build_model
from genmnist.runtime import choose_threads
from genmnist.training import TrainConfig
from genmnist.training.fit import run_config
from helpers import assert_clean_error, cli, tiny_vae_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_vae_run(tmp_path_factory.mktemp("runs"))


def test_a_16_bit_image_is_named_in_words(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    Image.fromarray(np.zeros((28, 28), dtype=np.uint16)).save(folder / "00000.png")
    assert_clean_error(cli("fid", folder), "00000.png is a 16-bit grayscale image (mode I;16)",
                       "8-bit grayscale")


def test_statistics_of_another_size_are_not_said_twice(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, mu=np.zeros(64), sigma=np.eye(64))
    r = cli("fid", path)
    assert_clean_error(r, "holds 64-d statistics, but the feature space is MNIST classifier "
                          "features, 128-d")
    assert "are 128-d" not in r.stderr


def test_another_models_weights_say_what_does_not_fit(run, tmp_path):
    ckpt = load_checkpoint(run)
    ckpt["model_config"] = {**ckpt["model_config"], "latent_dim": 6}  # the weights hold 4
    (tmp_path / "other").mkdir()
    save_checkpoint(ckpt, tmp_path / "other" / "checkpoint.pt")
    r = cli("generate", "-c", tmp_path / "other", "--n", "2", "--out", tmp_path / "s")
    assert_clean_error(r, "does not match model 'vae'", "of other shape",
                       "in the checkpoint", "in the model")
    assert "Error(s) in loading" not in r.stderr
    r = cli("train", "--resume", tmp_path / "other", "--epochs", "2")
    assert_clean_error(r, "cannot resume", "of other shape")


def test_symlink_loops_are_called_loops_not_corrupt(tmp_path):
    (tmp_path / "loop.pt").symlink_to("loop.pt")
    assert_clean_error(cli("generate", "-c", tmp_path / "loop.pt"),
                       "is a symbolic link that leads nowhere")
    folder = tmp_path / "s"
    folder.mkdir()
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(folder / "00000.png")
    (folder / "00001.png").symlink_to("00001.png")
    r = cli("fid", folder)
    assert_clean_error(r, "cannot read", "00001.png", "Too many levels of symbolic links")
    assert "corrupt" not in r.stderr


def test_omp_num_threads_is_obeyed_unless_threads_says_otherwise(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("GENMNIST_THREADS", raising=False)
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert choose_threads(None, 2) == 1 and torch.get_num_threads() == 1
        assert choose_threads(2, 2) == 2  # --threads wins
        monkeypatch.setenv("GENMNIST_THREADS", "2")
        assert choose_threads(None, 1) == 2  # genmnist's own variable is the more specific
        monkeypatch.delenv("GENMNIST_THREADS")
        monkeypatch.setenv("OMP_NUM_THREADS", "junk")
        assert choose_threads(None, 1) == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the default is 1 thread anyway")
def test_a_real_training_reports_the_users_thread_count(in_tmp, monkeypatch):
    monkeypatch.delenv("GENMNIST_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    r = cli("train", "vae", "--subset", "64", "--batch-size", "32", "--epochs", "1",
            "--device", "cpu", "--name", "t")
    assert r.exit_code == 0, r.stderr
    assert ", 1 threads," in r.stdout
    config = json.loads((in_tmp / "runs" / "t" / "config.json").read_text())
    assert config["train_config"]["lr"] == 1e-3
    assert config["optimizers"] == {"model": {"kind": "adam", "lr": 1e-3, "betas": [0.9, 0.999]}}


def test_config_json_records_each_players_learning_rate():
    model = build_model("wgan")
    config = json.loads(json.dumps(run_config(TrainConfig(model="wgan"), model)))
    assert config["train_config"]["lr"] is not None
    assert config["optimizers"].keys() == set(model.players)
    for p, o in config["optimizers"].items():
        assert o["lr"] == model.optimizer_spec(p).lr
