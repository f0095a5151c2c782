"""The one test-helper package of gr00t_ros: what every package's node tests import.

    from gr00t_testing import NodeProcess, RosProbe, make_checkpoint_for, wait_until

- `RosProbe`, `RELIABLE`, `wait_until`: a client node in its own context
  (gr00t_common.probe, also used by gr00t-eval and the benchmarks).
- `NodeProcess`, `bringup_command`, `instruct_command`: nodes and CLIs as OS processes.
- `InputFeeder`: joint states and tokens published from a thread.
- `make_checkpoint_for`, `scale_action_decoder`, `backbone_id`: random checkpoints matching
  embodiment YAMLs (gr00t_policy.testing.checkpoints, ROS-free).
"""

from gr00t_common.probe import RELIABLE, RosProbe, wait_until
from gr00t_policy.testing.checkpoints import backbone_id, make_checkpoint_for, scale_action_decoder
from gr00t_testing.feeder import InputFeeder
from gr00t_testing.processes import NodeProcess, bringup_command, instruct_command

__all__ = ["RELIABLE", "InputFeeder", "NodeProcess", "RosProbe", "backbone_id",
           "bringup_command", "instruct_command", "make_checkpoint_for", "scale_action_decoder",
           "wait_until"]
