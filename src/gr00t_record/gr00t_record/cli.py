"""``gr00t-record``: record episodes on the robot as rosbag2 MCAP bags.

    gr00t-record run --embodiment config/unitree_g1.yaml --out bags/   # the recorder node
    gr00t-record start "touch the red cube with your left hand"        # episode N begins
    gr00t-record stop                                                  # ... and ends
    gr00t-record discard              # a failed one: moved to <out>/discarded/

``start``, ``stop`` and ``discard`` call the node's services (the same as ``ros2 service
call /gr00t_record/start gr00t_msgs/srv/SetInstruction "{instruction: '...'}"``,
``/gr00t_record/stop std_srvs/srv/Trigger`` and ``/gr00t_record/discard``). Exit status: 0
done, 1 refused, 2 no answer (or a bad argument). ``run`` exits 1 when the recorder cannot
start (a bad embodiment YAML or parameter: one line says which, and the fix).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from gr00t_common.ros_names import topic_arg
from gr00t_common.service_call import timeout_arg
from gr00t_policy.embodiment.joint_prefix import joint_prefix_arg
from gr00t_record.node import DISCARD_SERVICE, START_SERVICE, STOP_SERVICE

EXIT_DONE, EXIT_REFUSED, EXIT_UNAVAILABLE = 0, 1, 2


def call(srv_type, service: str, request, timeout: float):
    """Call ``service`` from a short-lived node (again if its reply is lost: the recorder
    answers a repeat like the first request, gr00t_record.node.REPEAT_S); None when it does
    not answer in time."""
    from gr00t_common.service_call import call_from_own_node

    return call_from_own_node("gr00t_record_cli", srv_type, service, request, timeout)[1]


def _param(name: str, value: str | list[str]) -> list[str]:
    """``-p name:=value`` with each string quoted (YAML, as JSON writes it): ROS reads an
    unquoted value as YAML, so ``--out 1207`` or ``--joint-prefix 007`` would reach the node
    as an integer, which a string parameter refuses."""
    text = (f"[{','.join(json.dumps(v) for v in value)}]" if isinstance(value, list)
            else json.dumps(value))
    return ["-p", f"{name}:={text}"]


def _run(args: argparse.Namespace, ros_args: list[str]) -> int:
    from gr00t_record.node import main as node_main

    params = [*_param("embodiment", args.embodiment), *_param("output_dir", args.out)]
    if args.action_topic:
        params += _param("action_topic", args.action_topic)
    if args.extra_topic:
        params += _param("extra_topics", args.extra_topic)
    if args.joint_prefix:
        params += _param("joint_prefix", args.joint_prefix)
    if args.action_joint_prefix is not None:
        params += _param("action_joint_prefix", args.action_joint_prefix)
    for name in ("joint_states_topic", "instruction_topic"):
        if getattr(args, name):
            params += _param(name, getattr(args, name))
    return node_main(["gr00t_record", "--ros-args", *params, *ros_args])


def _client(args: argparse.Namespace) -> int:
    from gr00t_msgs.srv import SetInstruction
    from std_srvs.srv import Trigger

    if args.command == "start":
        reply = call(SetInstruction, START_SERVICE,
                     SetInstruction.Request(instruction=args.instruction), args.timeout)
        ok = reply is not None and reply.accepted
    else:
        service = STOP_SERVICE if args.command == "stop" else DISCARD_SERVICE
        reply = call(Trigger, service, Trigger.Request(), args.timeout)
        ok = reply is not None and reply.success
    if reply is None:
        print(f"gr00t-record {args.command}: the recorder did not answer within "
              f"{args.timeout:g} s; is `gr00t-record run` up on this ROS_DOMAIN_ID?",
              file=sys.stderr)
        return EXIT_UNAVAILABLE
    print(reply.message)
    return EXIT_DONE if ok else EXIT_REFUSED


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ros_args: list[str] = []
    if "--ros-args" in argv:  # passed through to the node untouched
        at = argv.index("--ros-args")
        argv, ros_args = argv[:at], argv[at + 1:]
    p = argparse.ArgumentParser(prog="gr00t-record", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the recorder node (until Ctrl-C)")
    run.add_argument("--embodiment", required=True, help="embodiment YAML naming the topics")
    run.add_argument("--out", default="bags", help="directory of the episode bags")
    run.add_argument("--action-topic", default=None, type=topic_arg,
                     help="a sensor_msgs/JointState topic with commanded positions (teleop) "
                     "instead of the YAML's controller topics")
    run.add_argument("--joint-prefix", default="", type=joint_prefix_arg,
                     help="the robot's joint-name prefix (e.g. g1/), kept in each bag for "
                     "gr00t-dataset from-bag")
    run.add_argument("--action-joint-prefix", default=None, type=joint_prefix_arg,
                     help="the --action-topic's joint-name prefix where it is not the robot's "
                     "(a leader arm on its own driver; '' for none), kept in each bag")
    run.add_argument("--extra-topic", action="append", default=[], type=topic_arg,
                     help="another topic to record (repeatable)")
    # The same names as gr00t-dataset from-bag's, which reads these topics back.
    run.add_argument("--joint-states-topic", default=None, type=topic_arg,
                     help="the robot's sensor_msgs/JointState topic (default /joint_states)")
    run.add_argument("--instruction-topic", default=None, type=topic_arg,
                     help="the std_msgs/String instruction topic (default /gr00t/instruction)")
    start = sub.add_parser("start", help="begin an episode")
    start.add_argument("instruction", nargs="?", default="",
                       help="the episode's instruction (default: the last one published on "
                       "/gr00t/instruction)")
    stop = sub.add_parser("stop", help="end the episode")
    discard = sub.add_parser("discard", help="move the episode being recorded, else the last "
                             "one, out of the data (to <out>/discarded/)")
    for sp in (start, stop, discard):
        sp.add_argument("--timeout", type=timeout_arg, default=10.0,
                        help="seconds to wait (> 0; default 10)")
    args = p.parse_args(argv)
    if args.command == "run":
        return _run(args, ros_args)
    return _client(args)


if __name__ == "__main__":
    from gr00t_common.teardown import run_process

    run_process(main)
