"""What the adversarial and discrete models promise beyond the common contract: WGAN's schedule
and clipping, WGAN-GP's penalty, VAE-GAN's routing of its three losses, VQ-VAE's quantiser and
the PixelCNN prior's causality."""

from __future__ import annotations

import pytest
import torch

from genmnist.errors import GenmnistError
from genmnist.models import build_model, make_config
from genmnist.models.pixelcnn import GatedPixelCNN


def batch(mnist_test, n=16):
    return mnist_test.float_images(slice(0, n)), mnist_test.labels[:n]


@pytest.mark.parametrize("name", ["wgan", "wgan-gp"])
def test_wgan_runs_n_critic_steps_per_generator_step(name):
    model = build_model(name, make_config(name, {"n_critic": 5}))
    plan = [model.schedule(s) for s in range(20)]
    assert all(p[0] == "critic" for p in plan)
    assert [s for s, p in enumerate(plan) if "generator" in p] == [4, 9, 14, 19]


def test_wgan_clips_the_critic_not_the_generator(mnist_test):
    torch.manual_seed(0)
    model = build_model("wgan", make_config("wgan", {"clip": 0.01}))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(100)  # push every weight far outside the box
    model.after_step("critic")
    assert all(p.abs().max() <= 0.01 for p in model.discriminator.parameters())
    assert max(p.abs().max() for p in model.generator.parameters()) > 0.01
    terms = model.loss(*batch(mnist_test), player="critic")
    assert torch.allclose(terms["loss"], -terms["wasserstein"])


def test_wgan_gp_penalty_is_weighted_and_trained(mnist_test):
    x, _ = batch(mnist_test)
    grads = {}
    for lam in (0.0, 10.0):
        torch.manual_seed(0)
        model = build_model("wgan-gp", make_config("wgan-gp", {"penalty": lam}))
        torch.manual_seed(1)
        terms = model.loss(x, player="critic")
        assert torch.allclose(terms["loss"], -terms["wasserstein"] + lam * terms["penalty"])
        terms["loss"].backward()
        grads[lam] = model.discriminator.head.weight.grad.clone()
    assert not torch.allclose(grads[0.0], grads[10.0]), "the penalty must reach the critic"
    # Held-out scoring runs under no_grad; the penalty still needs its input gradient there.
    out = build_model("wgan-gp").eval().evaluate(x)
    assert out["critic/penalty"] > 0 and set(out) >= {"critic/wasserstein", "generator/loss"}


def test_vaegan_routes_each_loss_to_its_player(mnist_test):
    torch.manual_seed(0)
    model = build_model("vaegan").train()
    x, _ = batch(mnist_test)
    nets = {"encoder": model.encoder, "decoder": model.decoder,
            "discriminator": model.discriminator}
    reached = {}
    for player in model.players:
        model.zero_grad(set_to_none=True)
        model.loss(x, player=player)["loss"].backward()
        reached[player] = {n for n, net in nets.items()
                           if any(p.grad is not None and p.grad.abs().sum() > 0
                                  for p in net.parameters())}
    # The paper's Algorithm 1: each loss updates its own player only (the GAN loss never
    # reaches the encoder; L_llike never trains the discriminator).
    assert reached == {p: {p} for p in model.players}


def test_vqvae_quantises_and_passes_gradients_straight_through(mnist_test):
    torch.manual_seed(0)
    model = build_model("vqvae").train()
    x, _ = batch(mnist_test)
    terms = model.loss(x)
    z_e = model.encode(x)
    codes = model.codes_of(z_e)
    assert codes.shape == (16, 7, 7) and codes.max() < model.config.codebook_size
    e = model.codebook.weight
    # Each code is the nearest codebook vector.
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, z_e.shape[1])
    assert torch.equal(torch.cdist(flat, e).argmin(1), codes.flatten())
    assert torch.allclose(model.decode(z_e), model.decode_codes(codes))
    model.zero_grad()
    terms["recon"].backward()  # the reconstruction alone still trains the encoder
    assert model.encoder[0].weight.grad.abs().sum() > 0
    assert 1 <= terms["perplexity"] <= model.config.codebook_size


def test_vqvae_without_prior_says_so_and_uniform_codes_still_decode():
    model = build_model("vqvae").eval()
    with pytest.raises(GenmnistError, match="no fitted PixelCNN prior"):
        model.sample(2)
    out = model.sample_uniform_codes(3, torch.Generator().manual_seed(0))
    assert out.shape == (3, 1, 28, 28)


def test_pixelcnn_is_causal():
    """The logits at a position depend only on the codes before it in raster order."""
    torch.manual_seed(0)
    net = GatedPixelCNN(num_codes=8, channels=8, layers=3).eval()
    codes = torch.randint(8, (1, 7, 7))
    base = net(codes)
    for i, j in [(0, 0), (2, 3), (3, 0), (6, 6)]:
        changed = codes.clone()
        changed[0, i, j] = (changed[0, i, j] + 1) % 8
        diff = (net(changed) - base).abs().amax(dim=1)[0]              # (7, 7)
        pos = torch.arange(49).view(7, 7)
        assert diff[pos <= i * 7 + j].max() == 0, (i, j)
        if (i, j) != (6, 6):
            assert diff[pos > i * 7 + j].max() > 0, (i, j)  # and later positions do see it


def test_pixelcnn_sampling_is_seeded_and_in_range():
    net = GatedPixelCNN(num_codes=8, channels=8, layers=2).eval()
    a = net.sample(4, (7, 7), torch.Generator().manual_seed(0))
    b = net.sample(4, (7, 7), torch.Generator().manual_seed(0))
    assert a.shape == (4, 7, 7) and torch.equal(a, b)
    assert a.min() >= 0 and a.max() < 8
