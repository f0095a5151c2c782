"""``EmbodimentConfig``: the whole embodiment file (its top-level keys) and what the nodes read.

The state vector is the state keys' joints concatenated in YAML order; so is the action vector.
Build one with :func:`~gr00t_policy.embodiment.load_embodiment` or
:func:`~gr00t_policy.embodiment.parse_embodiment`, which also run the checks across sections.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Iterable, Literal, get_args

import numpy as np
from pydantic import AfterValidator, Field, PlainSerializer, StrictBool, StrictFloat, StrictInt

from gr00t_policy.embodiment.schema import (
    Camera,
    ControllerSpec,
    HeldJoint,
    Joint,
    JointGroup,
    MAX_ACTION_DT_S,
    KeySpec,
    ModalityKey,
    Name,
    Plausibility,
    Rates,
    Section,
    Staleness,
    Tracking,
    null_as,
    yaml_key,
)
from gr00t_policy.embodiment.simulator import SimulatorSpec
from gr00t_policy.normalization import normalized_width

ActionRepresentation = Literal["absolute"]
ACTION_REPRESENTATIONS: tuple[str, ...] = get_args(ActionRepresentation)
OnStale = Literal["hold_last_command", "hold_measured"]
ON_STALE_BEHAVIOURS: tuple[str, ...] = get_args(OnStale)
# GR00T N1's action head keeps per-embodiment weights for up to 32 embodiments.
MAX_EMBODIMENT_SLOTS = 32


def _named(groups: dict[str, JointGroup]) -> tuple[JointGroup, ...]:
    """The YAML mapping ``{name: {joints: [...]}}`` as groups that know their name."""
    for name, group in groups.items():
        group._name = name
    return tuple(groups.values())


# In YAML a mapping from group name to group; in Python the groups in YAML order.
JointGroups = Annotated[
    dict[Name, JointGroup], AfterValidator(_named),
    PlainSerializer(lambda groups: {g.name: g.model_dump(by_alias=True) for g in groups})]


def _plain(value: Any) -> Any:
    """Tuples as lists and mappings as dicts, so that yaml.safe_dump can write the value."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class EmbodimentConfig(Section):
    """A validated embodiment. Build it with :func:`load_embodiment` or :func:`parse_embodiment`.

    The state vector is the state keys' joints concatenated in YAML order; so is the action
    vector. ``position_limits`` and ``velocity_limits`` are given for the action joints.
    """

    yaml_example: ClassVar[str] = ("`name: my_robot` / `tag: my_tag` / ... "
                                   "(see config/unitree_g1.yaml)")

    name: Name = yaml_key(
        "Embodiment name (logs, the dataset's robot_type). By convention also the file's stem: "
        "a bare name on the command line (`--embodiment unitree_g1`) finds the file by its "
        "stem, not by this key.", what="an embodiment name")
    tag: Name = yaml_key(
        "The checkpoint's embodiment tag: the key of this robot's entry in the checkpoint's "
        "config.json `embodiments` and experiment_cfg/metadata.json.", what="an embodiment tag")
    slot: StrictInt = yaml_key(
        "Embodiment id into the action head's per-embodiment weights: 0..num_embodiments-1 of "
        "the checkpoint.", ge=0, le=MAX_EMBODIMENT_SLOTS - 1, what="the embodiment slot")
    action_representation: ActionRepresentation = yaml_key(
        "How action rows are read: `absolute` joint position targets (rad or m).",
        default="absolute", what="action representation")
    action_dt: Annotated[StrictFloat, Field(allow_inf_nan=False, gt=0, le=MAX_ACTION_DT_S)] = \
        yaml_key("Seconds between two rows of an action chunk, at most "
                 f"{MAX_ACTION_DT_S:g} s (seconds, not ms: GR00T's are 1/20 to 1/30 s).",
                 what="action_dt (seconds between chunk rows)")
    joint_groups: JointGroups = yaml_key(
        "Named, ordered groups of joints: `<group name>: {joints: [...]}`. State and action "
        "keys refer to them by name.", min_length=1, what="a joint group name",
        example="`joint_groups: {left_arm: {joints: [...]}}`")
    held_joints: Annotated[tuple[HeldJoint, ...], null_as([])] = yaml_key(
        "Joints the policy does not drive, with the position to hold them at.", default=(),
        default_doc="none")
    state_specs: tuple[KeySpec, ...] = yaml_key(
        "The state vector, in order: the keys' joints concatenated.", alias="state_keys",
        min_length=1)
    action_specs: tuple[KeySpec, ...] = yaml_key(
        "The action vector, in order, like `state_keys`. Every action joint must be driven by "
        "exactly one controller.", alias="action_keys", min_length=1)
    cameras: tuple[Camera, ...] = yaml_key(
        "The cameras, in the order the checkpoint expects: one image each per frame, as many "
        "as the checkpoint's views (`gr00t-policy info`; a fine-tune sizes the model for "
        "them). A checkpoint trained or converted here records their names, and System 1 "
        "refuses others, or another order.", min_length=1)
    controllers: tuple[ControllerSpec, ...] = yaml_key(
        "Where actions go: one entry per controller, each fed by a System 1 decoder plugin.",
        min_length=1)
    rates: Annotated[Rates, null_as({})] = yaml_key("Node rates.", default_factory=Rates,
                                                    default_doc="the defaults of its keys")
    staleness: Staleness = yaml_key("Input age limits before System 1 treats inputs as stale.")
    on_stale: OnStale = yaml_key(
        "What System 1 does with stale inputs: `hold_last_command` keeps sending the last "
        "command, `hold_measured` commands the last measured positions.",
        what="on_stale behaviour")
    start_enabled: StrictBool = yaml_key(
        "Whether System 1 sends commands as soon as it is active, without a /gr00t/enable "
        "call. Keep it false for a real robot: a person enables it.", default=False,
        what="start_enabled")
    plausibility: Annotated[Plausibility, null_as({})] = yaml_key(
        "Limits on what a measurement may be before System 1 faults.",
        default_factory=Plausibility, default_doc="the defaults of its keys")
    tracking: Annotated[Tracking, null_as({})] = yaml_key(
        "When the robot is not following System 1's commands (a fault).",
        default_factory=Tracking, default_doc="the defaults of its keys")
    simulator: SimulatorSpec | None = yaml_key(
        "How gr00t_sim simulates this robot (model file, mounts, rest pose, expert); only the "
        "simulator, the scripted expert and gr00t-collect read it.", default=None,
        default_doc="none: the robot cannot be simulated")

    _source: str = "<dict>"

    @property
    def source(self) -> str:
        """Where the config came from (the file), for messages; not part of equality."""
        return self._source

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EmbodimentConfig):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(tuple(self.__dict__.values()))

    # -- lookups ------------------------------------------------------------------------

    def group(self, name: str) -> JointGroup:
        """The joint group called ``name``; KeyError names the known groups."""
        for g in self.joint_groups:
            if g.name == name:
                return g
        raise KeyError(f"no joint group {name!r} in embodiment {self.name!r}; "
                       f"known: {[g.name for g in self.joint_groups]}")

    def joint(self, name: str) -> Joint:
        """The joint called ``name`` (from any group); KeyError if it is in no group."""
        for g in self.joint_groups:
            for j in g.joints:
                if j.name == name:
                    return j
        raise KeyError(f"joint {name!r} is in no joint group of embodiment {self.name!r}")

    def _resolve(self, specs: tuple[KeySpec, ...]) -> list[ModalityKey]:
        return [ModalityKey(s.key, self.group(s.group).joint_names, s.normalization)
                for s in specs]

    # -- what the nodes use --------------------------------------------------------------

    @property
    def state_keys(self) -> list[ModalityKey]:
        """``[(key, [joints], mode)]`` in state-vector order."""
        return self._resolve(self.state_specs)

    @property
    def action_keys(self) -> list[ModalityKey]:
        """``[(key, [joints], mode)]`` in action-vector order."""
        return self._resolve(self.action_specs)

    @property
    def state_joints(self) -> tuple[str, ...]:
        """Joint names of the state vector, in order."""
        return tuple(j for k in self.state_keys for j in k.joints)

    @property
    def action_joints(self) -> tuple[str, ...]:
        """Joint names of the action vector (the driven joints), in order."""
        return tuple(j for k in self.action_keys for j in k.joints)

    @property
    def state_dim(self) -> int:
        return len(self.state_joints)

    @property
    def state_width(self) -> int:
        """Values the model gets for the state: state_dim, plus one more per joint of a
        `sin_cos` key (its sine and its cosine)."""
        return sum(normalized_width(k.mode, len(k.joints)) for k in self.state_keys)

    @property
    def action_dim(self) -> int:
        return len(self.action_joints)

    @property
    def position_limits(self) -> np.ndarray:
        """np.float64 (A, 2): [min, max] per action joint, read-only."""
        out = np.array([self.joint(n).position_limits for n in self.action_joints],
                       dtype=np.float64).reshape(-1, 2)  # (A, 2)
        out.setflags(write=False)
        return out

    @property
    def velocity_limits(self) -> np.ndarray:
        """np.float64 (A,): velocity limit per action joint, read-only."""
        out = np.array([self.joint(n).velocity_limit for n in self.action_joints],
                       dtype=np.float64)  # (A,)
        out.setflags(write=False)
        return out

    @property
    def acceleration_limits(self) -> np.ndarray:
        """np.float64 (A,): acceleration limit per action joint, inf where none, read-only."""
        out = np.array([self.joint(n).acceleration_limit or np.inf for n in self.action_joints],
                       dtype=np.float64)  # (A,)
        out.setflags(write=False)
        return out

    def held(self, name: str) -> HeldJoint:
        """The held joint called ``name``; KeyError if it is not held."""
        for h in self.held_joints:
            if h.name == name:
                return h
        raise KeyError(f"joint {name!r} is not a held joint of embodiment {self.name!r}")

    def limits_of(self, name: str) -> tuple[float, float]:
        """Position limits of any joint System 1 reads: its group's, else its held entry's."""
        try:
            return self.joint(name).position_limits
        except KeyError:
            limits = self.held(name).position_limits
            if limits is None:  # validation requires them; a hand-built config may lack them
                raise KeyError(f"held joint {name!r} has no limits") from None
            return limits

    @property
    def monitored_joints(self) -> tuple[str, ...]:
        """Every joint System 1 needs in each joint state: state, action and held joints."""
        held = [h.name for h in self.held_joints]
        return tuple(dict.fromkeys([*self.state_joints, *self.action_joints, *held]))

    @property
    def commanded_held_joints(self) -> tuple[str, ...]:
        """Held joints a `holds: true` controller drives to their held positions, in
        controller order."""
        return tuple(j for c in self.controllers if c.holds for j in c.joints)

    @property
    def command_joints(self) -> tuple[str, ...]:
        """What System 1 commands each tick: the action joints, then the commanded held
        joints."""
        return (*self.action_joints, *self.commanded_held_joints)

    @property
    def tracked_joints(self) -> tuple[str, ...]:
        """The `command_joints` whose tracking error System 1 checks: all but those of the
        groups in `tracking.ignore`."""
        ignored = {j.name for g in self.tracking.ignore for j in self.group(g).joints}
        return tuple(n for n in self.command_joints if n not in ignored)

    def command_limits(self) -> dict[str, np.ndarray]:
        """Limits of `command_joints`: {"lower", "upper", "velocity", "acceleration"} (C,)
        each, inf acceleration where none."""
        rows = [(*self.joint(n).position_limits, self.joint(n).velocity_limit,
                 self.joint(n).acceleration_limit or np.inf) for n in self.action_joints]
        for n in self.commanded_held_joints:
            h = self.held(n)
            lo, hi = self.limits_of(n)
            rows.append((lo, hi, h.velocity_limit, h.acceleration_limit or np.inf))
        table = np.array(rows, dtype=np.float64).reshape(-1, 4)  # (C, 4)
        return dict(zip(("lower", "upper", "velocity", "acceleration"), table.T))

    @property
    def unbraked_joints(self) -> tuple[str, ...]:
        """Command joints without an acceleration limit: System 1 limits their position and
        velocity only, so their commanded velocity may change fully in one tick."""
        acceleration = self.command_limits()["acceleration"]
        return tuple(n for n, a in zip(self.command_joints, acceleration) if not np.isfinite(a))

    def action_indices(self, joints: Iterable[str]) -> np.ndarray:
        """np.int64 (n,): positions of ``joints`` in the action vector (for decoders)."""
        index = {n: i for i, n in enumerate(self.action_joints)}
        missing = [n for n in joints if n not in index]
        if missing:
            raise KeyError(f"joints {missing} are not action joints of {self.name!r}")
        return np.array([index[n] for n in joints], dtype=np.int64)

    def state_indices(self, joints: Iterable[str]) -> np.ndarray:
        """np.int64 (n,): positions of ``joints`` in the state vector."""
        index = {n: i for i, n in enumerate(self.state_joints)}
        missing = [n for n in joints if n not in index]
        if missing:
            raise KeyError(f"joints {missing} are not state joints of {self.name!r}")
        return np.array([index[n] for n in joints], dtype=np.int64)

    def checkpoint_entry(self) -> dict[str, Any]:
        """The checkpoint ``config.json["embodiments"][tag]`` entry a policy trained on this
        embodiment records: slot, action_dt, sizes, the vector layout (keys with their
        normalization modes and widths, joint order) and the camera names in view order, so
        that a later YAML edit that reorders or renormalizes the vectors, or renames or swaps
        the cameras, is caught at start-up, not fed to the model."""
        return {
            "slot": self.slot,
            "action_dt": self.action_dt,
            "state_dim": self.state_dim,
            "action_dim": self.action_dim,
            "state_keys": [[k.key, k.mode] for k in self.state_keys],
            "action_keys": [[k.key, k.mode] for k in self.action_keys],
            "state_key_dims": {k.key: len(k.joints) for k in self.state_keys},
            "action_key_dims": {k.key: len(k.joints) for k in self.action_keys},
            "state_joints": list(self.state_joints),
            "action_joints": list(self.action_joints),
            "cameras": [c.name for c in self.cameras],
        }

    def to_dict(self) -> dict[str, Any]:
        """The YAML-shaped dict; ``parse_embodiment(cfg.to_dict())`` gives back an equal config."""
        return _plain(self.model_dump(by_alias=True))
