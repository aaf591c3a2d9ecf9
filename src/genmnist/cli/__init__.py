"""The `genmnist` command line: a thin Typer layer over the core package.

Each command parses its options, calls one core function, and prints with Rich (app.py holds
the application and its one-line errors; wording.py how the core's typed errors read).
"""

from __future__ import annotations

from genmnist.cli import benchmark as _benchmark
from genmnist.cli import data as _data
from genmnist.cli import fid as _fid
from genmnist.cli import latent as _latent
from genmnist.cli import sample as _sample
from genmnist.cli import sampler as _sampler
from genmnist.cli import train as _train

# Commands register themselves on `app`; imported in the order `--help` lists them.
from genmnist.cli.app import app  # noqa: I001

del _train, _sample, _sampler, _fid, _data, _latent, _benchmark
__all__ = ["app", "main"]


def main() -> None:
    app()
