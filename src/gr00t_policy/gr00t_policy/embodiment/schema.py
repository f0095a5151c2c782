"""The parts of an embodiment file as declarative pydantic models, one per YAML mapping.

Each model is both the schema of its YAML mapping (field alias = YAML key, ``description`` =
the reference text in docs/EMBODIMENT.md) and the frozen object the runtime reads. A field is
declared with :func:`key`, which also records the words error messages use for its values
(``what``) and an example of the fix; adding a key is one line here.

Checks that look at one value or one mapping live here (types, ranges, name patterns, choices,
``position`` min < max). Checks across entries or sections (names used once, references between
sections, controller coverage) live in :mod:`.validate`.
"""

from __future__ import annotations

import math
import types
from typing import Annotated, Any, ClassVar, Literal, Mapping, NamedTuple, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictFloat,
    StrictStr,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from gr00t_policy.embodiment.decoder_types import (
    BUILTIN_DECODER_PARAMS,
    BUILTIN_DECODER_TYPES,
    DECODER_ENTRY_POINT_GROUP,
    DecoderSpecError,
    decoder_params,
    known_decoder_types,
    params_reference,
)
from gr00t_policy.embodiment.errors import choice_error, rule_error

Normalization = Literal["min_max", "q99", "mean_std", "binary", "sin_cos"]
NORMALIZATION_MODES: tuple[str, ...] = get_args(Normalization)

NAME_PATTERN = r"^[A-Za-z0-9_\-]+$"
# A ROS topic name, absolute: a leading '/', tokens of [A-Za-z0-9_] that do not start with a
# digit, separated by single '/'; '~' and substitutions are not allowed in embodiment files. A
# relative name would resolve under a node's namespace (`gr00t-bringup --namespace`), away
# from the robot's driver, and compare unequal to the same topic written absolutely.
TOPIC_PATTERN = r"^/[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$"
# What each pattern allows, in words, for error messages and the key reference.
PATTERN_RULES = {
    NAME_PATTERN: "only letters, digits, '_' and '-'",
    TOPIC_PATTERN: "an absolute name: '/' then '/'-separated tokens of letters, digits and '_' "
                   "that do not start with a digit, e.g. /camera/head/image_raw",
}
# No humanoid joint travels more than a turn (rad), nor a linear one metres: limits beyond
# this were written in degrees (or mm).
MAX_POSITION = 2 * math.pi + 0.1
# Velocity and acceleration limits beyond these were written in degrees too. No humanoid joint
# moves faster than MAX_VELOCITY (rad/s, or m/s for a linear joint): Unitree's G1 URDF gives
# its waist and arms at most 37 rad/s, and a linear joint (a gripper, a lift) moves a few m/s
# at most; while 1 rad/s written in deg/s is already 57.3. MAX_ACCELERATION (rad/s^2 or
# m/s^2) is ten times the G1 wrists' 100 and six times the fastest change in our
# demonstrations (154): at the G1's 6 rad/s and 120 Hz, anything above 720 lets the velocity
# change fully in one tick, a limit in name only (leave the key out for none); while
# 17.5 rad/s^2 or more written in deg/s^2 lies beyond it.
MAX_VELOCITY = 50.0
MAX_ACCELERATION = 1000.0

# Value types. Strict: YAML `slot: "0"` or `velocity: true` is a mistake, not a number.
Name = Annotated[StrictStr, StringConstraints(min_length=1, pattern=NAME_PATTERN)]
TopicName = Annotated[StrictStr, StringConstraints(min_length=1, pattern=TOPIC_PATTERN)]
Text = Annotated[StrictStr, StringConstraints(min_length=1)]
Number = Annotated[StrictFloat, Field(allow_inf_nan=False)]
Positive = Annotated[StrictFloat, Field(allow_inf_nan=False, gt=0)]


def yaml_key(description: str, *, what: str | tuple[str, ...] | None = None,
             example: str | None = None, default_doc: str | None = None,
             choices_doc: str | None = None, **field: Any) -> Any:
    """A YAML key: ``Field(**field)`` with its reference text and the words its errors use.

    ``what`` names one value in messages ("the velocity limit (rad/s or m/s)"; a tuple gives
    one name per position of a fixed-length list); ``example`` shows a correct entry in a fix;
    ``default_doc``/``choices_doc`` replace the generated default / allowed values in the key
    reference where those are not plain values.
    """
    extra = {name: value for name, value in (("what", what), ("example", example),
                                             ("default_doc", default_doc),
                                             ("choices_doc", choices_doc)) if value is not None}
    return Field(description=description, json_schema_extra=extra, **field)


def null_as(empty: Any) -> BeforeValidator:
    """An optional key written as ``key:`` or ``key: null`` means its empty default."""
    return BeforeValidator(lambda value: empty if value is None else value)


def yaml_keys(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """A model's fields by YAML key (the alias where there is one), in declaration order."""
    return {f.alias or name: f for name, f in model.model_fields.items()}


class Section(BaseModel):
    """Base of every YAML mapping: frozen, unknown keys are errors (a typo must not vanish)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    # A correct mapping, quoted in "expected a mapping" fixes.
    yaml_example: ClassVar[str]


class Joint(Section):
    """A driven or observed joint: position limits [min, max] (rad or m), velocity limit (>0)."""

    yaml_example: ClassVar[str] = "`{name: j1, position: [-1.0, 1.0], velocity: 3.0}`"

    name: Text = yaml_key(
        "The joint's name, exactly as on /joint_states and in the robot model.",
        what="a joint name")
    position_limits: tuple[Number, Number] = yaml_key(
        "Position limits `[min, max]` (rad or m; finite, min < max, within +-(2 pi + 0.1): "
        "values beyond a turn are taken for degrees and refused).", alias="position",
        what=("the lower position limit", "the upper position limit"),
        example="`position: [min, max]`")
    velocity_limit: Positive = yaml_key(
        f"Velocity limit (rad/s or m/s, > 0, at most {MAX_VELOCITY:g}: a faster one is taken "
        "for deg/s and refused): the fastest System 1 may command the joint; use an operating "
        "speed, not the actuator's maximum.", alias="velocity",
        what="the velocity limit (rad/s or m/s)")
    acceleration_limit: Positive | None = yaml_key(
        f"Acceleration limit (rad/s^2 or m/s^2, > 0, at most {MAX_ACCELERATION:g}: a larger "
        "one is taken for deg/s^2 and refused): System 1 changes the commanded velocity by at "
        "most this much per second, and starts braking in time to stop at the position "
        "limits. Without it, System 1 limits position and velocity only.", alias="acceleration",
        default=None, default_doc="none", what="the acceleration limit (rad/s^2 or m/s^2)")

    @field_validator("position_limits")
    @classmethod
    def _min_below_max(cls, limits: tuple[float, float]) -> tuple[float, float]:
        return _position_limits(limits)

    @field_validator("velocity_limit", "acceleration_limit")
    @classmethod
    def _rates_in_radians(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _rate_in_radians(value, info)


class JointGroup(Section):
    """A named, ordered group of joints; state and action keys each name one group.

    The name is the group's key under ``joint_groups`` (set when the embodiment is validated).
    """

    yaml_example: ClassVar[str] = "`{joints: [...]}`"

    joints: tuple[Joint, ...] = yaml_key(
        "The group's joints, in order. A joint belongs to at most one group.", min_length=1,
        example="`- {name: waist_yaw_joint, position: [-2.6, 2.6], velocity: 30.0}`")
    _name: str = ""

    @property
    def name(self) -> str:
        return self._name

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    def __repr_args__(self):  # the name first, as for the other parts
        yield "name", self._name
        yield from super().__repr_args__()


class HeldJoint(Section):
    """A joint the policy does not drive (e.g. the G1 legs), the position to hold it at, and
    the limits System 1 watches it against."""

    yaml_example: ClassVar[str] = "`{name: left_knee_joint, position: 0.0, limits: [-0.1, 2.8]}`"

    name: Text = yaml_key(
        "The joint's name, as on /joint_states. System 1 needs it in every joint state, finite "
        "and inside its limits (plus `plausibility.position_margin`), like a driven joint. It "
        "must not be an action joint, and sits in a controller only if that controller has "
        "`holds: true`.", what="a joint name")
    position: Number = yaml_key(
        "The position to hold it at (rad or m), inside its limits (and within +-(2 pi + 0.1), "
        "as all positions).", what="the held position")
    position_limits: tuple[Number, Number] | None = yaml_key(
        "Position limits `[min, max]` (rad or m) System 1 checks measurements against; "
        "required unless the joint is also in a joint group, whose limits then apply (given "
        "here too, they must be the group's).",
        alias="limits", default=None, default_doc="the joint group's, if any",
        what=("the lower position limit", "the upper position limit"),
        example="`limits: [min, max]`")
    velocity_limit: Positive | None = yaml_key(
        f"Velocity limit (rad/s or m/s, at most {MAX_VELOCITY:g}, as a joint's) for moving it "
        "to its held position; required when a `holds: true` controller commands it.",
        alias="velocity", default=None, default_doc="none",
        what="the velocity limit (rad/s or m/s)")
    acceleration_limit: Positive | None = yaml_key(
        f"Acceleration limit (rad/s^2 or m/s^2, at most {MAX_ACCELERATION:g}, as a joint's) "
        "for moving it to its held position.",
        alias="acceleration", default=None, default_doc="none",
        what="the acceleration limit (rad/s^2 or m/s^2)")

    @field_validator("position_limits")
    @classmethod
    def _min_below_max(cls, limits: tuple[float, float] | None) -> tuple[float, float] | None:
        return limits if limits is None else _position_limits(limits)

    @field_validator("position")
    @classmethod
    def _held_in_radians(cls, position: float) -> float:
        return _in_radians((position,), "held position")[0]

    @field_validator("velocity_limit", "acceleration_limit")
    @classmethod
    def _rates_in_radians(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _rate_in_radians(value, info)


def _position_limits(limits: tuple[float, float]) -> tuple[float, float]:
    """A joint's or held joint's `[min, max]`: min < max, and in radians (or metres)."""
    lo, hi = limits
    if lo >= hi:
        raise rule_error(f"position limits [{lo}, {hi}] have min >= max",
                         "write them as [min, max] with min < max (swap them if reversed)")
    return _in_radians(limits, "position limits")


def _in_radians(values: tuple[float, ...], what: str) -> tuple[float, ...]:
    """`values` when none lies beyond MAX_POSITION; a rule error that says degrees otherwise."""
    far = [v for v in values if abs(v) > MAX_POSITION]
    if far:
        raise rule_error(
            f"{what} {list(values)} lie beyond +-{MAX_POSITION:.2f}, more than a turn: they "
            f"look like degrees ({far[0]:g} deg = {math.radians(far[0]):.4f} rad) or millimetres",
            "write positions in radians (revolute joints) or metres (linear joints)")
    return values


def _rate_in_radians(value: float | None, info: ValidationInfo) -> float | None:
    """A joint's or held joint's velocity or acceleration limit (``info.field_name``) when
    within MAX_VELOCITY / MAX_ACCELERATION; a rule error that says degrees otherwise."""
    key = "acceleration" if info.field_name == "acceleration_limit" else "velocity"
    bound, per, beyond = ((MAX_ACCELERATION, "/s^2", "far above any operating limit")
                          if key == "acceleration"
                          else (MAX_VELOCITY, "/s", "faster than any humanoid joint"))
    if value is None or value <= bound:
        return value
    joint = info.data.get("name")  # absent when the name itself was refused
    of = f" of joint {joint!r}" if isinstance(joint, str) else ""
    raise rule_error(
        f"{key} limit {value:g}{of} is above {bound:g} rad{per} (or m{per}), {beyond}: "
        f"it looks like deg{per} ({value:g} deg{per} = "
        f"{math.radians(value):.4g} rad{per})",
        f"write `{key}` in rad{per} (revolute joints) or m{per} (linear joints), at most "
        f"{bound:g}")


class KeySpec(Section):
    """A state or action key as written in the YAML: key name, joint group, normalization mode."""

    yaml_example: ClassVar[str] = "`{key: left_arm, group: left_arm, normalization: min_max}`"

    key: Name = yaml_key("The key's name (the metadata.json state or action key). Training "
                         "reads it by this name from a dataset's meta/modality.json ranges, "
                         "leaving out the dataset's other keys, as Isaac-GR00T's data "
                         "configs do.", what="a key name")
    group: Name = yaml_key(
        "The joint group whose joints this key carries; each group at most once per vector.",
        default=None, default_doc="the value of `key`", what="a joint group name")
    normalization: Normalization = yaml_key(
        "How the key's values are normalized for the model: min_max, q99 and mean_std from "
        "the checkpoint's statistics, binary (> 0.5 reads 1, else 0; commands 0 or 1: for "
        "joints whose driver takes 0/1, limits [0, 1]), or for state keys sin_cos (the sine and "
        "the cosine of each joint angle, as Isaac-GR00T's gr1 data configs feed the state; "
        "two values per joint).", what="normalization mode")

    @model_validator(mode="before")
    @classmethod
    def _group_defaults_to_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "group" not in data and "key" in data:
            return {**data, "group": data["key"]}
        return data


class ModalityKey(NamedTuple):
    """A state or action key resolved to its joints: unpacks as ``key, joints, mode``."""

    key: str
    joints: tuple[str, ...]
    mode: str


class Camera(Section):
    """A camera: a name (the checkpoint's video key, e.g. ``ego_view``) and its image topic."""

    yaml_example: ClassVar[str] = "`{name: ego_view, topic: /camera/ego_view/image_raw}`"

    name: Name = yaml_key(
        "The checkpoint's video key without `video.`; each camera's name differs.",
        what="a camera name")
    topic: TopicName = yaml_key("The sensor_msgs/Image topic; each camera has its own.",
                                what="a ROS topic name")


def _decoder_type(value: Any, info: ValidationInfo) -> Any:
    """Known decoder names; parse_embodiment passes them in the context (one plugin scan)."""
    known = (info.context or {}).get("decoder_types") or known_decoder_types()
    if not isinstance(value, str) or value not in known:
        raise choice_error("decoder type", value, known)
    return value


DecoderType = Annotated[str, BeforeValidator(_decoder_type)]
# Decoder options, passed through untouched and read-only.
ReadOnlyMapping = Annotated[Mapping[Any, Any], null_as({}),
                            AfterValidator(lambda m: types.MappingProxyType(dict(m))),
                            PlainSerializer(dict)]


class ControllerSpec(Section):
    """A controller fed by a System 1 decoder plugin.

    ``type`` picks the decoder (``forward_command``, ``joint_trajectory``, ``joint_state`` or an
    entry point in ``gr00t_system1.decoders``); ``joints`` is the controller's own joint order;
    ``params`` are the decoder's options: a built-in's are checked here
    (``decoder_types.BUILTIN_DECODER_PARAMS``), a plugin's by its class (System 1 and
    ``gr00t-bringup check``; the schema does not import plugins).
    """

    yaml_example: ClassVar[str] = ("`{name: arm_controller, type: forward_command, "
                                   "topic: /arm_controller/commands, joints: [...]}`")

    name: Name = yaml_key("The controller's name; each controller's name differs.",
                          what="a controller name")
    type: DecoderType = yaml_key(
        "The decoder plugin that builds this controller's messages.", what="decoder type",
        choices_doc=", ".join(f"`{t}`" for t in BUILTIN_DECODER_TYPES)
        + f", or a name registered under the `{DECODER_ENTRY_POINT_GROUP}` entry-point group "
          "(not a built-in's name)")
    topic: TopicName = yaml_key("The command topic; each controller has its own.",
                                what="a ROS topic name")
    joints: tuple[Text, ...] = yaml_key(
        "Action joints in the controller's own order; every action joint goes to exactly one "
        "controller. With `holds: true`, held joints instead.", min_length=1,
        what="a joint name", example="`joints: [left_elbow_joint, left_wrist_roll_joint]`")
    holds: StrictBool = yaml_key(
        "The controller drives held joints (`held_joints`) to their held positions, moving "
        "them from where they are measured within their velocity and acceleration limits, "
        "whenever System 1 commands. Leave false where another controller owns them (e.g. a "
        "walking controller owns the legs).", default=False, what="holds")
    params: ReadOnlyMapping = yaml_key(
        "The decoder's options; a key it does not take, or a value it does not allow, is an "
        "error (System 1 refuses it at configure, `gr00t-bringup check` says so). Built in: "
        f"{params_reference()}. A plugin: the keys of its class's `PARAMS` (checked where "
        "the plugin is installed).",
        default_factory=lambda: types.MappingProxyType({}), default_doc="`{}`",
        example="`params: {every_n_ticks: 2}`")

    @field_validator("params")
    @classmethod
    def _builtin_params(cls, params: Mapping[Any, Any], info: ValidationInfo) -> Mapping[Any, Any]:
        kind = info.data.get("type")  # absent when the type itself was refused
        if kind in BUILTIN_DECODER_PARAMS:
            try:
                decoder_params(f"decoder {kind}", BUILTIN_DECODER_PARAMS[kind], params)
            except DecoderSpecError as exc:
                raise rule_error(exc.message, exc.fix) from None
        return params

    def __hash__(self) -> int:  # params (a mapping) is not hashable and not part of identity
        return hash((self.name, self.type, self.topic, self.joints))


# Ages beyond these are units mistaken (ms written as s): a state a second old is not where
# the robot is, and tokens 5 s old describe another scene. System 1's state_staleness_s and
# token_staleness_s parameters, which override these keys, have the same bounds.
MAX_STATE_AGE_S, MAX_TOKEN_AGE_S = 1.0, 5.0

DEFAULT_SYSTEM1_HZ = 120.0
DEFAULT_SYSTEM2_HZ = 10.0
# System 1's command rate, here and in its control_rate_hz parameter (which overrides it).
# System 1 moves each joint at most a velocity limit's worth a period: at 0.01 Hz one command
# moved an elbow 2 rad; 1e9 Hz asks for a period no timer keeps.
MIN_SYSTEM1_HZ, MAX_SYSTEM1_HZ = 1.0, 2000.0
# System 2 runs a VLM (GR00T N1: 10 Hz). Slower than one token message per MAX_TOKEN_AGE_S,
# tokens would go stale between messages whatever `staleness.tokens_s`; 100 Hz is ten times
# GR00T N1's rate.
MIN_SYSTEM2_HZ, MAX_SYSTEM2_HZ = 1.0 / MAX_TOKEN_AGE_S, 100.0


class Rates(Section):
    """Node rates in Hz: System 1 (action head) and System 2 (VLM)."""

    yaml_example: ClassVar[str] = "`rates: {system1_hz: 120, system2_hz: 10}`"

    system1_hz: Annotated[StrictFloat, Field(allow_inf_nan=False, ge=MIN_SYSTEM1_HZ,
                                             le=MAX_SYSTEM1_HZ)] = yaml_key(
        f"System 1 (action head loop) rate, Hz: {MIN_SYSTEM1_HZ:g} to {MAX_SYSTEM1_HZ:g}, as "
        "System 1's `control_rate_hz` parameter, which overrides it.",
        default=DEFAULT_SYSTEM1_HZ, what="the System 1 rate (Hz)")
    system2_hz: Annotated[StrictFloat, Field(allow_inf_nan=False, ge=MIN_SYSTEM2_HZ,
                                             le=MAX_SYSTEM2_HZ)] = yaml_key(
        f"System 2 (VLM) rate, Hz: {MIN_SYSTEM2_HZ:g} to {MAX_SYSTEM2_HZ:g} (slower, tokens "
        f"would go stale between messages: `staleness.tokens_s` is at most "
        f"{MAX_TOKEN_AGE_S:g} s).", default=DEFAULT_SYSTEM2_HZ, what="the System 2 rate (Hz)")


# A chunk row interval beyond this is milliseconds written as seconds (GR00T's are 1/20 to
# 1/30 s: 50 means 50 ms).
MAX_ACTION_DT_S = 1.0
# A margin this large (rad or m) switches the plausibility check off.
MAX_POSITION_MARGIN = 1.0

class Plausibility(Section):
    """What System 1 treats as an impossible measurement (a fault, not a state to plan on)."""

    yaml_example: ClassVar[str] = "`plausibility: {position_margin: 0.1}`"

    position_margin: Annotated[StrictFloat, Field(allow_inf_nan=False, ge=0,
                                                  le=MAX_POSITION_MARGIN)] = yaml_key(
        "How far (rad or m) a measured position may lie outside its joint's limits before "
        "System 1 faults: it stops following the policy, holds its last command, and says "
        "which joint, the value and the limits. Encoders read slightly past soft limits; "
        "much further means a broken sensor or wrong joint names. At most "
        f"{MAX_POSITION_MARGIN:g}; a wider one is refused (it would switch the check off).",
        default=0.1,
        what="the position margin (rad or m)")


# How long a tracking error may last before it is a fault, at most: longer, an arm pushing
# against a person would push for seconds.
MAX_TRACKING_FOR_S = 2.0


class Tracking(Section):
    """When System 1 decides the robot is not following its commands: a fault."""

    yaml_example: ClassVar[str] = "`tracking: {max_error: 1.0, for_s: 0.5, ignore: [left_hand]}`"

    max_error: Annotated[StrictFloat, Field(allow_inf_nan=True, gt=0)] = yaml_key(
        "How far (rad or m) a measured position may be from the command in force when it was "
        "measured, on any commanded joint, for longer than `for_s`, before System 1 faults: "
        "the robot is not following (blocked, its controller not active, an emergency "
        "stop). System 1 stops following the policy and brings its command back, within "
        "the limits, to where the robot was measured, so that nothing jumps when it "
        "follows again; cycling /gr00t/enable clears it. The error includes the "
        "controller's lag (a joint at full speed trails its command by its velocity times "
        "the control delay): System 1's diagnostics give its percentiles "
        "(`tracking_error_p99`) to set this from. `.inf` switches the check off.",
        default=1.0, what="the tracking error limit (rad or m)")
    for_s: Annotated[StrictFloat, Field(allow_inf_nan=False, ge=0,
                                        le=MAX_TRACKING_FOR_S)] = yaml_key(
        "How long (s) the error must stay above `max_error` before it is a fault (a "
        f"moment's contact is not). At most {MAX_TRACKING_FOR_S:g}.", default=0.5,
        what="the tracking error duration (s)")
    ignore: tuple[Name, ...] = yaml_key(
        "Joint groups not checked: hands and grippers, whose fingers are commanded into what "
        "they hold (the error there is the grip's force, not a robot that stopped "
        "following). Their figures are left out of the diagnostics too.", default=(),
        default_doc="none", what="a joint group's name")



class Staleness(Section):
    """Maximum input ages in seconds before System 1 treats joint states / tokens as stale."""

    yaml_example: ClassVar[str] = "`staleness: {state_s: 0.05, tokens_s: 0.5}`"

    state_s: Annotated[StrictFloat, Field(allow_inf_nan=False, gt=0, le=MAX_STATE_AGE_S)] = yaml_key(
        f"Max age of /joint_states (s) before System 1 treats the state as stale; at most "
        f"{MAX_STATE_AGE_S:g} s (seconds, not ms: System 1 must not plan on an older state).",
        what="the joint-state age limit (s)")
    tokens_s: Annotated[StrictFloat, Field(allow_inf_nan=False, gt=0, le=MAX_TOKEN_AGE_S)] = yaml_key(
        f"Max age of the embedding tokens (s); at least one System 2 period, at most "
        f"{MAX_TOKEN_AGE_S:g} s (seconds, not ms).",
        what="the token age limit (s)")
