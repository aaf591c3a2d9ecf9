"""Files that are never half-written: a temporary file in the same folder, fsync, rename.

POSIX `rename` replaces a file atomically, so a reader (or a process killed mid-write) sees the
old content or the new, never a mix (git writes `index.lock` and renames it the same way).
Every file genmnist replaces goes through `write_atomically`: checkpoints, run metadata
(config.json, metrics.jsonl), pictures, benchmark rows and cached statistics.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from genmnist.errors import GenmnistError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Call `write(file)` on a temporary file in `path`'s folder, fsync, then rename it over
    `path`: a process killed at any moment leaves the old or the new file, never half of one.
    A failed write (disk full, read-only folder) is one GenmnistError; the old file is kept."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide the run from its group
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        kept = " (the previous one is kept)" if path.exists() else ""
        raise GenmnistError(f"cannot write {path}: {e.strerror or e}{kept}") from e
    except BaseException:  # Ctrl-C twice, ...: never leave a half-written temporary behind
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomically(path: str | Path, text: str) -> Path:
    """Replace a small text file (config.json, metrics.jsonl) without ever leaving half of it."""
    return write_atomically(Path(path), lambda f: f.write(text.encode()))


def write_json_atomically(path: str | Path, obj: object) -> Path:
    """Replace a JSON file (benchmark rows, settings) without ever leaving half of it."""
    return write_text_atomically(path, json.dumps(obj, indent=2) + "\n")


def remove_stale_temporaries(folder: str | Path) -> None:
    """Delete temporaries a killed writer left in a run folder (only ours: `.NAME-*.tmp`)."""
    for p in Path(folder).rglob(".*-*.tmp"):
        p.unlink(missing_ok=True)


def check_can_create(path: str | Path, what: str = "output") -> None:
    """Fail early, before any work, when `path` cannot be created: a parent that is a file,
    or a nearest existing folder that this user may not write to."""
    path = Path(path)
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise GenmnistError(f"cannot write {what} {path}: {parent} is a file, "
                                    "not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise GenmnistError(f"cannot write {what} {path}: folder {parent} is not "
                                    "writable")
            return


def make_folder(folder: str | Path, what: str = "folder") -> Path:
    """`mkdir -p` whose failures (a file in the way, read-only, disk full) are one clear line."""
    folder = Path(folder)
    check_can_create(folder, what)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GenmnistError(f"cannot create {what} {folder}: {e.strerror or e}") from e
    if not folder.is_dir():
        raise GenmnistError(f"cannot create {what} {folder}: a file of that name exists")
    return folder
