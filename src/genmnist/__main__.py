"""`python -m genmnist` (and `torchrun -m genmnist`) run the same CLI as the console script.

`main` is also the console script's entry point: importing the CLI pulls in torch, a second or
more, and a Ctrl-C (or SIGTERM) in that time would print a traceback from deep inside torch's
import. Nothing has been written yet then, so it simply ends the process with the usual line.
"""

import os
import signal
import sys


def _stop_while_importing(signum, frame) -> None:
    os.write(2, b"genmnist: error: interrupted\n")
    os._exit(130)


def main() -> None:
    previous = {sig: signal.signal(sig, _stop_while_importing)
                for sig in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(sig) is not signal.SIG_IGN}
    from genmnist.cli import main as cli_main

    for sig, handler in previous.items():
        signal.signal(sig, handler)
    cli_main()


def _exit_plainly_when_interrupted() -> None:
    """`python -m genmnist` (and torchrun's `-m genmnist`): an interrupted command exits with
    status 130 itself. Left to runpy, CPython ends the process by SIGINT instead (status -2 to a
    parent process) whenever a KeyboardInterrupt once passed through C code that ran Python
    (PyRun_String), even though genmnist handled it and printed its line."""
    try:
        main()
    except SystemExit as e:
        if e.code != 130:
            raise
        import atexit

        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)


if __name__ == "__main__":
    _exit_plainly_when_interrupted()
