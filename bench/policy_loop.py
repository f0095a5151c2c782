#!/usr/bin/env python3
"""The policy in the data-collection loop itself: no ROS, no timing, one process.

    source env.sh
    python bench/policy_loop.py --episodes 24 --seed 100000              # like gr00t-eval's seeds
    python bench/policy_loop.py --tasks touch --exec-rows 4
    python bench/policy_loop.py --exec-rows 4 --delay-rows 4 [--forecast]   # a slow head

A diagnostic, not a benchmark of the runtime: it tells whether a closed-loop failure comes
from the policy or from the graph around it. Each episode runs exactly the loop gr00t-collect
recorded the expert with (gr00t_sim.collect.DemoRecorder.record): every action_dt, render the
head camera, read the joint state, and set the joint targets, here from the policy instead
of the expert, one chunk per --exec-rows rows. With --delay-rows D each chunk takes effect
D rows after the state it was planned from (a slow head; the rows before it come from the
previous chunk, the first chunk's wait holds the start posture): its rows D .. D+E-1
execute, or, with --forecast, it is planned from the state moved along the previous chunk
over those D rows (x + c(t + D dt) - c(t), a Smith predictor with the tracking model "each
joint follows its set-point with a constant lag"; tried for System 1 on 2026-12-05 and not
kept: docs/BENCHMARKS.md) and its rows 0 .. E-1 execute. The policy is the deployed code
path without its timing: System 2's BackboneRunner.encode, then System 1's Planner
(normalize, pad, sample on the --backend runner, unnormalize), as bench/baseline_node.py
uses them. Episodes, tasks and the success criterion are gr00t-eval's (task =
tasks[seed % len(tasks)], gr00t_sim.world's success test at any step, and, strict, at the
episode's last step). Prints one line per episode (a touch: also the distance at the end, how far
its cube was pushed and which body touched it first, when) and the success rates per task kind;
exits 1 if no episode ran.
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
    ap.add_argument("--delay-rows", type=int, default=0,
                    help="rows between a chunk's state and its first executed row")
    ap.add_argument("--image-lag-rows", type=int, default=0,
                    help="plan on the camera image of this many rows before the state (System "
                         "2's tokens are older than the state in the graph)")
    ap.add_argument("--forecast", action="store_true",
                    help="with --delay-rows: plan from the forecast state (module docstring)")
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
    from gr00t_policy.runtime.chunk import Chunk
    from gr00t_sim.world import SimWorld, HeadCamera

    torch.set_num_threads(args.threads)
    ckpt = Path(args.checkpoint)
    policy = InProcessPolicy(ckpt, Path(args.embodiment), backend=args.backend, seed=args.seed,
                             noise_scale=args.noise_scale)
    emb = policy.emb
    if args.exec_rows + args.delay_rows > policy.horizon or args.delay_rows < 0:
        ap.error(f"--exec-rows {args.exec_rows} plus --delay-rows {args.delay_rows} exceeds "
                 f"the action horizon {policy.horizon} (or the delay is negative)")
    world = SimWorld()
    camera = HeadCamera(world)
    index = {n: i for i, n in enumerate(world.robot_joints)}
    state_idx = np.array([index[n] for n in emb.state_joints])
    action_idx = np.array([index[n] for n in emb.action_joints])
    substeps = int(round(emb.action_dt / world.model.opt.timestep))
    steps = int(round(args.episode_s / emb.action_dt))
    tasks = task_list(args.tasks)
    print(f"checkpoint {ckpt}; {args.episodes} episode(s) from seed {args.seed}, "
          f"{args.episode_s:g} s each; {args.exec_rows} row(s) per chunk, {args.delay_rows} "
          f"row(s) of delay{', forecast' if args.forecast else ''}; {policy.name}", flush=True)
    dt, delay, every = emb.action_dt, args.delay_rows, args.exec_rows
    limits = emb.position_limits  # (A, 2)
    in_state = np.array([n in emb.state_joints for n in emb.action_joints])  # (A,)
    state_of_action = emb.state_indices(np.array(emb.action_joints)[in_state])  # (A',)

    def chunk(instruction: str, k: int, previous: Chunk | None) -> Chunk:
        """The chunk planned at row k, anchored (in rows) where its row 0 is for."""
        policy.observe(images[max(len(images) - 1 - args.image_lag_rows, 0)], instruction,
                       world.time)
        q = world.joint_positions()
        x, a, anchor = q[state_idx], q[action_idx], k
        if args.forecast and delay > 0 and previous is not None:
            # x(t + L) = x(t) + c(t + L) - c(t): moved along what the previous chunk commands
            step = previous.at((k + delay) * dt) - previous.at(k * dt)  # (A,)
            moved = np.clip(a + step, limits[:, 0], limits[:, 1])  # (A,)
            x = x.copy()
            x[state_of_action] += (moved - a)[in_state]
            a, anchor = moved, k + delay
        rows = policy.plan(x, a, world.time)  # (H, A)
        return Chunk(stamp=anchor * dt, action_dt=dt, start=a, rows=rows)

    results: dict[str, list[bool]] = defaultdict(list)  # success at any step, per task kind
    at_end: dict[str, list[bool]] = defaultdict(list)  # held at the last step
    start = time.perf_counter()
    for seed in range(args.seed, args.seed + args.episodes):
        instruction = (collect_task_for_seed(seed) if args.collect_tasks
                       else task_for_seed(seed, tasks))
        task = Task.parse(instruction)
        world.reset(seed)
        success, held, best = False, False, float("inf")
        near = {c: float("inf") for c in world.cube_positions()}  # closest approach per cube
        cube0 = world.cube_positions()  # where the cubes stood at the reset
        touched: tuple[str, float] | None = None  # the first body to touch the named cube, when
        target = world.joint_positions()[action_idx]  # (A,) held until the first chunk
        planned: dict[int, np.ndarray] = {}  # row -> target (A,)
        newest = None
        images: list[np.ndarray] = []  # the camera at each row so far (with --image-lag-rows)
        for k in range(steps):
            if args.image_lag_rows or k % every == 0:
                images.append(camera.render(world.data))
                del images[:-args.image_lag_rows - 1]
            if k % every == 0:
                newest = chunk(instruction, k, newest)
                anchor = int(round(newest.stamp / dt))  # the row newest.rows[0] is for
                for i in range(k + delay, k + delay + every):
                    planned[i] = newest.rows[i - anchor]
            target = planned.pop(k, target)
            world.set_targets(dict(zip(emb.action_joints, target)))
            world.step(substeps)
            mujoco.mj_forward(world.model, world.data)
            held = world.success(task)
            success = success or held
            palm = world.palm_position(task.side)
            if task.kind == "touch":
                for c, p in world.cube_positions().items():
                    near[c] = min(near[c], float(np.linalg.norm(palm - p)))
                best = near[task.color]
                if touched is None and (body := world.cube_toucher(task.color)):
                    touched = (body, world.time)
            else:
                best = min(best, -float(palm[2] - world.shoulder_position(task.side)[2]))
        results[task.kind].append(success)
        at_end[task.kind].append(held)
        if task.kind == "touch":
            pushed = float(np.linalg.norm(world.cube_position(task.color) - cube0[task.color]))
            what = (f"min dist {best:.3f} m, at the end {world.verdict(task).margin:.3f} m "
                    "(closest to each cube: " + ", ".join(f"{c} {d:.3f}" for c, d in near.items())
                    + f"); cube pushed {pushed:.3f} m, first touched by "
                    + (f"{touched[0]} at {touched[1]:.2f} s" if touched else "nothing"))
        else:
            what = f"max height {-best:.3f} m"
        print(f"{seed}  {instruction:42s} {'yes' if success else 'no ':3s} "
              f"{'held' if held else '    '}  {what}", flush=True)
    camera.close()
    total = [s for v in results.values() for s in v]
    held = [s for v in at_end.values() for s in v]
    for kind, v in sorted(results.items()):
        print(f"{kind:6s} any time {sum(v)}/{len(v)} = {100 * np.mean(v):.0f}%, held at the "
              f"end {sum(at_end[kind])}/{len(v)}")
    print(f"overall any time {sum(total)}/{len(total)} = {100 * np.mean(total):.0f}%, held at "
          f"the end {sum(held)}/{len(held)} = {100 * np.mean(held):.0f}%  "
          f"({time.perf_counter() - start:.0f} s)")
    return 0 if total else 1


if __name__ == "__main__":
    sys.exit(main())
