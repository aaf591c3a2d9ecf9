"""The `genmnist` command line: a thin Typer layer over the core package.

Each command parses its options, calls one core function, and prints with Rich (app.py holds
the application and its one-line errors; wording.py how the core's typed errors read).
"""

from __future__ import annotations

# Commands register themselves on `app`; imported in the order `--help` lists them.
# isort: off
from genmnist.cli.app import app
from genmnist.cli import train as _train
from genmnist.cli import sample as _sample
from genmnist.cli import sampler as _sampler
from genmnist.cli import fid as _fid
from genmnist.cli import nll as _nll
from genmnist.cli import data as _data
from genmnist.cli import latent as _latent
from genmnist.cli import benchmark as _benchmark
# isort: on

del _train, _sample, _sampler, _fid, _nll, _data, _latent, _benchmark
__all__ = ["app", "main"]


def main() -> None:
    app()
