"""The CLI round trip for the adversarial and discrete models: train one epoch on a few hundred
images, then generate, interpolate, and reconstruct (or its one-line refusal for a pure GAN)."""

from __future__ import annotations

import pytest
from PIL import Image

from genmnist.checkpoint import load_checkpoint
from genmnist.models import MODELS
from helpers import assert_clean_error, cli

ZOO = ["dcgan", "wgan", "wgan-gp", "vaegan", "vqvae"]
EXTRA = {"dcgan": ["--latent-dim", "8"]}  # --latent-dim reaches GANs too


def small_test_split(mp: pytest.MonkeyPatch) -> None:
    """Score and reconstruct on 1000 test images instead of 10000: the commands' work is the
    same, the tests' budget is not."""
    import genmnist.cli.sample
    import genmnist.cli.train
    from genmnist.data import load_mnist

    def load(split="train", data_dir=None, download=True):
        s = load_mnist(split, data_dir, download)
        return s.head(1000) if split == "test" else s

    mp.setattr(genmnist.cli.train, "load_mnist", load)
    mp.setattr(genmnist.cli.sample, "load_mnist", load)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    outputs = {}
    with pytest.MonkeyPatch.context() as mp:
        small_test_split(mp)
        for model in ZOO:
            r = cli("train", model, "--epochs", "1", "--subset", "256", "--out", root,
                    "--name", model, "--device", "cpu", *EXTRA.get(model, []))
            assert r.exit_code == 0, r.output + r.stderr
            outputs[model] = r.stdout
    return root, outputs


@pytest.mark.parametrize("model", ZOO)
def test_round_trip(zoo, tmp_path, model, monkeypatch):
    small_test_split(monkeypatch)
    run = zoo[0] / model
    r = cli("generate", "-c", run, "--n", "12", "--out", tmp_path / "s", "--batch-size", "5",
            "--grid", tmp_path / "grid.png")
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "s").glob("*.png")) == [
        f"{i:05d}.png" for i in range(12)]
    assert Image.open(tmp_path / "s" / "00000.png").size == (28, 28)
    assert Image.open(tmp_path / "grid.png").size[0] > 280

    itp = tmp_path / "itp.png"
    r = cli("interpolate", "-c", run, "--steps", "5", "--method", "slerp", "--out", itp)
    assert r.exit_code == 0, r.stderr
    w, h = Image.open(itp).size
    if MODELS[model].has_encoder:  # image A, 5 decoded points, image B
        assert "from test image 0" in r.stdout and w > 6 * h
    else:  # 5 decoded points between two random codes
        assert "between two random codes (seed 0)" in r.stdout and 4 * h < w < 6 * h

    rec = tmp_path / "rec.png"
    r = cli("reconstruct", "-c", run, "--out", rec, "--n", "8")
    if MODELS[model].has_encoder:
        assert r.exit_code == 0, r.stderr
        assert "mean reconstruction error" in r.stdout and rec.is_file()
    else:
        assert_clean_error(r, f"model '{model}' has no encoder", "cannot reconstruct")
        assert not rec.exists()


def test_progress_shows_each_players_loss_and_the_wasserstein_estimate(zoo):
    out = zoo[1]
    assert "discriminator/loss" in out["dcgan"] and "generator/loss" in out["dcgan"]
    for model in ("wgan", "wgan-gp"):
        assert "critic/wasserstein" in out[model] and "generator/loss" in out[model]
    assert "critic/penalty" in out["wgan-gp"]
    for player in ("encoder", "decoder", "discriminator"):
        assert f"{player}/loss" in out["vaegan"]
    assert "PixelCNN prior" in out["vqvae"] and "prior epoch" in out["vqvae"]


def test_gan_settings_reach_the_checkpoint(zoo):
    ckpt = load_checkpoint(zoo[0] / "dcgan")
    assert ckpt["model_config"]["latent_dim"] == 8
    assert load_checkpoint(zoo[0] / "wgan")["train_config"]["batch_size"] == 64  # the paper's


def test_gan_interpolation_cannot_start_at_a_test_image(zoo, tmp_path):
    r = cli("interpolate", "-c", zoo[0] / "wgan", "--from", "3", "--out", tmp_path / "i.png")
    assert_clean_error(r, "has no encoder", "--seed")
    assert not (tmp_path / "i.png").exists()


def test_interpolation_seed_picks_the_codes(zoo, tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        assert cli("interpolate", "-c", zoo[0] / "dcgan", "--seed", seed, "--steps", "3",
                   "--out", tmp_path / f"{name}.png").exit_code == 0
    a, b, c = ((tmp_path / f"{n}.png").read_bytes() for n in "abc")
    assert a == b and a != c


@pytest.mark.parametrize("model", ["dcgan", "wgan-gp", "vqvae"])
def test_beta_only_where_it_means_something(model, in_tmp):
    assert_clean_error(cli("train", model, "--beta", "2", "--subset", "64"),
                       "does not take --beta")
    assert not (in_tmp / "runs").exists()
