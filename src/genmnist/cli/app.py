"""The Typer application every command registers on, and its error handling: user mistakes
(`GenmnistError`, bad options) become one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys
import time

import typer
from typer.core import TyperGroup

from genmnist import __version__
from genmnist.cli.wording import explain
from genmnist.errors import GenmnistError, QuietError
from genmnist.interrupt import clear_pending, terminate_as_interrupt
from genmnist.runtime import flush_denormals


class _Interrupted(Exception):
    """A Ctrl-C (or SIGTERM) a command did not handle; carried past Typer, which would turn the
    KeyboardInterrupt into a silent exit 130."""


class OneLineErrors(TyperGroup):
    """Run the command; turn user errors into `genmnist: error: ...` on one line."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as e:
            raise _Interrupted() from e

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        flush_denormals()  # the process's arithmetic, before any worker thread starts
        try:
            with terminate_as_interrupt():  # SIGTERM (timeout, schedulers) acts as Ctrl-C
                rv = super().main(args=args, prog_name=prog_name or "genmnist",
                                  complete_var=complete_var, standalone_mode=False, **extra)
        except QuietError:  # rank 0 of this torchrun job prints the line; leave it a moment
            time.sleep(1)  # to do so before torchrun, seeing this rank fail, stops it
            sys.exit(1)
        except GenmnistError as e:
            _fail(explain(e), 1)
        except typer.TyperException as e:  # Typer's (vendored click's) usage errors
            ctx = getattr(e, "ctx", None)
            if type(e).__name__ == "NoArgsIsHelpError" and ctx is not None:
                # Typer has printed the help already (bare `genmnist`)
                sys.exit(0)
            where = f"genmnist {ctx.info_name} --help" if ctx is not None and ctx.parent \
                else "genmnist --help"
            _fail(f"{e.format_message()} (see '{where}')".replace("\n", " "), e.exit_code)
        except typer.Abort:
            _fail("aborted", 130)
        except (KeyboardInterrupt, _Interrupted):
            clear_pending()
            _fail("interrupted", 130)
        except MemoryError:
            _fail("out of memory; use smaller sizes (--n, --batch-size, --latent-dim)", 1)
        except RuntimeError as e:  # torch's allocators (CPU and CUDA) say so in a RuntimeError
            if not _out_of_memory(e):
                raise
            _fail(f"out of memory: {str(e).splitlines()[0][:200]}; use smaller sizes (--n, "
                  "--batch-size, --latent-dim)", 1)
        except OSError as e:  # the last net: a disk, folder or permission problem no command
            # turned into a GenmnistError is still the user's environment, not a genmnist bug
            where = f"{e.filename}: " if e.filename else ""
            _fail(f"{where}{e.strerror or e}", 1)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


def _out_of_memory(e: RuntimeError) -> bool:
    text = str(e)
    return type(e).__name__ == "OutOfMemoryError" or any(
        s in text for s in ("can't allocate memory", "not enough memory", "out of memory"))


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"genmnist: error: {message}\n")
    sys.stderr.flush()
    sys.exit(code)


app = typer.Typer(
    cls=OneLineErrors,
    name="genmnist",
    help="Train, sample, reconstruct, interpolate and score generative models on MNIST.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"genmnist {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Train, sample, reconstruct, interpolate and score generative models on MNIST.

    Typical loop: genmnist train cvae --epochs 30; genmnist generate --n 10000;
    genmnist fid samples/ mnist-test.
    """
