"""The `genmnist` command line: a thin Typer layer over the core package.

Each command parses its options, calls one core function, and prints with Rich (app.py holds
the application and its one-line errors; wording.py how the core's typed errors read).
"""

from __future__ import annotations

from genmnist._omp import choose_wait_policy

# The entry point's OpenMP spin, set before anything imports torch (libgomp reads it once, when
# it loads): a moderate spin, measured (see _omp.py). Library users keep their own environment.
choose_wait_policy()

# Commands register themselves on `app`; imported in the order `--help` lists them.
from genmnist.cli.app import app  # noqa: E402,I001
from genmnist.cli import train as _train  # noqa: E402
from genmnist.cli import sample as _sample  # noqa: E402
from genmnist.cli import sampler as _sampler  # noqa: E402
from genmnist.cli import fid as _fid  # noqa: E402
from genmnist.cli import data as _data  # noqa: E402
from genmnist.cli import latent as _latent  # noqa: E402
from genmnist.cli import benchmark as _benchmark  # noqa: E402

del _train, _sample, _sampler, _fid, _data, _latent, _benchmark
__all__ = ["app", "main"]


def main() -> None:
    app()
