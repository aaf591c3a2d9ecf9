"""User-facing errors.

Anything a user can cause (bad path, bad number, wrong checkpoint) raises `GenmnistError`; the CLI
prints its message as one line on stderr and exits non-zero. Internal invariants stay `assert`s,
so a traceback always means a bug in genmnist, never a mistake by the user.
"""


class GenmnistError(ValueError):
    """A problem the user can fix; the message is shown as-is, on one line."""


class QuietError(GenmnistError):
    """An error another process reports: under torchrun, every rank fails alike and only rank 0
    prints the line; the CLI exits 1 without printing for this one."""
