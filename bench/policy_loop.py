#!/usr/bin/env python3
"""The policy in the data-collection loop itself: no ROS, no timing, one process.

    source env.sh
    python bench/policy_loop.py --episodes 24 --seed 100000              # like gr00t-eval's seeds
    python bench/policy_loop.py --tasks touch --exec-rows 4 --fixed-noise

A diagnostic, not a benchmark of the runtime: it tells whether a closed-loop failure comes
from the policy or from the graph around it. Each episode runs exactly the loop gr00t-collect
recorded the expert with (gr00t_sim.collect.DemoRecorder.record): every action_dt, render the
head camera, read the joint state, and set the joint targets, here from the policy
(torch, the checkpoint's backbone and action head, one chunk per --exec-rows rows) instead
of the expert. Episodes, tasks and the success criterion are gr00t-eval's (task =
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

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=str(REPO / "checkpoints" / "nano"))
    ap.add_argument("--embodiment", default=str(REPO / "config" / "unitree_g1.yaml"))
    ap.add_argument("--episodes", type=int, default=8)
    ap.add_argument("--seed", type=int, default=100000, help="first seed (training uses < 100000)")
    ap.add_argument("--episode-s", type=float, default=6.0, help="simulated seconds per episode")
    ap.add_argument("--tasks", default="all", choices=("all", "touch", "raise"))
    ap.add_argument("--exec-rows", type=int, default=1,
                    help="chunk rows executed (one per action_dt) before the next observation")
    ap.add_argument("--fixed-noise", action="store_true", help="the same noise for every chunk")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    args = ap.parse_args()
    if args.episodes < 1 or args.exec_rows < 1 or args.episode_s <= 0:
        ap.error("--episodes and --exec-rows must be >= 1 and --episode-s > 0")

    import mujoco
    import torch

    from gr00t_bringup.evaluate import task_for_seed, task_list
    from gr00t_policy.backbone import preprocess_images
    from gr00t_policy.checkpoint import load_checkpoint
    from gr00t_policy.embodiment import load_embodiment
    from gr00t_policy.normalization import Normalizer
    from gr00t_policy.prompt import PromptBuilder
    from gr00t_sim.world import G1World, HeadCamera, Task

    torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.checkpoint)
    policy, ah = ckpt.policy.eval(), ckpt.config.action_head
    emb = load_embodiment(args.embodiment)
    if args.exec_rows > ah.action_horizon:
        ap.error(f"--exec-rows {args.exec_rows} exceeds the action horizon {ah.action_horizon}")
    norm = Normalizer.from_metadata(ckpt.metadata, emb.tag,
                                    [(k.key, k.mode) for k in emb.state_keys],
                                    [(k.key, k.mode) for k in emb.action_keys])
    prompt = PromptBuilder(ckpt.tokenizer, ckpt.config.backbone)
    world = G1World()
    camera = HeadCamera(world.model)
    index = {n: i for i, n in enumerate(world.robot_joints)}
    state_idx = np.array([index[n] for n in emb.state_joints])
    substeps = int(round(emb.action_dt / world.model.opt.timestep))
    steps = int(round(args.episode_s / emb.action_dt))
    tasks = task_list(args.tasks)
    print(f"checkpoint {args.checkpoint}; {args.episodes} episode(s) from seed {args.seed}, "
          f"{args.episode_s:g} s each; {args.exec_rows} row(s) per chunk; "
          f"{'fixed' if args.fixed_noise else 'fresh'} noise", flush=True)

    def chunk(encoded, frame: np.ndarray, seed: int) -> np.ndarray:
        state = np.zeros((1, 1, ah.max_state_dim), np.float32)
        state[0, 0, :emb.state_dim] = norm.normalize_state(world.joint_positions()[state_idx])
        batch = {"input_ids": torch.from_numpy(encoded.input_ids)[None],
                 "attention_mask": torch.from_numpy(encoded.attention_mask)[None],
                 "pixel_values": preprocess_images([frame], ckpt.config.backbone)[None],
                 "state": torch.from_numpy(state),
                 "embodiment_id": torch.tensor([emb.slot])}
        gen = torch.Generator().manual_seed(seed)
        noise = torch.randn(1, ah.action_horizon, ah.max_action_dim, generator=gen)
        with torch.no_grad():
            actions = policy.sample(batch, noise)  # (1, H, A_max) normalized
        return norm.unnormalize_action(actions[0, :, :emb.action_dim].numpy())  # (H, A)

    results: dict[str, list[bool]] = defaultdict(list)
    noise_seed = 0
    start = time.perf_counter()
    for seed in range(args.seed, args.seed + args.episodes):
        instruction = task_for_seed(seed, tasks)
        task = Task.parse(instruction)
        world.reset(seed)
        encoded = prompt.encode(instruction, num_images=ckpt.config.backbone.num_views)
        success, best, rows = False, float("inf"), np.empty((0, emb.action_dim))
        for _ in range(steps):
            if len(rows) == 0:
                noise_seed = 0 if args.fixed_noise else noise_seed + 1
                rows = chunk(encoded, camera.render(world.data), noise_seed)[: args.exec_rows]
            world.set_targets(dict(zip(emb.action_joints, rows[0])))
            rows = rows[1:]
            world.step(substeps)
            mujoco.mj_forward(world.model, world.data)
            success = success or world.success(task)
            palm = world.palm_position(task.side)
            if task.kind == "touch":
                best = min(best, float(np.linalg.norm(palm - world.cube_position(task.color))))
            else:
                best = min(best, -float(palm[2] - world.shoulder_position(task.side)[2]))
        results[task.kind].append(success)
        what = f"min dist {best:.3f} m" if task.kind == "touch" else f"max height {-best:.3f} m"
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
