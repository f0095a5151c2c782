"""A checkpoint's ``config.json`` in our format, and the check of its structure::

    {"format": "gr00t_ros/1", "preset": str | null, "backbone": {...}, "action_head": {...},
     "backbone_id": str,
     "embodiments": {tag: {"slot", "action_dt", "state_dim", "action_dim", ...}},
     "token_stats": {"rms_min", "rms_max", "abs_max", "samples"}}       (optional)

Every reader of the file goes through :func:`check_config` (``checkpoint.read_checkpoint_config``
calls it) or, at launch, where only the action head's sizes and the embodiments are read,
through :func:`head_sizes` and :func:`check_embodiment_entries` (``runtime.bundle.check_fits``).
So a hand-edited or damaged file is a CheckpointError naming the file, the key, what was
expected and the fix, not an AttributeError or TypeError from deep inside a loader. Imports
no torch: the launch-time checks use it before anything heavy loads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from gr00t_policy.policy_config import PolicyConfig
from gr00t_policy.token_stats import STATS_KEY, TokenStats

FORMAT = "gr00t_ros/1"
CONFIG_FILE = "config.json"
HEAD_SIZES = ("num_embodiments", "max_state_dim", "max_action_dim")
EMBODIMENT_KEYS = ("slot", "action_dt", "state_dim", "action_dim")

# The fix for a key gr00t_ros writes itself: nothing but an edit or damage makes it wrong.
_REWRITE = ("restore config.json as gr00t-train or `gr00t-policy convert` wrote it (a copy of "
            "the checkpoint, or train / convert it again)")


class CheckpointError(ValueError):
    """A checkpoint that does not match its config (missing key, wrong shape, bad layout)."""


def _shown(value: Any) -> str:
    """A value from the file as the file spells it, cut short: `a list: [1, 2]`."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    text = text if len(text) <= 80 else text[:77] + "..."
    kind = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value))
    return text if kind is None or kind == "null" else f"{kind}: {text}"


def _wrong(where: str | Path, key: str, expected: str, value: Any, fix: str = _REWRITE,
           missing: bool = False) -> CheckpointError:
    got = "nothing (the key is missing)" if missing else _shown(value)
    return CheckpointError(f"{where}: {key} must be {expected}, got {got}. Fix: {fix}")


def _object(data: Mapping[str, Any], key: str, where: str | Path, expected: str) -> Mapping:
    """``data[key]``, which must be a JSON object."""
    if key not in data:
        raise _wrong(where, key, expected, None, missing=True)
    if not isinstance(data[key], Mapping):
        raise _wrong(where, key, expected, data[key])
    return data[key]


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def head_sizes(data: Mapping[str, Any], where: str | Path = CONFIG_FILE) -> dict[str, int] | None:
    """The action head's ``num_embodiments``, ``max_state_dim`` and ``max_action_dim``, each
    checked to be a positive int; None for a file that is not ours and lacks them (an official
    checkpoint's config.json, checked where it is loaded)."""
    head = data.get("action_head")
    if data.get("format") != FORMAT and not (
            isinstance(head, Mapping) and all(k in head for k in HEAD_SIZES)):
        return None
    head = _object(data, "action_head", where, "a JSON object of the action head's sizes")
    sizes = {}
    for name in HEAD_SIZES:
        value = head.get(name)
        if not _is_count(value) or value < 1:
            raise _wrong(where, f"action_head.{name}", "a positive int", value,
                         missing=name not in head)
        sizes[name] = value
    return sizes


def check_embodiment_entries(embodiments: Any, sizes: Mapping[str, int], *,
                             complete: bool = True) -> dict[str, dict[str, Any]]:
    """Validate {tag: {"slot", "action_dt", "state_dim", "action_dim", ...}} against the action
    head's ``sizes`` (:data:`HEAD_SIZES`); returns a copy. ``complete=False`` checks only the
    keys an entry has (the launch-time check of a config.json written by hand for a test)."""
    if not isinstance(embodiments, Mapping) or not embodiments:
        raise CheckpointError("embodiments must be a non-empty JSON object {tag: {\"slot\", "
                              "\"action_dt\", \"state_dim\", \"action_dim\", ...}}, got "
                              f"{_shown(embodiments)}")
    out: dict[str, dict[str, Any]] = {}
    slots: dict[int, str] = {}
    for tag, entry in embodiments.items():
        where = f"embodiments[{tag!r}]"
        if not isinstance(entry, Mapping):
            raise CheckpointError(f"{where} must be a JSON object {{\"slot\", \"action_dt\", "
                                  f"\"state_dim\", \"action_dim\", ...}}, got {_shown(entry)}")
        missing = [k for k in EMBODIMENT_KEYS if k not in entry]
        if missing and complete:
            raise CheckpointError(f"{where} lacks {missing}; has {sorted(entry)}")
        if "slot" in entry:
            slot = entry["slot"]
            if not _is_count(slot) or not 0 <= slot < sizes["num_embodiments"]:
                raise CheckpointError(
                    f"{where}.slot={slot!r} must be an int in [0, {sizes['num_embodiments']}) "
                    "(action_head.num_embodiments)")
            if slot in slots:
                raise CheckpointError(f"{where}.slot={slot} is already used by {slots[slot]!r}")
            slots[slot] = tag
        if "action_dt" in entry:
            dt = entry["action_dt"]
            if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0:
                raise CheckpointError(f"{where}.action_dt={dt!r} must be a positive number of "
                                      "seconds")
        for name, size in (("state_dim", "max_state_dim"), ("action_dim", "max_action_dim")):
            if name not in entry:
                continue
            value, limit = entry[name], sizes[size]
            if not _is_count(value) or not 1 <= value <= limit:
                raise CheckpointError(f"{where}.{name}={value!r} must be an int in [1, {limit}] "
                                      f"(action_head.{size})")
        out[str(tag)] = json.loads(json.dumps(dict(entry)))
    return out


def check_embodiments(
    embodiments: Mapping[str, Mapping[str, Any]], config: PolicyConfig
) -> dict[str, dict[str, Any]]:
    """Validate {tag: {"slot", "action_dt", "state_dim", "action_dim", ...}}; returns a copy."""
    head = config.action_head
    return check_embodiment_entries(embodiments, {n: getattr(head, n) for n in HEAD_SIZES})


def check_config(data: Mapping[str, Any], where: str | Path = CONFIG_FILE) -> PolicyConfig:
    """The model config of a parsed config.json in our format, once every key the runtime reads
    has been checked; CheckpointError naming ``where``, the key, what was expected and the fix.

    ``embodiments`` and ``token_stats`` may be absent (a checkpoint from before they were
    written): the start-up checks that read them are then skipped, as before.
    """
    for key in ("backbone", "action_head"):
        _object(data, key, where, f"a JSON object of the {key.replace('_', ' ')}'s config")
    head_sizes(data, where)  # the sizes the launch-time check reads, named as it names them
    try:
        config = PolicyConfig.from_dict(dict(data))
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{where}: {exc}. Fix: {_REWRITE}") from exc
    if "embodiments" in data:
        try:
            check_embodiments(data["embodiments"], config)
        except CheckpointError as exc:
            raise CheckpointError(f"{where}: {exc}. Fix: {_REWRITE}") from exc
    if not isinstance(data.get("backbone_id", ""), str):
        raise _wrong(where, "backbone_id", "a string (the backbone weights' identity)",
                     data["backbone_id"])
    if not isinstance(data.get("preset"), (str, type(None))):
        raise _wrong(where, "preset", "a preset name or null", data["preset"])
    if data.get(STATS_KEY) is not None:
        try:
            TokenStats.from_dict(data[STATS_KEY])
        except ValueError as exc:
            raise CheckpointError(
                f"{where}: {exc}. Fix: record them again (`gr00t-policy token-stats CKPT "
                f"--dataset DIR`), or delete {STATS_KEY} (System 1 then skips that check)"
            ) from exc
    return config
