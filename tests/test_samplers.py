"""Latent density samplers (genmnist.samplers): fitted without labels, saved in the checkpoint,
seeded, refittable on old checkpoints, and chosen with `--sampler`."""

from __future__ import annotations

import json

import pytest
import torch

from genmnist.checkpoint import load_checkpoint, load_model, save_checkpoint
from genmnist.models import build_model, make_config
from genmnist.samplers import LatentSampler, fit_latent_sampler, fit_mixture
from helpers import assert_clean_error, cli


def pngs(folder):
    return sorted(p.name for p in folder.glob("*.png"))


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    r = cli("train", "ae", "--epochs", "1", "--subset", "256", "--batch-size", "64", "--out",
            root, "--name", "ae", "--device", "cpu", "--latent-dim", "4",
            "--sampler-components", "3", "--quality-every", "1", "--quality-n", "200")
    assert r.exit_code == 0, r.stderr
    return root / "ae"


def test_mixture_recovers_two_clusters():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(500, 2, generator=g) * 0.1 + torch.tensor([3.0, 0.0])
    b = torch.randn(500, 2, generator=g) * 0.1 - torch.tensor([3.0, 0.0])
    m = fit_mixture(torch.cat([a, b]), 2)
    assert sorted(m.means[:, 0].round().tolist()) == [-3.0, 3.0]
    assert torch.allclose(m.weights, torch.tensor([0.5, 0.5], dtype=m.weights.dtype), atol=0.01)
    z = m.sample(2000, torch.Generator().manual_seed(1))
    assert z.shape == (2000, 2) and z.dtype == torch.float32
    assert abs(float((z[:, 0] > 0).float().mean()) - 0.5) < 0.05  # both components drawn


def test_unconditional_fit_ignores_labels(mnist_test):
    torch.manual_seed(0)
    model = build_model("vae", make_config("vae", {"latent_dim": 3})).eval()
    x, y = mnist_test.float_images(slice(0, 300)), mnist_test.labels[:300]
    shuffled = y[torch.randperm(300, generator=torch.Generator().manual_seed(5))]
    a = fit_latent_sampler(model, x, y, 4, seed=0)
    b = fit_latent_sampler(model, x, shuffled, 4, seed=0)
    assert not a.per_label
    for ta, tb in zip(a.mixtures[0].state_dict().values(), b.mixtures[0].state_dict().values(),
                      strict=True):
        assert torch.equal(ta, tb)


def test_conditional_model_gets_one_mixture_per_digit(mnist_test):
    torch.manual_seed(0)
    model = build_model("cond-vae", make_config("cond-vae", {"latent_dim": 3})).eval()
    x, y = mnist_test.float_images(slice(0, 500)), mnist_test.labels[:500]
    s = fit_latent_sampler(model, x, y, 2, seed=0)
    assert s.per_label and len(s.mixtures) == 10
    # codes for digit d come from digit d's mixture: the draw for y=3 equals mixture 3's draw
    y3 = torch.full((6,), 3)
    z = s.sample(6, y3, torch.Generator().manual_seed(2))
    assert torch.equal(z, s.mixtures[3].sample(6, torch.Generator().manual_seed(2)))


def test_sampler_saved_reloaded_and_seeded(ae_run):
    ckpt = load_checkpoint(ae_run)
    assert ckpt["sampler"]["kind"] == "gmm" and ckpt["sampler"]["components"] == 3
    model, _ = load_model(ae_run)
    assert isinstance(model.latent_sampler, LatentSampler)
    a = model.sample(5, generator=torch.Generator().manual_seed(3))
    b = model.sample(5, generator=torch.Generator().manual_seed(3))
    c = model.sample(5, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_quality_every_epoch_lands_in_metrics(ae_run):
    record = json.loads((ae_run / "metrics.jsonl").read_text().splitlines()[-1])
    q = record["quality"]
    assert q["n"] == 200 and "gmm" in q and "prior" not in q  # an AE has no prior
    assert 0 < q["gmm"]["fid"] < 1e4 and 0 <= q["gmm"]["digit_entropy"] <= 1


def test_generate_says_which_sampler(ae_run, tmp_path):
    r = cli("generate", "-c", ae_run, "--n", "6", "--out", tmp_path / "s")
    assert r.exit_code == 0, r.stderr
    assert "sampler: gmm (3-component Gaussian mixture" in r.stdout
    assert len(pngs(tmp_path / "s")) == 6
    assert_clean_error(cli("generate", "-c", ae_run, "--n", "6", "--out", tmp_path / "p",
                           "--sampler", "prior"), "no prior")
    assert not (tmp_path / "p").exists()


@pytest.fixture(scope="module")
def old_vae(tmp_path_factory):
    """A vae checkpoint as genmnist wrote them before the samplers: no "sampler" entry."""
    root = tmp_path_factory.mktemp("old")
    r = cli("train", "vae", "--epochs", "1", "--subset", "256", "--batch-size", "64", "--out",
            root, "--name", "vae", "--device", "cpu", "--latent-dim", "4",
            "--sampler-components", "2")
    assert r.exit_code == 0, r.stderr
    path = root / "vae" / "checkpoint.pt"
    ckpt = load_checkpoint(path)
    del ckpt["sampler"]
    save_checkpoint(ckpt, path)
    return root / "vae"


def test_old_checkpoint_generates_with_the_prior_and_says_so(old_vae, tmp_path):
    r = cli("generate", "-c", old_vae, "--n", "4", "--out", tmp_path / "s")
    assert r.exit_code == 0, r.stderr
    assert "sampler: prior (N(0, I))" in r.stdout
    assert_clean_error(cli("generate", "-c", old_vae, "--n", "4", "--out", tmp_path / "g",
                           "--sampler", "gmm"), "no fitted latent density")


def test_refit_on_old_checkpoint_then_each_sampler(old_vae, tmp_path):
    r = cli("fit-sampler", "-c", old_vae, "--components", "3", "--score", "200")
    assert r.exit_code == 0, r.stderr
    assert "3-component Gaussian mixture" in r.stdout and "prior" in r.stdout
    assert load_checkpoint(old_vae)["sampler"]["components"] == 3
    made = {}
    for kind in ("prior", "gmm"):
        r = cli("generate", "-c", old_vae, "--n", "4", "--out", tmp_path / kind, "--sampler",
                kind)
        assert r.exit_code == 0, r.stderr
        assert f"sampler: {kind}" in r.stdout
        made[kind] = [(tmp_path / kind / f).read_bytes() for f in pngs(tmp_path / kind)]
    assert made["prior"] != made["gmm"]
    itp = tmp_path / "itp.png"
    r = cli("interpolate", "-c", old_vae, "--sampler", "gmm", "--steps", "5", "--out", itp)
    assert r.exit_code == 0 and "Gaussian mixture" in r.stdout, r.stderr


def test_fit_sampler_refuses_a_gan(tmp_path):
    r = cli("train", "dcgan", "--epochs", "1", "--subset", "128", "--batch-size", "64", "--out",
            tmp_path, "--name", "gan", "--device", "cpu")
    assert r.exit_code == 0, r.stderr
    assert_clean_error(cli("fit-sampler", "-c", tmp_path / "gan"), "no continuous latent")
    assert_clean_error(cli("generate", "-c", tmp_path / "gan", "--sampler", "gmm", "--out",
                           tmp_path / "s"), "no continuous latent")


def test_quality_waits_for_a_prior_fitted_after_training(tmp_path):
    """vqvae samples through a PixelCNN fitted after the last epoch: earlier epochs are not
    scored (the full benchmark once stopped there), the last one is."""
    r = cli("train", "vqvae", "--epochs", "2", "--subset", "256", "--batch-size", "64", "--out",
            tmp_path, "--name", "vq", "--device", "cpu", "--quality-every", "1",
            "--quality-n", "200", "--set", "prior_epochs=1")
    assert r.exit_code == 0, r.stderr
    records = [json.loads(s) for s in (tmp_path / "vq" / "metrics.jsonl").read_text().splitlines()]
    assert "prior" not in records[0]["quality"]
    assert records[-1]["quality"]["prior"]["fid"] > 0
