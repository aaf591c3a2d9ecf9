"""The model contract, checked for every model in the registry."""

from __future__ import annotations

import pytest
import torch

from genmnist.models import MODELS, build_model, make_config, parse_settings
from genmnist.training import make_optimizer

# Exact loss terms per model and player, as each model declares them: adding a model is its
# file; the tests below hold it to its own declaration.
LOSS_KEYS = {name: {p: set(t) for p, t in cls.terms.items()} for name, cls in MODELS.items()}


def fit_prior(model, mnist_test, n=200):
    """What training does last: fit the model's sampler (latent mixture, VQ-VAE PixelCNN prior)."""
    from genmnist.training import fit_after_training

    fit_after_training(model, mnist_test.float_images(slice(0, n)), mnist_test.labels[:n], 100,
                       components=5, seed=0)


def batch(mnist_test, n=16):
    return mnist_test.float_images(slice(0, n)), mnist_test.labels[:n]


def test_every_model_declares_the_terms_of_each_player():
    for name, cls in MODELS.items():
        assert set(cls.terms) == set(cls.players), name
        assert all("loss" in t for t in cls.terms.values()), name


@pytest.mark.parametrize("name", sorted(MODELS))
def test_loss_terms_exact_and_finite(name, mnist_test):
    torch.manual_seed(0)
    model = build_model(name)
    x, y = batch(mnist_test)
    assert set(model.players) == set(LOSS_KEYS[name])
    for player in model.players:
        terms = model.loss(x, y, player)
        assert set(terms) == LOSS_KEYS[name][player]
        for k, v in terms.items():
            assert v.dim() == 0 and torch.isfinite(v), (name, player, k, v)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_one_step_changes_each_players_weights(name, mnist_test):
    torch.manual_seed(0)
    model = build_model(name).train()
    x, y = batch(mnist_test, 32)
    model.loss(x, y, model.players[0])  # VQ-VAE sets its codebook on the first batch; not a step
    for player in model.players:
        params = [p for p in model.player_parameters(player)]
        before = [p.detach().clone() for p in params]
        opt = make_optimizer(params, model.optimizer_spec(player), None)
        opt.zero_grad()
        model.loss(x, y, player)["loss"].backward()
        opt.step()
        model.after_step(player)  # as the trainer does (WGAN clips here)
        changed = sum(not torch.equal(b, p) for b, p in zip(before, params, strict=False))
        assert changed == len(params), f"{name}/{player}: {changed} of {len(params)} changed"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_sample_shape_range_and_seed(name, mnist_test):
    torch.manual_seed(0)
    model = build_model(name).eval()
    if name in ("ae", "vqvae"):  # they sample from a prior fitted after training
        model = build_model(name, make_config(name, {"prior_epochs": 1} if name == "vqvae" else {}))
        fit_prior(model.eval(), mnist_test)
    y = torch.arange(5) % 10 if model.conditional else None
    a = model.sample(5, y, generator=torch.Generator().manual_seed(3))
    b = model.sample(5, y, generator=torch.Generator().manual_seed(3))
    c = model.sample(5, y, generator=torch.Generator().manual_seed(4))
    assert a.shape == (5, 1, 28, 28)
    assert a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("name", [n for n in sorted(MODELS) if MODELS[n].has_encoder])
@pytest.mark.parametrize("latent_dim", [1, 2])
def test_encode_decode_shapes_small_latents(name, latent_dim, mnist_test):
    model = build_model(name, make_config(name, {"latent_dim": latent_dim})).eval()
    x, y = batch(mnist_test, 4)
    z = model.encode(x, y)
    assert model.latent_shape[0] == latent_dim  # (D, 7, 7) code maps for vqvae
    assert z.shape == (4, *model.latent_shape)
    assert model.decode(z, y).shape == (4, 1, 28, 28)
    assert torch.isfinite(model.loss(x, y, model.players[0])["loss"])


@pytest.mark.parametrize("beta", [0.1, 10.0])
def test_beta_weights_the_kl_term(beta, mnist_test):
    torch.manual_seed(0)
    model = build_model("vae", make_config("vae", {"beta": beta}))
    torch.manual_seed(1)
    terms = model.loss(*batch(mnist_test))
    assert torch.allclose(terms["loss"], terms["recon"] + beta * terms["kl"])


def test_cond_vae_samples_follow_the_label():
    model = build_model("cond-vae").eval()
    g = torch.Generator().manual_seed(0)
    z = torch.randn(1, model.config.latent_dim, generator=g).repeat(2, 1)
    a, b = model.decode(z, torch.tensor([3, 7]))
    assert not torch.allclose(a, b), "the label must change the decoding"


def test_unknown_config_field_is_a_user_error():
    from genmnist.errors import GenmnistError

    with pytest.raises(GenmnistError, match="does not take --beta"):
        make_config("ae", {"beta": 2.0})


@pytest.mark.parametrize("name", sorted(MODELS))
def test_players_own_disjoint_parameters(name):
    model = build_model(name)
    owned = [{id(p) for p in model.player_parameters(pl)} for pl in model.players]
    assert sum(map(len, owned)) == len(set().union(*owned)), "a parameter has two players"
    if len(model.players) > 1:  # every weight of an adversarial model belongs to some player
        assert set().union(*owned) == {id(p) for p in model.parameters()}


def test_gans_have_no_encoder():
    from genmnist.errors import GenmnistError

    for name in ("dcgan", "wgan", "wgan-gp"):
        model = build_model(name)
        assert not model.has_encoder
        with pytest.raises(GenmnistError, match="has no encoder"):
            model.encode(torch.zeros(1, 1, 28, 28))


def test_settings_are_parsed_against_the_models_config():
    from genmnist.errors import BadConfigValue, UnknownConfigField

    assert parse_settings("vqvae", ["channels=8", "commitment=0.5", "prior-epochs=1"]) == \
        {"channels": 8, "commitment": 0.5, "prior_epochs": 1}
    with pytest.raises(UnknownConfigField, match="model 'vae' has no setting 'chanels'"):
        parse_settings("vae", ["chanels=8"])
    for bad in ("hidden=0", "hidden=2.5", "beta=-1", "beta=nan", "hidden"):
        with pytest.raises(BadConfigValue):
            parse_settings("vae", [bad])
