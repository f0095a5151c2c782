"""gr00t_sim: a MuJoCo tabletop for the embodiment's robot (G1, Apollo; world.py), a scripted IK expert (expert.py) and
the ROS node that serves them (node.py). world/expert/meshes import without rclpy."""

import os as _os

# MuJoCo picks its GL backend when it is first imported; without a display the default
# (GLFW) aborts the process on the first offscreen renderer. Ask for EGL unless the caller
# chose (MUJOCO_GL=osmesa also works where Mesa's OSMesa is installed).
_os.environ.setdefault("MUJOCO_GL", "egl")
