"""A dataset's folders replaced whole, and what a replacement a kill cut short leaves put right.

A writer changes a dataset that exists in one of two ways (`LeRobotWriter`):
- **appending** rewrites meta/ (the episode list, the statistics over every episode). The
  next meta/ is written beside it (WRITING), flushed to disk and renamed to NEW: that rename
  is the commit. NEW then replaces meta/ by two renames (meta/ -> REPLACED, NEW -> meta/).
- **overwriting** writes a whole new dataset under PARTIAL; once it is complete, the old
  folders move aside to OLD and the new ones in (meta/ last), and OLD is removed.

A process killed half way (a power cut, `kill -9`, the robot's computer shutting down while
recording) leaves one of these states, which `settle` (run wherever a dataset is opened)
resolves so that nothing committed is lost and nothing half written is read:

| left behind | means | settle |
|---|---|---|
| WRITING | the next meta/ was being written | removed: the dataset is as before the append (the new episodes' files, unlisted, are written over by the next one) |
| NEW | committed, not yet swapped in | swapped in (REPLACED, if there, is the old meta/) |
| REPLACED beside meta/ | swapped, the old copy not yet removed | removed |
| OLD | an overwrite's swap had begun, so PARTIAL was complete (and on disk) | the swap redone from where it stopped |
| UNDO | a swap that raised was being undone (`roll_back`) | the undoing finished: the old dataset |
| LEGACY | a writer before 2026-12-07 was rewriting meta/ in place | LEGACY (the meta/ it started from) put back if whole, else removed (cut short while copied or removed: meta/ was whole then) |

Files every episode needs are flushed to disk before the commit that lists them, so a power
cut is a kill too. Files in meta/ that the writer does not write (gr00t-collect's
collect.json) are carried into the new meta/.

A PARTIAL without OLD is an overwrite that never reached its swap; the next overwrite
removes it, and the old dataset was never touched.

These names are also what a writer that is still running has in flight. So a writer holds
the dataset's lock (`lock`: flock on the directory, which the kernel releases when the
process dies, however it dies) from open to finalize, and `settle` changes nothing while
another process holds it: what it finds then is a change in progress, not one left behind
(a training job opening the dataset while gr00t-dataset from-bag appends to it must not
remove the new meta/ the appender is writing). A second writer is refused. On a filesystem
without flock on directories (NFS) writers go unguarded, with a warning, and only a writer
settles.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Callable

from gr00t_policy.atomic_write import fsync_path
from gr00t_policy.dataset.layout import DatasetError

logger = logging.getLogger(__name__)

META = "meta"
SUBDIRS = (META, "data", "videos")
WRITING, NEW, REPLACED = ".meta-writing", ".meta-new", ".meta-replaced"
PARTIAL, OLD = ".partial", ".old"
LEGACY = ".old-meta"
UNDO = ".old-undo"  # an overwrite's swap being rolled back (the writer's exception)
LEFTOVERS = (WRITING, NEW, REPLACED, OLD, LEGACY, UNDO)


class CommittedButNotSwapped(DatasetError):
    """An append's new meta/ is committed but could not be swapped in yet (settle will)."""


class LockUnsupported(OSError):
    """The filesystem cannot flock a directory (NFS wants the file open for writing)."""


def lock(root: Path, wait_s: float = 0.0) -> int | None:
    """Take the write lock of the dataset directory ``root`` (an exclusive flock on it),
    waiting up to ``wait_s``: the descriptor that holds it (`unlock` it), or None while
    another process holds it. LockUnsupported where the filesystem has no such lock."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                os.close(fd)
                if exc.errno in (errno.EBADF, errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                    raise LockUnsupported(exc.errno, f"cannot lock {root}: {exc.strerror}")
                raise
        if time.monotonic() >= deadline:
            os.close(fd)
            return None
        time.sleep(0.01)


def unlock(fd: int) -> None:
    """Release a lock `lock` took."""
    os.close(fd)  # closing the descriptor releases its flock


def fsync_tree(folder: Path) -> None:
    """Every file and folder under ``folder`` (and it) flushed to disk."""
    for path in sorted(folder.rglob("*")):
        fsync_path(path)
    fsync_path(folder)


def replace_meta(root: Path, write: Callable[[Path], None],
                 committed: Callable[[], None] = lambda: None) -> None:
    """Replace ``root/meta`` by what ``write(folder)`` writes into an empty folder, so that a
    reader, or a process killed at any point, finds the old meta/ or the new one whole.
    ``committed()`` is called once the new one can no longer be lost (before the swap, which
    `settle` finishes should it be cut short). If ``write`` raises, nothing changed."""
    writing = root / WRITING
    shutil.rmtree(writing, ignore_errors=True)
    writing.mkdir(parents=True)
    try:
        write(writing)
        if (root / META).is_dir():  # files others keep there (gr00t-collect's collect.json)
            for path in (root / META).iterdir():
                if path.is_file() and not (writing / path.name).exists():
                    shutil.copy2(path, writing / path.name)
        fsync_tree(writing)
    except BaseException:
        shutil.rmtree(writing, ignore_errors=True)
        raise
    os.rename(writing, root / NEW)  # the commit
    committed()  # first: an exception (fsync's EIO, a Ctrl-C) must not undo the episodes
    try:
        fsync_path(root)
        _swap_in_meta(root)
    except OSError as exc:
        # Said as such: a caller that reports a failure would have the user run the append
        # again, and the episodes would be in the dataset twice.
        raise CommittedButNotSwapped(
            f"{root}: the new episodes are committed ({NEW}/), but swapping in the new meta/ "
            f"failed: {exc}. Do not write them again: fix the cause (permissions, disk) and "
            "open the dataset once (e.g. gr00t-dataset info), which finishes the swap") from exc


def _swap_in_meta(root: Path) -> None:
    meta, replaced = root / META, root / REPLACED
    if meta.exists():
        shutil.rmtree(replaced, ignore_errors=True)
        meta.rename(replaced)
    (root / NEW).rename(meta)
    fsync_path(root)
    shutil.rmtree(replaced, ignore_errors=True)


def swap_in(root: Path, partial: Path,
            committed: Callable[[], None] = lambda: None) -> None:
    """Replace ``root``'s folders by those under ``partial`` (a complete dataset): the old
    ones move aside to root/OLD, the new ones in (meta/ last, so a reader never finds the new
    meta/ over old data), then OLD and ``partial`` are removed. Safe to run again from any
    point where a previous run stopped (what `settle` does): a folder still under
    ``partial`` has not been moved in, so the one of that name in ``root`` is the old one."""
    old = root / OLD
    if not old.is_dir():
        fsync_tree(partial)  # PARTIAL on disk before OLD says it is complete
    old.mkdir(exist_ok=True)
    fsync_path(root)  # OLD on disk before anything moves: it tells settle the swap began
    for sub in SUBDIRS:
        if (partial / sub).exists() and (root / sub).exists():
            shutil.rmtree(old / sub, ignore_errors=True)
            (root / sub).rename(old / sub)
    for sub in reversed(SUBDIRS):  # meta/ last
        if (partial / sub).exists():
            (partial / sub).rename(root / sub)
    committed()  # the new dataset is in: what follows is clean-up, never undone
    fsync_path(root)
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)


def roll_back(root: Path, partial: Path) -> None:
    """Undo a begun swap_in: the old folders back from OLD (via UNDO, so that a kill half
    way is finished by settle, not taken for a swap to redo), then PARTIAL removed."""
    if (root / OLD).is_dir():
        os.rename(root / OLD, root / UNDO)
        fsync_path(root)
    undo = root / UNDO
    if undo.is_dir():
        for sub in SUBDIRS:
            if (undo / sub).exists():
                shutil.rmtree(root / sub, ignore_errors=True)
                (undo / sub).rename(root / sub)
        fsync_path(root)
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(undo, ignore_errors=True)


def _legacy_complete(folder: Path) -> bool:
    """Whether an older writer's .old-meta holds a whole meta/ (not a copy cut short): every
    file parses, and it lists as many episodes as its info.json counts."""
    try:
        info = json.loads((folder / "info.json").read_text())
        for name in ("modality.json", "stats.json"):
            json.loads((folder / name).read_text())
        rows = {name: [json.loads(line) for line in (folder / name).read_text().splitlines()
                       if line.strip()]
                for name in ("episodes.jsonl", "tasks.jsonl")}
    except (OSError, ValueError):
        return False
    return len(rows["episodes.jsonl"]) == info.get("total_episodes")


def settle(root: Path, *, locked: bool = False, wait_s: float = 0.0) -> list[str]:
    """Finish or undo a change to the dataset at ``root`` that a killed process left half
    done (the table above); returns what was done, one line each (nothing if nothing was
    left, or if a live writer holds the lock after waiting ``wait_s`` for it). ``locked``:
    the caller holds the lock. Run before a dataset is read or written; cheap when there is
    nothing to do."""
    if not any((root / name).exists() for name in LEFTOVERS):
        return []
    fd = None
    if not locked:
        try:
            fd = lock(root, wait_s)
        except LockUnsupported:
            return []  # whether a writer is live is unknown: the next writer settles
        if fd is None:
            return []  # a writer's change in progress, not one left behind
    try:
        return _settle(root)
    finally:
        if fd is not None:
            unlock(fd)


def _settle(root: Path) -> list[str]:
    done = []
    if (root / WRITING).exists():
        shutil.rmtree(root / WRITING)
        done.append(f"removed {WRITING}/, a meta/ whose writing was cut short (the episodes "
                    "appended then are not listed)")
    if (root / NEW).is_dir():
        _swap_in_meta(root)
        done.append(f"swapped in {NEW}/, a committed meta/ (an append's)")
    elif (root / REPLACED).is_dir():
        if (root / META).exists():
            shutil.rmtree(root / REPLACED)
            done.append(f"removed {REPLACED}/, the meta/ an append had replaced")
        else:
            (root / REPLACED).rename(root / META)
            done.append(f"put back {REPLACED}/ as meta/")
    if (root / UNDO).is_dir():
        roll_back(root, root / PARTIAL)
        done.append(f"finished rolling back an overwrite's swap ({UNDO}/)")
    if (root / OLD).is_dir():
        swap_in(root, root / PARTIAL)
        done.append(f"finished replacing the dataset by {PARTIAL}/ (an overwrite's swap)")
    if (root / LEGACY).is_dir() and not _legacy_complete(root / LEGACY):
        # cut short while copied (meta/ untouched) or while removed (meta/ rewritten whole)
        shutil.rmtree(root / LEGACY)
        done.append(f"removed {LEGACY}/, an older writer's partial copy of meta/")
    elif (root / LEGACY).is_dir():
        shutil.rmtree(root / META, ignore_errors=True)
        (root / LEGACY).rename(root / META)
        done.append(f"put back {LEGACY}/ as meta/ (an append cut short, by an older writer)")
    for line in done:
        logger.warning("%s: %s", root, line)
    return done
