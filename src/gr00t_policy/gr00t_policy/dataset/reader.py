"""LeRobotDataset: reads a LeRobot dataset, v2.0 (ours), v2.1 or v3.0 (gr00t_policy.dataset.formats)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gr00t_policy.dataset.layout import (ACTION, STATE, TASK_ANNOTATION, VIDEO_PREFIX, DatasetError,
                                         modality_ranges, read_json, vector_rows)
from gr00t_policy.dataset.swap import settle
from gr00t_policy.dataset.video import frames_at, read_video, video_fps

logger = logging.getLogger(__name__)

# A row further than this (in frames) from where its index puts it on the fps grid is a
# dropped frame or uneven sampling, not float rounding.
MAX_TIMESTAMP_OFF_FRAMES = 0.25
# A row whose timestamp lies further than this (in frames) from the video frame paired with
# it (`frames_at`: the nearest, clamped to the video) cannot be paired sensibly: GR00T's own
# datasets put their last row one frame past the video's last frame (their timestamps
# start one frame in), and half a frame more is rounding; beyond that the timestamps count
# from elsewhere (a recording's wall clock, another episode's start) or frames are missing.
MAX_FRAME_PAIRING_OFF_FRAMES = 1.5
# Reads of meta/ that a writer's swap may interrupt before the reader gives up.
META_READ_ATTEMPTS = 3


@dataclass
class Episode:
    """One episode read back.

    Attributes:
        index: episode index.
        states: np.float32 (T, S).
        actions: np.float32 (T, A).
        timestamps: np.float32 (T,) seconds.
        task_index: index into tasks.jsonl (from the dataset's `task_column`).
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
    """Reads a LeRobot dataset: v2.0 (ours, :class:`LeRobotWriter`), v2.1 or v3.0.

    The state/action key layout and the camera names come from GR00T's meta/modality.json;
    datasets written by other tools have none, and then ``embodiment`` (an
    EmbodimentConfig) supplies them: its state and action keys tile ``observation.state`` and
    ``action`` in YAML order, and camera ``name`` is video feature ``observation.images.<name>``.
    Opened with an embodiment, a dataset with meta/modality.json is read as the embodiment's
    keys, taken by name from its ranges in the YAML's order, as Isaac-GR00T's data configs
    take them (`_select_keys`): episodes' states and actions, ``key_ranges``, ``state_names``
    and ``action_names`` then hold only those columns, and ``left_out`` names the others.

    An episode's instruction is the task its ``task_column`` indexes (`_task_column`): the
    column of GR00T's task-description annotation where modality.json lists one (GR00T's
    loader reads the instruction there, and a dataset may keep ``task_index`` at 0 for every
    episode), else ``task_index`` (LeRobot's).
    """

    def __init__(self, root: str | Path, *, embodiment: Any = None) -> None:
        """Read ``root/meta``; raises DatasetError naming a missing or inconsistent file."""
        self.root = Path(root)
        for attempt in range(1, META_READ_ATTEMPTS + 1):
            try:
                # A killed writer's half-done change to meta/; a live writer's is left be,
                # but without meta/ (between its two renames) it is waited for.
                settle(self.root, wait_s=0.0 if (self.root / "meta").is_dir() else 5.0)
            except OSError as exc:  # a read-only copy: read what is there
                logger.warning("%s: could not settle a writer's interrupted change: %s",
                               self.root, exc)
            # A writer's swap replaces meta/ (or the whole dataset) by a rename, and meta/ is
            # read one file at a time: read it again when the folder read is no longer the
            # one there, so no reader takes info from one version and episodes from another.
            before = _folder_id(self.root / "meta")
            try:
                self._read_meta(embodiment)
            except (DatasetError, OSError):
                if attempt == META_READ_ATTEMPTS or _folder_id(self.root / "meta") == before:
                    raise
                continue
            if _folder_id(self.root / "meta") == before:
                break
        else:
            raise DatasetError(f"{self.root / 'meta'} was replaced while it was read, "
                               f"{META_READ_ATTEMPTS} times; is a writer appending in a loop?")
        self._check_ranges("state", STATE, self._modality_source)
        self._check_ranges("action", ACTION, self._modality_source)
        # Columns of observation.state / action read (None: all, as stored); what was left
        # out of each.
        self._columns: dict[str, np.ndarray | None] = {"state": None, "action": None}
        self._pairing_said = False  # the rows' frames, when not frame t for row t, logged once
        self.left_out: dict[str, list[str]] = {"state": [], "action": []}
        if embodiment is not None and self._modality_read:
            for modality, keys in (("state", embodiment.state_keys),
                                   ("action", embodiment.action_keys)):
                self._select_keys(modality, [(k.key, len(k.joints)) for k in keys],
                                  embodiment.name)
        self._check_videos(self._modality_source)
        relative = [k for k, r in self.modality["action"].items() if r.get("absolute") is False]
        if relative:
            raise DatasetError(
                f"{self._modality_source}: action keys {relative} are relative "
                "(\"absolute\": false); this policy is trained on and commands absolute joint "
                "positions. Fix: convert those actions to absolute targets (state + delta) first")

    def _read_meta(self, embodiment: Any) -> None:
        """Everything the dataset's meta/ says, read file by file."""
        from gr00t_policy.dataset.formats import V2Files, V3Files

        meta = self.root / "meta"
        info_path = meta / "info.json"
        if not info_path.is_file():
            raise DatasetError(f"missing {info_path}; is {self.root} a LeRobot dataset?")
        self.info: dict[str, Any] = read_json(info_path)
        self.version = str(self.info.get("codebase_version", ""))
        if not self.version.startswith(("v2", "v3")):
            raise DatasetError(f"{info_path}: codebase_version {self.version!r} is not a LeRobot "
                               "v2.x or v3.x dataset")
        _check_info(self.info, info_path)
        if self.version.startswith("v2"):
            self._files: Any = V2Files(self.root, self.info)
        else:
            self._files = V3Files(self.root, self.info)
        modality_path = meta / "modality.json"
        if modality_path.is_file():
            self.modality: dict[str, Any] = read_json(modality_path)
            self._modality_source = str(modality_path)
            self._modality_read = True
        elif embodiment is not None:
            self.modality = self._modality_from(embodiment)
            self._modality_source = f"{self.root}: the key layout of embodiment {embodiment.name!r}"
            self._modality_read = False
        else:
            raise DatasetError(
                f"missing {modality_path} (GR00T's state/action key ranges): datasets from "
                "other tools have none; pass the embodiment YAML (--embodiment) to give the "
                "key layout")
        self.episodes = self._files.episodes
        self.tasks: dict[int, str] = self._files.tasks
        self.task_column = _task_column(self.modality.get("annotation") or {})
        self.stats: dict[str, Any] = self._files.episode_stats()

    def _modality_from(self, emb: Any) -> dict[str, Any]:
        """modality.json's content from an embodiment config (see the class docstring)."""
        out: dict[str, Any] = {"annotation": {}}
        for modality, keys, feature in (("state", emb.state_keys, STATE),
                                        ("action", emb.action_keys, ACTION)):
            out[modality] = modality_ranges([(key.key, key.joints) for key in keys])
            names = _names(self.info["features"][feature].get("names"))
            joints = [j for k in keys for j in k.joints]
            if len(names) == len(joints):
                check_joint_names(self.root, feature, modality, names, emb.name, joints)
        video = {}
        for cam in emb.cameras:
            key = VIDEO_PREFIX + cam.name
            if key not in self.info["features"]:
                videos = [k for k, f in self.info["features"].items() if f.get("dtype") == "video"]
                raise DatasetError(
                    f"{self.root}: no video feature {key!r} for camera {cam.name!r} of "
                    f"embodiment {emb.name!r}; the dataset's videos: {videos}. Fix: name the "
                    "YAML's camera after one of them (the part after 'observation.images.')")
            video[cam.name] = {"original_key": key}
        out["video"] = video
        return out

    def check_camera(self, camera: str) -> None:
        """A camera that is read must be a colour video: one stored as images (PNG in the
        parquet files) failed at its first episode with a missing-file error, and a depth map
        (LeRobot's `is_depth_map`) decoded as grey. Cameras no one reads are not checked."""
        key = self.video_key(camera)
        feature = self.info["features"].get(key, {})
        if feature.get("dtype") != "video":
            raise DatasetError(
                f"{self.root}: camera {camera!r} ({key}) is stored as {feature.get('dtype')!r}, "
                "not 'video'; training decodes camera frames from the dataset's video files. "
                "Fix: re-encode the dataset with its images as videos (LeRobot: video=True)")
        # LeRobot v2.1 and v3.0 keep a video's flags under "info", v2.0 (GR00T's) under
        # "video_info".
        info = {**(feature.get("video_info") or {}), **(feature.get("info") or {})}
        if info.get("is_depth_map") or info.get("video.is_depth_map"):
            raise DatasetError(
                f"{self.root}: camera {camera!r} ({key}) is a depth map; the backbone reads "
                "colour images. Fix: leave it out of the embodiment's cameras")

    def _check_ranges(self, modality: str, feature: str, source: str) -> None:
        """modality.json's ``modality`` ("state" or "action"): {key: {"start", "end"}} whose
        ranges tile ``feature``'s vector in order; ``source``: the file, or the embodiment
        that gave them (whose ranges are well formed, but may not fit the dataset)."""
        dim = self.info["features"][feature]["shape"][0]
        ranges = self.modality.get(modality)
        if not (isinstance(ranges, dict) and ranges):
            what = (f"no \"{modality}\" entry (its entries: {sorted(self.modality)})"
                    if ranges is None else f"\"{modality}\" is {ranges!r}")
            raise DatasetError(
                f"{source}: {what}; it must map each {modality} key to its columns of "
                f"{feature}: {{\"<key>\": {{\"start\": 0, \"end\": n}}, ...}}. Fix: write "
                "that entry, or remove the file and pass the embodiment YAML (--embodiment) "
                "to give the key layout")
        end = 0
        for key, r in ranges.items():
            bounds = [r.get(b) if isinstance(r, dict) else None for b in ("start", "end")]
            if not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds):
                raise DatasetError(
                    f"{source}: {modality}.{key} is {r!r}; it must be {{\"start\": int, \"end\": "
                    f"int}}, its columns of {feature}. Fix: give both as whole numbers")
            start, stop = bounds
            # GR00T reads a key from its "original_key" column (default: `feature`); one
            # pointing elsewhere would be read here from `feature`'s columns instead.
            column = r.get("original_key")
            if column not in (None, feature):
                raise DatasetError(
                    f"{source}: {modality}.{key} reads column {column!r} (its \"original_key\"); "
                    f"every {modality} key is read from {feature!r}. Fix: move those values "
                    f"into {feature!r} and give the key their range there, or leave the key out")
            if start != end or stop <= start:
                raise DatasetError(
                    f"{source}: {modality}.{key}: range [{start}, {stop}) must start at {end} "
                    "(keys tile the vector in order). Fix: list the keys in column order, each "
                    "starting where the one before ends")
            end = stop
        if end != dim:
            raise DatasetError(
                f"{source}: the {modality} keys cover {end} dims but {feature} has {dim} "
                f"(its shape in info.json). Fix: make the keys cover all {dim} columns (for an "
                f"embodiment: its {modality} keys' joints)")

    def _select_keys(self, modality: str, keys: list[tuple[str, int]], embodiment: str) -> None:
        """Read only the embodiment's ``keys`` ((name, width), in its order) of ``modality``,
        taken by name from modality.json's ranges, as Isaac-GR00T's data configs take theirs
        (its GR-1 data holds legs and neck that the arms+waist config leaves out); the others
        are left out, logged once. A key the dataset lacks, or holds at another width, is a
        DatasetError naming it and the fix. Keys equal to the dataset's, in its order, read
        every column as stored."""
        ranges = {k: (int(r["start"]), int(r["end"])) for k, r in self.modality[modality].items()}
        held = [(k, e - s) for k, (s, e) in ranges.items()]
        source = self._modality_source
        robot = self.info.get("robot_type")
        missing = [k for k, _ in keys if k not in ranges]
        if missing:
            raise DatasetError(
                f"{source}: no {modality} key {missing} of embodiment {embodiment!r} (the "
                f"dataset's {modality} keys and widths: {held}). Fix: pass the embodiment YAML "
                "the dataset was recorded with (--embodiment"
                + (f"; its info.json names robot_type {robot!r}" if robot else "")
                + "), or name the YAML's keys as the dataset's modality.json does")
        wrong = [(k, n, ranges[k][1] - ranges[k][0]) for k, n in keys
                 if ranges[k][1] - ranges[k][0] != n]
        if wrong:
            key, n, width = wrong[0]
            raise DatasetError(
                f"{source}: {modality} key {key!r} holds {width} columns of the dataset but "
                f"{n} joints of embodiment {embodiment!r}"
                + (f" (also {[k for k, _, _ in wrong[1:]]})" if len(wrong) > 1 else "")
                + f". Fix: list the key's {width} joints, in the dataset's column order, in the "
                "YAML's joint_groups, or pass the embodiment YAML the dataset was recorded "
                "with (--embodiment"
                + (f"; its info.json names robot_type {robot!r}" if robot else "") + ")")
        if [k for k, _ in keys] == list(ranges):
            return
        self._columns[modality] = np.concatenate(
            [np.arange(*ranges[k]) for k, _ in keys])  # (n,) dataset columns, in YAML order
        self.left_out[modality] = [k for k in ranges if k not in dict(keys)]
        entries = self.modality[modality]  # each key's entry kept ("absolute": false ...)
        self.modality[modality] = {k: {**entries[k], **r} for k, r in modality_ranges(
            [(k, range(n)) for k, n in keys]).items()}
        logger.info("%s: reading embodiment %r's %s keys %s by name%s", self.root, embodiment,
                    modality, [k for k, _ in keys],
                    f"; leaving out {self.left_out[modality]}" if self.left_out[modality] else
                    " (in the YAML's order)")

    def _check_videos(self, source: str) -> None:
        """modality.json's "video" entry, where there is one: camera -> {"original_key"}."""
        video = self.modality.get("video", {})
        if not isinstance(video, dict) or not all(isinstance(v, dict) for v in video.values()):
            raise DatasetError(
                f"{source}: \"video\" is {video!r}; it must map each camera name to "
                "{\"original_key\": \"observation.images.<name>\"}. Fix: write it so (the "
                "video features of info.json are the keys)")

    # -- layout -------------------------------------------------------------------------

    @property
    def fps(self) -> float:
        return float(self.info["fps"])  # a number > 0 (_check_info)

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def num_frames(self) -> int:
        return int(sum(int(e["length"]) for e in self.episodes))

    @property
    def state_names(self) -> list[str]:
        """info.json's names of the state columns read (the embodiment's keys)."""
        return self._selected(_names(self.info["features"][STATE].get("names")), "state")

    @property
    def action_names(self) -> list[str]:
        """info.json's names of the action columns read (the embodiment's keys)."""
        return self._selected(_names(self.info["features"][ACTION].get("names")), "action")

    def _selected(self, names: list[str], modality: str) -> list[str]:
        """``names`` of the whole vector cut to the columns read; names of another length
        than the vector are given as they are, for check_joint_names to name."""
        cols = self._columns[modality]
        feature = STATE if modality == "state" else ACTION
        if cols is None or len(names) != self.info["features"][feature]["shape"][0]:
            return names
        return [names[c] for c in cols]

    @property
    def cameras(self) -> list[str]:
        """Camera names (modality.json video keys), in order."""
        return list(self.modality.get("video", {}))

    def key_ranges(self, modality: str) -> list[tuple[str, int, int]]:
        """[(key, start, end)] of "state" or "action", in the order of the vectors read
        (opened with an embodiment: its keys, in its order)."""
        if modality not in ("state", "action"):
            raise DatasetError(f"modality must be 'state' or 'action', got {modality!r}")
        return [(k, int(r["start"]), int(r["end"])) for k, r in self.modality[modality].items()]

    def image_shape(self, camera: str) -> tuple[int, int]:
        """(height, width) of a camera's frames as recorded in info.json."""
        shape = _feature_shape(self.root / "meta" / "info.json", self.info["features"],
                               self.video_key(camera), "[height, width, 3]", "in pixels")
        return shape[0], shape[1]

    def video_key(self, camera: str) -> str:
        if camera not in self.modality.get("video", {}):
            raise DatasetError(f"unknown camera {camera!r}; cameras: {self.cameras}")
        return str(self.modality["video"][camera].get("original_key", VIDEO_PREFIX + camera))

    # -- episodes -----------------------------------------------------------------------

    def episode(self, index: int, *, load_video: bool = True) -> Episode:
        """Read episode ``index`` (states, actions, timestamps, task and optionally frames)."""
        if not 0 <= index < self.num_episodes:
            raise DatasetError(f"episode {index} out of range [0, {self.num_episodes})")
        table, path = self._files.table(index)
        length = table.num_rows
        if length != int(self.episodes[index]["length"]):
            raise DatasetError(
                f"{path} has {length} rows of episode {index} but the episode index says "
                f"{self.episodes[index]['length']}"
            )
        if length == 0:
            raise DatasetError(
                f"{path}: episode {index} has no rows (a recording stopped as it started?); "
                "there is nothing in it to train on. Fix: record it again, or leave it out "
                "(train through a --mixture file whose entry lists the other `episodes`)")
        features = self.info["features"]
        states = vector_rows(table, STATE, features[STATE]["shape"][0], path)  # (T, S)
        actions = vector_rows(table, ACTION, features[ACTION]["shape"][0], path)  # (T, A)
        if self._columns["state"] is not None:
            states = states[:, self._columns["state"]]  # (T, S selected)
        if self._columns["action"] is not None:
            actions = actions[:, self._columns["action"]]  # (T, A selected)
        column = self.task_column
        if column not in table.column_names:
            raise DatasetError(
                f"{path}: no {column!r} column, which meta/modality.json's \"annotation\" "
                "names as the instruction's task index. Fix: point that entry's "
                "\"original_key\" at the column that holds it (often \"task_index\"), or add "
                "the column")
        task_rows = np.asarray(table.column(column), dtype=np.int64).reshape(-1)  # (T,)
        task_index = int(task_rows[0])
        if task_index not in self.tasks:
            raise DatasetError(
                f"{path}: episode {index}'s {column} is {task_index}, which is not a task "
                f"index of the dataset's tasks ({sorted(self.tasks)[:8]}). Fix: add the task "
                "to meta/tasks, or correct the column")
        changes = np.flatnonzero(task_rows != task_index)
        if changes.size:
            row = int(changes[0])
            raise DatasetError(
                f"{path}: episode {index} changes task ({column}) at row {row}, from {task_index} "
                f"({self.tasks.get(task_index)!r}) to {int(task_rows[row])} "
                f"({self.tasks.get(int(task_rows[row]))!r}); training reads one instruction per "
                "episode. Fix: split the episode where its task changes")
        timestamps = np.asarray(table.column("timestamp"), dtype=np.float64).reshape(-1)  # (T,)
        off = np.abs(timestamps - timestamps[0] - np.arange(length) / self.fps)
        if length and off.max() > MAX_TIMESTAMP_OFF_FRAMES / self.fps:
            row = int(np.argmax(off > MAX_TIMESTAMP_OFF_FRAMES / self.fps))
            raise DatasetError(
                f"{path}: episode {index}'s row {row} has timestamp {timestamps[row]:.4f} s, "
                f"{off[row] * self.fps:.2f} frames off the {self.fps:g} fps grid from "
                f"{timestamps[0]:.4f} s (frames dropped or unevenly sampled); training takes "
                "rows as evenly spaced. Fix: resample the episode to its fps (one row per "
                "frame) before training")
        episode = Episode(
            index=index, states=states, actions=actions,
            timestamps=timestamps.astype(np.float32), task_index=task_index,
            task=self.tasks[task_index],
        )
        if load_video:
            for cam in self.cameras:
                episode.frames[cam] = self.frames(index, cam)
        return episode

    def frames(self, index: int, camera: str) -> np.ndarray:
        """Decoded uint8 frames (T, H, W, 3) of one episode and camera, row t's the frame at
        its timestamp (`frames_at`, as Isaac-GR00T pairs them; `_paired_rows`)."""
        self.check_camera(camera)
        expected = int(self.episodes[index]["length"])
        path, start_s = self._files.video(index, self.video_key(camera))
        if start_s is None:
            frames = read_video(path)
        else:
            frames = read_video(path, start_s=start_s, num_frames=expected, fps=self.fps)
        if frames.shape[0] != expected:
            rate = video_fps(path)
            if rate and abs(rate - self.fps) > 1e-3 * self.fps:
                why = (f"; its stream runs at {rate:g} fps, the dataset at {self.fps:g} fps "
                       f"(info.json's fps). Fix: re-encode the video at {self.fps:g} fps, one "
                       "frame per row of the episode")
            else:
                why = (". Fix: write the video again from the episode's frames (one per row), "
                       "or re-record the episode")
            raise DatasetError(f"{path} decodes to {frames.shape[0]} frames of episode {index}, "
                               f"expected {expected} (the episode's rows){why}")
        rows = self._paired_rows(index, path, frames.shape[0])
        return frames if rows is None else frames[rows]  # (T, H, W, 3)

    def _paired_rows(self, index: int, video: Path, num_frames: int) -> np.ndarray | None:
        """The video frame of each row of episode ``index`` (`frames_at` its timestamp; the
        frames counted from the episode's start in the video), None where that is frame t
        for row t; DatasetError naming the row whose timestamp lies more than
        MAX_FRAME_PAIRING_OFF_FRAMES from its frame."""
        table, path = self._files.table(index)
        timestamps = np.asarray(table.column("timestamp"), dtype=np.float64).reshape(-1)  # (T,)
        rows = frames_at(timestamps, num_frames, self.fps)  # (T,)
        off = np.abs(timestamps * self.fps - rows)  # (T,) frames
        if off.max() > MAX_FRAME_PAIRING_OFF_FRAMES:
            row = int(np.argmax(off > MAX_FRAME_PAIRING_OFF_FRAMES))
            raise DatasetError(
                f"{path}: episode {index}'s row {row} has timestamp {timestamps[row]:.4f} s, "
                f"{off[row]:.2f} frames from the nearest frame of its video {video} ({num_frames} "
                f"frames, 0 to {(num_frames - 1) / self.fps:.4f} s at {self.fps:g} fps): rows "
                "are paired with the frame shown at their timestamp, as Isaac-GR00T pairs "
                "them. Fix: give the rows timestamps from the episode's first video frame "
                "(frame_index / fps, 0 s for the first), not a recording clock's")
        if np.array_equal(rows, np.arange(len(rows))):
            return None
        if not self._pairing_said:
            self._pairing_said = True
            logger.info("%s: rows are paired with video frames by timestamp, as Isaac-GR00T "
                        "pairs them: episode %d's row 0 (%.4f s) shows frame %d, its last row "
                        "frame %d", self.root, index, timestamps[0], rows[0], rows[-1])
        return rows


def check_joint_names(source: Any, feature: str, modality: str, names: list[str],
                      embodiment: str, joints: list[str]) -> None:
    """A dataset's ``feature`` column names (info.json; [] when it gives none) must be the
    embodiment's ``modality`` joints in order; DatasetError naming the first that is not
    and the fix. GR00T's own datasets name theirs ``motor_<i>``."""
    if not names or names == joints:
        return
    col = next((i for i, (a, b) in enumerate(zip(names, joints)) if a != b),
               min(len(names), len(joints)))
    named, wanted = (repr(seq[col]) if col < len(seq) else "nothing" for seq in (names, joints))
    raise DatasetError(
        f"{source}: {feature} names {names[:8]}... are not embodiment {embodiment!r}'s "
        f"{modality} joints {joints[:8]}... (column {col}: {named} where the YAML has "
        f"{wanted}). Fix: if the dataset holds other joints or another order, list "
        "them so in the YAML's joint_groups; if it names the robot's joints its own way "
        "(LeRobot's '<motor>.pos', GR00T's 'motor_<i>'), check each column is the YAML's "
        "joint and rename them in its meta/info.json features' names instead: the YAML's "
        "names must stay the ones on the robot's /joint_states")


def _folder_id(path: Path) -> tuple[int, int, int] | None:
    """(device, inode, change time) of the folder at ``path`` now, None when there is none:
    a rename of another folder to ``path`` changes it. (The inode alone is not enough: a
    removed folder's inode number is soon given to a new one.)"""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_ctime_ns


def _check_info(info: dict[str, Any], path: Path) -> None:
    """The info.json fields that every dataset needs read, checked once here: a damaged or
    hand-edited file fails naming the field, not as a KeyError in the middle of training."""
    fps = info.get("fps")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not (
            math.isfinite(fps) and fps > 0):
        raise DatasetError(
            f"{path}: \"fps\" is {fps!r}; it must be a number > 0, the frames per second the "
            "episodes were recorded at. Fix: write that rate as a number (e.g. \"fps\": 20)")
    features = info.get("features")
    if not isinstance(features, dict):
        raise DatasetError(
            f"{path}: \"features\" is {features!r}; it must map each column to its "
            "{\"dtype\", \"shape\", \"names\"}. Fix: copy the file again from the dataset's "
            "source")
    for feature in (STATE, ACTION):
        if feature not in features:
            raise DatasetError(f"{path}: no {feature!r} feature; features: {sorted(features)}")
        _feature_shape(path, features, feature, "[n]", "n: its number of joints")


def _feature_shape(path: Path, features: dict[str, Any], key: str, form: str,
                   meaning: str) -> list[int]:
    """info.json's ``features[key]["shape"]``: as many whole numbers >= 1 as ``form`` shows."""
    feature = features.get(key)
    shape = feature.get("shape") if isinstance(feature, dict) else None
    if not (isinstance(shape, list) and len(shape) == form.count(",") + 1 and all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape)):
        what = (f"no {key!r} feature" if feature is None else
                f"features[{key!r}] has no \"shape\"" if shape is None else
                f"features[{key!r}] has \"shape\": {shape!r}")
        raise DatasetError(f"{path}: {what}; it needs \"shape\": {form} ({meaning}). Fix: "
                           "write it so")
    return shape


# modality.json "annotation" keys that carry the instruction, in the order they are looked
# for: Isaac-GR00T's own datasets use the first, its SO-100 example the second.
TASK_ANNOTATION_KEYS = (TASK_ANNOTATION.removeprefix("annotation."), "human.task_description")


def _task_column(annotations: Any) -> str:
    """The parquet column holding each row's task index: the first of TASK_ANNOTATION_KEYS
    that modality.json lists, read from its ``original_key`` (GR00T's pointer to the column;
    often "task_index") or else the column ``annotation.<key>``; ``task_index`` without one."""
    if isinstance(annotations, dict):
        for key in TASK_ANNOTATION_KEYS:
            if key in annotations:
                entry = annotations[key]
                original = entry.get("original_key") if isinstance(entry, dict) else None
                return str(original) if original else f"annotation.{key}"
    return "task_index"


def _names(names: Any) -> list[str]:
    """A feature's joint names: a list, or LeRobot's older {"motors": [...]} form (several
    such lists, {"arm": [...], "gripper": [...]}, are taken in their order); [] for anything
    else."""
    if isinstance(names, dict):
        groups = list(names.values())
        if not (groups and all(isinstance(g, list) for g in groups)):
            return []
        names = [n for g in groups for n in g]
    return [str(n) for n in names] if isinstance(names, list) else []
