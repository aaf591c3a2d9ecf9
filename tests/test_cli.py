"""The CLI round trip and its bad inputs, in-process through Typer's CliRunner."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from helpers import assert_clean_error, cli


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny runs: an unconditional VAE and the conditional VAE."""
    root = tmp_path_factory.mktemp("runs")
    for model in ("vae", "cond-vae"):
        r = cli("train", model, "--epochs", "1", "--subset", "512", "--out", root,
                "--name", model, "--batch-size", "64", "--device", "cpu")
        assert r.exit_code == 0, r.output + r.stderr
    return root


def pngs(folder):
    return sorted(p.name for p in folder.glob("*.png"))


def test_help_lists_every_command_and_defaults():
    r = cli("--help")
    assert r.exit_code == 0
    for cmd in ("train", "generate", "reconstruct", "interpolate"):
        assert cmd in r.stdout
    r = cli("generate", "--help")
    assert r.exit_code == 0 and "[default: 10000]" in r.stdout and "--force" in r.stdout


def test_round_trip_train_generate_reconstruct_interpolate(runs, tmp_path):
    run = runs / "vae"
    assert (run / "checkpoint.pt").is_file() and (run / "samples" / "epoch_001.png").is_file()
    out = tmp_path / "samples"
    r = cli("generate", "-c", run, "--n", "25", "--out", out, "--batch-size", "10")
    assert r.exit_code == 0, r.stderr
    assert pngs(out) == [f"{i:05d}.png" for i in range(25)]
    im = Image.open(out / "00000.png")
    assert im.size == (28, 28) and im.mode == "L"
    assert "wrote 25 images" in r.stdout

    rec = tmp_path / "rec.png"
    r = cli("reconstruct", "-c", run, "--out", rec, "--n", "16")
    assert r.exit_code == 0, r.stderr
    assert "mean reconstruction error on 10000 test images" in r.stdout
    assert Image.open(rec).size[0] > 28

    itp = tmp_path / "itp.png"
    r = cli("interpolate", "-c", run, "--from-digit", "1", "--to-digit", "7", "--method",
            "slerp", "--steps", "6", "--out", itp)
    assert r.exit_code == 0, r.stderr
    w, h = Image.open(itp).size
    assert w > 6 * h  # one row: image A, 6 decoded points, image B


def test_generate_is_seeded(runs, tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        assert cli("generate", "-c", runs / "vae", "--n", "4", "--seed", seed,
                   "--out", tmp_path / name).exit_code == 0
    read = [[(tmp_path / d / f).read_bytes() for f in pngs(tmp_path / d)] for d in "abc"]
    assert read[0] == read[1] and read[0] != read[2]


def test_generate_digit_writes_that_digit(runs, tmp_path):
    r = cli("generate", "-c", runs / "cond-vae", "--n", "20", "--digit", "7",
            "--out", tmp_path / "s")
    assert r.exit_code == 0 and "of digit 7" in r.stdout
    assert "conditional accuracy" in r.stdout  # judged by the MNIST classifier


def test_generate_defaults_to_latest_run(runs, in_tmp):
    import shutil

    shutil.copytree(runs / "vae", in_tmp / "runs" / "vae")
    r = cli("generate", "--n", "3")
    assert r.exit_code == 0, r.stderr
    assert len(pngs(in_tmp / "samples")) == 3


def test_force_replaces_only_images(runs, tmp_path):
    out = tmp_path / "s"
    assert cli("generate", "-c", runs / "vae", "--n", "5", "--out", out).exit_code == 0
    (out / "notes.txt").write_text("keep me")
    r = cli("generate", "-c", runs / "vae", "--n", "3", "--out", out)
    assert_clean_error(r, "already holds 5 images", "--force")
    assert len(pngs(out)) == 5
    assert cli("generate", "-c", runs / "vae", "--n", "3", "--out", out, "--force").exit_code == 0
    assert pngs(out) == ["00000.png", "00001.png", "00002.png"]
    assert (out / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("args, fragments", [
    (["train", "nosuchmodel"], ["nosuchmodel", "is not one of"]),
    (["train", "vae", "--epochs", "0"], ["--epochs must be positive"]),
    (["train", "vae", "--lr", "-1"], ["--lr must be positive"]),
    (["train", "vae", "--latent-dim", "0"], ["--latent-dim must be positive"]),
    (["train", "vae", "--batch-size", "0"], ["--batch-size must be positive"]),
    (["train", "ae", "--beta", "4"], ["does not take --beta"]),
    (["train", "vae", "--device", "tpu"], ["unknown device"]),
    (["generate", "--n", "3", "-c", "missing.pt"], ["checkpoint not found"]),
])
def test_bad_input_gives_one_clean_line(args, fragments, in_tmp):
    assert_clean_error(cli(*args), *fragments)
    assert not (in_tmp / "runs").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_a_clear_error(in_tmp):
    assert_clean_error(cli("train", "vae", "--device", "cuda"), "no CUDA GPU")


@pytest.mark.parametrize("n", ["0", "-5"])
def test_generate_rejects_non_positive_n(runs, tmp_path, n):
    assert_clean_error(cli("generate", "-c", runs / "vae", "--n", n, "--out", tmp_path / "s"),
                       "--n must be positive")
    assert not (tmp_path / "s").exists()


def test_not_a_checkpoint_and_corrupt_checkpoint(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    assert_clean_error(cli("generate", "-c", junk, "--out", tmp_path / "s"),
                       "not a genmnist checkpoint")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    assert_clean_error(cli("generate", "-c", other, "--out", tmp_path / "s"),
                       "not a genmnist checkpoint")


def test_output_path_that_is_a_file_is_refused_and_kept(runs, tmp_path):
    f = tmp_path / "samples"
    f.write_text("precious")
    assert_clean_error(cli("generate", "-c", runs / "vae", "--out", f), "is an existing file")
    assert f.read_text() == "precious"
    pic = tmp_path / "rec.png"
    pic.write_bytes(b"old picture")
    assert_clean_error(cli("reconstruct", "-c", runs / "vae", "--out", pic), "already exists")
    assert pic.read_bytes() == b"old picture"


def test_digit_on_unconditional_model_and_out_of_range(runs, tmp_path):
    assert_clean_error(cli("generate", "-c", runs / "vae", "--digit", "3", "--out", tmp_path / "a"),
                       "not conditional")
    assert_clean_error(cli("generate", "-c", runs / "cond-vae", "--digit", "12",
                           "--out", tmp_path / "b"), "between 0 and 9")


def test_existing_run_folder_is_never_overwritten(runs):
    before = (runs / "vae" / "checkpoint.pt").read_bytes()
    r = cli("train", "vae", "--epochs", "1", "--subset", "64", "--out", runs, "--name", "vae")
    assert_clean_error(r, "already exists")
    assert (runs / "vae" / "checkpoint.pt").read_bytes() == before


def test_offline_missing_data_names_the_four_files(tmp_path, monkeypatch):
    import genmnist.data as data

    def no_network(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr("torchvision.datasets.MNIST.download", no_network)
    r = cli("train", "vae", "--data-dir", tmp_path / "empty", "--out", tmp_path / "runs")
    assert_clean_error(r, *[f for pair in data.RAW_FILES.values() for f in pair])
    assert not (tmp_path / "runs").exists()


def test_png_workers_write_the_same_bytes(runs, tmp_path):
    """Speed never changes results: the writer pool gives byte-identical folders."""
    for name, workers in (("serial", "0"), ("pool", "2")):
        r = cli("generate", "-c", runs / "vae", "--n", "30", "--batch-size", "7",
                "--workers", workers, "--seed", "4", "--out", tmp_path / name)
        assert r.exit_code == 0, r.stderr
    a, b = tmp_path / "serial", tmp_path / "pool"
    assert pngs(a) == pngs(b) == [f"{i:05d}.png" for i in range(30)]
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in pngs(a))
