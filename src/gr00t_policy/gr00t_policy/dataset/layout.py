"""The LeRobot v2 layout as we write and read it: path templates, column names, meta files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

CODEBASE_VERSION = "v2.0"
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
STATE = "observation.state"
ACTION = "action"
VIDEO_PREFIX = "observation.images."
TASK_ANNOTATION = "annotation.human.action.task_description"


class DatasetError(ValueError):
    """A dataset directory or an episode that does not follow the layout above."""


def _feature_names(keys: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    return [name for _, names in keys for name in names]


def modality_ranges(keys: Sequence[tuple[str, Sequence[str]]]) -> dict[str, dict[str, int]]:
    """{key: {"start", "end"}}: the columns of each (key, joint names) in the concatenated
    vector (modality.json's state / action entries)."""
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


def vector_rows(table: Any, column: str, width: int, source: Any) -> np.ndarray:
    """A parquet column of one vector per row (``STATE``, ``ACTION``: lists) as float32
    (T, width), T the table's rows; DatasetError naming ``source`` (the file) and the first
    row that holds another number of values (flattened, it would shift every later row)."""
    import pyarrow.compute as pc

    values = table.column(column).combine_chunks()
    lengths = np.asarray(pc.list_value_length(values).fill_null(-1))  # (T,)
    wrong = np.flatnonzero(lengths != width)
    if wrong.size:
        row = int(wrong[0])
        held = "no value" if lengths[row] < 0 else f"{lengths[row]} values"
        raise DatasetError(
            f"{source}: {column} row {row} holds {held}, not the {width} of its shape in "
            f"meta/info.json ({wrong.size} of {len(lengths)} rows differ). Fix: if every row "
            "has another width, the dataset's meta/info.json (and modality.json) describe "
            "another layout: correct them; otherwise the episode is damaged: write it again")
    flat = np.asarray(values.flatten(), dtype=np.float32)
    return flat.reshape(table.num_rows, width)


def _write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


# A meta file that does not parse was most often cut short (a copy or a write interrupted).
DAMAGED_FIX = "Fix: copy the file again from the dataset's source, or make the dataset again"


def read_json(path: Path) -> dict[str, Any]:
    """A meta file holding one JSON object; DatasetError naming the file and where it fails."""
    obj = _parse(path, path.read_text(errors="replace"), line=None)
    if not isinstance(obj, dict):
        raise DatasetError(f"{path} holds a JSON {type(obj).__name__}, not an object "
                           f"({{\"key\": value, ...}}). {DAMAGED_FIX}")
    return obj


def _read_jsonl(path: Path, fields: Mapping[str, type] | None = None) -> list[dict[str, Any]]:
    """A JSON Lines meta file: one object per line, each holding ``fields`` (name -> type);
    DatasetError naming the file, the line and what is wrong."""
    if not path.is_file():
        raise DatasetError(f"missing {path}; is this a LeRobot v2 dataset directory?")
    rows = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        row = _parse(path, line, line=number)
        if not isinstance(row, dict):
            raise DatasetError(f"{path} line {number} holds a JSON {type(row).__name__}, not an "
                               f"object ({{\"key\": value, ...}}). {DAMAGED_FIX}")
        for name, kind in (fields or {}).items():
            value = row.get(name)
            # bool is an int to Python, not to JSON
            if not isinstance(value, kind) or isinstance(value, bool):
                raise DatasetError(
                    f"{path} line {number}: \"{name}\" is {value!r}, not a {kind.__name__} "
                    f"(every line needs one; the line: {line.strip()[:120]}). Fix: correct "
                    "that line, or copy the file again from the dataset's source")
        rows.append(row)
    return rows


def _parse(path: Path, text: str, line: int | None) -> Any:
    """json.loads, its error naming ``path`` (and the line of a JSON Lines file)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON at line {line or exc.lineno} column "
                           f"{exc.colno} ({exc.msg}); the file is cut short or damaged. "
                           f"{DAMAGED_FIX}") from None
