"""Small helpers the tests share."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from genmnist.cli import app

runner = CliRunner()


def cli(*args: str):
    """Run `genmnist ARGS` in-process; returns the click Result (exit_code, stdout, stderr)."""
    return runner.invoke(app, [str(a) for a in args])


def assert_clean_error(result, *fragments: str) -> None:
    """A user error: non-zero exit, one `genmnist: error:` line on stderr, no traceback."""
    assert result.exit_code != 0, result.output
    err = result.stderr
    assert err.startswith("genmnist: error: "), err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in result.output + err
    for f in fragments:
        assert f in err, (f, err)


def tiny_vae_run(root):
    """Train a one-epoch vae on 64 images into ROOT/vae (a cheap real run for error tests)."""
    r = cli("train", "vae", "--epochs", "1", "--subset", "64", "--batch-size", "32",
            "--out", root, "--name", "vae", "--device", "cpu", "--latent-dim", "4")
    assert r.exit_code == 0, r.stderr
    return root / "vae"


SRC = Path(__file__).resolve().parents[1] / "src"


def start(*args: str, cwd: Path, **popen) -> subprocess.Popen:
    """Start a real `python -m genmnist ARGS` process (this checkout's sources, one thread)."""
    env = dict(os.environ, PYTHONPATH=str(SRC), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "genmnist", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def wait_for(condition, proc: subprocess.Popen | None = None, timeout: float = 120) -> None:
    """Poll `condition()` until true; fail if `proc` ends first or time runs out."""
    t0 = time.monotonic()
    while not condition():
        if proc is not None:
            assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "timed out waiting"
        time.sleep(0.02)
