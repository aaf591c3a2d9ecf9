"""Bad input everywhere: nonsense numbers, unknown devices, corrupt MNIST files, outputs that
cannot be written (a file in the way, a read-only folder, a full disk). Each is one line on
stderr and a non-zero exit, and nothing that existed is lost."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from genmnist.data import RAW_FILES
from helpers import assert_clean_error, cli, tiny_vae_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_vae_run(tmp_path_factory.mktemp("runs"))


@pytest.mark.parametrize("args, fragment", [
    (["train", "vae", "--epochs", "-3"], "--epochs must be positive, got -3"),
    (["train", "vae", "--lr", "nan"], "--lr must be positive, got nan"),
    (["train", "vae", "--lr", "inf"], "--lr must be positive, got inf"),
    (["train", "vae", "--beta", "-1"], "--beta must be positive"),
    (["train", "vae", "--subset", "0"], "--subset must be positive"),
    (["train", "vae", "--threads", "0"], "Invalid value for '--threads'"),
    (["train", "vae", "--epochs", "ten"], "Invalid value for '--epochs'"),
    *([(["train", "vae", "--device", "mps"], "MPS is not available")]
      if not torch.backends.mps.is_available() else []),
    (["train"], "give the MODEL to train"),
    (["generate", "--n", "-5"], "--n must be positive, got -5"),
    (["generate", "--batch-size", "0"], "--batch-size must be positive"),
    (["reconstruct", "--n", "0"], "--n must be positive"),
    (["interpolate", "--steps", "x"], "Invalid value for '--steps'"),
])
def test_nonsense_before_any_work(args, fragment, in_tmp):
    assert_clean_error(cli(*args), fragment)
    assert list(in_tmp.iterdir()) == []  # no run folder, no samples, no picture


READERS = ("generate", "reconstruct", "interpolate")


@pytest.mark.parametrize("args, fragment", [
    (["generate", "--digit", "12"], "--digit must be between 0 and 9, got 12"),
    (["generate", "--n", "0"], "--n must be positive"),
    (["reconstruct", "--start", "-1"], "--start must be between 0 and 9999, got -1"),
    (["reconstruct", "--start", "10000"], "--start must be between 0 and 9999"),
    (["reconstruct", "--n", "-5"], "--n must be positive"),
    (["interpolate", "--steps", "1"], "--steps must be between 2 and 200, got 1"),
    (["interpolate", "--steps", "0"], "--steps must be between 2"),
    (["interpolate", "--from", "-1"], "--from must be a test-image index 0-9999, got -1"),
    (["interpolate", "--to", "10000"], "--to must be a test-image index"),
    (["interpolate", "--from-digit", "12"], "--from-digit must be between 0 and 9, got 12"),
    (["interpolate", "--from", "3", "--from-digit", "2"], "give --from or --from-digit"),
    *[([cmd, "--device", "tpu"], "unknown device 'tpu'") for cmd in READERS],
    *[([cmd, "--device", "cuda"], "no CUDA GPU") for cmd in READERS
      if not torch.cuda.is_available()],
    *[([cmd, "--device", "mps"], "MPS is not available") for cmd in READERS
      if not torch.backends.mps.is_available()],
])
def test_nonsense_for_commands_that_read_a_run(run, tmp_path, args, fragment):
    out = tmp_path / ("s" if args[0] == "generate" else "out.png")
    assert_clean_error(cli(*args, "-c", run, "--out", out), fragment)
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_resume_on_a_missing_device(run):
    assert_clean_error(cli("train", "--resume", run, "--epochs", "2", "--device", "cuda"),
                       "no CUDA GPU")


@pytest.mark.parametrize("damage", ["empty", "truncated", "random"])
def test_corrupt_mnist_files(tmp_path, data_dir, damage, run):
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (f for pair in RAW_FILES.values() for f in pair):
        good = (data_dir / "MNIST" / "raw" / f).read_bytes()
        (raw / f).write_bytes({"empty": b"", "truncated": good[:1000],
                               "random": os.urandom(3000)}[damage])
    for args in (["train", "vae", "--out", tmp_path / "runs"],
                 ["reconstruct", "-c", run, "--out", tmp_path / "r.png"]):
        assert_clean_error(cli(*args, "--data-dir", tmp_path / "mnist"),
                           "could not read MNIST's", "truncated or corrupt")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "r.png").exists()


def blocked_outputs(tmp_path, run):
    """Every command, with its output under a regular file (ENOTDIR even for root)."""
    f = tmp_path / "file.txt"
    f.write_text("precious")
    return f, [
        (["train", "vae", "--out", f / "runs"], "cannot write run folder"),
        (["generate", "-c", run, "--n", "2", "--out", f / "s"], "cannot write output folder"),
        (["generate", "-c", run, "--n", "2", "--out", tmp_path / "s", "--grid", f / "g.png"],
         "cannot write output"),
        (["reconstruct", "-c", run, "--out", f / "r.png"], "cannot write output"),
        (["interpolate", "-c", run, "--out", f / "i.png"], "cannot write output"),
    ]


def test_output_under_a_file(tmp_path, run):
    f, cases = blocked_outputs(tmp_path, run)
    for args, fragment in cases:
        assert_clean_error(cli(*args), fragment, "file.txt is a file, not a folder")
    assert f.read_text() == "precious"
    assert list(tmp_path.iterdir()) == [f]


def test_read_only_output_folder(tmp_path, run, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "keep.png").write_bytes(b"old")
    ro.chmod(0o555)
    if os.geteuid() == 0:  # root may write anywhere; answer as the kernel would for a user
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: real_access(p, mode) and not (
            Path(p) == ro and mode & os.W_OK))
    try:
        for args in (["train", "vae", "--out", ro], ["generate", "-c", run, "--out", ro / "s"],
                     ["reconstruct", "-c", run, "--out", ro / "r.png"],
                     ["interpolate", "-c", run, "--out", ro / "i.png"]):
            assert_clean_error(cli(*args), "is not writable")
    finally:
        ro.chmod(0o755)
    assert sorted(p.name for p in ro.iterdir()) == ["keep.png"]


@pytest.fixture
def full_disk(monkeypatch):
    """Writes of PNGs and of every atomically written file hit /dev/full: a real ENOSPC."""
    real_mkstemp, real_save = tempfile.mkstemp, Image.Image.save

    def mkstemp(*args, **kwargs):
        fd, path = real_mkstemp(*args, **kwargs)
        os.close(fd)
        return os.open("/dev/full", os.O_WRONLY), path

    def save(self, fp, *args, **kwargs):
        if isinstance(fp, (str, os.PathLike)):  # as PIL does: open (truncating), then write
            with open(fp, "wb"), open("/dev/full", "wb") as full:
                return real_save(self, full, *args, format="PNG", **kwargs)
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(Image.Image, "save", save)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
def test_full_disk_keeps_what_existed(tmp_path, run, full_disk):
    ckpt = run / "checkpoint.pt"
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    old_pic = tmp_path / "r.png"
    old_pic.write_bytes(b"old picture")
    cases = [
        (["train", "--resume", run, "--epochs", "2"], "No space left on device"),
        (["train", "vae", "--out", tmp_path / "runs", "--subset", "64"], "No space left"),
        (["generate", "-c", run, "--n", "3", "--out", tmp_path / "s"], "No space left"),
        (["reconstruct", "-c", run, "--out", old_pic, "--force"], "No space left"),
        (["interpolate", "-c", run, "--out", tmp_path / "i.png"], "No space left"),
    ]
    for args, fragment in cases:
        assert_clean_error(cli(*args), fragment)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    assert ckpt.is_file() and old_pic.read_bytes() == b"old picture"
    assert not list(tmp_path.rglob(".*.tmp")) and not list(run.rglob(".*.tmp"))


def test_huge_learning_rate_stops_cleanly_with_no_nan_checkpoint(in_tmp):
    r = cli("train", "vae", "--subset", "256", "--batch-size", "32", "--epochs", "2",
            "--lr", "1e10", "--name", "nan", "--device", "cpu")
    assert_clean_error(r, "training stopped: loss became non-finite at epoch 1 batch",
                       "no checkpoint was written", "try a lower --lr")
    assert not (in_tmp / "runs" / "nan" / "checkpoint.pt").exists()


def test_an_os_error_no_command_foresaw_is_still_one_line(run, tmp_path, monkeypatch):
    """The CLI's last net: e.g. a folder that vanishes between the check and the write."""
    import genmnist.cli.sample as sample

    def vanished(*a, **k):
        raise FileNotFoundError(2, "No such file or directory", str(tmp_path / "gone"))

    monkeypatch.setattr(sample, "generate_to_folder", vanished)
    r = cli("generate", "-c", run, "--n", "2", "--out", tmp_path / "s")
    assert_clean_error(r, f"{tmp_path / 'gone'}: No such file or directory")
