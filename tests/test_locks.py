"""Concurrent writers (issue 12, class 4): an output folder and a run folder are held by one
process at a time; the second gets one line and changes nothing; a lock never outlives its
process, however that process ends."""

from __future__ import annotations

import signal
import time

import pytest

import genmnist.cli.train as cli_train
from genmnist.checkpoint import load_checkpoint
from genmnist.errors import GenmnistError
from genmnist.lock import FolderBusy, FolderLock
from helpers import assert_clean_error, cli, start, tiny_vae_run, wait_for


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_vae_run(tmp_path_factory.mktemp("runs"))


def test_a_folder_lock_is_exclusive_and_released(tmp_path):
    with FolderLock(tmp_path, "output folder"):
        with pytest.raises(FolderBusy, match="in use by another genmnist process"):
            FolderLock(tmp_path, "output folder").acquire()
    with FolderLock(tmp_path, "output folder"):  # released on exit
        pass
    assert list(tmp_path.iterdir()) == []  # and the folder is left as it was found


def test_two_generates_into_one_folder(run, tmp_path):
    out = tmp_path / "s"
    proc = start("generate", "-c", run, "--n", 200000, "--batch-size", 100, "--workers", 0,
                 "--out", out, "--device", "cpu", cwd=tmp_path)
    try:
        wait_for(lambda: len(list(out.glob("*.png"))) >= 200, proc)
        before = {p.name for p in out.glob("*.png")}
        r = cli("generate", "-c", run, "--n", "5", "--seed", "1", "--out", out, "--force")
        assert_clean_error(r, f"output folder {out} is in use by another genmnist process "
                              f"(pid {proc.pid})")
        assert before <= {p.name for p in out.glob("*.png")}  # the second deleted nothing
    finally:
        proc.kill()  # SIGKILL: the kernel drops the lock with the process
        proc.communicate(timeout=30)
    r = cli("generate", "-c", run, "--n", "5", "--out", out, "--force")
    assert r.exit_code == 0, r.stderr
    assert len(list(out.glob("*.png"))) == 5


def test_two_trainings_in_the_same_second_get_two_run_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(cli_train.time, "strftime", lambda fmt: "20260101-000000")
    a = cli_train.new_run_dir(tmp_path / "runs", None, "vae")
    b = cli_train.new_run_dir(tmp_path / "runs", None, "vae")
    assert (a.name, b.name) == ("vae-20260101-000000", "vae-20260101-000000-2")
    assert a.is_dir() and b.is_dir()
    with pytest.raises(GenmnistError, match="already exists; choose another --name"):
        cli_train.new_run_dir(tmp_path / "runs", "vae-20260101-000000", "vae")


def test_two_real_trainings_started_together_keep_both_checkpoints(tmp_path):
    args = ["train", "vae", "--subset", "64", "--batch-size", "32", "--epochs", "1",
            "--latent-dim", "4", "--device", "cpu", "--threads", "1"]
    procs = [start(*args, cwd=tmp_path) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 2
    for r in runs:
        assert load_checkpoint(r / "checkpoint.pt")["epoch"] == 1


def test_a_run_being_trained_cannot_be_resumed_twice(tmp_path):
    proc = start("train", "vae", "--subset", "4096", "--batch-size", "32", "--epochs", "20",
                 "--threads", "1", "--device", "cpu", "--name", "run", cwd=tmp_path)
    run_dir = tmp_path / "runs" / "run"
    try:
        wait_for(lambda: (run_dir / "checkpoint.pt").exists(), proc)
        ckpt = (run_dir / "checkpoint.pt").stat().st_mtime_ns
        r = cli("train", "--resume", run_dir, "--epochs", "30")
        assert_clean_error(r, f"run folder {run_dir} is in use by another genmnist process "
                              f"(pid {proc.pid})")
        assert (run_dir / "checkpoint.pt").stat().st_mtime_ns >= ckpt
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    time.sleep(0.1)
    r = cli("train", "--resume", run_dir, "--epochs", "2")
    assert r.exit_code == 0 or "already trained" in r.stderr, r.stderr
