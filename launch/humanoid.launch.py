"""Launch the gr00t_ros graph: System 2 (VLM), System 1 (action head) and optionally the sim.

    ros2 launch gr00t_bringup humanoid.launch.py embodiment:=unitree_g1 checkpoint:=/ckpt

A thin adapter: gr00t_bringup.graph.build_graph decides the nodes and their parameters (the
same description `gr00t-bringup run` starts); this file only turns it into launch_ros Nodes.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from gr00t_bringup.graph import build_graph, may_use_realtime

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
]


def _is_true(text: str) -> bool:
    return text.strip().lower() in ("true", "1", "yes", "on")


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
    )
    return [
        Node(package=n.package, executable=n.executable, name=n.name, namespace=n.namespace,
             parameters=[n.parameters], remappings=n.remappings,
             additional_env=n.env, output="screen", emulate_tty=True,
             prefix=(f"chrt -f {n.realtime_priority}"
                     if n.realtime_priority and may_use_realtime(n.realtime_priority) else None))
        for n in graph.nodes
    ]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, default, description in ARGUMENTS]
        + [OpaqueFunction(function=_nodes)]
    )
