#!/usr/bin/env python3
"""How much of a robot's recorded motion a latent action model's codes carry.

    source env.sh
    python bench/latent_probe.py --lam artifacts/pyramid/lam --dataset artifacts/data/g1_holds \
        --fit 0:200 --check 720:800

Fits a small network from (latent action of the frame pair, state at its first frame) to the
state change over the pair on --fit episodes' pairs, and from the state alone, and prints the
R^2 of each on --check episodes' pairs (gr00t_policy.pyramid.latent_actions.motion_probe).
The gap between the two is what the latent actions add to what the state already tells.
"""

from __future__ import annotations

import argparse
import json

import torch

from gr00t_policy.dataset import LeRobotDataset
from gr00t_policy.pyramid.clips import load_clips
from gr00t_policy.pyramid.latent_actions import load_latent_actions, motion_probe
from gr00t_policy.train.mixture import choose_episodes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lam", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--fit", default="0:200")
    p.add_argument("--check", default="720:800")
    p.add_argument("--pairs", type=int, default=4096)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ds = LeRobotDataset(args.dataset)
    model = load_latent_actions(args.lam)
    camera = ds.cameras[0]
    size = model.cfg.image_size
    fit = load_clips(ds, camera, size, choose_episodes(args.fit, ds.num_episodes, "--fit"))
    check = load_clips(ds, camera, size, choose_episodes(args.check, ds.num_episodes, "--check"))
    figures = motion_probe(model, fit, check, args.pairs, args.seed)
    print(json.dumps({"lam": args.lam, "fit": args.fit, "check": args.check, **figures},
                     indent=2))


if __name__ == "__main__":
    main()
