"""The recorder node's parameters: one spec each (gr00t_common.params). All are read once."""

from __future__ import annotations

from gr00t_common.params import UNSET, Pattern, Range, Spec
from gr00t_policy.embodiment.joint_prefix import JOINT_PREFIX_FORMS, JOINT_PREFIX_PATTERN

__all__ = ["SPECS"]

SPECS = (
    Spec("embodiment", "string", "", "Embodiment YAML: its cameras and controllers (or "
         "action_topic) name the topics recorded.", required=True,
         example="config/unitree_g1.yaml"),
    Spec("output_dir", "string", "bags", "Directory of the episode bags "
         "(<output_dir>/episode_NNNNNN/, numbered on from the bags already there).",
         required=True),
    Spec("joint_states_topic", "string", "/joint_states",
         "sensor_msgs/JointState topic with the robot's joint positions.", required=True,
         topic=True),
    Spec("instruction_topic", "string", "/gr00t/instruction",
         "std_msgs/String topic with the instruction; a start request without one takes "
         "the last instruction heard here.", required=True, topic=True),
    Spec("action_topic", "string", "", "A sensor_msgs/JointState topic with commanded "
         "positions (e.g. a teleoperation leader arm), recorded as the actions instead of "
         "the controllers' command topics; empty: the YAML's controllers.", topic=True,
         example="/leader/joint_states"),
    Spec("extra_topics", "string_array", [], "More topics to record (any type; e.g. "
         "/gr00t_sim/state).", topic=True, example="[/gr00t_sim/state]"),
    Spec("joint_prefix", "string", "",
         "The robot's joint-name prefix (as System 1's joint_prefix: its driver names the "
         "YAML's joints with it, e.g. g1/). Kept in each bag's metadata, where gr00t-dataset "
         "from-bag takes it, so the dataset gets the YAML's names; the messages are recorded "
         "as they are. Empty: none.",
         pattern=Pattern(JOINT_PREFIX_PATTERN, JOINT_PREFIX_FORMS), example="g1/"),
    Spec("action_joint_prefix", "string", UNSET,
         "The action_topic's joint-name prefix where it is not the robot's (a leader arm on "
         "its own driver: e.g. leader_, or empty for none). Kept in each bag's metadata for "
         "gr00t-dataset from-bag. Unset: joint_prefix.",
         pattern=Pattern(JOINT_PREFIX_PATTERN, JOINT_PREFIX_FORMS), example="leader_"),
    Spec("queue_depth", "integer", 100, "Subscription queue depth per topic (messages).",
         range=Range(1, 10000)),
)
