"""The importance-weighted NLL (genmnist.metrics.likelihood), binarised MNIST, `genmnist nll`."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest
import torch

from genmnist.data import Split, binarize
from genmnist.metrics.likelihood import NoLikelihood, estimate_nll, image_bounds
from genmnist.models import build_model, make_config
from genmnist.models.vae import VAEBase
from helpers import assert_clean_error, cli


@dataclass
class ToyConfig:
    latent_dim: int = 1
    beta: float = 1.0


class ToyVAE(VAEBase):
    """A 1-d latent and 8 Bernoulli pixels: small enough to integrate p(x) on a grid."""

    name = "toy"
    config_class = ToyConfig

    def __init__(self, q_scale: float = 1.0):
        super().__init__(ToyConfig())
        g = torch.Generator().manual_seed(1)
        self.w = torch.randn(8, generator=g) * 2.5
        self.b = torch.randn(8, generator=g)
        self.q_scale = q_scale  # a deliberately imperfect encoder: mean 0.3 * sum(x), sd q_scale

    def _encode(self, x, y=None):
        flat = x.reshape(x.shape[0], -1)
        mu = 0.3 * (flat.sum(1, keepdim=True) - 4)
        return mu, torch.full_like(mu, 2 * math.log(self.q_scale))

    def _decode_logits(self, z, y=None):
        return z * self.w + self.b


def exact_log_px(model: ToyVAE, x: torch.Tensor) -> torch.Tensor:
    """log of the integral of N(z; 0, 1) prod_i Bern(x_i; sigmoid(w_i z + b_i)) over z."""
    z = torch.linspace(-12, 12, 200_001, dtype=torch.float64)
    logits = z[:, None] * model.w.double() + model.b.double()  # (grid, 8)
    out = []
    for xi in x.double():
        log_px_z = -torch.nn.functional.binary_cross_entropy_with_logits(
            logits, xi.expand_as(logits), reduction="none").sum(1)
        log_joint = log_px_z - 0.5 * z ** 2 - 0.5 * math.log(2 * math.pi)
        out.append(torch.logsumexp(log_joint, 0) + math.log(float(z[1] - z[0])))
    return torch.stack(out)


def toy_data(n: int, seed: int = 0) -> torch.Tensor:
    return torch.bernoulli(torch.full((n, 8), 0.5), generator=torch.Generator().manual_seed(seed))


def test_the_estimate_agrees_with_the_exact_likelihood():
    model, x = ToyVAE(), toy_data(6)
    exact = exact_log_px(model, x)
    bound, elbo = image_bounds(model, x, None, 20_000, torch.Generator().manual_seed(0))
    assert torch.allclose(bound, exact, atol=0.03), (bound, exact)
    assert (elbo < exact - 0.05).all()  # the ELBO is a strictly looser bound here


def test_k1_is_the_elbo_and_agrees_with_the_training_loss():
    model, x = ToyVAE(), toy_data(4000)
    r = estimate_nll(model, x, None, k=1, batch_size=500)
    assert r.nll == pytest.approx(-r.elbo, abs=1e-9)
    loss = _analytic_neg_elbo(model, x)  # the loss's analytic KL: the same ELBO in expectation
    assert abs(r.nll - loss) < 4 * r.nll_se + 0.05


@torch.no_grad()
def _analytic_neg_elbo(model: ToyVAE, x: torch.Tensor, draws: int = 200) -> float:
    torch.manual_seed(0)
    return float(sum(model.loss(x)["loss"] for _ in range(draws)) / draws)


def test_more_draws_never_lower_the_bound_on_average():
    model, x = ToyVAE(q_scale=0.4), toy_data(2000)
    bounds = [estimate_nll(model, x, None, k=k, batch_size=500, seed=3).nll for k in (1, 5, 50)]
    assert bounds[0] > bounds[1] > bounds[2]  # NLL estimates fall: the bound on log p(x) rises
    exact = -float(exact_log_px(model, x[:200]).mean())
    assert estimate_nll(model, x[:200], None, k=2000, batch_size=200).nll == \
        pytest.approx(exact, abs=0.05)


def test_chunked_draws_combine_exactly(monkeypatch):
    import genmnist.metrics.likelihood as lk

    table = torch.randn(64, 10, generator=torch.Generator().manual_seed(5)) * 30

    class Replay:  # hands out the rows of `table` in order, however many are asked for
        def __init__(self):
            self.at = 0

        def log_weights(self, x, y, k, generator):
            self.at += k
            return table[self.at - k:self.at]

    x = torch.zeros(10, 8)
    whole = image_bounds(Replay(), x, None, 64)
    monkeypatch.setattr(lk, "MAX_DECODED", 70)  # 7 draws per chunk for 10 images
    chunked = image_bounds(Replay(), x, None, 64)
    expected = torch.logsumexp(table.double(), 0) - math.log(64)
    assert torch.allclose(whole[0], expected) and torch.allclose(chunked[0], expected)
    assert torch.allclose(chunked[1], table.double().mean(0))


def test_the_real_models_estimate_shapes_and_order():
    for name in ("vae", "cvae", "cond-vae"):
        model = build_model(name, make_config(name, {"latent_dim": 4}))
        x = torch.rand(6, 1, 28, 28).bernoulli()
        r = estimate_nll(model, x, torch.arange(6), k=8, batch_size=3)
        assert r.n == 6 and math.isfinite(r.nll) and r.nll <= -r.elbo + 1e-6, name
        assert model.log_weights(x, torch.arange(6), 5).shape == (5, 6)


def test_models_without_a_likelihood_are_refused():
    model = build_model("dcgan", make_config("dcgan", {}))
    with pytest.raises(NoLikelihood):
        estimate_nll(model, torch.rand(2, 1, 28, 28), None, k=2)


def test_binarisation_is_seeded_and_binary():
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(50, 1, 28, 28, generator=g) * 255).to(torch.uint8)
    split = Split(images, torch.zeros(50, dtype=torch.long))
    a, b, c = split.binarized(7), split.binarized(7), split.binarized(8)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    assert set(a.images.unique().tolist()) <= {0, 255}
    assert abs(float(a.images.float().mean() - images.float().mean())) < 3  # E[bit] = grey
    assert torch.equal(binarize(torch.full((3,), 255, dtype=torch.uint8)),
                       torch.full((3,), 255, dtype=torch.uint8))


def test_binarised_training_and_nll_round_trip(tmp_path):
    r = cli("train", "vae", "--binarize", "--epochs", "1", "--subset", "256", "--batch-size",
            "64", "--out", tmp_path, "--name", "b", "--device", "cpu", "--latent-dim", "4",
            "--sampler-components", "2")
    assert r.exit_code == 0, r.stderr
    assert "binarised" in r.stdout
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    assert config["train_config"]["binarize"] is True
    r = cli("nll", "-c", tmp_path / "b", "--n", "40", "--k", "5", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n"] == 40 and out["k"] == 5 and out["binarized"] is True
    assert math.isfinite(out["nll"]) and 0 < out["nll"] <= -out["elbo"] + 1e-6
    again = json.loads(cli("nll", "-c", tmp_path / "b", "--n", "40", "--k", "5",
                           "--json").stdout)
    assert again["nll"] == out["nll"]  # seeded draws, seeded test bits
    r = cli("nll", "-c", tmp_path / "b", "--n", "40", "--k", "5")
    assert r.exit_code == 0 and "NLL, IWAE k=5" in r.stdout and "binarised test set" in r.stdout


def test_grey_runs_are_labelled_as_not_a_likelihood(tmp_path):
    r = cli("train", "vae", "--epochs", "1", "--subset", "128", "--batch-size", "64", "--out",
            tmp_path, "--name", "g", "--device", "cpu", "--latent-dim", "4",
            "--sampler-components", "2")
    assert r.exit_code == 0, r.stderr
    r = cli("nll", "-c", tmp_path / "g", "--n", "20", "--k", "3")
    assert r.exit_code == 0, r.stderr
    assert "cross-entropy, not a likelihood" in r.stdout and "not comparable" in r.stdout
    out = json.loads(cli("nll", "-c", tmp_path / "g", "--n", "20", "--k", "3", "--json").stdout)
    assert out["binarized"] is False and out["trained_binarized"] is False


def test_a_gan_checkpoint_gets_one_clear_line(tmp_path):
    r = cli("train", "wgan", "--epochs", "1", "--subset", "128", "--batch-size", "64", "--out",
            tmp_path, "--name", "w", "--device", "cpu")
    assert r.exit_code == 0, r.stderr
    assert_clean_error(cli("nll", "-c", tmp_path / "w", "--n", "10"), "is a GAN",
                       "no log-likelihood")


def test_bad_k_is_a_clear_error(tmp_path):
    assert_clean_error(cli("nll", "-c", tmp_path / "none", "--k", "0"), "--k must be positive")


def test_binarize_cannot_change_on_resume(tmp_path):
    assert_clean_error(cli("train", "--resume", tmp_path / "x", "--binarize"),
                       "--binarize cannot be given with --resume")


def test_the_iwae_objective_trains_and_bounds_tighter():
    torch.manual_seed(0)
    model = build_model("vae", make_config("vae", {"latent_dim": 4, "hidden": 32, "iwae_k": 8}))
    x = torch.rand(64, 1, 28, 28).bernoulli()
    terms = model.loss(x)
    assert set(terms) == {"loss", "recon", "kl"} and all(torch.isfinite(v) for v in terms.values())
    terms["loss"].backward()
    assert all(p.grad is not None for p in model.parameters())
    with torch.no_grad():  # the k-draw bound is tighter than the ELBO, on average
        iwae = sum(float(model.loss(x)["loss"]) for _ in range(50)) / 50
        model.config.iwae_k = 1
        elbo = sum(float(model.loss(x)["loss"]) for _ in range(50)) / 50
    assert iwae < elbo
