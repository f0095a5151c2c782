"""The one test-helper package of gr00t_ros: what every package's node tests import.

    from gr00t_testing import NodeProcess, RosProbe, make_checkpoint_for, wait_until

- `RosProbe`, `RELIABLE`, `RECORDING`, `wait_until`: a client node in its own context
  (gr00t_common.probe, also used by gr00t-eval and the benchmarks); RECORDING is the QoS
  for command streams that `assert_commands_safe` checks.
- `NodeProcess`, `bringup_command`, `instruct_command`: nodes and CLIs as OS processes.
- `InputFeeder`: joint states and tokens published from a thread.
- `CommandRecorder`, `assert_commands_safe`: controller commands recorded with their receive
  times; every one finite, in limits, velocity- and acceleration-limited.
- `activate`, `change_state`, `lifecycle_state`, `AUTOSTART`: lifecycle transitions of a
  node under test (or the parameter that makes it configure and activate itself).
- `make_checkpoint_for`, `scale_action_decoder`, `backbone_id`: random checkpoints matching
  embodiment YAMLs (gr00t_policy.testing.checkpoints, ROS-free).
- `imported_modules`, `offenders`: static import scans for the package-boundary tests.
- `static_robot_yaml`: an embodiment YAML for a stand-in robot whose joint states do not
  follow the commands (System 1's tracking check off).
"""

from gr00t_common.probe import RECORDING, RELIABLE, RosProbe, wait_until
from gr00t_policy.testing.checkpoints import backbone_id, make_checkpoint_for, scale_action_decoder
from gr00t_policy.testing.imports import imported_modules, offenders
from gr00t_testing.commands import CommandRecorder, assert_commands_safe
from gr00t_testing.feeder import InputFeeder
from gr00t_testing.lifecycle import AUTOSTART, activate, change_state
from gr00t_testing.lifecycle import state as lifecycle_state
from gr00t_testing.processes import NodeProcess, bringup_command, instruct_command
from gr00t_testing.stand_in import static_robot_yaml

__all__ = ["AUTOSTART", "CommandRecorder", "InputFeeder", "NodeProcess", "RECORDING", "RELIABLE",
           "RosProbe", "activate", "assert_commands_safe", "backbone_id", "bringup_command",
           "change_state", "imported_modules", "instruct_command", "lifecycle_state",
           "static_robot_yaml",
           "make_checkpoint_for", "offenders", "scale_action_decoder", "wait_until"]
