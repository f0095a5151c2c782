"""Does an embodiment fit a checkpoint? Its action head's sizes and its recorded layout.

A checkpoint records, per embodiment tag, the entry :meth:`EmbodimentConfig.checkpoint_entry`
gives (slot, action_dt, sizes, key order and normalization, joint order, camera names; older
checkpoints lack some: what is absent is not compared). A YAML edit that
changes any of them after training would feed the model a vector it was not trained on, so
start-up refuses it, naming both values. The checkpoint's normalization statistics are checked
against the embodiment's keys and joint limits too (`check_statistics`).
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

from gr00t_policy.embodiment.config import EmbodimentConfig
from gr00t_policy.embodiment.errors import ConfigIssue, EmbodimentConfigError, did_you_mean
from gr00t_policy.embodiment.schema import MAX_POSITION
from gr00t_policy.normalization import NormalizationError, Normalizer

# How far a statistic may lie beyond its joint's position limits, in widths of the joint's
# range [lower, upper]. Demonstrations recorded on the robot stay within about a tenth of that:
# the committed checkpoints/nano (2026-12) reaches at most 0.121 widths (0.169 rad, the
# Apollo's l_wrist_yaw state max) with config/apptronik_apollo.yaml and 0.058 widths
# (0.091 rad) with config/unitree_g1.yaml, so 1.0 leaves 8x headroom. What it refuses:
# statistics in degrees (x 57.3: a joint that moved 0.1 rad lands 5 rad out), another robot's,
# or a key's joints in another order (a joint with one-sided limits given its mirror's).
# A statistic beyond a turn (MAX_POSITION, the YAML's own bound for a limit) is refused
# whatever the joint's range.
STATISTICS_REACH = 1.0
# The statistics a key's mode turns into positions: its range, or its centre.
_POSITION_STATISTICS = {"min_max": ("min", "max"), "q99": ("q01", "q99"), "mean_std": ("mean",)}


def check_against_checkpoint(emb: EmbodimentConfig, *, num_embodiments: int,
                             max_state_dim: int, max_action_dim: int,
                             embodiments: Mapping[str, Mapping[str, Any]] | None = None,
                             num_views: int | None = None) -> None:
    """Check that ``emb`` fits a checkpoint (its action head sizes and ``config.json`` entry).

    ``embodiments`` is the checkpoint's ``config.json["embodiments"]`` and ``num_views`` its
    backbone's camera count, when available. Raises EmbodimentConfigError naming both values
    on any mismatch.
    """
    issues: list[ConfigIssue] = []

    def add(path: str, message: str, fix: str) -> None:
        issues.append(ConfigIssue(path, message, fix))

    if emb.slot >= num_embodiments:
        add("slot", f"slot {emb.slot} is not below the checkpoint's num_embodiments "
            f"({num_embodiments})", f"use a slot in 0..{num_embodiments - 1}")
    if emb.state_width > max_state_dim:
        add("state_keys", f"the state vector gives the model {emb.state_width} values (joints, "
            f"two per joint of a sin_cos key) but the checkpoint accepts at most "
            f"{max_state_dim}", "drop state keys or use a larger checkpoint")
    if emb.action_dim > max_action_dim:
        add("action_keys", f"the action vector has {emb.action_dim} joints but the checkpoint "
            f"produces at most {max_action_dim}", "drop action keys or use a larger checkpoint")
    if num_views is not None and len(emb.cameras) != num_views:
        add("cameras", f"{len(emb.cameras)} camera(s) listed "
            f"({', '.join(c.name for c in emb.cameras)}) but the checkpoint's backbone reads "
            f"{num_views} image(s) per frame (backbone.num_views)",
            f"list the {num_views} camera(s) the checkpoint was trained on, in its order; a "
            "checkpoint for more cameras is trained on recordings of them (README, \"Training "
            "your own checkpoint\")")
    if embodiments is not None:
        entry = embodiments.get(emb.tag)
        if entry is None:
            add("tag", f"tag {emb.tag!r} is not in the checkpoint (it has {sorted(embodiments)})",
                f"{did_you_mean(emb.tag, embodiments)}set tag to the one the checkpoint was "
                "trained on for this robot; a robot it was not trained on needs a checkpoint "
                "fine-tuned on its own demonstrations (README, \"Training your own "
                "checkpoint\"), not another robot's tag")
        else:
            for key, mine in (("slot", emb.slot), ("action_dt", emb.action_dt),
                              ("state_dim", emb.state_dim), ("action_dim", emb.action_dim)):
                theirs = entry.get(key)
                if theirs is not None and theirs != mine:
                    path = key if key in ("slot", "action_dt") else \
                        ("state_keys" if key == "state_dim" else "action_keys")
                    add(path, f"{key} is {mine} here but {theirs} in the checkpoint for tag "
                        f"{emb.tag!r}", f"make {key} match the checkpoint ({theirs})")
            # The vector layout, where the checkpoint records it: same sizes in another order
            # or normalization would be fed to the model silently. The cameras likewise
            # (recorded since 2026-12; before, their count only, num_views): a renamed or
            # swapped camera would feed each view another camera's images.
            mine_entry = emb.checkpoint_entry()
            layout = ("the model was trained on the checkpoint's layout: restore that order, "
                      "grouping and normalization, or retrain")
            views = ("list the cameras the checkpoint was trained on, by those names, in that "
                     "order (each view is the image the model learnt from that camera)")
            for key, path, fix in (("state_keys", "state_keys", layout),
                                   ("action_keys", "action_keys", layout),
                                   ("state_key_dims", "state_keys", layout),
                                   ("action_key_dims", "action_keys", layout),
                                   ("state_joints", "joint_groups", layout),
                                   ("action_joints", "joint_groups", layout),
                                   ("cameras", "cameras", views)):
                theirs = entry.get(key)
                mine = mine_entry[key]
                theirs_plain, mine_plain = json.loads(json.dumps(theirs)), json.loads(json.dumps(mine))
                if theirs is not None and theirs_plain != mine_plain:
                    add(path, f"{key} differ from the checkpoint's for tag {emb.tag!r}: "
                        f"{_first_difference(key, mine_plain, theirs_plain)} (here {mine}; "
                        f"checkpoint {theirs})", fix)
    if issues:
        raise EmbodimentConfigError(emb.source, issues)


def check_statistics(emb: EmbodimentConfig, normalizer: Normalizer,
                     whose: str = "the checkpoint's") -> None:
    """Check the statistics of ``emb``'s state and action keys (``normalizer``, built from a
    checkpoint's metadata for those keys) against the keys' joints.

    Each key's statistics must be as wide as the key has joints: equal totals can hide two
    keys of other widths (waist 4 wide and left_arm 6 where the YAML has 3 and 7), whose
    statistics would then land on the neighbouring joints. And the positions they stand for
    (min/max, q01/q99 or mean, as the key's mode reads them) must lie near the joint's limits
    (`STATISTICS_REACH`): the policy's actions span that range. ``whose`` names the
    statistics in the message. Raises NormalizationError naming the key, the joint, the
    values and the likely cause.
    """
    for modality, keys in (("state", emb.state_keys), ("action", emb.action_keys)):
        for key, segment in zip(keys, normalizer.segments(modality)):
            width = segment.stop - segment.start
            if width != len(key.joints):
                raise NormalizationError(
                    f"{modality} key {key.key!r}: {whose} statistics are {width} wide but "
                    f"{emb.source} lists {len(key.joints)} joints for it "
                    f"({', '.join(key.joints)}): each key's statistics would land on other "
                    "joints. Fix: the keys must be the checkpoint's, in its order, each with "
                    "the joints it was trained on, in that order")
            _check_reach(emb, modality, key.key, key.mode, key.joints, segment, whose)


def _check_reach(emb: EmbodimentConfig, modality: str, key: str, mode: str, joints: Any,
                 segment: Any, whose: str) -> None:
    """NormalizationError unless every position statistic of one key lies within
    STATISTICS_REACH range-widths of its joint's limits and within a turn. binary (not a
    position) and sin_cos (reads no statistics) keys are not checked."""
    fields = _POSITION_STATISTICS.get(mode, ())
    for field, values in zip(fields, (segment.low, segment.high)):
        for joint, value in zip(joints, values):
            lower, upper = emb.joint(joint).position_limits
            width = upper - lower
            beyond = max(lower - value, value - upper, 0.0)
            if beyond <= STATISTICS_REACH * width and abs(value) <= MAX_POSITION:
                continue
            radians = math.radians(value)
            degrees = (f" ({value:.4g} degrees would be {radians:.4g} rad, within them)"
                       if lower <= radians <= upper else "")
            raise NormalizationError(
                f"{modality} key {key!r}: {whose} {field} for joint {joint!r} is {value:.4g}, "
                f"{beyond:.4g} beyond its position limits [{lower:g}, {upper:g}] in "
                f"{emb.source}{degrees}: more than {STATISTICS_REACH:g} times the range's width "
                f"({width:.4g}) or beyond a turn, so the policy's actions would be driven to "
                "the limit. Likely causes: statistics recorded in degrees, the key's joints in "
                "another order than the checkpoint's, or another robot's statistics (another "
                "tag). Fix: use the checkpoint trained on this robot with these joints, or "
                "retrain on data recorded in radians (or metres)")


def _first_difference(key: str, mine: Any, theirs: Any) -> str:
    """Where two layouts part, in words: `action_joints[3] is X here, Y in the checkpoint`."""
    if isinstance(mine, list) and isinstance(theirs, list):
        for i, (a, b) in enumerate(zip(mine, theirs)):
            if a != b:
                return f"{key}[{i}] is {a!r} here, {b!r} in the checkpoint"
        return f"{len(mine)} entries here, {len(theirs)} in the checkpoint"
    return "they differ"
