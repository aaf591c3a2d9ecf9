"""`genmnist data export` and `genmnist fid` in MNIST feature space: round trips, named
references and their cache, `.npz` statistics, in-memory tensors, and every bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from genmnist.errors import GenmnistError
from genmnist.metrics import score
from genmnist.metrics.reference import stats_dir
from helpers import assert_clean_error, cli


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One statistics cache for the module, never the user's ~/.cache."""
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("cache")
    mp.setenv("GENMNIST_CACHE", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def real(tmp_path_factory, cache):
    """The first 300 MNIST test digits, exported as a sample folder."""
    out = tmp_path_factory.mktemp("export") / "real"
    r = cli("data", "export", out, "--split", "test", "--n", "300")
    assert r.exit_code == 0, r.stderr
    return out


def fid_json(*args) -> dict:
    r = cli("fid", *args, "--json", "--threads", "1")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_export_writes_mnist_as_generate_does(real, mnist_test):
    files = sorted(p.name for p in real.iterdir())
    assert files == [f"{i:05d}.png" for i in range(300)]
    im = Image.open(real / "00007.png")
    assert im.size == (28, 28) and im.mode == "L"
    assert np.array_equal(np.asarray(im), mnist_test.images[7, 0].numpy())
    assert_clean_error(cli("data", "export", real, "--n", "5"), "already holds 300 images",
                       "--force")


def test_fid_against_named_reference_names_the_feature_space(real, cache):
    r = cli("fid", real, "mnist-test", "--threads", "1")
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert "MNIST classifier features, 128-d" in out and "FID (MNIST, 128-d)" in out
    for row in ("KID", "precision", "recall", "IS (MNIST classifier)", "digit coverage"):
        assert row in out
    # the statistics of mnist-test were cached under $GENMNIST_CACHE/stats
    cached = list((cache / "stats").glob("mnist-test-mnist128-*.npz"))
    assert len(cached) == 1 and stats_dir() == cache / "stats"
    with np.load(cached[0]) as f:
        assert f["mu"].shape == (128,) and f["sigma"].shape == (128, 128) and int(f["n"]) == 10000
        assert f["features"].shape == (10000, 128)


def test_json_has_every_metric_and_sane_values(real, cache):
    r = fid_json(real, "mnist-test")
    assert r["feature_space"] == "mnist" and r["dims"] == 128 and r["n_samples"] == 300
    assert r["reference"] == "mnist-test" and r["n_reference"] == 10000
    expected = {"fid", "kid", "kid_std", "precision", "recall", "inception_score",
                "digit_histogram", "digit_entropy"}
    assert expected <= r.keys()
    # real test digits against the test set: close, realistic, confident and balanced
    assert 0 < r["fid"] < 5 and r["precision"] > 0.9 and r["recall"] > 0.7
    assert 9.0 < r["inception_score"] <= 10 and r["digit_entropy"] > 0.98
    assert sum(r["digit_histogram"]) == pytest.approx(1.0)


def test_same_folder_scores_zero_and_full_coverage(real, cache):
    r = fid_json(real, real, "--metrics", "fid,pr")
    assert r["fid"] == pytest.approx(0.0, abs=1e-6)
    assert r["precision"] == 1.0 and r["recall"] == 1.0
    assert "kid" not in r and "inception_score" not in r


def test_save_stats_round_trip_and_pytorch_fid_format(real, tmp_path, cache):
    npz = tmp_path / "real.npz"
    r = fid_json(real, "mnist-test", "--save-stats", npz, "--metrics", "fid")
    with np.load(npz) as f:
        assert {"mu", "sigma"} <= set(f.files) and f["mu"].shape == (128,)
    from_npz = fid_json(npz, "mnist-test", "--metrics", "fid")
    assert from_npz["fid"] == pytest.approx(r["fid"], rel=1e-9)
    assert_clean_error(cli("fid", real, "--save-stats", npz), "already exists", "--force")
    # a .npz holds no features: KID and precision/recall are skipped with a warning, not faked
    res = cli("fid", npz, "mnist-test", "--json")
    assert res.exit_code == 0 and "KID skipped" in res.stderr
    assert "kid" not in json.loads(res.stdout)


def test_tensor_scores_equal_folder_scores(real, cache):
    """The benchmark path: float tensors are rounded to 8 bits as PNGs are."""
    from genmnist.metrics.folder import read_folder

    x = read_folder(real).float() / 255
    x = (x + torch.rand_like(x) * 0.4 / 255).clamp(0, 1)  # off the 8-bit grid; rounds back
    a = score(x, "mnist-test", metrics=("fid", "is"))
    b = fid_json(real, "mnist-test", "--metrics", "fid,is")
    assert a["fid"] == pytest.approx(b["fid"], rel=1e-9)
    assert a["inception_score"] == pytest.approx(b["inception_score"], rel=1e-9)


def test_cache_is_rebuilt_when_corrupt(real, cache):
    before = fid_json(real, "mnist-test", "--metrics", "fid")["fid"]
    for f in (cache / "stats").glob("mnist-test-*.npz"):
        f.write_bytes(b"truncated")
    assert fid_json(real, "mnist-test", "--metrics", "fid")["fid"] == pytest.approx(before)


def write(folder, arrays, mode="L"):
    folder.mkdir(exist_ok=True)
    for i, a in enumerate(arrays):
        Image.fromarray(a, mode=mode).save(folder / f"{i:05d}.png")
    return folder


def test_bad_folders_are_one_line(tmp_path, real, cache):
    assert_clean_error(cli("fid", tmp_path / "nope", "mnist-test"), "nope does not exist")
    (tmp_path / "empty").mkdir()
    assert_clean_error(cli("fid", tmp_path / "empty"), "holds no images")
    txt = tmp_path / "texts"
    txt.mkdir()
    (txt / "a.txt").write_text("hi")
    assert_clean_error(cli("fid", txt), "holds no images (it holds 1 files that are not images)")
    corrupt = write(tmp_path / "corrupt", [np.zeros((28, 28), np.uint8)] * 3)
    (corrupt / "00001.png").write_bytes(b"\x89PNG\r\n garbage")
    assert_clean_error(cli("fid", corrupt), "00001.png is not a readable image")
    big = write(tmp_path / "big", [np.zeros((32, 32), np.uint8)] * 2)
    assert_clean_error(cli("fid", big), "00000.png is 32x32", "28x28")
    rgb = write(tmp_path / "rgb", [np.zeros((28, 28, 3), np.uint8)] * 2, mode="RGB")
    assert_clean_error(cli("fid", rgb), "00000.png is a color (RGB) image (mode RGB)", "grayscale")
    one = write(tmp_path / "one", [np.zeros((28, 28), np.uint8)])
    assert_clean_error(cli("fid", one), "holds 1 image(s)", "at least 2")


def test_non_image_files_are_skipped_with_a_warning(tmp_path, real, cache):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for p in sorted(real.iterdir())[:200]:
        (mixed / p.name).write_bytes(p.read_bytes())
    (mixed / "notes.txt").write_text("not an image")
    r = cli("fid", mixed, "mnist-test", "--metrics", "fid", "--json")
    assert r.exit_code == 0, r.stderr
    assert "genmnist: warning: skipped 1 non-image file(s)" in r.stderr and "notes.txt" in r.stderr
    assert json.loads(r.stdout)["n_samples"] == 200


def test_few_samples_warn_that_fid_is_unreliable(tmp_path, real, cache):
    few = tmp_path / "few"
    few.mkdir()
    for p in sorted(real.iterdir())[:50]:
        (few / p.name).write_bytes(p.read_bytes())
    r = cli("fid", few, "mnist-test", "--metrics", "fid", "--json")
    assert r.exit_code == 0, r.stderr
    assert "50 samples, fewer than the 128 feature dimensions" in r.stderr
    assert "FID is unreliable" in r.stderr and np.isfinite(json.loads(r.stdout)["fid"])


def test_bad_npz_reference_and_options(tmp_path, real, cache):
    bad = tmp_path / "bad.npz"
    np.savez(bad, mean=np.zeros(128))
    assert_clean_error(cli("fid", real, bad), "has no 'mu' and 'sigma'", "holds: mean")
    wrong = tmp_path / "inception.npz"
    np.savez(wrong, mu=np.zeros(2048), sigma=np.eye(2048))
    assert_clean_error(cli("fid", real, wrong), "2048-d statistics", "128-d")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"nope")
    assert_clean_error(cli("fid", real, junk), "not a readable .npz")
    assert_clean_error(cli("fid", real, tmp_path / "missing.npz"), "missing.npz not found")
    assert_clean_error(cli("fid", real, "mnist-tset"), "'mnist-tset' is neither",
                       "mnist-test, mnist-train")
    assert_clean_error(cli("fid", real, "--metrics", "fid,psnr"), "unknown metric psnr")
    assert_clean_error(cli("fid", real, "--dims", "64"), "--dims 64 does not apply")
    assert_clean_error(cli("fid", real, "--save-stats", tmp_path / "s.txt"), "must end in .npz")
    with pytest.raises(GenmnistError, match="must be .* \\(N, 1, 28, 28\\)"):
        score(torch.rand(4, 28, 28), "mnist-test")


def test_help_names_the_default_feature_space():
    r = cli("fid", "--help")
    assert r.exit_code == 0
    assert r.stdout.startswith("Usage: genmnist fid [OPTIONS] SAMPLES [REFERENCE]\n")
    text = " ".join(r.stdout.split())
    assert "[default: mnist]" in text and "inception" in text
    assert "named reference: mnist-test or mnist-train" in text
    assert "--inception-weights" in r.stdout and "without weights and offline" in r.stdout
    r = cli("data", "--help")
    assert r.exit_code == 0 and "export" in r.stdout and "train-classifier" in r.stdout
