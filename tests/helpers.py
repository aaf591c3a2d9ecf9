"""Small helpers the tests share."""

from __future__ import annotations

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
