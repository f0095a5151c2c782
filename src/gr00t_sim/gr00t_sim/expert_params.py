"""The expert node's parameters: one spec each (gr00t_common.params). All are read once."""

from __future__ import annotations

from gr00t_common.params import Range, Spec
from gr00t_sim.params import default_embodiment_path

__all__ = ["SPECS"]

SPECS = (
    Spec("embodiment", "string", default_embodiment_path,
         "Embodiment YAML: the action joints and the forward_command controllers the "
         "expert's targets go to.", required=True, example="/path/to/unitree_g1.yaml",
         shown_default="config/unitree_g1.yaml of the checkout"),
    Spec("settle_s", "double", 0.2,
         "Seconds between a reset and the first command (the robot holds its rest pose; the "
         "camera shows the new scene by then).", range=Range(0.0, 5.0)),
    Spec("waist_ik_scale", "double", 1.0,
         "The expert's ExpertConfig.waist_ik_scale (how freely its IK moves the waist).",
         range=Range.above(0.0)),
)
