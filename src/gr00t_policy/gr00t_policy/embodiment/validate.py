"""Checks across entries and sections of an embodiment file (:data:`CHECKS` says them in words).

They run on the raw document entry by entry, using only the entries that pass the schema on
their own: a file with a type error somewhere still gets every relation checked that can be
judged, and what refers to a broken entry is skipped rather than reported a second time (one
mistake, one issue).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from gr00t_policy.embodiment.errors import ConfigIssue, did_you_mean
from gr00t_policy.embodiment.schema import (
    Camera,
    ControllerSpec,
    HeldJoint,
    Joint,
    KeySpec,
    Name,
    Rates,
    Staleness,
)
from gr00t_policy.embodiment.simulator import SimulatorSpec
from gr00t_policy.normalization import STATE_ONLY_MODES

# Listed in docs/EMBODIMENT.md; keep in step with the functions below.
CHECKS = (
    "A joint is listed in at most one joint group, and once in it; every joint group is "
    "used: named by a state or action key, or holding a held or controller joint.",
    "Keys are distinct within `state_keys` and within `action_keys`; each names a joint group "
    "defined under `joint_groups`, and a group appears at most once per vector; `sin_cos` is "
    "a state normalization only; a `binary` key's joints have limits that hold 0 and 1.",
    "Camera names and camera topics are each used once.",
    "Controller names and command topics are each used once; a controller lists a joint once.",
    "Every controller joint is in a joint group, is carried by an action key, and goes to one "
    "controller only.",
    "Every action joint is driven by a controller.",
    "A held joint is listed once and is not an action joint; it has limits (its own "
    "`limits`, or its joint group's: a joint in a group gives no others) and its held "
    "position is inside them.",
    "A held joint sits only in `holds: true` controllers, which list held joints only, each "
    "with a `velocity` limit.",
    "`staleness.tokens_s` is at least one System 2 period (1 / `rates.system2_hz`).",
    "`tracking.ignore` names joint groups.",
    "`simulator`: `rest_pose` names action joints, each inside its limits; "
    "`expert.waist_joints` are action joints; `expert.arm_groups` and `expert.noise_groups` "
    "name joint groups; `cameras` has a mount for each camera and no other.",
)

M = TypeVar("M", bound=BaseModel)
_NAME = TypeAdapter(Name)


def _valid(model: type[M], raw: Any, context: Mapping[str, Any] | None = None) -> M | None:
    """``raw`` validated as ``model``, or None (its errors are reported by the schema pass)."""
    try:
        return model.model_validate(raw, context=context)
    except ValidationError:
        return None


def _list(raw: Any) -> list:
    return raw if isinstance(raw, list) else []


@dataclass
class _Report:
    issues: list[ConfigIssue] = field(default_factory=list)
    # Sections with an entry dropped for errors, and joints whose definition had errors:
    # checks skip what they cannot judge, so one mistake is reported once.
    incomplete: set[str] = field(default_factory=set)
    tainted_joints: set[str] = field(default_factory=set)

    def add(self, path: str, message: str, fix: str) -> None:
        self.issues.append(ConfigIssue(path, message, fix))


def _joint_groups(r: _Report, raw: Any) -> dict[str, list[Joint]]:
    """The groups whose name and joint list are valid, each with its valid, unique joints."""
    groups: dict[str, list[Joint]] = {}
    if not isinstance(raw, Mapping) or not raw:
        r.incomplete.add("joint_groups")
        return groups
    owner: dict[str, str] = {}
    for gname, body in raw.items():
        jlist = body.get("joints") if isinstance(body, Mapping) else None
        if _valid_name(gname) is None or not isinstance(jlist, list) or not jlist:
            r.incomplete.add("joint_groups")
            continue
        joints: list[Joint] = []
        for i, raw_joint in enumerate(jlist):
            joint = _valid(Joint, raw_joint)
            if joint is None:
                name = raw_joint.get("name") if isinstance(raw_joint, Mapping) else None
                if isinstance(name, str):
                    r.tainted_joints.add(name)
                else:
                    r.incomplete.add("joint_groups")
                continue
            if joint.name in owner:
                other = owner[joint.name]
                r.add(f"joint_groups.{gname}.joints[{i}].name",
                      f"joint {joint.name!r} is already listed in group {other!r}"
                      if other != gname else f"joint {joint.name!r} is listed twice in this group",
                      "list each joint in exactly one group; remove the duplicate")
                continue
            owner[joint.name] = gname
            joints.append(joint)
        groups[gname] = joints
    return groups


def _valid_name(value: Any) -> str | None:
    try:
        return _NAME.validate_python(value)
    except ValidationError:
        return None


def _keys(r: _Report, raw_doc: Mapping[str, Any], section: str,
          groups: Mapping[str, list[Joint]]) -> list[KeySpec]:
    """The state or action keys that are valid, distinct and name a defined group."""
    specs: list[KeySpec] = []
    raw = raw_doc.get(section)
    if not isinstance(raw, list) or not raw:
        r.incomplete.add(section)
        return specs
    raw_groups = raw_doc.get("joint_groups")
    seen_keys: dict[str, int] = {}
    seen_groups: dict[str, int] = {}
    for i, entry in enumerate(raw):
        spec = _valid(KeySpec, entry)
        if spec is None:
            r.incomplete.add(section)
            continue
        ok = True
        if spec.key in seen_keys:
            r.add(f"{section}[{i}].key", f"key {spec.key!r} is already used by "
                  f"{section}[{seen_keys[spec.key]}]",
                  f"give each entry of {section} a distinct key")
            ok = False
        if spec.group not in groups:
            # A group that is written but broken has its own issue; only a name that is
            # defined nowhere is this entry's mistake.
            if isinstance(raw_groups, Mapping) and raw_groups and spec.group not in raw_groups:
                r.add(f"{section}[{i}].group", f"joint group {spec.group!r} is not defined",
                      f"{did_you_mean(spec.group, groups)}define it under joint_groups or use "
                      f"one of {list(groups)}")
            ok = False
        elif spec.group in seen_groups:
            r.add(f"{section}[{i}].group", f"joint group {spec.group!r} is already used by "
                  f"{section}[{seen_groups[spec.group]}]",
                  f"each group may appear once in {section}, or its joints would repeat")
            ok = False
        if spec.normalization in STATE_ONLY_MODES and section == "action_keys":
            r.add(f"{section}[{i}].normalization", f"{spec.normalization} is for state keys "
                  "only: the model produces joint positions, not their sines and cosines",
                  "use min_max (Isaac-GR00T's data configs normalize actions so)")
            ok = False
        if not ok:
            r.incomplete.add(section)
            continue
        if spec.normalization == "binary":
            _binary_limits(r, f"{section}[{i}].normalization", groups[spec.group])
        seen_keys[spec.key] = i
        seen_groups[spec.group] = i
        specs.append(spec)
    return specs


def _binary_limits(r: _Report, path: str, joints: list[Joint]) -> None:
    """A binary key reads a position as 1 above 0.5, else 0, and commands 0 or 1: a joint
    whose limits do not hold both (a gripper in metres, one that closes to negative angles)
    would always read 0 and be commanded a clamped limit."""
    outside = [j for j in joints
               if not j.position_limits[0] <= 0.0 < 1.0 <= j.position_limits[1]]
    if not outside:
        return
    shown = ", ".join(f"{j.name!r} [{j.position_limits[0]:g}, {j.position_limits[1]:g}]"
                      for j in outside[:4])
    r.add(path, f"binary reads each position as 0 or 1 (above 0.5) and commands 0 or 1, but "
          f"{len(outside)} of the key's joints have limits that do not hold both: {shown}"
          f"{' ...' if len(outside) > 4 else ''}; they would always read 0 and be commanded "
          "a clamped limit",
          "use min_max (or q99, mean_std) for a joint measured in its own units; binary is for "
          "a joint whose driver reads and takes 0 (open) and 1 (closed), with limits [0, 1]")


def _unused_groups(r: _Report, raw_doc: Mapping[str, Any], groups: Mapping[str, list[Joint]],
                   keys: list[KeySpec]) -> None:
    """A joint group no state or action key carries, and none of whose joints is held or in
    a controller, is read by nothing: its limits are never checked, and a group meant for a
    key (a typo in the key's `group`, a key deleted) would go unnoticed."""
    if "state_keys" in r.incomplete or "action_keys" in r.incomplete:
        return  # a broken key entry may be the one that names it
    used = {k.group for k in keys}
    # Written names, valid or not: a broken entry that names a joint has its own issue.
    named = {e.get("name") for e in _list(raw_doc.get("held_joints")) if isinstance(e, Mapping)}
    named |= {j for e in _list(raw_doc.get("controllers")) if isinstance(e, Mapping)
              for j in _list(e.get("joints")) if isinstance(j, str)}
    for gname, joints in groups.items():
        if gname not in used and not any(j.name in named for j in joints):
            r.add(f"joint_groups.{gname}", f"joint group {gname!r} is used by no state or "
                  "action key, controller or held joint: nothing reads it, and System 1 never "
                  "watches its joints against its limits",
                  "carry it in a state or action key (`{key: ..., group: "
                  f"{gname}}}`), hold its joints (held_joints), or delete it")


def _held(r: _Report, raw: Any) -> list[tuple[int, HeldJoint]]:
    """(index, held joint) for the valid held joints, each listed once."""
    held: list[tuple[int, HeldJoint]] = []
    seen: set[str] = set()
    for i, entry in enumerate(_list(raw)):
        h = _valid(HeldJoint, entry)
        if h is None:
            continue
        if h.name in seen:
            r.add(f"held_joints[{i}].name", f"held joint {h.name!r} is listed twice",
                  "list each held joint once")
            continue
        seen.add(h.name)
        held.append((i, h))
    return held


def _cameras(r: _Report, raw: Any) -> None:
    """Camera names and topics are each used once."""
    names: set[str] = set()
    topics: set[str] = set()
    for i, entry in enumerate(_list(raw)):
        cam = _valid(Camera, entry)
        if cam is None:
            continue
        if cam.name in names:
            r.add(f"cameras[{i}].name", f"camera name {cam.name!r} is used twice",
                  "give each camera a distinct name")
        if cam.topic in topics:
            r.add(f"cameras[{i}].topic", f"camera topic {cam.topic!r} is used twice",
                  "each camera needs its own image topic")
        names.add(cam.name)
        topics.add(cam.topic)


@dataclass
class _Controller:
    index: int  # in the YAML list
    name: str
    joints: dict[str, int]  # each joint once -> its index in the YAML `joints` list
    holds: bool = False  # drives held joints to their held positions


def _controllers(r: _Report, raw: Any, context: Mapping[str, Any] | None) -> list[_Controller]:
    """The valid controllers with distinct names and topics; a joint listed twice is reported."""
    out: list[_Controller] = []
    names: set[str] = set()
    topics: set[str] = set()
    for i, entry in enumerate(_list(raw)):
        ctl = _valid(ControllerSpec, entry, context)
        if ctl is None:
            continue
        ok = True
        if ctl.name in names:
            r.add(f"controllers[{i}].name", f"controller name {ctl.name!r} is used twice",
                  "give each controller a distinct name")
            ok = False
        if ctl.topic in topics:
            r.add(f"controllers[{i}].topic", f"topic {ctl.topic!r} is already used by another "
                  "controller", "give each controller its own command topic")
            ok = False
        joints: dict[str, int] = {}
        for k, jn in enumerate(ctl.joints):
            if jn in joints:
                r.add(f"controllers[{i}].joints[{k}]", f"joint {jn!r} is listed twice in this "
                      f"controller (also at joints[{joints[jn]}])",
                      "list each joint once per controller")
                continue
            joints[jn] = k
        if ok:
            names.add(ctl.name)
            topics.add(ctl.topic)
            out.append(_Controller(i, ctl.name, joints, ctl.holds))
    return out


def _token_staleness(r: _Report, raw_doc: Mapping[str, Any]) -> None:
    """Tokens arrive once per System 2 period, so a shorter age limit would always trip."""
    rates_raw = raw_doc.get("rates")
    rates = _valid(Rates, {} if rates_raw is None else rates_raw)
    staleness = _valid(Staleness, raw_doc.get("staleness"))
    if rates is None or staleness is None:
        return
    period = 1.0 / rates.system2_hz
    if staleness.tokens_s < period:
        r.add("staleness.tokens_s", f"tokens_s {staleness.tokens_s} s is shorter than one "
              f"System 2 period ({period:g} s at {rates.system2_hz:g} Hz), so tokens would "
              "always be stale", f"set tokens_s >= {period:g}")


def _coverage(r: _Report, groups: Mapping[str, list[Joint]], action: list[KeySpec],
              held: list[tuple[int, HeldJoint]], controllers: list[_Controller],
              n_raw_controllers: int) -> None:
    """Controller joints vs groups and action keys; every action joint driven; held joints."""
    group_of = {j.name: g for g, joints in groups.items() for j in joints}
    joint_by_name = {j.name: j for joints in groups.values() for j in joints}
    action_key_of = {j.name: s.key for s in action for j in groups[s.group]}

    # Controller joints: in a group, driven by an action key, sent to one controller only.
    driven_by: dict[str, str] = {}
    held_names = {h.name: h for _, h in held}
    for ctl in controllers:
        if ctl.holds:
            for jn, k in ctl.joints.items():
                if jn not in held_names and "held_joints" not in r.incomplete:
                    r.add(f"controllers[{ctl.index}].joints[{k}]", f"joint {jn!r} is not a held "
                          f"joint, but controller {ctl.name!r} has holds: true",
                          f"{did_you_mean(jn, held_names)}a holds: true controller drives held "
                          "joints only: add it to held_joints, or move it to another controller")
            continue
        for jn, k in ctl.joints.items():
            path = f"controllers[{ctl.index}].joints[{k}]"
            if jn not in group_of:
                if jn not in r.tainted_joints and "joint_groups" not in r.incomplete:
                    r.add(path, f"joint {jn!r} is not in any joint group",
                          f"{did_you_mean(jn, group_of)}correct the name, or add the joint to "
                          "a group under joint_groups that an action key uses")
            elif jn not in action_key_of:
                if "action_keys" not in r.incomplete:
                    r.add(path, f"joint {jn!r} (group {group_of[jn]!r}) is not driven by any "
                          "action key", f"add an action key for group {group_of[jn]!r} or "
                          "remove the joint from this controller")
            elif jn in driven_by:
                r.add(path, f"joint {jn!r} is already driven by controller {driven_by[jn]!r}",
                      "send each action joint to exactly one controller")
            else:
                driven_by[jn] = ctl.name

    # Every action joint must reach a controller. Only checked when every controller is
    # usable, so a broken controller entry is not reported twice.
    if n_raw_controllers and len(controllers) == n_raw_controllers:
        for idx, s in enumerate(action):
            undriven = [j.name for j in groups[s.group] if j.name not in driven_by]
            if undriven:
                r.add(f"action_keys[{idx}]",
                      f"action joints {undriven} of key {s.key!r} are driven by no controller",
                      "add them to a controller's joints (a robot must not have undriven "
                      "action joints)")

    # Held joints are never driven by the policy, have limits, and are held inside them.
    ctl_of = {jn: ctl for ctl in controllers for jn in ctl.joints}
    for i, h in held:
        path = f"held_joints[{i}]"
        ctl = ctl_of.get(h.name)
        if h.name in action_key_of:
            r.add(f"{path}.name", f"held joint {h.name!r} is also driven by action key "
                  f"{action_key_of[h.name]!r}", "a joint is either held or driven: remove it "
                  "from held_joints or from the action key's group")
        elif ctl is not None and not ctl.holds:
            r.add(f"{path}.name", f"held joint {h.name!r} is also listed in controller "
                  f"{ctl.name!r}", "remove it from held_joints or from the controller, or set "
                  "holds: true on a controller of held joints only")
        elif ctl is not None and h.velocity_limit is None:
            r.add(path, f"held joint {h.name!r} is driven by controller {ctl.name!r} "
                  "(holds: true) but has no velocity limit",
                  "add `velocity: <rad/s>` to the held joint (how fast it may be moved to its "
                  "held position)")
        # A joint in a group has the group's limits (System 1 reads those, `limits_of`): a
        # held entry that gives others would be ignored.
        group_joint = joint_by_name.get(h.name)
        limits = group_joint.position_limits if group_joint is not None else h.position_limits
        if group_joint is not None and h.position_limits not in (None, limits) and \
                h.name not in action_key_of:
            r.add(f"{path}.limits", f"held joint {h.name!r} has limits "
                  f"{list(h.position_limits)}, but its joint group {group_of[h.name]!r} gives "
                  f"{list(limits)}: System 1 would watch and hold it within the group's",
                  "remove `limits` from the held joint (the group's apply), or give the group "
                  "the limits the joint has")
        if limits is None:
            if "joint_groups" not in r.incomplete and h.name not in r.tainted_joints:
                r.add(path, f"held joint {h.name!r} has no position limits",
                      "add `limits: [min, max]` (System 1 checks its measured position against "
                      "them), or list the joint in a joint group")
            continue
        lo, hi = limits
        if not lo <= h.position <= hi:
            r.add(f"{path}.position", f"held position {h.position} is outside the "
                  f"joint's limits [{lo}, {hi}]", "hold it at a position inside its limits")


def _simulator(r: _Report, raw: Any, groups: Mapping[str, list[Joint]], action: list[KeySpec],
               camera_names: list[str] | None) -> None:
    """The simulator section refers to this file's joints, groups and cameras."""
    sim = _valid(SimulatorSpec, raw) if raw is not None else None
    if sim is None:
        return
    joints = {j.name: j for key in action for j in groups.get(key.group, [])}
    judged = "joint_groups" not in r.incomplete and "action_keys" not in r.incomplete
    for name, value in sim.rest_pose.items():
        joint = joints.get(name)
        if joint is None:
            if judged and name not in r.tainted_joints:
                r.add(f"simulator.rest_pose.{name}", f"{name!r} is not an action joint",
                      f"{did_you_mean(name, joints)}name an action joint")
            continue
        lo, hi = joint.position_limits
        if not lo <= value <= hi:
            r.add(f"simulator.rest_pose.{name}", f"rest position {value} is outside the "
                  f"joint's limits [{lo}, {hi}]", "start it inside its limits")
    for i, name in enumerate(sim.expert.waist_joints):
        if judged and name not in joints and name not in r.tainted_joints:
            r.add(f"simulator.expert.waist_joints[{i}]", f"{name!r} is not an action joint",
                  f"{did_you_mean(name, joints)}name an action joint")
    if "joint_groups" not in r.incomplete:
        named = [(f"simulator.expert.arm_groups.{side}", getattr(sim.expert.arm_groups, side))
                 for side in ("left", "right")]
        named += [(f"simulator.expert.noise_groups[{i}]", g)
                  for i, g in enumerate(sim.expert.noise_groups)]
        _name_groups(r, named, groups)
    if camera_names is not None:
        for name in sim.cameras:
            if name not in camera_names:
                r.add(f"simulator.cameras.{name}", f"{name!r} is not one of `cameras`",
                      f"mount only the cameras the file lists: {camera_names}")
        for name in camera_names:
            if name not in sim.cameras:
                r.add("simulator.cameras", f"camera {name!r} has no mount",
                      f"add `{name}: {{body: ..., pos: [x, y, z]}}`")


def relation_issues(data: Any, context: Mapping[str, Any] | None = None) -> list[ConfigIssue]:
    """Every problem across entries and sections of the YAML document ``data``."""
    if not isinstance(data, Mapping):
        return []
    r = _Report()
    groups = _joint_groups(r, data.get("joint_groups"))
    state = _keys(r, data, "state_keys", groups)
    action = _keys(r, data, "action_keys", groups)
    held = _held(r, data.get("held_joints"))
    _unused_groups(r, data, groups, state + action)
    _cameras(r, data.get("cameras"))
    controllers = _controllers(r, data.get("controllers"), context)
    _token_staleness(r, data)
    if groups:
        _coverage(r, groups, action, held, controllers, len(_list(data.get("controllers"))))
    valid_cameras = [_valid(Camera, e) for e in _list(data.get("cameras"))]
    # judged only when every camera entry is valid, and there is one (else the schema reports)
    cameras = (None if None in valid_cameras or not valid_cameras
               else [c.name for c in valid_cameras])
    _simulator(r, data.get("simulator"), groups, action, cameras)
    _tracking(r, data.get("tracking"), groups)
    return r.issues


def _tracking(r: _Report, raw: Any, groups: Mapping[str, list[Joint]]) -> None:
    """`tracking.ignore` names joint groups (an entry that is no name: the schema says so)."""
    if "joint_groups" in r.incomplete or not isinstance(raw, Mapping):
        return
    _name_groups(r, [(f"tracking.ignore[{i}]", g) for i, g in
                     enumerate(_list(raw.get("ignore"))) if isinstance(g, str)], groups)


def _name_groups(r: _Report, named: list[tuple[str, str]],
                 groups: Mapping[str, list[Joint]]) -> None:
    """Each (key path, group name) names a joint group; else an issue at that path with the
    closest name."""
    for path, group in named:
        if group not in groups:
            r.add(path, f"{group!r} is not a joint group",
                  f"{did_you_mean(group, groups)}name one of `joint_groups`")
