"""LeRobot v2 datasets with GR00T's extra meta files: a writer and a reader (ROS-free).

Layout written (LeRobot ``codebase_version`` "v2.0", one file per episode)::

    ROOT/
      meta/info.json        fps, features (dtype / shape / names), path templates, counts
      meta/episodes.jsonl   {"episode_index", "tasks": [text], "length"} per line
      meta/tasks.jsonl      {"task_index", "task"} per line
      meta/modality.json    GR00T: state/action key -> {"start", "end"} into the concatenated
                            vectors, video key -> {"original_key"}, annotation keys
      meta/stats.json       per numeric feature: min, max, mean, std, q01, q99 (lists)
      data/chunk-000/episode_000000.parquet
      videos/chunk-000/observation.images.<camera>/episode_000000.mp4

Episode parquet columns: ``observation.state`` and ``action`` (fixed-size float32 lists),
``timestamp`` (float32, s), ``frame_index``, ``episode_index``, ``index`` (global frame),
``task_index`` and ``annotation.human.action.task_description`` (the task index, as GR00T
reads it), all int64.

Row ``t`` holds the state observed at ``t / fps`` and the action (joint targets) commanded
right after that observation.

Video codecs (``VIDEO_CODECS``): ``h264-lossless`` (libx264rgb, qp 0, rgb24: frames decode
bit-exactly; the default) and ``h264`` (libx264, crf 18, yuv420p: ~5x smaller, within a few
grey levels, plays everywhere).
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from gr00t_policy.normalization import compute_statistics

logger = logging.getLogger(__name__)

CODEBASE_VERSION = "v2.0"
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
STATE = "observation.state"
ACTION = "action"
VIDEO_PREFIX = "observation.images."
TASK_ANNOTATION = "annotation.human.action.task_description"


@dataclass(frozen=True)
class VideoCodec:
    """An ffmpeg encoder setting: codec name, output pixel format and extra arguments."""

    codec: str
    pix_fmt: str
    params: tuple[str, ...]
    lossless: bool


VIDEO_CODECS: dict[str, VideoCodec] = {
    "h264-lossless": VideoCodec("libx264rgb", "rgb24", ("-qp", "0", "-preset", "veryfast"), True),
    "h264": VideoCodec("libx264", "yuv420p", ("-crf", "18", "-preset", "veryfast"), False),
}


class DatasetError(ValueError):
    """A dataset directory or an episode that does not follow the layout above."""


def _feature_names(keys: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    return [name for _, names in keys for name in names]


def _modality_ranges(keys: Sequence[tuple[str, Sequence[str]]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    start = 0
    for key, names in keys:
        out[key] = {"start": start, "end": start + len(names)}
        start += len(names)
    return out


def _check_keys(keys: Sequence[tuple[str, Sequence[str]]], what: str) -> list[tuple[str, list[str]]]:
    out = []
    for item in keys:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise DatasetError(f"{what} entries must be (key, [joint names]) pairs, got {item!r}")
        key, names = item
        names = [str(n) for n in names]
        if not isinstance(key, str) or not key or not names:
            raise DatasetError(f"{what}: key {key!r} needs a non-empty name and joint list")
        out.append((key, names))
    if not out:
        raise DatasetError(f"{what} must name at least one key")
    dup = {k for k, _ in out if [x for x, _ in out].count(k) > 1}
    if dup:
        raise DatasetError(f"{what}: duplicate keys {sorted(dup)}")
    return out


def _write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DatasetError(f"missing {path}; is this a LeRobot v2 dataset directory?")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ------------------------------------------------------------------------------------- video


def write_video(path: str | Path, frames: np.ndarray, fps: float, codec: str = "h264-lossless") -> None:
    """Encode uint8 frames (T, H, W, 3) RGB to an mp4 file with the named ``VIDEO_CODECS`` entry."""
    import imageio_ffmpeg

    if codec not in VIDEO_CODECS:
        raise DatasetError(f"unknown video codec {codec!r}; known: {sorted(VIDEO_CODECS)}")
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or not len(frames):
        raise DatasetError(
            f"frames must be uint8 (T, H, W, 3) RGB with T > 0, got {frames.dtype} {frames.shape}"
        )
    spec = VIDEO_CODECS[codec]
    height, width = frames.shape[1:3]
    if not spec.lossless and (height % 2 or width % 2):
        raise DatasetError(f"codec {codec!r} (yuv420p) needs even frame sides, got {width}x{height}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio_ffmpeg.write_frames(
        str(path), (width, height), pix_fmt_in="rgb24", pix_fmt_out=spec.pix_fmt, fps=fps,
        quality=None, codec=spec.codec, macro_block_size=1, ffmpeg_log_level="error",
        output_params=list(spec.params),
    )
    writer.send(None)  # start ffmpeg
    try:
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
    finally:
        writer.close()


def read_video(path: str | Path) -> np.ndarray:
    """Decode an mp4 file to uint8 frames (T, H, W, 3) RGB."""
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"missing video file {path}")
    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(gen)
    width, height = meta["size"]
    frames = [np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 3) for buf in gen]
    if not frames:
        raise DatasetError(f"video {path} holds no frames")
    return np.stack(frames)  # (T, H, W, 3)


# ------------------------------------------------------------------------------------ writer


class LeRobotWriter:
    """Writes episodes into a LeRobot v2 dataset directory; :meth:`finalize` writes ``meta/``.

    Usage::

        with LeRobotWriter(root, fps=20, state_keys=[("left_arm", [...]), ...],
                           action_keys=[...], cameras=["head"], image_shape=(224, 224)) as w:
            w.add_episode(states, actions, {"head": frames}, "raise your left hand")

    ``append=True`` continues an existing dataset with the same layout (its statistics are
    recomputed over all episodes at :meth:`finalize`).
    """

    def __init__(
        self,
        root: str | Path,
        *,
        fps: float,
        state_keys: Sequence[tuple[str, Sequence[str]]],
        action_keys: Sequence[tuple[str, Sequence[str]]],
        cameras: Sequence[str],
        image_shape: tuple[int, int],
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
            image_shape: (height, width) of every camera frame.
            robot_type: info.json ``robot_type``.
            codec: a ``VIDEO_CODECS`` name.
            chunks_size: episodes per ``chunk-XXX`` folder.
            append: continue the dataset already at ``root`` (same layout required).
            overwrite: delete an existing dataset's meta/, data/ and videos/ first.
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
        self.image_shape = (int(image_shape[0]), int(image_shape[1]))
        self.robot_type = robot_type
        self.codec = codec
        self.chunks_size = int(chunks_size)
        self.state_dim = len(_feature_names(self.state_keys))
        self.action_dim = len(_feature_names(self.action_keys))
        self._episodes: list[dict[str, Any]] = []
        self._tasks: dict[str, int] = {}
        self._total_frames = 0
        self._finalized = False

        exists = (self.root / "meta" / "info.json").is_file()
        if exists and overwrite:
            for sub in ("meta", "data", "videos"):
                shutil.rmtree(self.root / sub, ignore_errors=True)
            exists = False
        if exists and not append:
            raise DatasetError(
                f"{self.root} already holds a dataset; pass append=True to continue it or "
                "overwrite=True to replace it"
            )
        if exists:
            self._load_existing()
        self.root.mkdir(parents=True, exist_ok=True)
        self._bar = None
        if progress_total is not None:
            from tqdm import tqdm

            self._bar = tqdm(total=progress_total, desc="episodes", unit="ep")

    def _load_existing(self) -> None:
        ds = LeRobotDataset(self.root)
        if ds.info["fps"] != self.fps or ds.state_names != _feature_names(self.state_keys) or (
            ds.action_names != _feature_names(self.action_keys)
        ) or ds.cameras != self.cameras:
            raise DatasetError(
                f"cannot append to {self.root}: its fps / state / action / camera layout differs "
                "from this writer's"
            )
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
            frames: camera name -> uint8 (T, H, W, 3) RGB frames.
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
            shape = (length, *self.image_shape, 3)
            if np.shape(video) != shape or np.asarray(video).dtype != np.uint8:
                raise DatasetError(
                    f"frames[{cam!r}] must be uint8 {shape}, got {np.asarray(video).dtype} "
                    f"{np.shape(video)}"
                )
        if not isinstance(task, str) or not task.strip():
            raise DatasetError(f"task must be a non-empty string, got {task!r}")
        extra = dict(extra or {})
        shadowed = sorted(set(extra) & {"episode_index", "tasks", "length"})
        if shadowed:
            raise DatasetError(f"extra must not set {shadowed}: the writer owns those fields")

        index = len(self._episodes)
        chunk = index // self.chunks_size
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
        data_path = self.root / DATA_PATH.format(episode_chunk=chunk, episode_index=index)
        data_path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, data_path)
        for cam, video in frames.items():
            video_path = self.root / VIDEO_PATH.format(
                episode_chunk=chunk, video_key=VIDEO_PREFIX + cam, episode_index=index
            )
            write_video(video_path, np.asarray(video), self.fps, self.codec)
        self._episodes.append(
            {"episode_index": index, "tasks": [task], "length": int(length), **extra}
        )
        self._total_frames += int(length)
        if self._bar is not None:
            self._bar.update(1)
        return index

    # -- meta ---------------------------------------------------------------------------

    def _info(self) -> dict[str, Any]:
        height, width = self.image_shape
        spec = VIDEO_CODECS[self.codec]
        features: dict[str, Any] = {
            STATE: {"dtype": "float32", "shape": [self.state_dim],
                    "names": _feature_names(self.state_keys)},
            ACTION: {"dtype": "float32", "shape": [self.action_dim],
                     "names": _feature_names(self.action_keys)},
        }
        for cam in self.cameras:
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
        return {
            "state": _modality_ranges(self.state_keys),
            "action": _modality_ranges(self.action_keys),
            "video": {cam: {"original_key": VIDEO_PREFIX + cam} for cam in self.cameras},
            "annotation": {"human.action.task_description": {}},
        }

    def finalize(self) -> Path:
        """Write meta/ (info, episodes, tasks, modality, stats); returns the dataset root."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if not self._episodes:
            raise DatasetError(f"no episodes were written to {self.root}; nothing to finalize")
        meta = self.root / "meta"
        meta.mkdir(parents=True, exist_ok=True)
        tasks = sorted(self._tasks.items(), key=lambda kv: kv[1])
        _write_jsonl(meta / "tasks.jsonl", [{"task_index": i, "task": t} for t, i in tasks])
        _write_jsonl(meta / "episodes.jsonl", self._episodes)
        (meta / "modality.json").write_text(json.dumps(self._modality(), indent=2))
        (meta / "info.json").write_text(json.dumps(self._info(), indent=2))
        ds = LeRobotDataset(self.root)
        states = np.concatenate([ds.episode(i, load_video=False).states for i in range(ds.num_episodes)])
        actions = np.concatenate([ds.episode(i, load_video=False).actions for i in range(ds.num_episodes)])
        stats = compute_statistics({STATE: states, ACTION: actions})
        (meta / "stats.json").write_text(json.dumps(stats, indent=2))
        self._finalized = True
        logger.info("wrote %d episodes, %d frames to %s", len(self._episodes), self._total_frames, self.root)
        return self.root

    def __enter__(self) -> "LeRobotWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and not self._finalized:
            self.finalize()
        elif self._bar is not None:
            self._bar.close()


# ------------------------------------------------------------------------------------ reader


@dataclass
class Episode:
    """One episode read back.

    Attributes:
        index: episode index.
        states: np.float32 (T, S).
        actions: np.float32 (T, A).
        timestamps: np.float32 (T,) seconds.
        task_index: index into tasks.jsonl.
        task: the instruction text.
        frames: camera name -> np.uint8 (T, H, W, 3) (empty if videos were not loaded).
    """

    index: int
    states: np.ndarray
    actions: np.ndarray
    timestamps: np.ndarray
    task_index: int
    task: str
    frames: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return int(self.states.shape[0])


class LeRobotDataset:
    """Reads a dataset written by :class:`LeRobotWriter` (or any LeRobot v2 + modality.json)."""

    def __init__(self, root: str | Path) -> None:
        """Read ``root/meta``; raises DatasetError naming a missing or inconsistent file."""
        self.root = Path(root)
        meta = self.root / "meta"
        info_path = meta / "info.json"
        if not info_path.is_file():
            raise DatasetError(f"missing {info_path}; is {self.root} a LeRobot v2 dataset?")
        self.info: dict[str, Any] = json.loads(info_path.read_text())
        version = str(self.info.get("codebase_version", ""))
        if not version.startswith("v2"):
            raise DatasetError(
                f"{info_path}: codebase_version {version!r} is not a LeRobot v2.x dataset"
            )
        modality_path = meta / "modality.json"
        if not modality_path.is_file():
            raise DatasetError(f"missing {modality_path} (GR00T's state/action key ranges)")
        self.modality: dict[str, Any] = json.loads(modality_path.read_text())
        self.episodes = _read_jsonl(meta / "episodes.jsonl")
        self.tasks: dict[int, str] = {
            int(r["task_index"]): str(r["task"]) for r in _read_jsonl(meta / "tasks.jsonl")
        }
        stats_path = meta / "stats.json"
        self.stats: dict[str, Any] = json.loads(stats_path.read_text()) if stats_path.is_file() else {}
        for i, ep in enumerate(self.episodes):
            if int(ep["episode_index"]) != i:
                raise DatasetError(
                    f"{meta / 'episodes.jsonl'}: line {i} has episode_index {ep['episode_index']}"
                )
        self._check_ranges("state", STATE)
        self._check_ranges("action", ACTION)

    def _check_ranges(self, modality: str, feature: str) -> None:
        dim = int(self.info["features"][feature]["shape"][0])
        end = 0
        for key, r in self.modality[modality].items():
            if int(r["start"]) != end or int(r["end"]) <= int(r["start"]):
                raise DatasetError(
                    f"modality.json {modality}.{key}: range [{r['start']}, {r['end']}) must start "
                    f"at {end} (keys tile the vector in order)"
                )
            end = int(r["end"])
        if end != dim:
            raise DatasetError(
                f"modality.json {modality} keys cover {end} dims but {feature} has {dim}"
            )

    # -- layout -------------------------------------------------------------------------

    @property
    def fps(self) -> float:
        return float(self.info["fps"])

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def num_frames(self) -> int:
        return int(sum(int(e["length"]) for e in self.episodes))

    @property
    def state_names(self) -> list[str]:
        return list(self.info["features"][STATE].get("names") or [])

    @property
    def action_names(self) -> list[str]:
        return list(self.info["features"][ACTION].get("names") or [])

    @property
    def cameras(self) -> list[str]:
        """Camera names (modality.json video keys), in order."""
        return list(self.modality.get("video", {}))

    def key_ranges(self, modality: str) -> list[tuple[str, int, int]]:
        """[(key, start, end)] of "state" or "action", in vector order."""
        if modality not in ("state", "action"):
            raise DatasetError(f"modality must be 'state' or 'action', got {modality!r}")
        return [(k, int(r["start"]), int(r["end"])) for k, r in self.modality[modality].items()]

    def image_shape(self, camera: str) -> tuple[int, int]:
        """(height, width) of a camera's frames as recorded in info.json."""
        shape = self.info["features"][self.video_key(camera)]["shape"]
        return int(shape[0]), int(shape[1])

    def video_key(self, camera: str) -> str:
        if camera not in self.modality.get("video", {}):
            raise DatasetError(f"unknown camera {camera!r}; cameras: {self.cameras}")
        return str(self.modality["video"][camera].get("original_key", VIDEO_PREFIX + camera))

    def _path(self, template_key: str, index: int, **extra: str) -> Path:
        chunk = index // int(self.info["chunks_size"])
        return self.root / self.info[template_key].format(
            episode_chunk=chunk, episode_index=index, **extra
        )

    # -- episodes -----------------------------------------------------------------------

    def episode(self, index: int, *, load_video: bool = True) -> Episode:
        """Read episode ``index`` (states, actions, timestamps, task and optionally frames)."""
        import pyarrow.parquet as pq

        if not 0 <= index < self.num_episodes:
            raise DatasetError(f"episode {index} out of range [0, {self.num_episodes})")
        path = self._path("data_path", index)
        if not path.is_file():
            raise DatasetError(f"missing episode file {path}")
        table = pq.read_table(path)
        states = np.asarray(table.column(STATE).combine_chunks().flatten(), dtype=np.float32)
        actions = np.asarray(table.column(ACTION).combine_chunks().flatten(), dtype=np.float32)
        length = table.num_rows
        states = states.reshape(length, -1)  # (T, S)
        actions = actions.reshape(length, -1)  # (T, A)
        if length != int(self.episodes[index]["length"]):
            raise DatasetError(
                f"{path} has {length} rows but episodes.jsonl says {self.episodes[index]['length']}"
            )
        task_index = int(table.column("task_index")[0].as_py())
        episode = Episode(
            index=index, states=states, actions=actions,
            timestamps=np.asarray(table.column("timestamp"), dtype=np.float32),
            task_index=task_index, task=self.tasks[task_index],
        )
        if load_video:
            for cam in self.cameras:
                episode.frames[cam] = self.frames(index, cam)
        return episode

    def frames(self, index: int, camera: str) -> np.ndarray:
        """Decoded uint8 frames (T, H, W, 3) of one episode and camera."""
        path = self._path("video_path", index, video_key=self.video_key(camera))
        frames = read_video(path)
        expected = int(self.episodes[index]["length"])
        if frames.shape[0] != expected:
            raise DatasetError(f"{path} decodes to {frames.shape[0]} frames, expected {expected}")
        return frames
