"""Where a LeRobot dataset keeps each episode: the v2.x and v3.0 file layouts.

v2.0 / v2.1 (one file per episode; ours is v2.0)::

    meta/info.json, meta/episodes.jsonl, meta/tasks.jsonl
    meta/stats.json (v2.0) or meta/episodes_stats.jsonl (v2.1: per-episode statistics)
    data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet
    videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4

v3.0 (many episodes per file, files grouped in chunks)::

    meta/info.json, meta/stats.json
    meta/tasks.parquet         column task_index, the task text as the (pandas) index
    meta/episodes/chunk-CCC/file-FFF.parquet   one row per episode: episode_index, tasks,
        length, data/chunk_index, data/file_index, dataset_from_index, dataset_to_index,
        videos/{video_key}/chunk_index, .../file_index, .../from_timestamp, .../to_timestamp,
        stats/{feature}/{stat}
    data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet     rows of several episodes
    videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4   episodes back to back

(lerobot's ``datasets/utils.py`` and ``lerobot_dataset.py``, codebase versions v2.1 and
v3.0.) Each class gives the episode list, the tasks, one episode's rows and where its
frames are; :class:`gr00t_policy.dataset.LeRobotDataset` does the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gr00t_policy.dataset.layout import DatasetError, _read_jsonl, read_json

STATS = ("min", "max", "mean", "std")


class V2Files:
    """One parquet and one mp4 per episode (v2.0, v2.1)."""

    def __init__(self, root: Path, info: dict[str, Any]) -> None:
        self.root, self.info = root, info
        _check_paths(root, info, chunks_size=True)
        self.episodes = _read_jsonl(root / "meta" / "episodes.jsonl",
                                    {"episode_index": int, "length": int})
        self.tasks = {r["task_index"]: r["task"] for r in
                      _read_jsonl(root / "meta" / "tasks.jsonl", {"task_index": int, "task": str})}
        for i, ep in enumerate(self.episodes):
            if int(ep["episode_index"]) != i:
                raise DatasetError(f"{root / 'meta' / 'episodes.jsonl'}: line {i} has "
                                   f"episode_index {ep['episode_index']}")

    def _path(self, key: str, index: int, **extra: str) -> Path:
        chunk = index // int(self.info["chunks_size"])
        return self.root / self.info[key].format(episode_chunk=chunk, episode_index=index,
                                                 **extra)

    def table(self, index: int):
        import pyarrow.parquet as pq

        path = self._path("data_path", index)
        if not path.is_file():
            raise DatasetError(f"missing episode file {path}")
        return pq.read_table(path), path

    def video(self, index: int, video_key: str) -> tuple[Path, float | None]:
        return self._path("video_path", index, video_key=video_key), None

    def episode_stats(self) -> dict[str, Any]:
        """meta/stats.json, or v2.1's episodes_stats.jsonl pooled over the episodes."""
        path = self.root / "meta" / "stats.json"
        if path.is_file():
            return read_json(path)
        per_episode = self.root / "meta" / "episodes_stats.jsonl"
        if not per_episode.is_file():
            return {}
        return pool_stats([row["stats"] for row in _read_jsonl(per_episode, {"stats": dict})])


class V3Files:
    """Chunked multi-episode parquet and mp4 files, episodes indexed in meta/episodes (v3.0)."""

    def __init__(self, root: Path, info: dict[str, Any]) -> None:
        import pyarrow.parquet as pq

        self.root, self.info = root, info
        _check_paths(root, info, chunks_size=False)
        files = sorted((root / "meta" / "episodes").glob("*/*.parquet"))
        if not files:
            raise DatasetError(f"{root / 'meta' / 'episodes'} holds no parquet file; is "
                               f"{root} a LeRobot v3.0 dataset?")
        rows = [r for f in files for r in pq.read_table(f).to_pylist()]
        rows.sort(key=lambda r: int(r["episode_index"]))
        self.rows = rows
        self.episodes = [{k: v for k, v in r.items() if not k.startswith(("stats/", "data/",
                          "videos/", "meta/", "dataset_"))} for r in rows]
        for i, ep in enumerate(self.episodes):
            if int(ep["episode_index"]) != i:
                raise DatasetError(f"{root / 'meta' / 'episodes'}: episode {i} is missing "
                                   f"(found episode_index {ep['episode_index']} there)")
        self.tasks = self._tasks(root / "meta" / "tasks.parquet")
        self._cached: tuple[Path, Any] | None = None

    @staticmethod
    def _tasks(path: Path) -> dict[int, str]:
        import pyarrow.parquet as pq

        if not path.is_file():
            raise DatasetError(f"missing {path} (v3.0 keeps its tasks there)")
        table = pq.read_table(path)
        text = next((c for c in ("task", "__index_level_0__") if c in table.column_names), None)
        if text is None or "task_index" not in table.column_names:
            raise DatasetError(f"{path}: expected a task_index column and the task text as "
                               f"its index, got columns {table.column_names}")
        return {int(i): str(t) for i, t in zip(table.column("task_index").to_pylist(),
                                                table.column(text).to_pylist())}

    def table(self, index: int):
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        row = self.rows[index]
        path = self.root / self.info["data_path"].format(
            chunk_index=int(row["data/chunk_index"]), file_index=int(row["data/file_index"]))
        if self._cached is None or self._cached[0] != path:
            if not path.is_file():
                raise DatasetError(f"missing data file {path} (episode {index})")
            self._cached = (path, pq.read_table(path))
        table = self._cached[1]
        table = table.filter(pc.equal(table.column("episode_index"), index))
        return table.sort_by("frame_index"), path

    def video(self, index: int, video_key: str) -> tuple[Path, float | None]:
        row = self.rows[index]
        prefix = f"videos/{video_key}/"
        if prefix + "chunk_index" not in row:
            raise DatasetError(f"meta/episodes has no {prefix}* columns for episode {index}")
        path = self.root / self.info["video_path"].format(
            video_key=video_key, chunk_index=int(row[prefix + "chunk_index"]),
            file_index=int(row[prefix + "file_index"]))
        return path, float(row[prefix + "from_timestamp"])

    def episode_stats(self) -> dict[str, Any]:
        path = self.root / "meta" / "stats.json"
        return read_json(path) if path.is_file() else {}


def _check_paths(root: Path, info: dict[str, Any], *, chunks_size: bool) -> None:
    """info.json's path templates (and v2's chunks_size), which find every episode's file."""
    path = root / "meta" / "info.json"
    template = info.get("data_path")
    if not isinstance(template, str):
        raise DatasetError(f"{path}: \"data_path\" is {template!r}; it must be the template of "
                           "the episodes' parquet paths. Fix: copy the file again from the "
                           "dataset's source")
    size = info.get("chunks_size")
    if chunks_size and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        raise DatasetError(f"{path}: \"chunks_size\" is {size!r}; it must be a whole number "
                           ">= 1, the episodes per chunk folder. Fix: write the number the "
                           "dataset was written with (LeRobot's default: 1000)")


def pool_stats(per_episode: list[dict[str, Any]]) -> dict[str, Any]:
    """Dataset statistics (min, max, mean, std, count) from per-episode ones (LeRobot v2.1's
    episodes_stats: each feature's min, max, mean, std and count)."""
    out: dict[str, Any] = {}
    features = {k for stats in per_episode for k in stats}
    for key in sorted(features):
        parts = [s[key] for s in per_episode if key in s and all(x in s[key] for x in STATS)]
        if not parts:
            continue
        n = np.array([float(np.ravel(p.get("count", [1]))[0]) for p in parts])  # (E,)
        mean = np.array([np.asarray(p["mean"], dtype=np.float64) for p in parts])  # (E, D...)
        std = np.array([np.asarray(p["std"], dtype=np.float64) for p in parts])
        w = (n / n.sum()).reshape(-1, *([1] * (mean.ndim - 1)))
        total = (w * mean).sum(0)
        var = (w * (std ** 2 + (mean - total) ** 2)).sum(0)
        out[key] = {"min": np.min([p["min"] for p in parts], axis=0).tolist(),
                    "max": np.max([p["max"] for p in parts], axis=0).tolist(),
                    "mean": total.tolist(), "std": np.sqrt(var).tolist(),
                    "count": [int(n.sum())]}
    return out
