"""A real `genmnist train` process is stopped with Ctrl-C (SIGINT), resumed, killed with
SIGKILL in the middle of the run, and resumed again: it must end with the weights of a run
that never stopped."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from genmnist.checkpoint import load_checkpoint
from helpers import cli

SRC = Path(__file__).resolve().parents[1] / "src"
ARGS = ["--subset", "1024", "--batch-size", "32", "--epochs", "4", "--seed", "7",
        "--threads", "1", "--device", "cpu"]


def start(*args: str, cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(SRC), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "genmnist", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def epochs_logged(run: Path) -> int:
    path = run / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def wait_for_epochs(proc: subprocess.Popen, run: Path, n: int, timeout: float = 60) -> None:
    """Until `run` has logged `n` epochs (the process is then training the next one)."""
    t0 = time.monotonic()
    while epochs_logged(run) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "training made no progress"
        time.sleep(0.02)


def test_ctrl_c_then_kill_9_then_resume_ends_like_an_uninterrupted_run(tmp_path):
    run = tmp_path / "runs" / "run"
    proc = start("train", "vae", *ARGS, "--name", "run", cwd=tmp_path)
    wait_for_epochs(proc, run, 1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err
    line = err.strip().splitlines()[-1]
    assert re.fullmatch(r"genmnist: interrupted (at epoch \d batch \d+ of 32|after epoch \d), "
                        r"checkpoint saved; resume with: genmnist train vae --resume "
                        + re.escape("runs/run"), line), line
    stopped = load_checkpoint(run)
    assert 1 <= stopped["epoch"] < 4

    proc = start("train", "--resume", "runs/run", "--threads", "1", cwd=tmp_path)
    wait_for_epochs(proc, run, stopped["epoch"] + 1)
    time.sleep(0.1)  # into the next epoch
    proc.kill()  # SIGKILL: no handler runs, the last complete checkpoint must do
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed = load_checkpoint(run)  # readable, whatever moment the kill hit
    assert killed["epoch"] >= stopped["epoch"]

    r = cli("train", "--resume", run, "--threads", "1")
    assert r.exit_code == 0, r.stderr
    lines = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines] == [1, 2, 3, 4]
    assert not list(run.glob(".*.tmp"))

    r = cli("train", "vae", *ARGS, "--out", tmp_path / "runs", "--name", "ref")
    assert r.exit_code == 0, r.stderr
    ours, ref = load_checkpoint(run), load_checkpoint(tmp_path / "runs" / "ref")
    assert ours["step"] == ref["step"] == 4 * 32
    for k, v in ref["state_dict"].items():
        assert torch.equal(ours["state_dict"][k], v), k
