#!/usr/bin/env python3
"""Does the policy's plan head for the cube the instruction names? (no ROS, no closed loop)

    source env.sh
    python bench/grounding_probe.py --scenes 16 --seed 100000      # held-out scenes
    python bench/grounding_probe.py --scenes 16 --seed 0           # training scenes

A diagnostic of where touch episodes fail. For each scene and hand, the scripted expert
records (clean, no perturbation) the three touch tasks "touch the {red, green, blue} cube with
your <hand> hand". Up to frame --frame the three recordings are the same (the lift does not
depend on the cube; the script checks that the states agree), so there the state says nothing
about the target and only the image and the words do. At that frame the policy plans a chunk
for each of the three instructions (the deployed path: System 2's BackboneRunner.encode, then
System 1's Planner; --samples noise draws averaged), and each plan is compared with the
expert's three chunks from that frame (RMS over the waist and arm joints, rad).

Prints, per instruction colour, how often the plan is nearest to the named cube's expert chunk
(chance: 1/3), the mean RMS to the named chunk and to the other two, and a confusion matrix
(rows: colour named, columns: colour whose expert chunk the plan is nearest), how far apart
the plans for the three colours are against the expert's, and how much System 2's tokens
change with the colour word, the hand word and the scene (another scene's image at the same
frame). A policy that ignores the words or cannot find the named colour in the image scores
~33%.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def main() -> int:
    from common import add_policy_args

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_policy_args(ap, count="--scenes", default_count=16)
    ap.add_argument("--frame", type=int, default=10,
                    help="the decision frame (action_dt rows from the start; the lift ends at 11)")
    ap.add_argument("--samples", type=int, default=8, help="noise draws averaged per plan")
    ap.add_argument("--backend", default="onnxruntime", help="System 1's action head backend")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the VLM)")
    args = ap.parse_args()
    if args.scenes < 1 or args.samples < 1 or args.frame < 0:
        ap.error("--scenes and --samples must be >= 1 and --frame >= 0")

    import torch

    from common import InProcessPolicy
    from gr00t_sim.collect import CollectConfig, DemoRecorder
    from gr00t_sim.tasks import CUBE_COLORS, SIDES

    torch.set_num_threads(args.threads)
    ckpt = Path(args.checkpoint)
    policy = InProcessPolicy(ckpt, Path(args.embodiment), backend=args.backend, seed=args.seed)
    emb = policy.emb
    recorder = DemoRecorder(emb, CollectConfig(noise_std=0.0))
    body = np.array(["_hand_" not in n for n in emb.action_joints])  # waist + arms
    state_pos = {n: i for i, n in enumerate(emb.state_joints)}
    action_in_state = np.array([state_pos[n] for n in emb.action_joints])
    horizon, t = policy.horizon, args.frame
    colors = list(CUBE_COLORS)
    confusion = np.zeros((len(colors), len(colors)), dtype=int)
    named_rms, other_rms = [], []
    plan_spread, expert_spread = [], []  # mean pairwise RMS between the three colours' chunks
    # How much System 2's tokens change (mean |difference| / mean |tokens|) with the colour
    # word, the hand word, and the scene (the previous scene's image, same instruction).
    changes: dict[str, list[float]] = {"colour word": [], "hand word": [], "scene image": []}
    previous_image: dict[str, np.ndarray] = {}  # per hand: the arm is posed the same

    pairs = [(a, b) for a in range(len(colors)) for b in range(a + 1, len(colors))]

    def change(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a - b).mean() / max(np.abs(a).mean(), 1e-12))

    start = time.perf_counter()
    print(f"checkpoint {ckpt}; {args.scenes} scene(s) from seed {args.seed} x {len(SIDES)} hands; "
          f"decision frame {t}; {args.samples} noise draws per plan; {policy.name}", flush=True)
    for seed in range(args.seed, args.seed + args.scenes):
        for side in SIDES:
            demos = [recorder.record(seed, f"touch the {c} cube with your {side} hand") for c in colors]
            if min(len(d.actions) for d in demos) < t + horizon:
                print(f"{seed} {side}: an expert episode is shorter than frame + horizon; skipped")
                continue
            states = np.stack([d.states[t] for d in demos])  # (3, S)
            if np.abs(states - states[0]).max() > 1e-6:
                print(f"{seed} {side}: the three recordings differ at frame {t} "
                      f"(max {np.abs(states - states[0]).max():.2e} rad); use an earlier --frame")
                return 1
            expert = np.stack([d.actions[t : t + horizon] for d in demos])[:, :, body]  # (3, H, J)
            image, state = demos[0].frames[t], demos[0].states[t]
            nearest, means, tokens = [], [], []
            for i in range(len(colors)):
                tokens.append(policy.observe(image, demos[i].task, 0.0))
                plans = [policy.plan(state, state[action_in_state], 0.0) for _ in range(args.samples)]
                mean = np.mean(plans, axis=0)[:, body]  # (H, J)
                means.append(mean)
                rms = np.sqrt(((expert - mean) ** 2).mean(axis=(1, 2)))  # (3,)
                nearest.append(int(np.argmin(rms)))
                confusion[i, nearest[-1]] += 1
                named_rms.append(rms[i])
                other_rms.extend(np.delete(rms, i))
            changes["colour word"].extend(change(tokens[a], tokens[b]) for a, b in pairs)
            other_hand = demos[0].task.replace(f"your {side} hand",
                                               f"your {next(s for s in SIDES if s != side)} hand")
            changes["hand word"].append(change(tokens[0], policy.encoder.encode([image], other_hand)[0]))
            if side in previous_image:
                changes["scene image"].append(
                    change(tokens[0], policy.encoder.encode([previous_image[side]], demos[0].task)[0]))
            previous_image[side] = image
            plan_spread.append(np.mean([np.sqrt(((means[a] - means[b]) ** 2).mean()) for a, b in pairs]))
            expert_spread.append(np.mean([np.sqrt(((expert[a] - expert[b]) ** 2).mean()) for a, b in pairs]))
            print(f"{seed} {side:5s} " + "  ".join(
                f"{c}->{colors[j]}" for c, j in zip(colors, nearest)), flush=True)
    recorder.close()
    n = confusion.sum()
    if n == 0:
        print("no scene was probed")
        return 1
    print(f"\nplan nearest the named cube's expert chunk: {np.trace(confusion)}/{n} = "
          f"{100 * np.trace(confusion) / n:.0f}% (chance 33%)")
    for i, c in enumerate(colors):
        row = confusion[i]
        print(f"  {c:5s} {row[i]}/{row.sum()}   nearest: "
              + ", ".join(f"{colors[j]} {row[j]}" for j in range(len(colors))))
    print(f"RMS to the named cube's chunk {np.mean(named_rms):.3f} rad, to the other two "
          f"{np.mean(other_rms):.3f} rad")
    print("System 2's tokens change with the " + ", ".join(
        f"{k} {100 * np.mean(v):.1f}%" for k, v in changes.items() if v)
        + " (mean |difference| / mean |tokens|)")
    print(f"how far apart the three colours' chunks are (mean pairwise RMS): the policy's plans "
          f"{np.mean(plan_spread):.3f} rad, the expert's {np.mean(expert_spread):.3f} rad "
          f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
