"""`genmnist latent`: scatter and manifold pictures for 1-d, 2-d, larger and code-map latents."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from PIL import Image

from genmnist.data import load_mnist
from genmnist.latent import latent_pictures, manifold_codes, project
from genmnist.models import GenerativeModel, make_config
from genmnist.models.vae import VAE
from genmnist.training import TrainConfig, fit
from helpers import assert_clean_error, cli


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
    """One-epoch runs on 512 images: vae with a 2-d and a 1-d latent, cvae (16-d), cond-vae 2-d."""
    root = tmp_path_factory.mktemp("latent-runs")
    train, test = load_mnist("train", data_dir).head(512), load_mnist("test", data_dir).head(64)
    for name, model, dim in (("vae2", "vae", 2), ("vae1", "vae", 1), ("cvae16", "cvae", 16),
                             ("cond2", "cond-vae", 2)):
        tcfg = TrainConfig(model=model, epochs=1, batch_size=64, eval_size=64)
        fit(tcfg, make_config(model, {"latent_dim": dim}), train, test, root / name,
            torch.device("cpu"))
    return root


def picture(path):
    im = Image.open(path)
    return im.size


def test_2d_latent_writes_scatter_and_manifold(runs, tmp_path):
    r = cli("latent", "-c", runs / "vae2", "--n", "500", "--grid-size", "8", "--range", "2",
            "--out", tmp_path)
    assert r.exit_code == 0, r.output + r.stderr
    w, h = picture(tmp_path / "latent_scatter.png")
    assert w > 300 and h > 300
    assert picture(tmp_path / "latent_manifold.png")[0] > 8 * 28
    assert "500 test codes" in r.stdout and "8 per side over [-2, 2]" in r.stdout


def test_16d_latent_is_projected_and_has_no_manifold(runs, tmp_path):
    r = cli("latent", "-c", runs / "cvae16", "--n", "300", "--out", tmp_path)
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "latent_scatter.png").is_file()
    assert not (tmp_path / "latent_manifold.png").exists()
    assert "no decoded manifold: cvae has a 16-d latent" in r.stdout
    r = cli("latent", "-c", runs / "cvae16", "--n", "150", "--method", "tsne", "--threads", "1",
            "--force",
            "--out", tmp_path)
    assert r.exit_code == 0, r.stderr


def test_1d_latent_strip_plot_and_row_manifold(runs, tmp_path):
    r = cli("latent", "-c", runs / "vae1", "--n", "300", "--grid-size", "12", "--out", tmp_path)
    assert r.exit_code == 0, r.stderr
    w, h = picture(tmp_path / "latent_manifold.png")
    assert w > 3 * h  # one row of 12 decodings


def test_conditional_manifold_needs_a_digit(runs, tmp_path):
    r = cli("latent", "-c", runs / "cond2", "--n", "200", "--out", tmp_path / "a")
    assert r.exit_code == 0 and "pass --digit 0-9" in r.stdout
    assert not (tmp_path / "a" / "latent_manifold.png").exists()
    r = cli("latent", "-c", runs / "cond2", "--n", "200", "--digit", "3", "--out", tmp_path / "b")
    assert r.exit_code == 0 and (tmp_path / "b" / "latent_manifold.png").is_file()
    assert_clean_error(cli("latent", "-c", runs / "vae2", "--digit", "3", "--out", tmp_path / "c"),
                       "is not conditional")


def test_existing_pictures_are_kept_unless_force(runs, tmp_path):
    (tmp_path / "latent_scatter.png").write_bytes(b"mine")
    r = cli("latent", "-c", runs / "vae2", "--n", "100", "--out", tmp_path)
    assert_clean_error(r, "latent_scatter.png already exists; pass --force")
    assert (tmp_path / "latent_scatter.png").read_bytes() == b"mine"
    r = cli("latent", "-c", runs / "vae2", "--n", "100", "--out", tmp_path, "--force")
    assert r.exit_code == 0 and (tmp_path / "latent_scatter.png").read_bytes() != b"mine"


def test_a_model_without_encoder_is_a_clean_error(runs, tmp_path, monkeypatch):
    monkeypatch.setattr(VAE, "has_encoder", False)  # stands in for a GAN, which has no encoder
    assert_clean_error(cli("latent", "-c", runs / "vae2", "--out", tmp_path),
                       "model 'vae' has no encoder, so it cannot show its latent space")


def test_manifold_grid_runs_like_the_scatter_axes():
    z = manifold_codes(2, 3.0, 5)
    assert z.shape == (25, 2)
    assert z[0].tolist() == [-3.0, 3.0] and z[4].tolist() == [3.0, 3.0]  # top row: z2 = +3
    assert z[-1].tolist() == [3.0, -3.0]
    assert manifold_codes(1, 1.0, 3).flatten().tolist() == [-1.0, 0.0, 1.0]


def test_pca_finds_the_directions_of_largest_variance():
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(400, 6, generator=g) * torch.tensor([0.01, 5.0, 0.01, 2.0, 0.01, 0.01])
    pts, axes = project(codes, "pca")
    assert pts.shape == (400, 2) and axes[0].startswith("PC1 (")
    # the two coordinates are uncorrelated and carry the two largest variances of the codes
    top2 = np.linalg.eigvalsh(np.cov(codes.numpy().T))[::-1][:2]
    assert np.allclose(np.cov(pts.T), np.diag(top2), rtol=1e-3, atol=1e-3)
    assert axes[0] == f"PC1 ({100 * top2[0] / np.trace(np.cov(codes.numpy().T)):.0f}% of variance)"
    assert project(codes[:, :2], "pca")[1] == ("z1", "z2")  # 2-d codes are plotted as they are


@dataclass
class CodeMapConfig:
    latent_dim: int = 4


class CodeMapModel(GenerativeModel):
    """A stand-in for VQ-VAE: its codes are (4, 7, 7) maps, not vectors."""

    name = "codemap"
    config_class = CodeMapConfig
    has_encoder = True

    def __init__(self, config):
        super().__init__(config)
        self.enc = torch.nn.Conv2d(1, 4, 4, 4)

    @property
    def latent_shape(self):
        return (4, 7, 7)

    def encode(self, x, y=None):
        return self.enc(x)


def test_code_map_latents_are_flattened_and_get_no_manifold(tmp_path, mnist_test):
    res = latent_pictures(CodeMapModel(CodeMapConfig()), mnist_test.float_images()[:200],
                          mnist_test.labels[:200], tmp_path)
    assert res.scatter.is_file() and res.manifold is None
    assert res.note == ("no decoded manifold: codemap has a code map; it is drawn for 1-d and "
                        "2-d latents only")
