#!/usr/bin/env python3
"""How far real-time chunking's guidance can move a checkpoint's chunks (no ROS, one process).

    source env.sh
    python bench/rtc_guidance.py --seeds 4 [--checkpoint checkpoints/nano] [--beta 5]

For each held-out scene (gr00t-eval's seeds and tasks): render the head camera at the reset,
encode it with the instruction (System 2's BackboneRunner), then on the torch runner draw two
chunks from the same state and tokens with different noise: `plain` and a `target` (what a
previous chunk from the same situation could be). Guide a sample from plain's noise towards
the target with every row and action column weighted (`runner.sample_guided`) and print, in
joint units (rad), how far plain and the guided sample are from the target, plus the
singular values of d(A_hat)/d(x) (A_hat = x + (1 - t) v) at each Euler step: the guidance
moves the sample by about dt * weight * J^T J of the error per step, so a denoiser whose
Jacobian is small (a policy nearly deterministic given its inputs) leaves little to guide.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=str(REPO / "checkpoints" / "nano"))
    ap.add_argument("--embodiment", default=str(REPO / "config" / "unitree_g1.yaml"))
    ap.add_argument("--seeds", type=int, default=4, help="scenes, from seed 100000")
    ap.add_argument("--beta", type=float, default=5.0, help="the guidance clip")
    ap.add_argument("--steps", type=int, default=4, help="denoising steps")
    args = ap.parse_args()

    import torch

    from gr00t_policy.embodiment import load_embodiment
    from gr00t_policy.runtime.bundle import PolicyBundle
    from gr00t_sim.evaluation.schedule import task_for_seed, task_list
    from gr00t_sim.world import SimWorld, HeadCamera

    torch.set_num_threads(2)
    emb = load_embodiment(args.embodiment)
    bundle = PolicyBundle.open(args.checkpoint, emb)
    encoder = bundle.backbone_runner()
    runner = bundle.action_runner("torch", num_steps=args.steps)
    proc = bundle.processor
    world = SimWorld()
    camera = HeadCamera(world)
    index = {n: i for i, n in enumerate(world.robot_joints)}
    state_idx = np.array([index[n] for n in emb.state_joints])
    cols = proc.action_mask()
    weights = np.repeat(cols[None, :], runner.horizon, axis=0).astype(np.float32)
    rng = np.random.default_rng(0)
    print(f"{args.checkpoint}: {args.steps} steps, beta {args.beta:g}; distances are mean "
          "|chunk - target| over rows and action joints, rad")
    for seed in range(100_000, 100_000 + args.seeds):
        instruction = task_for_seed(seed, task_list("all"))
        world.reset(seed)
        tokens, mask = encoder.encode([camera.render(world.data)], instruction)
        runner.set_conditioning(tokens, mask)
        state = proc.state(world.joint_positions()[state_idx])  # (S_max,)
        shape = (runner.horizon, runner.max_action_dim)
        noise, other = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
        plain, target = runner.sample(state, noise), runner.sample(state, other)
        guided = runner.sample_guided(state, noise, target, weights, args.beta)
        raw = {k: proc.unpad_actions(v) for k, v in
               (("plain", plain), ("target", target), ("guided", guided))}
        far = np.abs(raw["plain"] - raw["target"]).mean()
        near = np.abs(raw["guided"] - raw["target"]).mean()
        print(f"{seed} {instruction:42s} plain {far:.4f}  guided {near:.4f}  "
              f"({100 * (1 - near / far):.0f}% closer)")
        print("    d(A_hat)/dx singular values, median / max per step: " + ", ".join(
            f"t={t:.2f} {med:.3f}/{top:.3f}"
            for t, med, top in jacobian_spectrum(runner, state, noise, cols)), flush=True)
    camera.close()
    return 0


def jacobian_spectrum(runner, state: np.ndarray, noise: np.ndarray, cols: np.ndarray):
    """(t, median, max) singular value of d(A_hat)/dx over the action columns, per step,
    along plain sampling from `noise`."""
    import torch

    head, slot = runner.head, runner._slot
    cond = type(runner._cond)(*(c.clone() for c in runner._cond))  # out of inference mode
    with torch.no_grad():
        feats = head.encode_state(torch.from_numpy(state).view(1, 1, -1), slot)
    x = torch.from_numpy(noise)[None]  # (1, H, A_max)
    a = int(cols.sum())
    out = []
    for k in range(runner.num_steps):
        t = k / runner.num_steps
        bucket = torch.tensor([int(t * 1000)])

        def a_hat(z, t=t, bucket=bucket):
            return z + (1 - t) * head.velocity(z, bucket, feats, cond, slot)

        jac = torch.autograd.functional.jacobian(a_hat, x)  # (1, H, A_max, 1, H, A_max)
        h = x.shape[1]
        j = jac[0, :, :a, 0, :, :a].reshape(h * a, h * a)
        sv = torch.linalg.svdvals(j)
        out.append((t, float(sv.median()), float(sv.max())))
        with torch.no_grad():
            x = x + head.velocity(x, bucket, feats, cond, slot) / runner.num_steps
    return out


if __name__ == "__main__":
    sys.exit(main())
