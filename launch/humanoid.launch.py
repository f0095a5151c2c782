"""Launch the gr00t_ros graph: System 2 (VLM), System 1 (action head) and optionally the sim.

    ros2 launch gr00t_bringup humanoid.launch.py embodiment:=unitree_g1 checkpoint:=/ckpt
    ros2 launch gr00t_bringup humanoid.launch.py ... system2_params:="device:=cuda dtype:=bfloat16"

A thin adapter: gr00t_bringup.graph.build_graph decides the nodes and their parameters (the
same description `gr00t-bringup run` starts); this file only turns it into launch_ros Nodes.
The lifecycle nodes (System 1 and System 2, `NodeSpec.lifecycle`) are launch_ros
LifecycleNodes: each is asked to configure once launched and to activate once configured
(the standard ChangeState / OnStateTransition pattern); a failed configure is logged and
shuts the launch down, as `gr00t-bringup run` stops its graph. A later deactivate
(`ros2 lifecycle set /gr00t_system1 deactivate`) is not undone: only the configuring ->
inactive transition triggers the activation.
"""

from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, EmitEvent, LogInfo, OpaqueFunction,
                            RegisterEventHandler, Shutdown)
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition

from gr00t_bringup.graph import build_graph, may_use_realtime
from gr00t_bringup.overrides import parse_overrides

ARGUMENTS = [
    ("embodiment", "unitree_g1",
     "embodiment name (config/<name>.yaml in gr00t_bringup's share dir) or path to a YAML file"),
    ("checkpoint", "",
     "gr00t_ros checkpoint directory; empty picks checkpoints/nano"),
    ("backend", "onnxruntime", "System 1 action head backend: torch | onnxruntime | tensorrt"),
    ("sim", "false", "true to also start the MuJoCo simulator node (gr00t_sim)"),
    ("namespace", "", "ROS namespace for every node (empty = root)"),
    ("use_sim_time", "false",
     "true to make System 1 and 2 follow the simulator's /clock (it then publishes one)"),
    ("system1_params", "",
     "more System 1 parameters as space-separated NAME:=VALUE, e.g. 'chunk_mode:=rtc'"),
    ("system2_params", "",
     "more System 2 parameters as space-separated NAME:=VALUE, e.g. "
     "'device:=cuda dtype:=bfloat16'"),
]


def _is_true(text: str) -> bool:
    return text.strip().lower() in ("true", "1", "yes", "on")


def _change_state(node: LifecycleNode, transition_id: int) -> EmitEvent:
    return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                       transition_id=transition_id))


def _managed(node: LifecycleNode, name: str) -> list:
    """The node, its configure request, and the handlers that activate it once configured or
    shut the launch down when configure fails."""
    activate_when_configured = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=node, start_state="configuring", goal_state="inactive",
        entities=[_change_state(node, Transition.TRANSITION_ACTIVATE)]))
    # configure FAILURE: configuring -> unconfigured; an ERROR (in any transition) passes
    # through errorprocessing. A deliberate cleanup (cleaningup -> unconfigured) is no failure.
    stop_when_it_fails = [RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=node, start_state=failed_in, goal_state="unconfigured",
        entities=[LogInfo(msg=f"{name} failed to configure (the reason is in its output); "
                              "shutting down"),
                  Shutdown(reason=f"{name} failed to configure")]))
        for failed_in in ("configuring", "errorprocessing")]
    return [activate_when_configured, *stop_when_it_fails, node,
            _change_state(node, Transition.TRANSITION_CONFIGURE)]


def _nodes(context, *_args, **_kwargs):
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    graph = build_graph(
        embodiment=arg("embodiment"),
        checkpoint=arg("checkpoint") or None,
        backend=arg("backend"),
        sim=_is_true(arg("sim")),
        namespace=arg("namespace"),
        use_sim_time=_is_true(arg("use_sim_time")),
        system1_parameters=parse_overrides(arg("system1_params")),
        system2_parameters=parse_overrides(arg("system2_params")),
    )
    actions = []
    for n in graph.nodes:
        kwargs = dict(
            package=n.package, executable=n.executable, name=n.name, namespace=n.namespace,
            parameters=[n.parameters], remappings=n.remappings,
            additional_env=n.env, output="screen", emulate_tty=True,
            prefix=(f"chrt -f {n.realtime_priority}"
                    if n.realtime_priority and may_use_realtime(n.realtime_priority) else None))
        if n.lifecycle:
            actions += _managed(LifecycleNode(**kwargs), n.name)
        else:
            actions.append(Node(**kwargs))
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, default, description in ARGUMENTS]
        + [OpaqueFunction(function=_nodes)]
    )
