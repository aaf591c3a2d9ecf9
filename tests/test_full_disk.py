"""A disk that fills up mid-job (issue 12, class 5), on a real 256 KiB tmpfs: a write that fails
leaves no partial file, and the failed command says what it left. (tests/test_bad_input.py
covers a disk that is full from the start, with /dev/full.)"""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest
import torch
from PIL import Image

from genmnist.images import INCOMPLETE_NAME
from helpers import assert_clean_error, cli, tiny_vae_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_vae_run(tmp_path_factory.mktemp("runs"))


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs: ~60 PNGs fit (a 4 KiB page each). Needs root and mount(8)."""
    mnt = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.parametrize("workers", ["0", "2"])
def test_generate_on_a_disk_that_fills_up(run, small_disk, workers):
    out = small_disk / "s"
    r = cli("generate", "-c", run, "--n", "2000", "--batch-size", "50", "--workers", workers,
            "--out", out)
    assert_clean_error(r, "cannot write images to", "No space left on device",
                       "of the 2000 images", "is marked unfinished", "redo it with:")
    files = sorted(out.glob("*.png"))
    assert 0 < len(files) < 2000
    for p in files:  # no zero-byte or half image under a final name
        with Image.open(p) as im:
            im.load()
    assert not list(out.glob(".*.tmp"))
    assert (out / INCOMPLETE_NAME).is_file()
    # The abandoned sampling generator must not leave this process in inference mode: a training
    # run after it (the next test) once failed with "element 0 of tensors does not require grad".
    assert not torch.is_inference_mode_enabled() and torch.is_grad_enabled()
    assert_clean_error(cli("fid", out), "interrupted or failed")


def test_train_on_a_disk_that_fills_up_leaves_no_empty_run(small_disk):
    ballast = small_disk / "ballast"
    ballast.write_bytes(b"\0" * (200 * 1024))  # room for config.json, not for a checkpoint
    r = cli("train", "vae", "--subset", "64", "--batch-size", "32", "--epochs", "1",
            "--device", "cpu", "--out", small_disk / "runs", "--name", "run")
    assert_clean_error(r, "No space left on device",
                       f"removed the run folder {small_disk / 'runs' / 'run'}, which held no "
                       "checkpoint")
    assert sorted(p.name for p in small_disk.iterdir()) == ["ballast"]
