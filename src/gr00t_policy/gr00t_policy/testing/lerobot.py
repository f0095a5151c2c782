"""LeRobot v2.0 (Isaac-GR00T's), v2.1 and v3.0 datasets as other tools write them, for reader
tests.

The ``lerobot`` package itself cannot be installed next to our torch (its releases pin
torch below 2.11), so these writers follow the published format instead: file names,
info.json fields and parquet columns as lerobot's ``datasets/utils.py`` and
``lerobot_dataset.py`` (codebase versions v2.1 and v3.0) write them. Those two write no
GR00T meta/modality.json: the embodiment YAML gives the key layout when reading.
``write_gr00t_v20`` writes one as Isaac-GR00T ships its own (modality.json included).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from gr00t_policy.dataset.video import write_video

# (states (T, S), actions (T, A), frames (T, H, W, 3) uint8, task)
EpisodeData = tuple[np.ndarray, np.ndarray, np.ndarray, str]


def _features(state_names: list[str], action_names: list[str], camera: str,
              shape: tuple[int, int], fps: int) -> dict:
    h, w = shape
    feats = {
        "observation.state": {"dtype": "float32", "shape": [len(state_names)],
                              "names": state_names},
        "action": {"dtype": "float32", "shape": [len(action_names)],
                   "names": {"motors": action_names}},  # the older nested form
        f"observation.images.{camera}": {
            "dtype": "video", "shape": [h, w, 3], "names": ["height", "width", "channels"],
            "info": {"video.height": h, "video.width": w, "video.codec": "h264",
                     "video.pix_fmt": "rgb24", "video.is_depth_map": False, "video.fps": fps,
                     "video.channels": 3, "has_audio": False}},
    }
    for name, dtype in (("timestamp", "float32"), ("frame_index", "int64"),
                        ("episode_index", "int64"), ("index", "int64"), ("task_index", "int64")):
        feats[name] = {"dtype": dtype, "shape": [1], "names": None}
    return feats


def _rows(ep: EpisodeData, index: int, first: int, task_index: int, fps: int) -> dict:
    import pyarrow as pa

    states, actions, _, _ = ep
    n = len(states)
    return {
        "observation.state": pa.array([list(map(float, r)) for r in states], pa.list_(pa.float32())),
        "action": pa.array([list(map(float, r)) for r in actions], pa.list_(pa.float32())),
        "timestamp": pa.array(np.arange(n, dtype=np.float32) / fps),
        "frame_index": pa.array(np.arange(n, dtype=np.int64)),
        "episode_index": pa.array(np.full(n, index, dtype=np.int64)),
        "index": pa.array(first + np.arange(n, dtype=np.int64)),
        "task_index": pa.array(np.full(n, task_index, dtype=np.int64)),
    }


def _stats(x: np.ndarray) -> dict:
    return {"min": x.min(0).tolist(), "max": x.max(0).tolist(), "mean": x.mean(0).tolist(),
            "std": x.std(0).tolist(), "count": [len(x)]}


def _task_indices(episodes: Sequence[EpisodeData]) -> dict[str, int]:
    tasks: dict[str, int] = {}
    for *_, task in episodes:
        tasks.setdefault(task, len(tasks))
    return tasks


def write_v21(root: str | Path, episodes: Sequence[EpisodeData], *, state_names: list[str],
              action_names: list[str], camera: str = "head", fps: int = 20,
              robot_type: str = "so100") -> Path:
    """A LeRobot v2.1 dataset: per-episode files, episodes_stats.jsonl, no stats.json."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(root)
    (root / "meta").mkdir(parents=True)
    tasks = _task_indices(episodes)
    video_key = f"observation.images.{camera}"
    first = 0
    lines, stats = [], []
    for i, ep in enumerate(episodes):
        path = root / f"data/chunk-000/episode_{i:06d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(_rows(ep, i, first, tasks[ep[3]], fps)), path)
        write_video(root / f"videos/chunk-000/{video_key}/episode_{i:06d}.mp4", ep[2], fps)
        lines.append({"episode_index": i, "tasks": [ep[3]], "length": len(ep[0])})
        stats.append({"episode_index": i, "stats": {"observation.state": _stats(ep[0]),
                                                    "action": _stats(ep[1])}})
        first += len(ep[0])
    n = len(episodes)
    info = {"codebase_version": "v2.1", "robot_type": robot_type, "total_episodes": n,
            "total_frames": first, "total_tasks": len(tasks), "total_videos": n,
            "total_chunks": 1, "chunks_size": 1000, "fps": fps, "splits": {"train": f"0:{n}"},
            "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
            "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
            "features": _features(state_names, action_names, camera, episodes[0][2].shape[1:3], fps)}
    (root / "meta/info.json").write_text(json.dumps(info, indent=4))
    for name, rows in (("episodes", lines), ("episodes_stats", stats),
                       ("tasks", [{"task_index": i, "task": t} for t, i in tasks.items()])):
        (root / f"meta/{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def write_v30(root: str | Path, episodes: Sequence[EpisodeData], *, state_names: list[str],
              action_names: list[str], camera: str = "head", fps: int = 20,
              episodes_per_file: int = 2, robot_type: str = "so100") -> Path:
    """A LeRobot v3.0 dataset: ``episodes_per_file`` episodes per data and video file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(root)
    (root / "meta").mkdir(parents=True)
    tasks = _task_indices(episodes)
    video_key = f"observation.images.{camera}"
    rows, first = [], 0
    for f0 in range(0, len(episodes), episodes_per_file):
        file_index = f0 // episodes_per_file
        group = list(enumerate(episodes))[f0:f0 + episodes_per_file]
        tables, offset = [], 0.0
        for i, ep in group:
            tables.append(pa.table(_rows(ep, i, first, tasks[ep[3]], fps)))
            n = len(ep[0])
            row = {"episode_index": i, "tasks": [ep[3]], "length": n,
                   "data/chunk_index": 0, "data/file_index": file_index,
                   "dataset_from_index": first, "dataset_to_index": first + n,
                   f"videos/{video_key}/chunk_index": 0, f"videos/{video_key}/file_index": file_index,
                   f"videos/{video_key}/from_timestamp": offset,
                   f"videos/{video_key}/to_timestamp": offset + n / fps,
                   "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0}
            for feat, x in (("observation.state", ep[0]), ("action", ep[1])):
                for stat, value in _stats(x).items():
                    row[f"stats/{feat}/{stat}"] = value
            rows.append(row)
            offset += n / fps
            first += n
        path = root / f"data/chunk-000/file-{file_index:03d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables(tables), path)
        write_video(root / f"videos/{video_key}/chunk-000/file-{file_index:03d}.mp4",
                    np.concatenate([ep[2] for _, ep in group]), fps)
    path = root / "meta/episodes/chunk-000/file-000.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    # pandas writes the task text, the DataFrame's index, as __index_level_0__.
    pq.write_table(pa.table({"task_index": pa.array(list(tasks.values()), pa.int64()),
                             "__index_level_0__": list(tasks)}), root / "meta/tasks.parquet")
    all_states = np.concatenate([ep[0] for ep in episodes])
    all_actions = np.concatenate([ep[1] for ep in episodes])
    (root / "meta/stats.json").write_text(json.dumps(
        {"observation.state": _stats(all_states), "action": _stats(all_actions)}, indent=4))
    info = {"codebase_version": "v3.0", "robot_type": robot_type,
            "total_episodes": len(episodes), "total_frames": first, "total_tasks": len(tasks),
            "chunks_size": 1000, "data_files_size_in_mb": 100, "video_files_size_in_mb": 200,
            "fps": fps, "splits": {"train": f"0:{len(episodes)}"},
            "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
            "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
            "features": _features(state_names, action_names, camera, episodes[0][2].shape[1:3], fps)}
    (root / "meta/info.json").write_text(json.dumps(info, indent=4))
    return root


def write_gr00t_v20(root: str | Path, episodes: Sequence[EpisodeData], *,
                    keys: Sequence[tuple[str, int]], camera: str = "ego_view",
                    fps: int = 20) -> Path:
    """A dataset laid out as Isaac-GR00T's own (``demo_data/robot_sim.PickNPlace``, codebase
    v2.0): float64 list columns named ``motor_<i>``, timestamps from one frame in (0.05 s at
    20 fps), no frame_index, the instruction in ``annotation.human.action.task_description``
    and a second annotation ``annotation.human.validity`` pointing at the task "valid",
    ``video_info`` on the video feature, and meta/modality.json giving ``keys`` (name, width)
    the same ranges in ``observation.state`` and ``action``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(root)
    (root / "meta").mkdir(parents=True)
    texts = list(dict.fromkeys(ep[3] for ep in episodes))
    tasks = {t: i for i, t in enumerate(texts)}
    tasks["valid"] = len(tasks)
    video_key = f"observation.images.{camera}"
    first, lines = 0, []
    for i, (states, actions, frames, task) in enumerate(episodes):
        n = len(states)
        table = pa.table({
            "observation.state": pa.array(states.astype(np.float64).tolist(), pa.list_(pa.float64())),
            "action": pa.array(actions.astype(np.float64).tolist(), pa.list_(pa.float64())),
            "timestamp": pa.array((np.arange(n) + 1) / fps),
            "annotation.human.action.task_description": pa.array([tasks[task]] * n, pa.int64()),
            "task_index": pa.array([tasks[task]] * n, pa.int64()),
            "annotation.human.validity": pa.array([tasks["valid"]] * n, pa.int64()),
            "episode_index": pa.array([i] * n, pa.int64()),
            "index": pa.array(first + np.arange(n), pa.int64()),
            "next.reward": pa.array(np.zeros(n)),
            "next.done": pa.array(np.arange(n) == n - 1),
        })
        path = root / f"data/chunk-000/episode_{i:06d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        write_video(root / f"videos/chunk-000/{video_key}/episode_{i:06d}.mp4", frames, fps)
        lines.append({"episode_index": i, "tasks": [task, "valid"], "length": n})
        first += n

    def vector(width: int) -> dict:
        return {"dtype": "float64", "shape": [width], "names": [f"motor_{k}" for k in range(width)]}

    h, w = episodes[0][2].shape[1:3]
    width = sum(n for _, n in keys)
    scalar = {"dtype": "int64", "shape": [1]}
    info = {
        "codebase_version": "v2.0", "robot_type": "GR1ArmsOnly", "total_episodes": len(episodes),
        "total_frames": first, "total_tasks": len(tasks), "total_videos": len(episodes),
        "total_chunks": 0, "chunks_size": 1000, "fps": float(fps),
        "splits": {"train": "0:100"},
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
        "features": {
            video_key: {"dtype": "video", "shape": [h, w, 3],
                        "names": ["height", "width", "channel"],
                        "video_info": {"video.fps": float(fps), "video.codec": "h264",
                                       "video.pix_fmt": "yuv420p", "video.is_depth_map": False,
                                       "has_audio": False}},
            "observation.state": vector(width), "action": vector(width),
            "timestamp": {"dtype": "float64", "shape": [1]},
            "annotation.human.action.task_description": scalar, "task_index": scalar,
            "annotation.human.validity": scalar, "episode_index": scalar, "index": scalar,
            "next.reward": {"dtype": "float64", "shape": [1]},
            "next.done": {"dtype": "bool", "shape": [1]},
        },
    }
    (root / "meta/info.json").write_text(json.dumps(info, indent=4))
    ranges, start = {}, 0
    for key, n in keys:
        ranges[key] = {"start": start, "end": start + n}
        start += n
    modality = {"state": ranges, "action": json.loads(json.dumps(ranges)),
                "video": {camera: {"original_key": video_key}},
                "annotation": {"human.action.task_description": {}, "human.validity": {}}}
    (root / "meta/modality.json").write_text(json.dumps(modality, indent=4))
    for name, rows in (("episodes", lines),
                       ("tasks", [{"task_index": i, "task": t} for t, i in tasks.items()])):
        (root / f"meta/{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root
