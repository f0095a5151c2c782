#!/usr/bin/env python3
"""Does the scripted expert itself still satisfy each touch at the end of an episode?

    source env.sh
    python bench/expert_hold.py                                   # today's expert, 24 touches
    python bench/expert_hold.py --touch-heights 0.027,0.035,0.040 --episodes 48
    python bench/expert_hold.py --set palm_roll_deg=0,20 --set wrist_shift=0.015,0.03
    python bench/expert_hold.py --embodiment config/apptronik_apollo.yaml
    python bench/expert_hold.py --miss-cm 0,1,2 --set palm_roll_deg=25,45   # vs a policy's miss

A policy imitates gr00t-collect's expert, so the expert's own strict success ("at the end")
bounds what a policy can learn. For each expert geometry (--touch-heights values of
ExpertConfig.touch_height, m above the cube's centre, or the product of the --set FIELD=values
of any numeric ExpertConfig fields, over the robot's own simulator.expert.params) this runs
the expert of the --embodiment's robot (default the G1), noise-free, on the first --episodes
touch seeds from --seed for --episode-s simulated seconds (gr00t-eval's episode length) and
prints:
the palm-to-cube distance at the end (p50, max) and its share within the success radius,
the nearest distance during the episode (p50), and how far the touched cube was pushed
(p50, max), with the first robot body that touched it. --miss-cm asks how much placement
error a geometry tolerates: a policy reaches the expert's spot only to within a centimetre
or two. ROS-free; one process.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
from collections import Counter
from pathlib import Path

import mujoco
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def touch_seeds(first: int, count: int) -> list[int]:
    """The first `count` seeds from `first` whose gr00t-collect task is a touch."""
    from gr00t_sim.collect import task_for_seed
    from gr00t_sim.tasks import Task

    seeds, seed = [], first
    while len(seeds) < count:
        if Task.parse(task_for_seed(seed)).kind == "touch":
            seeds.append(seed)
        seed += 1
    return seeds


def run(expert: dict[str, float], seeds: list[int], episode_s: float, rec,
        miss: float = 0.0) -> dict:
    """The expert with settings `expert` (over the robot's) on `rec`'s world, one touch per
    seed; `rec` (a DemoRecorder) lends its world and timing only. With `miss` (m), the named
    cube is moved that far horizontally after the expert planned its motion, in a direction that
    turns by a full circle over the seeds: the expert misses its target like a policy that
    placed the palm `miss` off."""
    from gr00t_sim.collect import task_for_seed
    from gr00t_sim.expert import ScriptedExpert, expert_config
    from gr00t_sim.tasks import Task

    emb = rec.emb
    scripted = ScriptedExpert(rec.world, emb.action_joints, emb.action_dt,
                              expert_config(rec.world.sim, **expert))
    w, steps = rec.world, int(round(episode_s / emb.action_dt))
    final, nearest, pushed, held, touchers = [], [], [], 0, Counter()
    for k, seed in enumerate(seeds):
        task = Task.parse(task_for_seed(seed))
        w.reset(seed)
        scripted.reset(task)
        if miss:
            angle = 2 * np.pi * k / len(seeds)
            w.place_cube(task.color, w.cube_position(task.color)
                         + miss * np.array([np.cos(angle), np.sin(angle), 0.0]))
        start = w.cube_position(task.color).copy()
        best, toucher = np.inf, None
        for _ in range(steps):
            w.set_targets(dict(zip(emb.action_joints, scripted.act())))
            w.step(rec.substeps)
            mujoco.mj_forward(w.model, w.data)
            best = min(best, float(np.linalg.norm(w.palm_position(task.side)
                                                  - w.cube_position(task.color))))
            toucher = toucher or w.cube_toucher(task.color)
        final.append(float(np.linalg.norm(w.palm_position(task.side) - w.cube_position(task.color))))
        nearest.append(best)
        pushed.append(float(np.linalg.norm(w.cube_position(task.color) - start)))
        held += bool(w.success(task))
        for prefix in ("left_", "right_", "l_", "r_"):
            toucher = toucher.removeprefix(prefix) if toucher else toucher
        touchers[toucher or "nothing"] += 1
    cm = lambda xs: 100 * np.asarray(xs)  # noqa: E731
    return {"expert": expert, "episodes": len(seeds), "held_at_end": held,
            "final_p50_cm": float(np.median(cm(final))), "final_max_cm": float(cm(final).max()),
            "nearest_p50_cm": float(np.median(cm(nearest))),
            "pushed_p50_cm": float(np.median(cm(pushed))), "pushed_max_cm": float(cm(pushed).max()),
            "first_contact": dict(touchers)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--touch-heights", default=None,
                    help="comma-separated metres (default: ExpertConfig.touch_height)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=V1,V2",
                    help="ExpertConfig field values to try (repeat: their product)")
    ap.add_argument("--episodes", type=int, default=24, help="touch episodes per height")
    ap.add_argument("--seed", type=int, default=0, help="first seed (gr00t-collect's rule)")
    ap.add_argument("--episode-s", type=float, default=6.0)
    ap.add_argument("--miss-cm", default="0",
                    help="comma-separated placement errors to try: the cube moved this far "
                         "horizontally after the expert planned (a policy's miss; see run)")
    ap.add_argument("--embodiment", type=Path, default=REPO / "config" / "unitree_g1.yaml",
                    help="the robot (an embodiment YAML with a simulator section)")
    args = ap.parse_args()
    from gr00t_policy.embodiment import load_embodiment
    from gr00t_sim.collect import DemoRecorder
    from gr00t_sim.expert import ExpertConfig

    grid: dict[str, list[float]] = {}
    if args.touch_heights:
        grid["touch_height"] = [float(x) for x in args.touch_heights.split(",")]
    fields = {f.name for f in dataclasses.fields(ExpertConfig)}
    for item in args.set:
        name, _, values = item.partition("=")
        if name not in fields or not values:
            print(f"--set {item!r}: want FIELD=V1,V2,... with FIELD one of ExpertConfig's "
                  f"{sorted(fields)}", file=sys.stderr)
            return 2
        grid[name] = [float(x) for x in values.split(",")]
    if args.episodes < 1 or args.episode_s <= 0:
        print("--episodes must be >= 1 and --episode-s > 0", file=sys.stderr)
        return 2
    seeds = touch_seeds(args.seed, args.episodes)
    rec = DemoRecorder(load_embodiment(args.embodiment))
    print(f"{rec.emb.name}: touch seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}), "
          f"{args.episode_s:g} s, no noise")
    print("| expert (ExpertConfig; the robot's where not named) | held at the end "
          "| final distance p50 / max cm | nearest p50 cm | cube pushed p50 / max cm "
          "| first contact |\n|---|---|---|---|---|---|")
    misses = [float(x) for x in args.miss_cm.split(",")]
    for values, miss in itertools.product(itertools.product(*grid.values()), misses):
        expert = dict(zip(grid, values))
        r = run(expert, seeds, args.episode_s, rec, miss / 100)
        name = ", ".join(f"{k} {v:g}" for k, v in expert.items()) or "default"
        name += f"; miss {miss:g} cm" if miss else ""
        contact = ", ".join(f"{k} {v}" for k, v in r["first_contact"].items())
        print(f"| {name} | {r['held_at_end']}/{r['episodes']} | {r['final_p50_cm']:.1f} / "
              f"{r['final_max_cm']:.1f} | {r['nearest_p50_cm']:.1f} | {r['pushed_p50_cm']:.1f} / "
              f"{r['pushed_max_cm']:.1f} | {contact} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
