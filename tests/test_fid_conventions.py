"""`genmnist fid` as a pytorch-fid or torch-fidelity user tries it: the same files count as
images, pytorch-fid's options work, progress shows on stderr, KID says its unit, RGB images get
a way forward, and a checkpoint can be scored without writing PNGs. MNIST features only: fast."""

from __future__ import annotations

import io
import json
import pathlib
import re

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from genmnist.metrics.features import feature_space
from genmnist.report import markdown_table
from helpers import assert_clean_error, cli, tiny_vae_run


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """A fresh statistics cache per test: tests can see whether a reference was computed."""
    monkeypatch.setenv("GENMNIST_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def write_digits(folder, images, names=None, mode="L"):
    """Save uint8 arrays as image files (default names 00000.png, ...)."""
    folder.mkdir(exist_ok=True)
    for i, a in enumerate(images):
        Image.fromarray(a, mode=mode).save(folder / (names[i] if names else f"{i:05d}.png"))
    return folder


@pytest.fixture
def digits(mnist_test):
    return mnist_test.images[:, 0].numpy()


@pytest.fixture
def ref(tmp_path, digits):
    """200 real test digits as a folder REFERENCE (no named reference to compute)."""
    return write_digits(tmp_path / "ref", digits[1000:1200])


def fid_json(*args) -> dict:
    r = cli("fid", *args, "--json", "--threads", "1")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def pytorch_fid_files(folder) -> list[pathlib.Path]:
    """The files `python -m pytorch_fid FOLDER` reads (compute_statistics_of_path's listing)."""
    from pytorch_fid.fid_score import IMAGE_EXTENSIONS

    path = pathlib.Path(folder)
    return sorted([file for ext in IMAGE_EXTENSIONS for file in path.glob(f'*.{ext}')])


def test_fid_counts_exactly_the_images_pytorch_fid_counts(tmp_path, digits, ref):
    mixed = write_digits(tmp_path / "mixed", digits[:100])
    write_digits(mixed, digits[100:200], [f"{i:05d}.PNG" for i in range(100)])  # not to it
    write_digits(mixed, digits[200:250], [f".{i:05d}.png" for i in range(50)])  # hidden: yes
    write_digits(mixed, digits[250:251], ["extra.ppm"])
    (mixed / "notes.txt").write_text("not an image")
    (mixed / ".DS_Store").write_bytes(b"\0\0")
    expected = pytorch_fid_files(mixed)
    assert len(expected) == 151
    r = cli("fid", mixed, ref, "--metrics", "fid", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["n_samples"] == len(expected)
    assert "skipped 101 non-image file(s)" in r.stderr and "lower case only" in r.stderr
    assert ".DS_Store" not in r.stderr  # hidden non-images go unsaid
    # the same 151 images, in the same order, as a plain folder: the same score
    plain = tmp_path / "plain"
    plain.mkdir()
    for i, p in enumerate(expected):
        (plain / f"{i:05d}.png").write_bytes(p.read_bytes())  # PIL reads by content
    assert fid_json(plain, ref, "--metrics", "fid")["fid"] == pytest.approx(
        fid_json(mixed, ref, "--metrics", "fid")["fid"], rel=1e-9)


def test_generate_force_clears_every_file_fid_would_score(tmp_path, digits, ref):
    run = tiny_vae_run(tmp_path / "runs")
    out = write_digits(tmp_path / "out", digits[:2], ["old.ppm", ".old.png"])
    write_digits(out, digits[2:3], ["KEEP.PNG"])
    (out / "notes.txt").write_text("mine")
    assert_clean_error(cli("generate", "-c", run, "--n", "20", "--out", out),
                       "already holds 2 images", "--force")
    r = cli("generate", "-c", run, "--n", "20", "--out", out, "--force")
    assert r.exit_code == 0, r.stderr
    left = sorted(p.name for p in out.iterdir())
    assert left == sorted(["KEEP.PNG", "notes.txt", *[f"{i:05d}.png" for i in range(20)]])
    assert fid_json(out, ref, "--metrics", "fid")["n_samples"] == 20


def test_pytorch_fid_save_stats_form_writes_statistics_and_scores_nothing(tmp_path, digits,
                                                                           ref, cache):
    samples = write_digits(tmp_path / "samples", digits[:300])
    ours, theirs = tmp_path / "ours.npz", tmp_path / "theirs.npz"
    r = cli("fid", "--save-stats", samples, theirs)  # python -m pytorch_fid's order
    assert r.exit_code == 0, r.stderr
    assert "nothing scored" in r.stdout and "FID" not in r.stdout
    out = fid_json(samples, "--save-stats", ours, "--stats-only")
    assert out["saved_stats"] == str(ours) and out["n_samples"] == 300 and "fid" not in out
    assert not (cache / "stats").exists()  # mnist-test never went through the network
    with np.load(ours) as a, np.load(theirs) as b:
        assert a["mu"].shape == (128,) and np.array_equal(a["mu"], b["mu"])
        assert np.array_equal(a["sigma"], b["sigma"])
    # the statistics score as the folder does
    assert fid_json(theirs, ref, "--metrics", "fid")["fid"] == pytest.approx(
        fid_json(samples, ref, "--metrics", "fid")["fid"], rel=1e-9)
    assert_clean_error(cli("fid", "--save-stats", samples, tmp_path / "out"),
                       "must end in .npz", "--stats-only", "--save-stats SAMPLES OUT.npz")
    assert_clean_error(cli("fid", samples, "--stats-only"), "needs a file to write")
    assert_clean_error(cli("fid", samples, ref, "--save-stats", tmp_path / "x.npz",
                           "--stats-only"), "REFERENCE", "not used")
    assert_clean_error(cli("fid", "--save-stats", samples, theirs), "already exists", "--force")


def test_batch_size_and_num_workers_are_accepted_and_change_no_score(tmp_path, digits, ref):
    samples = write_digits(tmp_path / "samples", digits[:300])
    base = fid_json(samples, ref, "--metrics", "fid,kid")
    other = fid_json(samples, ref, "--metrics", "fid,kid", "--batch-size", "7",
                     "--num-workers", "4")
    assert other["fid"] == pytest.approx(base["fid"], rel=1e-5)
    assert other["kid"] == pytest.approx(base["kid"], rel=1e-4, abs=1e-7)
    assert_clean_error(cli("fid", samples, ref, "--batch-size", "0"),
                       "--batch-size must be positive")


def test_batch_size_sets_the_forward_passes(digits):
    """The feature network sees --batch-size images at a time, and says so after each pass."""
    import torch

    images = torch.from_numpy(digits[:20]).unsqueeze(1)
    space = feature_space("mnist")
    space.batch_size, calls = 7, []
    space.progress = lambda what, done, total: calls.append((what, done, total))
    feats, probs = space.extract(images, "x")
    assert calls == [("mnist features of x", d, 20) for d in (7, 14, 20)]
    whole, whole_probs = feature_space("mnist").extract(images)
    assert torch.allclose(feats, whole, atol=1e-5) and torch.allclose(probs, whole_probs)


def test_progress_goes_to_stderr_and_json_stays_clean(tmp_path, digits, ref, monkeypatch):
    import genmnist.cli.fid as fid_cli

    buf = io.StringIO()
    monkeypatch.setattr(fid_cli, "err_console", Console(file=buf, force_terminal=True,
                                                        width=150))
    samples = write_digits(tmp_path / "samples", digits[:300])
    r = cli("fid", samples, ref, "--json", "--batch-size", "50")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["n_samples"] == 300  # stdout: the JSON object only
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buf.getvalue())
    assert f"reading {samples}" in shown and f"mnist features of {samples}" in shown
    assert "300/300" in shown and "200/200" in shown  # images done, per side
    assert re.search(r"[\d,]+ img/s", shown)  # rate
    assert "0:00:00" in shown  # time left (none, at the end)


def test_kid_unit_is_said_wherever_it_is_shown(tmp_path, digits, ref):
    samples = write_digits(tmp_path / "samples", digits[:300])
    raw = fid_json(samples, ref, "--metrics", "kid")
    r = cli("fid", samples, ref, "--metrics", "kid")
    assert r.exit_code == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if "KID x 1000" in line)
    assert f"{1000 * raw['kid']:.3f} ± {1000 * raw['kid_std']:.3f}" in row
    table = markdown_table([{"model": "m", "kind": "model", "fid": 1.0, "kid_mean": 0.0123,
                             "kid_std": 0.0004}])
    assert "| KID x 1000 ↓ |" in table and "| 12.3 ± 0.4 |" in table


def test_rgb_images_are_refused_with_the_hint_or_converted(tmp_path, digits, ref):
    rgb = [np.stack([a] * 3, axis=-1) for a in digits[:60]]
    same_size = write_digits(tmp_path / "rgb28", rgb, mode="RGB")
    assert_clean_error(cli("fid", same_size, ref), "00000.png is a color (RGB) image", "--convert",
                       ".convert('L')")
    # gray digits copied to R, G and B: luminance gives the digits back exactly
    r = cli("fid", same_size, ref, "--convert", "--metrics", "fid", "--json")
    assert r.exit_code == 0, r.stderr
    assert "converted 60 of 60 images" in r.stderr and "luminance" in r.stderr
    gray = write_digits(tmp_path / "gray", digits[:60])
    assert json.loads(r.stdout)["fid"] == pytest.approx(
        fid_json(gray, ref, "--metrics", "fid")["fid"], rel=1e-9)
    # colour and size: luminance, then bicubic to 28x28, as the warning says
    rng = np.random.default_rng(0)
    big = [np.asarray(Image.fromarray(a).resize((64, 64))) for a in digits[:60]]
    big = [np.stack([a, a // 2, rng.integers(0, 255, a.shape, np.uint8)], -1) for a in big]
    big_dir = write_digits(tmp_path / "big", big, mode="RGB")
    assert_clean_error(cli("fid", big_dir, ref), "is 64x64", "--convert")
    mine = write_digits(tmp_path / "mine", [
        np.asarray(Image.fromarray(a, "RGB").convert("L").resize((28, 28), Image.BICUBIC))
        for a in big])
    got = fid_json(big_dir, ref, "--convert", "--metrics", "fid")
    assert got["n_samples"] == 60
    assert got["fid"] == pytest.approx(fid_json(mine, ref, "--metrics", "fid")["fid"], rel=1e-9)


def test_a_checkpoint_is_sampled_in_memory_and_scored(tmp_path, ref):
    run = tiny_vae_run(tmp_path / "runs")
    mem = fid_json(run, ref, "--n", "300", "--metrics", "fid,is")
    assert mem["n_samples"] == 300 and "300 samples in memory, seed 0" in mem["samples"]
    by_file = fid_json(run / "checkpoint.pt", ref, "--n", "300", "--metrics", "fid,is")
    assert by_file["fid"] == pytest.approx(mem["fid"], rel=1e-9)  # the same samples
    # the PNG path: generate the same seed, score the folder. Only 8-bit rounding differs.
    out = tmp_path / "samples"
    assert cli("generate", "-c", run, "--n", "300", "--out", out).exit_code == 0
    png = fid_json(out, ref, "--metrics", "fid,is")
    assert png["fid"] == pytest.approx(mem["fid"], rel=1e-2)
    assert png["fid"] != mem["fid"]  # unrounded floats: no PNG round trip
    other_seed = fid_json(run, ref, "--n", "300", "--seed", "1", "--metrics", "fid")
    assert other_seed["fid"] != mem["fid"]
    # codes from the fitted mixture by default, as generate draws them; --sampler as there
    assert "sampler gmm" in mem["samples"]
    prior = fid_json(run, ref, "--n", "300", "--sampler", "prior", "--metrics", "fid")
    assert "sampler prior" in prior["samples"] and prior["fid"] != mem["fid"]
    assert_clean_error(cli("fid", tmp_path / "nope.pt", ref), "checkpoint not found")
    assert_clean_error(cli("fid", run, ref, "--n", "0"), "--n must be positive")
