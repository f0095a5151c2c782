#!/usr/bin/env python3
"""Does the policy plan more than one way to do an instruction? Plans from fresh noise, per scene.

    source env.sh
    python bench/plan_modes.py --tasks either --scenes 12 --plans 32 [--checkpoint C]

For each scene (seeds from --seed, gr00t-eval's tasks: task = tasks[seed % len(tasks)]) the
robot stands at its start posture; System 2's encoder reads the head camera and the
instruction once, then System 1's Planner (the deployed code path, as bench/policy_loop.py)
samples --plans chunks, each from its own noise. Each chunk is labelled by the arm that moves
further over it (the largest change of a shoulder joint from the start posture, left against
right). A head with one way per scene labels every plan alike; a head that learnt two ways
(`gr00t-collect --tasks either` draws the hand 50/50, docs/plans/rtc_two_modes.md) splits
them. Prints per scene the plans per arm, then how many scenes have both arms in at least
--min-share of their plans. No ROS, no timing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def arm_of(rows: np.ndarray, start: np.ndarray, left: np.ndarray, right: np.ndarray) -> str:
    """'left' or 'right': the arm whose shoulder joints move further from `start` (A,) over
    the chunk `rows` (H, A)."""
    moved = np.abs(rows - start).max(axis=0)  # (A,)
    return "left" if moved[left].max() > moved[right].max() else "right"


def main() -> int:
    from common import add_policy_args
    from gr00t_sim.evaluation.schedule import TASK_SETS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_policy_args(ap, count="--scenes", default_count=12)
    ap.add_argument("--tasks", default="either", choices=TASK_SETS)
    ap.add_argument("--plans", type=int, default=32, help="chunks sampled per scene")
    ap.add_argument("--min-share", type=float, default=0.1,
                    help="a scene has two ways when each arm has at least this share of plans")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the VLM)")
    args = ap.parse_args()
    if args.scenes < 1 or args.plans < 2 or not 0 < args.min_share <= 0.5:
        ap.error("--scenes >= 1, --plans >= 2 and --min-share in (0, 0.5]")

    import torch

    from common import InProcessPolicy
    from gr00t_sim.evaluation.schedule import task_for_seed, task_list
    from gr00t_sim.world import HeadCamera, SimWorld

    torch.set_num_threads(args.threads)
    policy = InProcessPolicy(Path(args.checkpoint), Path(args.embodiment), seed=args.seed)
    emb = policy.emb
    names = list(emb.action_joints)
    left = np.array([i for i, n in enumerate(names) if n.startswith("left_shoulder")])
    right = np.array([i for i, n in enumerate(names) if n.startswith("right_shoulder")])
    if not (left.size and right.size):
        ap.error(f"{emb.name}'s action joints have no left_shoulder*/right_shoulder* joints")
    world = SimWorld()
    camera = HeadCamera(world)
    index = {n: i for i, n in enumerate(world.robot_joints)}
    state_idx = np.array([index[n] for n in emb.state_joints])
    action_idx = np.array([index[n] for n in names])
    tasks = task_list(args.tasks)
    print(f"checkpoint {args.checkpoint}; {args.scenes} scene(s) from seed {args.seed}, "
          f"{args.plans} plans each; {policy.name}", flush=True)
    t0 = time.perf_counter()
    both = 0
    for seed in range(args.seed, args.seed + args.scenes):
        instruction = task_for_seed(seed, tasks)
        world.reset(seed)
        policy.observe(camera.render(world.data), instruction, world.time)
        q = world.joint_positions()
        x, a = q[state_idx], q[action_idx]
        arms = [arm_of(policy.plan(x, a, world.time), a, left, right)
                for _ in range(args.plans)]
        n_left = arms.count("left")
        two = min(n_left, args.plans - n_left) >= args.min_share * args.plans
        both += two
        print(f"{seed}  {instruction:42s} left {n_left:3d}  right {args.plans - n_left:3d}"
              f"{'  both' if two else ''}", flush=True)
    camera.close()
    print(f"scenes with both arms in >= {args.min_share:.0%} of their plans: {both}/"
          f"{args.scenes} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
