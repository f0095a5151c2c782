"""Files replaced whole: a reader, or a run killed mid-save, finds the old version of a file or
the new one, never a cut-off mix. Imports no torch.

Each new file is written under a temporary name in the same directory (so the rename cannot
cross a filesystem), flushed to disk with fsync, and renamed over the old one with
``os.replace`` (atomic on POSIX); the directory is fsynced after, so the rename itself survives
a power cut. Writing in place instead truncates the old file first: a kill during a save would
lose the only copy of a checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Callable, Iterator, Sequence

# The scratch directory `staged` writes into, inside the target directory; one a killed save
# left behind is removed by the next save (it may be as large as the weights).
STAGING_DIR = ".save-in-progress"


def fsync_path(path: Path) -> None:
    """Flush ``path`` to disk: a file's data (one some library wrote and closed), or a
    directory's entries (the renames and new names in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Replace ``path`` by what ``write(tmp)`` writes to a temporary file beside it; returns
    ``path``. If ``write`` raises, ``path`` is left as it was and the temporary file removed."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        fsync_path(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_path(path.parent)
    return path


def write_text_atomically(path: str | Path, text: str) -> Path:
    """:func:`write_atomically` for a text file (UTF-8)."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


@contextlib.contextmanager
def staged(directory: str | Path, last: Sequence[str] = ()) -> Iterator[Path]:
    """A scratch directory to write several files into, under the paths they will have in
    ``directory``. On a clean exit every file is fsynced, then renamed over its namesake in
    ``directory``: those named in ``last`` (relative paths) after all others, in that order,
    so that a reader who sees a ``last`` file new sees every other file new too. On an
    exception nothing in ``directory`` is touched and the scratch directory is removed.

    Each file is replaced atomically, the set of them is not: a kill between two renames
    leaves some files new and some old (what ``last`` is for).
    """
    directory = Path(directory)
    last = [str(Path(n)) for n in last]
    directory.mkdir(parents=True, exist_ok=True)
    scratch = directory / STAGING_DIR
    shutil.rmtree(scratch, ignore_errors=True)  # a killed save's leftovers
    scratch.mkdir()
    try:
        yield scratch
        names = sorted(str(p.relative_to(scratch)) for p in scratch.rglob("*") if p.is_file())
        unknown = [n for n in last if n not in names]
        if unknown:
            raise FileNotFoundError(f"staged: {unknown} were to be written last but were not "
                                    f"written to {scratch}")
        names = [n for n in names if n not in last] + last
        for name in names:
            fsync_path(scratch / name)
        parents = set()
        for name in names:
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(scratch / name, target)
            parents.add(target.parent)
        for parent in sorted(parents):
            fsync_path(parent)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
