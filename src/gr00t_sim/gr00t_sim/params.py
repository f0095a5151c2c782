"""The simulator node's parameters: one spec each (gr00t_common.params).

All are read once, at start, so all are read-only; a reset's seed comes with the
/gr00t_sim/reset request (gr00t_msgs/srv/ResetSim).
"""

from __future__ import annotations

import os
from pathlib import Path

from gr00t_common.params import Range, Spec

__all__ = ["SPECS", "default_embodiment_path"]


def default_embodiment_path() -> str:
    """config/unitree_g1.yaml of the checkout ($GR00T_ROS_ROOT, else found upwards from here)."""
    root = os.environ.get("GR00T_ROS_ROOT")
    candidates = [Path(root)] if root else []
    candidates += list(Path(__file__).resolve().parents)
    for base in candidates:
        path = base / "config" / "unitree_g1.yaml"
        if path.is_file():
            return str(path)
    return ""


SPECS = (
    Spec("embodiment", "string", default_embodiment_path,
         "Embodiment YAML (joint groups, controllers). The default, config/unitree_g1.yaml "
         "of the checkout, is looked for under $GR00T_ROS_ROOT, else upwards from the package.",
         required=True, example="/path/to/unitree_g1.yaml",
         shown_default="config/unitree_g1.yaml of the checkout"),
    Spec("seed", "integer", 0, "Seed of the first scene (cube positions). A reset request's "
         "seed < 0 means the previous seed + 1, which the first scene does not have.",
         range=Range.at_least(0)),
    Spec("publish_clock", "bool", False, "Publish /clock (for use_sim_time)."),
    Spec("camera_hz", "double", 30.0, "Head camera rate (Hz); 0 disables it.",
         range=Range(0.0, 120.0)),
    Spec("joint_state_decimation", "integer", 4, "Publish /joint_states every N physics steps.",
         range=Range.at_least(1)),
)

