"""Validate everything before destroying anything (issue 12, class 1): a `--force` command that
fails on an option, the checkpoint, the model's abilities or its output leaves the old images
and pictures exactly as they were."""

from __future__ import annotations

import pytest

from helpers import assert_clean_error, cli, tiny_vae_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_vae_run(tmp_path_factory.mktemp("runs"))


@pytest.fixture
def old_folder(tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    for i in range(3):
        (out / f"{i:05d}.png").write_bytes(b"old image %d" % i)
    return out


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("args, fragment", [
    (["--digit", "3"], "model 'vae' is not conditional"),  # the case the sweep found
    (["--digit", "12"], "--digit must be between 0 and 9"),
    (["--n", "0"], "--n must be positive"),
    (["--n", "100000000000"], "--n must be between 1 and 10000000"),
    (["--batch-size", "1000000"], "--batch-size must be between 1 and 10000"),
    (["--device", "tpu"], "unknown device 'tpu'"),
    (["-c", "missing-run"], "checkpoint not found"),
])
def test_a_refused_generate_force_keeps_the_old_images(run, old_folder, args, fragment):
    before = snapshot(old_folder)
    assert_clean_error(cli("generate", "-c", run, "--out", old_folder, "--force", *args),
                       fragment)
    assert snapshot(old_folder) == before


def test_a_grid_that_cannot_be_written_keeps_the_old_images(run, old_folder, tmp_path):
    (tmp_path / "file").write_text("x")
    before = snapshot(old_folder)
    assert_clean_error(cli("generate", "-c", run, "--out", old_folder, "--force", "--grid",
                           tmp_path / "file" / "g.png"), "is a file, not a folder")
    assert snapshot(old_folder) == before


def test_a_folder_that_takes_no_files_keeps_nothing_half_done(run):
    """/proc/self is a folder, but no file can be created in it: said so, before any image."""
    assert_clean_error(cli("generate", "-c", run, "--n", "2", "--out", "/proc/self"),
                       "cannot create files in output folder /proc/self: it is a special "
                       "folder that takes no new files")


@pytest.mark.parametrize("args, fragment", [
    (["--steps", "100000"], "--steps must be between 2 and 200, got 100000"),
    (["--steps", "1"], "--steps must be between 2 and 200"),
    (["--from", "20000"], "--from must be a test-image index"),
])
def test_a_refused_interpolate_force_keeps_the_old_picture(run, tmp_path, args, fragment):
    pic = tmp_path / "i.png"
    pic.write_bytes(b"old picture")
    assert_clean_error(cli("interpolate", "-c", run, "--out", pic, "--force", *args), fragment)
    assert pic.read_bytes() == b"old picture"
