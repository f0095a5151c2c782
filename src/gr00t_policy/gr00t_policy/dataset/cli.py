"""``gr00t-dataset``: make and inspect LeRobot datasets.

    gr00t-dataset from-bag BAG... --embodiment config/unitree_g1.yaml --out DIR
    gr00t-dataset info DIR [--embodiment YAML]
"""

from __future__ import annotations

import argparse
import logging
from typing import Sequence

from gr00t_policy import dataclass_cli
from gr00t_policy.cli_errors import describe
from gr00t_policy.dataset.bag_streams import DEFAULT_INSTRUCTION, DEFAULT_JOINT_STATES, BagTopics
from gr00t_policy.dataset.layout import DatasetError
from gr00t_policy.dataset.resample import ResampleConfig
from gr00t_policy.embodiment.joint_prefix import joint_prefix_arg


def _from_bag(args: argparse.Namespace) -> int:
    from gr00t_policy.dataset.from_bag import convert_bags
    from gr00t_policy.embodiment import load_embodiment

    emb = load_embodiment(args.embodiment)
    # Only an absent --max-state-age takes the YAML's limit: a given one, 0 included, is
    # ResampleConfig's to check, and a FieldError becomes the usage error naming the flag.
    state_age = emb.staleness.state_s if args.max_state_age is None else args.max_state_age
    cfg = dataclass_cli.build(
        args.parser, ResampleConfig, args,
        {"max_frame_age": "--max-frame-age", "max_gap_steps": "--max-gap-steps",
         "min_steps": "--min-steps"},
        {("max_state_age", None): "--max-state-age"},
        dt=emb.action_dt, max_state_age=state_age)
    topics = BagTopics(joint_states=args.joint_states_topic, instruction=args.instruction_topic,
                       action_topic=args.action_topic, joint_prefix=args.joint_prefix,
                       action_joint_prefix=args.action_joint_prefix)
    reports = convert_bags(args.bags, emb, args.out, topics=topics, cfg=cfg, task=args.task,
                           codec=args.codec, overwrite=args.overwrite, append=args.append,
                           skip_bad=args.skip_bad, keep_system1_holds=args.keep_system1_holds)
    for report in reports:
        print("\n".join(report.lines()))
    episodes = sum(len(r.episodes) for r in reports)
    steps = sum(r.steps for r in reports)
    left_out = [r for r in reports if r.refused]
    before = [r for r in reports if r.already and not r.episodes]
    parts_out = sum(len(r.parts_left_out) for r in reports)
    print(f"wrote {episodes} episodes ({steps} steps at {1 / emb.action_dt:g} fps) from "
          f"{len(reports) - len(left_out) - len(before)} bags to {args.out}"
          + (f"; {len(before)} bags were in it already (above)" if before else "")
          + (f"; left out {len(left_out)} bags (above)" if left_out else "")
          + (f"; left out {parts_out} parts of bags cut where the clock went back (above)"
             if parts_out else ""))
    return 1 if left_out or parts_out else 0


def _info(args: argparse.Namespace) -> int:
    from gr00t_policy.dataset.reader import LeRobotDataset
    from gr00t_policy.embodiment import load_embodiment

    emb = load_embodiment(args.embodiment) if args.embodiment else None
    ds = LeRobotDataset(args.dataset, embodiment=emb)
    print(f"{ds.root}: LeRobot {ds.version}, {ds.num_episodes} episodes, {ds.num_frames} "
          f"frames at {ds.fps:g} fps, cameras {ds.cameras}")
    print(f"  state keys {ds.key_ranges('state')}, action keys {ds.key_ranges('action')}")
    if ds.left_out["state"] or ds.left_out["action"]:
        print(f"  taken by name for embodiment {emb.name!r}; left out: state keys "
              f"{ds.left_out['state']}, action keys {ds.left_out['action']}")
    for index, task in sorted(ds.tasks.items()):
        print(f"  task {index}: {task}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gr00t-dataset", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    fb = sub.add_parser("from-bag", help="convert rosbag2 MCAP bags into a LeRobot v2 dataset",
                        description="Convert rosbag2 MCAP bags (one recording each, e.g. from "
                        "gr00t-record) into a LeRobot v2 dataset for one embodiment, on the "
                        "dataset grid (1 / action_dt) with the runtime's pairing rules.")
    fb.add_argument("bags", nargs="+", help="bag directories (or .mcap files)")
    fb.add_argument("--skip-bad", action="store_true",
                    help="leave out a bag that cannot be converted (named, with why) and convert "
                    "the others; of a bag cut where its recorder's clock went back, only the "
                    "part that cannot; exit status 1 if any was left out (default: refuse "
                    "them all before writing anything)")
    fb.add_argument("--keep-system1-holds", action="store_true",
                    help="keep the steps System 1 commanded while not running (holding on "
                    "stale inputs or no plan, a fault, disabled, deactivating: its "
                    "/gr00t/safety_state in the bag) as though the policy had chosen them "
                    "(default: leave them out and split the recording there)")
    fb.add_argument("--embodiment", required=True, help="embodiment YAML (e.g. config/unitree_g1.yaml)")
    fb.add_argument("--out", required=True, help="dataset directory to write")
    fb.add_argument("--task", default=None, help="instruction for every bag (default: each "
                    "bag's own, from gr00t-record's metadata or the instruction topic)")
    fb.add_argument("--joint-states-topic", default=DEFAULT_JOINT_STATES,
                    help="sensor_msgs/JointState topic with the state joints")
    fb.add_argument("--instruction-topic", default=DEFAULT_INSTRUCTION,
                    help="std_msgs/String topic with the instruction (when the bag's metadata "
                    "has none)")
    fb.add_argument("--action-topic", default=None,
                    help="a sensor_msgs/JointState topic with commanded positions (e.g. a "
                    "teleoperation leader) instead of the YAML's controller topics")
    fb.add_argument("--joint-prefix", default=None, type=joint_prefix_arg,
                    help="the robot's joint-name prefix (ros2_control's prefix, e.g. g1/): "
                    "every joint name in the bags is it + the YAML's name, and the dataset gets "
                    "the YAML's names (default: each bag's own, as gr00t-record's joint_prefix "
                    "kept it, else none; '' for none)")
    fb.add_argument("--action-joint-prefix", default=None, type=joint_prefix_arg,
                    help="the --action-topic's joint-name prefix where it is not the robot's "
                    "(a leader arm on its own driver, e.g. leader_ or '' for none; default: "
                    "each bag's own, as gr00t-record's action_joint_prefix kept it, else the "
                    "robot's)")
    fb.add_argument("--max-state-age", type=float, default=None,
                    help="s, > 0; oldest joint state a step may take (default: the YAML's "
                    "staleness.state_s)")
    fb.add_argument("--max-frame-age", type=float, default=ResampleConfig.max_frame_age,
                    help="s, > 0; oldest camera frame a step may take")
    fb.add_argument("--max-gap-steps", type=int, default=ResampleConfig.max_gap_steps,
                    help="steps without a command that repeat the previous action; longer "
                    "gaps end the episode")
    fb.add_argument("--min-steps", type=int, default=ResampleConfig.min_steps,
                    help="shorter runs of pairable steps are dropped")
    fb.add_argument("--codec", default="h264-lossless", choices=["h264-lossless", "h264"],
                    help="video codec")
    mode = fb.add_mutually_exclusive_group()
    mode.add_argument("--overwrite", action="store_true",
                      help="replace a dataset at --out, once the new one is complete (a failure "
                           "leaves the old one as it was)")
    mode.add_argument("--append", action="store_true", help="add to the dataset at --out")
    fb.set_defaults(run=_from_bag, parser=fb)
    info = sub.add_parser("info", help="summarise a LeRobot dataset (v2.0, v2.1 or v3.0)")
    info.add_argument("dataset", help="dataset directory")
    info.add_argument("--embodiment", default=None,
                      help="embodiment YAML: its state/action keys are taken by name from "
                      "meta/modality.json's ranges (as training reads them), or give the key "
                      "layout where that file is absent")
    info.set_defaults(run=_info)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except (DatasetError, ValueError) as exc:
        raise SystemExit(describe(exc, f"gr00t-dataset {args.command}: ")) from None


if __name__ == "__main__":
    raise SystemExit(main())
