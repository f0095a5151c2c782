"""LeRobotWriter: episodes in, a LeRobot v2 dataset directory with GR00T's meta files out."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from gr00t_policy.dataset.layout import (
    ACTION, CODEBASE_VERSION, DATA_PATH, STATE, TASK_ANNOTATION, VIDEO_PATH, VIDEO_PREFIX,
    DatasetError, _check_keys, _feature_names, modality_ranges, read_json, _write_jsonl,
    vector_rows)
from gr00t_policy.dataset.reader import LeRobotDataset
from gr00t_policy.dataset.swap import (
    NEW, PARTIAL, LockUnsupported, fsync_path, lock, replace_meta, roll_back, settle, swap_in,
    unlock)
from gr00t_policy.dataset.video import VIDEO_CODECS, write_video
from gr00t_policy.normalization import compute_statistics

logger = logging.getLogger(__name__)


class LeRobotWriter:
    """Writes episodes into a LeRobot v2 dataset directory; :meth:`finalize` writes ``meta/``.

    Usage::

        with LeRobotWriter(root, fps=20, state_keys=[("left_arm", [...]), ...],
                           action_keys=[...], cameras=["head"], image_shape=(224, 224)) as w:
            w.add_episode(states, actions, {"head": frames}, "raise your left hand")

    ``append=True`` continues an existing dataset with the same layout (its statistics are
    recomputed over all episodes at :meth:`finalize`; until then its meta/ lists only the
    episodes it had). ``overwrite=True`` writes the new episodes beside the old dataset
    (``root/.partial/``) and replaces the old one only at :meth:`finalize`, so a failure on the
    way (an unreadable recording, a full disk) leaves the old dataset as it was. A failure
    before :meth:`finalize` is through (:meth:`discard`, as leaving the ``with`` block on an
    exception does) leaves ``root`` as it was in every mode: a dataset appended to loses the
    new episodes' files, a folder the writer made is removed.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        fps: float,
        state_keys: Sequence[tuple[str, Sequence[str]]],
        action_keys: Sequence[tuple[str, Sequence[str]]],
        cameras: Sequence[str],
        image_shape: tuple[int, int] | Mapping[str, tuple[int, int]],
        robot_type: str = "unitree_g1",
        codec: str = "h264-lossless",
        chunks_size: int = 1000,
        append: bool = False,
        overwrite: bool = False,
        progress_total: int | None = None,
    ) -> None:
        """Open ``root`` for writing.

        Args:
            root: dataset directory.
            fps: frames per second (1 / action_dt).
            state_keys: ordered (key, joint names) of the state vector.
            action_keys: ordered (key, joint names) of the action vector.
            cameras: camera names; video key ``observation.images.<name>``.
            image_shape: (height, width) of every camera's frames, or camera name ->
                (height, width) when the cameras differ (a head camera and wrist cameras).
            robot_type: info.json ``robot_type``.
            codec: a ``VIDEO_CODECS`` name.
            chunks_size: episodes per ``chunk-XXX`` folder.
            append: continue the dataset already at ``root`` (same layout required).
            overwrite: replace an existing dataset's meta/, data/ and videos/ at finalize.
            progress_total: if given, show a tqdm bar over this many episodes.
        """
        if not fps > 0:
            raise DatasetError(f"fps must be > 0, got {fps!r}")
        if codec not in VIDEO_CODECS:
            raise DatasetError(f"unknown video codec {codec!r}; known: {sorted(VIDEO_CODECS)}")
        if chunks_size < 1:
            raise DatasetError(f"chunks_size must be >= 1, got {chunks_size}")
        if append and overwrite:
            raise DatasetError("append and overwrite exclude each other; pick one")
        if not cameras:
            raise DatasetError("cameras must name at least one camera")
        self.root = Path(root)
        self.fps = float(fps)
        self.state_keys = _check_keys(state_keys, "state_keys")
        self.action_keys = _check_keys(action_keys, "action_keys")
        self.cameras = [str(c) for c in cameras]
        self.image_shapes = _camera_shapes(image_shape, self.cameras)  # camera -> (h, w)
        self.robot_type = robot_type
        self.codec = codec
        self.chunks_size = int(chunks_size)
        self.state_dim = len(_feature_names(self.state_keys))
        self.action_dim = len(_feature_names(self.action_keys))
        self._episodes: list[dict[str, Any]] = []
        self._tasks: dict[str, int] = {}
        self._total_frames = 0
        self._finalized = False
        self._lock: int | None = None  # the dataset's write lock, held until finalized
        self._unlocked = False  # the filesystem has no such lock
        try:
            self._open(append, overwrite, progress_total)
        except BaseException:
            self._release()
            raise

    def _open(self, append: bool, overwrite: bool, progress_total: int | None) -> None:
        if self.root.is_dir():
            self._take_lock()
        exists = check_root(self.root, append=append, overwrite=overwrite,
                            locked=self._lock is not None or self._unlocked)
        # Where episodes and meta/ are written: the root, or beside an old dataset that
        # finalize replaces.
        self._dir = self.root
        if exists and overwrite:
            self._dir = self.root / PARTIAL
            shutil.rmtree(self._dir, ignore_errors=True)  # a run that died before finalize
            exists = False
        if exists:
            self._load_existing()
        # Written in place, discard() undoes what this writer did there: the episodes from
        # _listed on (meta/ lists those before), and the folders from _made down (None: the
        # root was there).
        self._in_place = self._dir == self.root
        self._listed = len(self._episodes)
        self._made = next((p for p in reversed((self.root, *self.root.parents))
                           if not p.exists()), None)
        self._dir.mkdir(parents=True, exist_ok=True)
        if self._lock is None and not self._unlocked:
            self._take_lock()
        self._bar = None
        if progress_total is not None:
            from tqdm import tqdm

            self._bar = tqdm(total=progress_total, desc="episodes", unit="ep")

    def _take_lock(self) -> None:
        try:
            self._lock = lock(self.root)
        except LockUnsupported as exc:  # NFS: written unguarded, as before locks
            logger.warning("%s; another process writing this dataset at the same time "
                           "would not be refused, and readers do not settle a killed "
                           "writer's leftovers (the next writer does)", exc)
            self._unlocked = True
            return
        if self._lock is None:
            raise DatasetError(
                f"{self.root} is being written by another process (gr00t-dataset, "
                "gr00t-collect or a script holds its lock). Fix: wait for it to finish, or "
                "write to another --out")

    def _release(self) -> None:
        if self._lock is not None:
            unlock(self._lock)
            self._lock = None

    def __del__(self) -> None:  # an abandoned writer (never finalized nor discarded)
        try:
            self._release()
        except Exception:  # noqa: BLE001 - at interpreter exit the fd closes anyway
            pass

    def _load_existing(self) -> None:
        ds = check_appendable(self.root, self._modality())
        if ds.info["fps"] != self.fps or ds.state_names != _feature_names(self.state_keys) or (
            ds.action_names != _feature_names(self.action_keys)
        ) or ds.cameras != self.cameras:
            raise DatasetError(
                f"cannot append to {self.root}: its fps / state / action / camera layout differs "
                "from this writer's"
            )
        theirs = {cam: ds.image_shape(cam) for cam in self.cameras}
        if theirs != self.image_shapes:
            raise DatasetError(
                f"cannot append to {self.root}: its frames are {theirs} (height, width), these "
                f"{self.image_shapes}; record at the dataset's resolution or start a new one")
        self._episodes = list(ds.episodes)
        self._tasks = {text: idx for idx, text in ds.tasks.items()}
        self._total_frames = ds.num_frames

    # -- episodes ---------------------------------------------------------------------

    @property
    def num_episodes(self) -> int:
        return len(self._episodes)

    def task_index(self, task: str) -> int:
        """Index of ``task`` in tasks.jsonl (added if new)."""
        if task not in self._tasks:
            self._tasks[task] = len(self._tasks)
        return self._tasks[task]

    def add_episode(
        self,
        states: np.ndarray,
        actions: np.ndarray,
        frames: Mapping[str, np.ndarray],
        task: str,
        extra: Mapping[str, Any] | None = None,
    ) -> int:
        """Write one episode; returns its episode index.

        Args:
            states: (T, S) joint positions, S = total state joints.
            actions: (T, A) joint targets.
            frames: camera name -> uint8 (T, H, W, 3) RGB frames: an array, or an object
                with that `shape` and `dtype` that yields its frames when iterated (they are
                encoded as they come: e.g. from_bag.DecodedFrames).
            task: the instruction text.
            extra: JSON-able fields added to the episode's episodes.jsonl line (e.g. the
                simulator seed); they must not shadow episode_index, tasks or length.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._finalized:
            raise DatasetError("this writer was finalized; open a new one with append=True")
        states = np.asarray(states, dtype=np.float32)
        actions = np.asarray(actions, dtype=np.float32)
        length = states.shape[0] if states.ndim == 2 else -1
        if states.ndim != 2 or states.shape[1] != self.state_dim or length < 1:
            raise DatasetError(f"states must be (T, {self.state_dim}) with T >= 1, got {states.shape}")
        if actions.shape != (length, self.action_dim):
            raise DatasetError(f"actions must be ({length}, {self.action_dim}), got {actions.shape}")
        if not (np.isfinite(states).all() and np.isfinite(actions).all()):
            raise DatasetError("states and actions must be finite")
        if sorted(frames) != sorted(self.cameras):
            raise DatasetError(f"frames must hold cameras {self.cameras}, got {sorted(frames)}")
        for cam, video in frames.items():
            shape = (length, *self.image_shapes[cam], 3)
            dtype = getattr(video, "dtype", None) or np.asarray(video).dtype
            if tuple(np.shape(video)) != shape or dtype != np.uint8:
                raise DatasetError(f"frames[{cam!r}] must be uint8 {shape}, got {dtype} "
                                   f"{tuple(np.shape(video))}")
        check_task(task)
        extra = dict(extra or {})
        shadowed = sorted(set(extra) & {"episode_index", "tasks", "length"})
        if shadowed:
            raise DatasetError(f"extra must not set {shadowed}: the writer owns those fields")

        index = len(self._episodes)
        new_task = task not in self._tasks
        task_index = self.task_index(task)
        frame_index = np.arange(length, dtype=np.int64)
        table = pa.table({
            STATE: pa.FixedSizeListArray.from_arrays(pa.array(states.reshape(-1)), self.state_dim),
            ACTION: pa.FixedSizeListArray.from_arrays(pa.array(actions.reshape(-1)), self.action_dim),
            "timestamp": pa.array((frame_index / self.fps).astype(np.float32)),
            "frame_index": pa.array(frame_index),
            "episode_index": pa.array(np.full(length, index, dtype=np.int64)),
            "index": pa.array(frame_index + self._total_frames),
            "task_index": pa.array(np.full(length, task_index, dtype=np.int64)),
            TASK_ANNOTATION: pa.array(np.full(length, task_index, dtype=np.int64)),
        })
        data_path, *video_paths = self._episode_files(index, list(frames))
        try:
            data_path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, data_path)
            for video_path, video in zip(video_paths, frames.values()):
                # Frames may be decoded as they are encoded (from_bag.DecodedFrames): a
                # damaged one fails here, with this episode half written.
                write_video(video_path, video, self.fps, self.codec)
        except BaseException:
            for path in (data_path, *video_paths):  # the episode goes whole or not at all
                path.unlink(missing_ok=True)
            if new_task:
                del self._tasks[task]
            raise
        self._episodes.append(
            {"episode_index": index, "tasks": [task], "length": int(length), **extra}
        )
        self._total_frames += int(length)
        if self._bar is not None:
            self._bar.update(1)
        return index

    def _episode_files(self, index: int, cameras: Sequence[str]) -> list[Path]:
        """The episode's parquet file, then its video of each of ``cameras``."""
        chunk = index // self.chunks_size
        return [self._dir / DATA_PATH.format(episode_chunk=chunk, episode_index=index),
                *(self._dir / VIDEO_PATH.format(episode_chunk=chunk, video_key=VIDEO_PREFIX + cam,
                                                episode_index=index) for cam in cameras)]

    # -- meta ---------------------------------------------------------------------------

    def _info(self) -> dict[str, Any]:
        spec = VIDEO_CODECS[self.codec]
        features: dict[str, Any] = {
            STATE: {"dtype": "float32", "shape": [self.state_dim],
                    "names": _feature_names(self.state_keys)},
            ACTION: {"dtype": "float32", "shape": [self.action_dim],
                     "names": _feature_names(self.action_keys)},
        }
        for cam in self.cameras:
            height, width = self.image_shapes[cam]
            features[VIDEO_PREFIX + cam] = {
                "dtype": "video",
                "shape": [height, width, 3],
                "names": ["height", "width", "channel"],
                "info": {
                    "video.fps": self.fps, "video.height": height, "video.width": width,
                    "video.channels": 3, "video.codec": "h264", "video.pix_fmt": spec.pix_fmt,
                    "video.is_depth_map": False, "has_audio": False,
                },
            }
        for name, dtype in (("timestamp", "float32"), ("frame_index", "int64"),
                            ("episode_index", "int64"), ("index", "int64"),
                            ("task_index", "int64"), (TASK_ANNOTATION, "int64")):
            features[name] = {"dtype": dtype, "shape": [1], "names": None}
        n = len(self._episodes)
        return {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": self.robot_type,
            "total_episodes": n,
            "total_frames": self._total_frames,
            "total_tasks": len(self._tasks),
            "total_videos": n * len(self.cameras),
            "total_chunks": (n + self.chunks_size - 1) // self.chunks_size if n else 0,
            "chunks_size": self.chunks_size,
            "fps": int(self.fps) if float(self.fps).is_integer() else self.fps,
            "splits": {"train": f"0:{n}"},
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH,
            "features": features,
        }

    def _modality(self) -> dict[str, Any]:
        return gr00t_modality(self.state_keys, self.action_keys, self.cameras)

    def finalize(self) -> Path:
        """Write meta/ (info, episodes, tasks, modality, stats); returns the dataset root."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if not self._episodes:
            raise DatasetError(f"no episodes were written to {self.root}; nothing to finalize")
        if self._in_place:
            # meta/ is read where it is rewritten: the new one is written beside it and
            # swapped in whole (dataset.swap), so a kill at any point leaves the old or the
            # new. Once committed the episodes are the dataset's: discard() leaves them be.
            self._fsync_new_episodes()
            replace_meta(self.root, self._write_meta, committed=self._committed)
        else:
            meta = self._dir / "meta"
            meta.mkdir(parents=True, exist_ok=True)
            self._write_meta(meta)
            self._swap_in()
        self._finalized = True
        self._release()
        logger.info("wrote %d episodes, %d frames to %s", len(self._episodes), self._total_frames, self.root)
        return self.root

    def _write_meta(self, meta: Path) -> None:
        """meta/'s files for every episode written, into the folder ``meta``."""
        tasks = sorted(self._tasks.items(), key=lambda kv: kv[1])
        states, actions = self._arrays()
        stats = compute_statistics({STATE: states, ACTION: actions})
        _write_jsonl(meta / "tasks.jsonl", [{"task_index": i, "task": t} for t, i in tasks])
        _write_jsonl(meta / "episodes.jsonl", self._episodes)
        (meta / "modality.json").write_text(json.dumps(self._modality(), indent=2))
        (meta / "info.json").write_text(json.dumps(self._info(), indent=2))
        (meta / "stats.json").write_text(json.dumps(stats, indent=2))

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(states, actions) of every episode, read back from their parquet files (what
        training will read, written by this class: an appended dataset's episodes too)."""
        import pyarrow.parquet as pq

        states, actions = [], []
        for index, episode in enumerate(self._episodes):
            path = self._episode_files(index, [])[0]
            table = pq.read_table(path, columns=[STATE, ACTION])
            if table.num_rows != int(episode["length"]):
                raise DatasetError(f"{path} has {table.num_rows} rows of episode {index} but "
                                   f"meta/episodes.jsonl says {episode['length']}. Fix: the "
                                   "file was changed or cut short; restore it from a copy")
            states.append(vector_rows(table, STATE, self.state_dim, path))
            actions.append(vector_rows(table, ACTION, self.action_dim, path))
        return np.concatenate(states), np.concatenate(actions)

    def _fsync_new_episodes(self) -> None:
        """The new episodes' files, and the folders that name them, on disk before meta/
        lists them (a power cut after the commit must not leave it listing empty files)."""
        folders = set()
        for index in range(self._listed, len(self._episodes)):
            for path in self._episode_files(index, self.cameras):
                fsync_path(path)
                folders.update(p for p in path.parents if self.root in p.parents or p == self.root)
        for folder in sorted(folders, key=lambda p: -len(p.parts)):
            fsync_path(folder)

    def _committed(self) -> None:
        self._finalized = True

    def __enter__(self) -> "LeRobotWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and not self._finalized:
            try:
                self.finalize()
            except BaseException:
                self.discard()
                raise
            return
        if self._bar is not None:
            self._bar.close()
        self.discard()

    def _swap_in(self) -> None:
        """Replace the old dataset by the new one under root/PARTIAL (`swap.swap_in`). A
        failure (an exception) before the last rename puts the old folders back (`discard`);
        a kill, `swap.settle` finishes at the next open."""
        def swapped() -> None:
            self._dir = self.root  # discard() leaves it be, whatever follows raises
        swap_in(self.root, self._dir, committed=swapped)
        swapped()

    def discard(self) -> None:
        """Give up an unfinished write, leaving ``root`` as it was: an overwrite's new
        episodes are removed and the old dataset kept (moved back if a swap had begun);
        written in place, see `_discard_in_place`. Releases the lock."""
        try:
            self._discard()
        finally:
            self._release()

    def _discard(self) -> None:
        if self._finalized:
            return
        if self._in_place:
            self._discard_in_place()
            return
        if self._dir == self.root:  # swapped in: the new dataset is the one there
            return
        roll_back(self.root, self._dir)  # the swap raised: the old folders go back
        logger.warning("%s: the new episodes were discarded; the dataset there is the one it "
                       "held before", self.root)

    def _discard_in_place(self) -> None:
        """A folder this writer made is removed whole (with those it made above it); in a
        folder that was there (a dataset appended to), the files of the episodes meta/ did
        not list are removed, with the folders they leave empty (meta/ is untouched until
        finalize commits, after which discard() does nothing)."""
        if self._made is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            folder = self.root
            while folder != self._made:  # the folders made above the root, if still empty
                folder = folder.parent
                try:
                    folder.rmdir()
                except OSError:  # something else was put in it meanwhile: kept
                    break
            logger.warning("%s: the new dataset was discarded (removed)", self.root)
            return
        if (self.root / NEW).is_dir():  # committed after all (an exception at the commit)
            return
        for index in range(self._listed, len(self._episodes)):
            for path in self._episode_files(index, self.cameras):
                path.unlink(missing_ok=True)
                _remove_empty(path.parent, self.root)
        # finalize raised before its commit: replace_meta left meta/ as it was
        logger.warning("%s: the new episodes were discarded; the dataset there is the one it "
                       "held before", self.root)


def _remove_empty(folder: Path, root: Path) -> None:
    """Remove ``folder`` and those above it while they are empty, up to ``root`` (kept)."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty
            return
        folder = folder.parent


def check_root(root: Path, *, append: bool, overwrite: bool, locked: bool = False) -> bool:
    """Whether ``root`` holds a dataset; DatasetError where none can be written there (a
    file in the way, or a dataset that neither ``append`` nor ``overwrite`` lets one touch).
    Callers that work long before they open the writer (gr00t-dataset from-bag reads every
    bag first) ask it up front, so that they fail before that work, with nothing written.
    A change to the dataset that a killed writer left half done is settled first
    (`swap.settle`; ``locked``: the caller holds the dataset's lock)."""
    for path in (root, *root.parents):
        if path.is_dir():
            break
        if path.exists():
            raise DatasetError(
                f"cannot write a dataset at {root}: {path} is a file, not a directory. Fix: "
                "choose a path for the dataset directory that is free (or holds a dataset)")
    if root.is_dir():
        settle(root, locked=locked)
    exists = (root / "meta" / "info.json").is_file()
    if exists and not (append or overwrite):
        raise DatasetError(
            f"{root} already holds a dataset; pass append=True to continue it or "
            "overwrite=True to replace it"
        )
    return exists


def gr00t_modality(state_keys: Sequence[tuple[str, Sequence[str]]],
                   action_keys: Sequence[tuple[str, Sequence[str]]],
                   cameras: Sequence[str]) -> dict[str, Any]:
    """meta/modality.json as the writer writes it for this layout."""
    return {
        "state": modality_ranges(state_keys),
        "action": modality_ranges(action_keys),
        "video": {cam: {"original_key": VIDEO_PREFIX + cam} for cam in cameras},
        "annotation": {TASK_ANNOTATION.removeprefix("annotation."): {}},
    }


def check_appendable(root: Path, modality: Mapping[str, Any]) -> LeRobotDataset:
    """The dataset at ``root``, opened; DatasetError unless it is in the layout a writer
    writing ``modality`` (see `gr00t_modality`) continues: finalize rewrites info.json and
    modality.json as its own, so another LeRobot version (v2.1: its episodes_stats.jsonl
    left stale; v3.0: episodes in shared files that the v2.0 paths do not find) or another
    modality.json (an annotation key the old episodes' instructions are read by) would be
    left broken. Callers that read bags first (gr00t-dataset from-bag) ask before they do."""
    fix = ("Fix: convert into a new dataset (another --out) and train on both "
           "(gr00t-train --mixture)")
    version = str(read_json(root / "meta" / "info.json").get("codebase_version", ""))
    if version != CODEBASE_VERSION:
        raise DatasetError(
            f"cannot append to {root}: it is a LeRobot {version or 'unversioned'} dataset "
            f"(meta/info.json codebase_version), and episodes are appended in "
            f"{CODEBASE_VERSION}'s layout only (meta/ would be rewritten as "
            f"{CODEBASE_VERSION}'s over its own). {fix}")
    ds = LeRobotDataset(root)
    theirs = dict(ds.modality)
    differ = [key for key in sorted(set(theirs) | set(modality))
              if theirs.get(key) != modality.get(key)]
    if differ:
        shown = "; ".join(f"{key}: {_entry_words(theirs.get(key))} there, "
                          f"{_entry_words(modality.get(key))} here" for key in differ)
        raise DatasetError(
            f"cannot append to {ds.root}: its meta/modality.json is not the one this writer "
            f"writes ({shown}); it would be replaced, and the old episodes are read by it. "
            f"{fix}")
    return ds


def _entry_words(entry: Any) -> str:
    """A modality.json entry in a few words: its keys, with their columns where it has them."""
    if not isinstance(entry, Mapping):
        return "none" if entry is None else repr(entry)
    words = [f"{key} [{v['start']}, {v['end']})" if isinstance(v, Mapping) and "start" in v
             and "end" in v else str(key) for key, v in entry.items()]
    return ", ".join(words) or "none"


def check_task(task: Any, what: str = "task", fix: str = "pass the instruction's words") -> None:
    """An episode's task is the instruction it is trained on: text, not blank. ``what`` and
    ``fix`` name where it came from (a command-line flag) and what to do."""
    if not isinstance(task, str) or not task.strip():
        raise DatasetError(f"{what} must be an instruction (text, not blank), got {task!r}. "
                           f"Fix: {fix}")


def _camera_shapes(image_shape: tuple[int, int] | Mapping[str, tuple[int, int]],
                   cameras: Sequence[str]) -> dict[str, tuple[int, int]]:
    """camera -> (height, width), from one shape for all or one per camera (every camera
    named, each side > 0)."""
    if isinstance(image_shape, Mapping):
        if sorted(image_shape) != sorted(cameras):
            raise DatasetError(f"image_shape names cameras {sorted(image_shape)}, the writer "
                               f"{sorted(cameras)}")
        shapes = {cam: image_shape[cam] for cam in cameras}
    else:
        shapes = {cam: image_shape for cam in cameras}
    out = {}
    for cam, shape in shapes.items():
        h, w = (int(shape[0]), int(shape[1]))
        if h < 1 or w < 1:
            raise DatasetError(f"image_shape of camera {cam!r} must be (height, width) > 0, "
                               f"got {tuple(shape)}")
        out[cam] = (h, w)
    return out
