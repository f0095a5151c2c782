#!/usr/bin/env python3
"""The policy in the data-collection loop itself: no ROS, no timing, one process.

    source env.sh
    python bench/policy_loop.py --episodes 24 --seed 100000              # like gr00t-eval's seeds
    python bench/policy_loop.py --tasks touch --exec-rows 4

A diagnostic, not a benchmark of the runtime: it tells whether a closed-loop failure comes
from the policy or from the graph around it. Each episode runs exactly the loop gr00t-collect
recorded the expert with (gr00t_sim.collect.DemoRecorder.record): every action_dt, render the
head camera, read the joint state, and set the joint targets, here from the policy instead
of the expert, one chunk per --exec-rows rows. The policy is the deployed code path without
its timing: System 2's BackboneRunner.encode, then System 1's Planner (normalize, pad,
sample on the --backend runner, unnormalize), as bench/baseline_node.py uses them. Episodes, tasks and the success criterion are gr00t-eval's (task =
tasks[seed % len(tasks)], gr00t_sim.world's success test at any step). Prints one line per
episode and the success rate per task kind; exits 1 if no episode ran.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np


def main() -> int:
    from common import add_policy_args

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_policy_args(ap)
    ap.add_argument("--episode-s", type=float, default=6.0, help="simulated seconds per episode")
    ap.add_argument("--tasks", default="all", choices=("all", "touch", "raise"))
    ap.add_argument("--exec-rows", type=int, default=1,
                    help="chunk rows executed (one per action_dt) before the next observation")
    ap.add_argument("--backend", default="onnxruntime", help="System 1's action head backend")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the VLM)")
    ap.add_argument("--collect-tasks", action="store_true",
                    help="give seed s the task gr00t-collect recorded for it (with --seed < "
                         "100000: the training episodes themselves) instead of gr00t-eval's")
    ap.add_argument("--noise-scale", type=float, default=1.0,
                    help="System 1's noise_scale (initial noise std of the sampler)")
    args = ap.parse_args()
    if args.episodes < 1 or args.exec_rows < 1 or args.episode_s <= 0:
        ap.error("--episodes and --exec-rows must be >= 1 and --episode-s > 0")

    import mujoco
    import torch

    from common import InProcessPolicy
    from gr00t_sim.collect import task_for_seed as collect_task_for_seed
    from gr00t_sim.evaluation.schedule import task_for_seed, task_list
    from gr00t_sim.tasks import Task
    from gr00t_sim.world import SimWorld, HeadCamera

    torch.set_num_threads(args.threads)
    ckpt = Path(args.checkpoint)
    policy = InProcessPolicy(ckpt, Path(args.embodiment), backend=args.backend, seed=args.seed,
                             noise_scale=args.noise_scale)
    emb = policy.emb
    if args.exec_rows > policy.horizon:
        ap.error(f"--exec-rows {args.exec_rows} exceeds the action horizon {policy.horizon}")
    world = SimWorld()
    camera = HeadCamera(world)
    index = {n: i for i, n in enumerate(world.robot_joints)}
    state_idx = np.array([index[n] for n in emb.state_joints])
    action_idx = np.array([index[n] for n in emb.action_joints])
    substeps = int(round(emb.action_dt / world.model.opt.timestep))
    steps = int(round(args.episode_s / emb.action_dt))
    tasks = task_list(args.tasks)
    print(f"checkpoint {ckpt}; {args.episodes} episode(s) from seed {args.seed}, "
          f"{args.episode_s:g} s each; {args.exec_rows} row(s) per chunk; {policy.name}",
          flush=True)

    def chunk(instruction: str) -> np.ndarray:
        policy.observe(camera.render(world.data), instruction, world.time)
        q = world.joint_positions()
        return policy.plan(q[state_idx], q[action_idx], world.time)  # (H, A)

    results: dict[str, list[bool]] = defaultdict(list)
    start = time.perf_counter()
    for seed in range(args.seed, args.seed + args.episodes):
        instruction = (collect_task_for_seed(seed) if args.collect_tasks
                       else task_for_seed(seed, tasks))
        task = Task.parse(instruction)
        world.reset(seed)
        success, best, rows = False, float("inf"), np.empty((0, emb.action_dim))
        near = {c: float("inf") for c in world.cube_positions()}  # closest approach per cube
        for _ in range(steps):
            if len(rows) == 0:
                rows = chunk(instruction)[: args.exec_rows]
            world.set_targets(dict(zip(emb.action_joints, rows[0])))
            rows = rows[1:]
            world.step(substeps)
            mujoco.mj_forward(world.model, world.data)
            success = success or world.success(task)
            palm = world.palm_position(task.side)
            if task.kind == "touch":
                for c, p in world.cube_positions().items():
                    near[c] = min(near[c], float(np.linalg.norm(palm - p)))
                best = near[task.color]
            else:
                best = min(best, -float(palm[2] - world.shoulder_position(task.side)[2]))
        results[task.kind].append(success)
        what = (f"min dist {best:.3f} m (closest to each cube: "
                + ", ".join(f"{c} {d:.3f}" for c, d in near.items()) + ")"
                if task.kind == "touch" else f"max height {-best:.3f} m")
        print(f"{seed}  {instruction:42s} {'yes' if success else 'no ':3s}  {what}", flush=True)
    camera.close()
    total = [s for v in results.values() for s in v]
    for kind, v in sorted(results.items()):
        print(f"{kind:6s} {sum(v)}/{len(v)} = {100 * np.mean(v):.0f}%")
    print(f"overall {sum(total)}/{len(total)} = {100 * np.mean(total):.0f}%  "
          f"({time.perf_counter() - start:.0f} s)")
    return 0 if total else 1


if __name__ == "__main__":
    sys.exit(main())
