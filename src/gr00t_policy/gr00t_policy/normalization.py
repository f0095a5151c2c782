"""State / action normalization from Isaac-GR00T ``metadata.json`` statistics.

``metadata.json`` holds one entry per embodiment tag (see DESIGN.md)::

    {"<tag>": {"statistics": {"state":  {"<key>": {"min", "max", "mean", "std", "q01", "q99"}},
                              "action": {...}},
               "modalities": {"state": {"<key>": {"shape": [n], "absolute": true}}, "action": {...}},
               "embodiment_tag": "<tag>"}}

A state (action) vector is its keys' segments concatenated in the order given. Modes:

- ``min_max``: [min, max] -> [-1, 1]; dimensions with max == min map to 0.
- ``q99``: [q01, q99] -> [-1, 1], then clipped to [-1, 1]; where q01 == q99 the value itself
  is kept (then clipped).
- ``mean_std``: (x - mean) / std; where std == 0 the value itself is kept.
- ``binary``: x > 0.5 -> 1 else 0 (both directions; unnormalize thresholds at 0.5).
- ``sin_cos`` (state keys only): the key's d angles become 2 d values, [sin(q), cos(q)], no
  statistics used (Isaac-GR00T's ``StateActionSinCosTransform``, which its ``gr1`` data
  configs apply to the state; the state's normalized width is then larger than its joint
  count, `Normalizer.state_width`); back by atan2.

The constant-dimension cases are Isaac-GR00T's (``gr00t/data/transform/state_action.py``,
``Normalizer``), so an official checkpoint sees what it was trained on: a joint that never
moved in the demonstrations is not divided by ~0. Unnormalizing maps such a dimension back
to its constant (min, q01 or mean).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

MODES = ("min_max", "q99", "mean_std", "binary", "sin_cos")
STATE_ONLY_MODES = ("sin_cos",)
STAT_FIELDS = ("min", "max", "mean", "std", "q01", "q99")

_NEEDED = {"min_max": ("min", "max"), "q99": ("q01", "q99"), "mean_std": ("mean", "std"),
           "binary": (), "sin_cos": ()}


def normalized_width(mode: str, joints: int) -> int:
    """Values the model gets for a key of ``joints`` joints: two per joint for sin_cos."""
    return 2 * joints if mode == "sin_cos" else joints


class NormalizationError(ValueError):
    """Metadata that cannot drive a normalizer (missing tag, key or statistic; a statistic
    that is NaN, inf or out of order)."""


@dataclass(frozen=True)
class Segment:
    """One key of a state or action vector: its raw columns and the statistics its mode
    reads (`Normalizer.segments`)."""

    key: str
    mode: str
    start: int  # raw columns [start, stop)
    stop: int
    low: np.ndarray  # (d,) min / q01 / mean
    high: np.ndarray  # (d,) max / q99 / std
    out: int = -1  # first normalized column (sin_cos: d sines, then d cosines)

    @property
    def width(self) -> int:
        """Normalized columns (`normalized_width`)."""
        return normalized_width(self.mode, self.stop - self.start)


def _check_mode(mode: str, where: str) -> None:
    if mode not in MODES:
        raise NormalizationError(f"{where}: unknown normalization mode {mode!r}; known: {list(MODES)}")


# The fix for statistics no normalizer may use: training (or `gr00t-policy convert`) writes
# them from the data, so the remedy is to write them again, never to edit one number.
_STATS_FIX = ("the file is damaged or the checkpoint was trained on bad data: restore "
              "metadata.json as training (or `gr00t-policy convert`) wrote it, or retrain; "
              "gr00t-train computes the statistics from the dataset and refuses NaN in it, "
              "naming the episode")


def _check_values(mode: str, dims: Mapping[str, np.ndarray], path: str) -> None:
    """NormalizationError, naming ``path``.field[i], unless the statistics ``mode`` reads are
    finite and ordered.

    NaN or inf (JSON null reads as NaN) makes the policy's inputs or actions NaN; min > max
    (q01 > q99, std < 0) mirrors the range, so actions land far outside it. Equal bounds and
    std == 0 are legal: a joint that never moved is a constant dimension (module docstring).
    """
    needed = _NEEDED[mode]
    for field in needed:
        bad = np.flatnonzero(~np.isfinite(dims[field]))
        if bad.size:
            i = int(bad[0])
            raise NormalizationError(
                f"{path}.{field}[{i}] is {dims[field][i]} ({bad.size} of {dims[field].size} "
                "not finite): NaN or inf (null in JSON) turns the policy's inputs or actions "
                f"into NaN. Fix: {_STATS_FIX}")
    if mode == "mean_std":
        bad = np.flatnonzero(dims["std"] < 0.0)
        if bad.size:
            i = int(bad[0])
            raise NormalizationError(
                f"{path}.std[{i}] = {dims['std'][i]:g} is negative ({bad.size} of "
                f"{dims['std'].size}): a standard deviation is >= 0 (0 for a joint that never "
                f"moved). Fix: {_STATS_FIX}")
    elif needed:
        lo, hi = needed  # min_max: ("min", "max"); q99: ("q01", "q99")
        bad = np.flatnonzero(dims[lo] > dims[hi])
        if bad.size:
            i = int(bad[0])
            raise NormalizationError(
                f"{path}.{lo}[{i}] = {dims[lo][i]:g} is above {hi}[{i}] = {dims[hi][i]:g} "
                f"({bad.size} of {dims[lo].size}): the range is inverted; normalizing with it "
                f"mirrors the joints, and actions land outside it. Fix: {_STATS_FIX}")


def _numbers(value: Any, where: str) -> np.ndarray:
    """A statistic as a flat float64 array; NormalizationError naming it when it is not a
    number or a list of numbers (a string, an object, a ragged list)."""
    try:
        return np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise NormalizationError(f"{where} must be a list of numbers, got {value!r}. "
                                 f"Fix: {_STATS_FIX}") from exc


def _segments(
    stats: Mapping[str, Any], tag: str, modality: str, keys: Sequence[tuple[str, str]]
) -> tuple[list[Segment], int]:
    """The keys' segments and the raw width (each segment knows its normalized columns)."""
    segments: list[Segment] = []
    start = out = 0
    for item in keys:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise NormalizationError(f"{modality}_keys entries must be (key, mode) pairs, got {item!r}")
        key, mode = item
        where = f"embodiment {tag!r} {modality} key {key!r}"
        _check_mode(mode, where)
        if mode in STATE_ONLY_MODES and modality != "state":
            raise NormalizationError(f"{where}: mode {mode!r} is for state keys only (the model "
                                     "commands joint positions, not their sines)")
        if key not in stats:
            raise NormalizationError(
                f"{where}: no statistics in metadata; {modality} keys there: {sorted(stats)}"
            )
        entry = stats[key]
        if not isinstance(entry, Mapping):
            raise NormalizationError(f"{where}: statistics must be an object {{\"min\": [...], "
                                     f"\"max\": [...], ...}}, got {entry!r}. "
                                     f"Fix: {_STATS_FIX}")
        missing = [f for f in _NEEDED[mode] if f not in entry]
        if missing:
            raise NormalizationError(
                f"{where}: mode {mode!r} needs statistic(s) {missing}; present: {sorted(entry)}"
            )
        dims = {f: _numbers(entry[f], f"{where} statistic {f!r}")
                for f in STAT_FIELDS if f in entry}
        if not dims:
            raise NormalizationError(f"{where}: no statistics fields; expected some of {list(STAT_FIELDS)}")
        sizes = {f: v.shape[0] for f, v in dims.items()}
        if len(set(sizes.values())) != 1:
            raise NormalizationError(f"{where}: statistics have different lengths {sizes}")
        d = next(iter(sizes.values()))
        _check_values(mode, dims, f"{tag}.statistics.{modality}.{key}")
        if mode == "min_max":
            low, high = dims["min"], dims["max"]
        elif mode == "q99":
            low, high = dims["q01"], dims["q99"]
        elif mode == "mean_std":
            low, high = dims["mean"], dims["std"]
        else:
            low, high = np.zeros(d), np.ones(d)
        segment = Segment(key, mode, start, start + d, low, high, out)
        segments.append(segment)
        start += d
        out += segment.width
    return segments, start


def _out_dtype(x: np.ndarray) -> np.dtype:
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)


def _normalize(x: np.ndarray, segments: list[Segment], dim: int, width: int,
               what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 0 or x.shape[-1] != dim:
        raise ValueError(f"{what} must have last dimension {dim}, got shape {x.shape}")
    xf = x.astype(np.float64)
    out = np.empty(xf.shape[:-1] + (width,), np.float64)
    for s in segments:
        v = xf[..., s.start:s.stop]
        if s.mode == "sin_cos":
            d = s.stop - s.start
            out[..., s.out:s.out + d] = np.sin(v)
            out[..., s.out + d:s.out + 2 * d] = np.cos(v)
            continue
        if s.mode in ("min_max", "q99"):
            span = s.high - s.low
            const = span == 0.0  # Isaac-GR00T's test: exactly equal statistics
            y = 2.0 * (v - s.low) / np.where(const, 1.0, span) - 1.0
            if s.mode == "q99":
                y = np.clip(np.where(const, v, y), -1.0, 1.0)
            else:
                y = np.where(const, 0.0, y)
        elif s.mode == "mean_std":
            const = s.high == 0.0
            y = np.where(const, v, (v - s.low) / np.where(const, 1.0, s.high))
        else:
            y = (v > 0.5).astype(np.float64)
        out[..., s.out:s.out + s.width] = y
    return out.astype(_out_dtype(x), copy=False)


def _unnormalize(y: np.ndarray, segments: list[Segment], dim: int, width: int,
                 what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 0 or y.shape[-1] != width:
        raise ValueError(f"{what} must have last dimension {width}, got shape {y.shape}")
    yf = y.astype(np.float64)
    out = np.empty(yf.shape[:-1] + (dim,), np.float64)
    for s in segments:
        v = yf[..., s.out:s.out + s.width]
        if s.mode == "sin_cos":
            d = s.stop - s.start
            out[..., s.start:s.stop] = np.arctan2(v[..., :d], v[..., d:])
            continue
        if s.mode in ("min_max", "q99"):
            x = (v + 1.0) * 0.5 * (s.high - s.low) + s.low
        elif s.mode == "mean_std":
            x = v * s.high + s.low
        else:
            x = (v > 0.5).astype(np.float64)
        out[..., s.start:s.stop] = x
    return out.astype(_out_dtype(y), copy=False)


class Normalizer:
    """Normalizes state vectors and unnormalizes action vectors of one embodiment."""

    def __init__(
        self,
        tag: str,
        state_segments: list[Segment],
        state_dim: int,
        action_segments: list[Segment],
        action_dim: int,
    ) -> None:
        self.tag = tag
        self._state = state_segments
        self._action = action_segments
        self.state_dim = state_dim
        self.action_dim = action_dim
        self.state_width = sum(s.width for s in state_segments)  # normalized (sin_cos: wider)

    @classmethod
    def from_metadata(
        cls,
        metadata: Mapping[str, Any],
        tag: str,
        state_keys: Sequence[tuple[str, str]],
        action_keys: Sequence[tuple[str, str]],
    ) -> "Normalizer":
        """Build from an Isaac-GR00T ``metadata.json`` dict.

        Args:
            metadata: the parsed metadata.json (one entry per embodiment tag).
            tag: embodiment tag to read.
            state_keys: ordered (key, mode) pairs; the state vector concatenates them.
            action_keys: ordered (key, mode) pairs for the action vector.

        Raises NormalizationError naming the missing tag / key / statistic and what exists,
        or the first unusable statistic a key's mode reads (NaN, inf, min > max, std < 0).
        """
        if tag not in metadata:
            raise NormalizationError(
                f"embodiment tag {tag!r} not in metadata; tags there: {sorted(metadata)}"
            )
        entry = metadata[tag]
        stats = entry.get("statistics") if isinstance(entry, Mapping) else None
        if not isinstance(stats, Mapping):
            raise NormalizationError(f"embodiment {tag!r}: metadata entry has no 'statistics' dict")
        for modality in ("state", "action"):
            if modality not in stats:
                raise NormalizationError(
                    f"embodiment {tag!r}: statistics has no {modality!r}; present: {sorted(stats)}"
                )
        s_seg, s_dim = _segments(stats["state"], tag, "state", state_keys)
        a_seg, a_dim = _segments(stats["action"], tag, "action", action_keys)
        return cls(tag, s_seg, s_dim, a_seg, a_dim)

    def segments(self, modality: str) -> tuple[Segment, ...]:
        """The "state" or "action" keys' segments, in vector order: each key's raw columns
        (as many as its statistics are wide) and the statistics its mode reads."""
        if modality not in ("state", "action"):
            raise ValueError(f"modality must be 'state' or 'action', got {modality!r}")
        return tuple(self._state if modality == "state" else self._action)

    def normalize_state(self, x: np.ndarray) -> np.ndarray:
        """Raw state (..., S) -> normalized state (..., state_width)."""
        return _normalize(x, self._state, self.state_dim, self.state_width, "state")

    def unnormalize_state(self, y: np.ndarray) -> np.ndarray:
        """Normalized state (..., state_width) -> raw state (..., S) (training / debugging)."""
        return _unnormalize(y, self._state, self.state_dim, self.state_width, "normalized state")

    def normalize_action(self, x: np.ndarray) -> np.ndarray:
        """Raw actions (..., A) -> normalized actions (..., A) (training targets)."""
        return _normalize(x, self._action, self.action_dim, self.action_dim, "action")

    def unnormalize_action(self, y: np.ndarray) -> np.ndarray:
        """Normalized actions (..., A) from the policy -> raw actions (..., A)."""
        return _unnormalize(y, self._action, self.action_dim, self.action_dim,
                            "normalized action")


def compute_statistics(arrays: Mapping[str, np.ndarray]) -> dict[str, dict[str, list[float]]]:
    """Per-key statistics for metadata.json from samples of shape (N, d) (or (N,) for d=1).

    Returns {key: {"min", "max", "mean", "std", "q01", "q99"}} with lists of d floats.
    """
    out: dict[str, dict[str, list[float]]] = {}
    for key, value in arrays.items():
        x = np.asarray(value, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"compute_statistics: {key!r} must be (N, d) with N > 0, got {x.shape}")
        out[key] = {
            "min": x.min(axis=0).tolist(),
            "max": x.max(axis=0).tolist(),
            "mean": x.mean(axis=0).tolist(),
            "std": x.std(axis=0).tolist(),
            "q01": np.quantile(x, 0.01, axis=0).tolist(),
            "q99": np.quantile(x, 0.99, axis=0).tolist(),
        }
    return out


def metadata_entry(
    tag: str,
    state_stats: Mapping[str, Mapping[str, list[float]]],
    action_stats: Mapping[str, Mapping[str, list[float]]],
) -> dict[str, Any]:
    """One embodiment's metadata.json entry (statistics + modalities) from key statistics."""

    def modalities(stats: Mapping[str, Mapping[str, list[float]]]) -> dict[str, Any]:
        return {k: {"shape": [len(next(iter(v.values())))], "absolute": True} for k, v in stats.items()}

    return {
        "statistics": {"state": copy.deepcopy(dict(state_stats)),
                       "action": copy.deepcopy(dict(action_stats))},
        "modalities": {"state": modalities(state_stats), "action": modalities(action_stats)},
        "embodiment_tag": tag,
    }
