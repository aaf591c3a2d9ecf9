"""`python -m genmnist` (and `torchrun -m genmnist`) run the same CLI as the console script.

`main` is also the console script's entry point: importing the CLI pulls in torch, a second or
more, and a Ctrl-C (or SIGTERM) in that time would print a traceback from deep inside torch's
import. Nothing has been written yet then, so it simply ends the process with the usual line.
"""

import os
import signal


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


if __name__ == "__main__":
    main()
