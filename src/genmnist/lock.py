"""One process at a time per folder: an advisory `flock` on a hidden file inside it.

Two `generate --force` into one folder would mix their seeds; two `train --resume` of one run
would overwrite each other's checkpoints. The kernel drops an `flock` when its holder exits,
however it exits (Ctrl-C, SIGKILL, a crash), so a lock is never left stale. A holder that ends
normally removes the file; one that was killed leaves it (hidden, holding only a pid), and the
next process simply takes it.
This is the pattern of `flock(1)` and of pip's and conda's package-cache locks.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from genmnist.errors import GenmnistError

LOCK_NAME = ".genmnist.lock"


class FolderBusy(GenmnistError):
    """Another process holds the folder; carries the folder and that process's pid."""

    def __init__(self, folder: Path, what: str, pid: int | None):
        who = f"another genmnist process (pid {pid})" if pid else "another genmnist process"
        super().__init__(f"{what} {folder} is in use by {who}; wait for it to finish (or "
                         f"stop it), or use another {what}")
        self.folder, self.pid = folder, pid


class FolderLock:
    """`with FolderLock(folder, "output folder"):` -- held until the block ends or the process
    dies. `folder` must exist. Raises FolderBusy at once if another process holds it."""

    def __init__(self, folder: str | Path, what: str = "folder"):
        self.folder, self.what = Path(folder), what
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                pid = _read_pid(fd)
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise FolderBusy(self.folder, self.what, pid) from e
                raise GenmnistError(f"cannot lock {self.what} {self.folder}: "
                                    f"{e.strerror or e}") from e
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the holder removed the file as we opened it: take the new one
        try:  # the pid only names the holder in the message above; a full disk may refuse it
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass
        self._fd = fd
        return self

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            why = e.strerror or str(e)
            if e.errno == errno.ENOENT and self.folder.is_dir():  # e.g. /proc/self
                why = "it is a special folder that takes no new files"
            raise GenmnistError(f"cannot create files in {self.what} {self.folder}: {why}") from e

    def release(self) -> None:
        """Remove the file, then drop the lock: the folder is left as it was found. (A process
        that opened the file meanwhile sees, once it holds the lock, that the path no longer
        names its file, and starts again.) A killed holder leaves the file, unlocked."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                if _same_file(self._fd, self.path):
                    self.path.unlink()
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text.isdigit() else None
    except (OSError, ValueError):
        return None
