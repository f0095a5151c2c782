"""LeRobotDataset: reads a LeRobot v2 dataset (ours, or any with GR00T's modality.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gr00t_policy.dataset.layout import (
    ACTION, STATE, VIDEO_PREFIX, DatasetError, _read_jsonl)
from gr00t_policy.dataset.video import read_video


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
