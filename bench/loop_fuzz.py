#!/usr/bin/env python3
"""Fuzz System 1's command loop with hostile inputs and timing; count what reaches a robot
beyond its limits (src/gr00t_system1/test/loop_fuzz.py: what is drawn and what is checked;
gr00t_system1's test_loop_fuzz runs 40 short seeds of it in the suite).

    python bench/loop_fuzz.py --seeds 200 --ticks 1500 [--first 0] [--no-forward-jumps]
        [--velocity-rule change|period]

Prints, per seed with a violation, its configuration and the worst violation of each kind
(with the events of the ticks before it: stalls, off-period ticks, clock jumps, state
changes, re-arms), then the totals: seeds run, seeds with a violation, violations by kind
and the worst as a multiple of its limit. ROS-free; one core; ~3 s a seed of 1500 ticks on
the 2-vCPU dev machine. Exit status 1 when any violation was found.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

# The fuzz lives beside gr00t_system1's tests (it drives the loop as they do).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src" / "gr00t_system1" / "test"))
from loop_fuzz import context, random_config, run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=50, help="how many seeds (default 50)")
    ap.add_argument("--ticks", type=int, default=1500, help="ticks per seed (default 1500)")
    ap.add_argument("--first", type=int, default=0, help="first seed (default 0)")
    ap.add_argument("--no-forward-jumps", action="store_true",
                    help="the node clock never steps forward (it may still step back)")
    ap.add_argument("--velocity-rule", choices=("change", "period"), default="change",
                    help="a trajectory message's first step against the controller's velocity "
                         "at receipt (change, default) or its mean over the last period")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", RuntimeWarning)  # plans of NaN and 1e300, on purpose
    totals: Counter[str] = Counter()
    worst: dict[str, float] = {}
    bad_seeds = 0
    t0 = time.monotonic()
    for seed in range(args.first, args.first + args.seeds):
        cfg = random_config(seed, forward_jumps=not args.no_forward_jumps,
                            velocity_rule=args.velocity_rule)
        try:
            world = run(cfg, args.ticks)
        except Exception:  # noqa: BLE001 - a crash of the loop is a finding too
            print(f"seed {seed}: the loop raised\n{traceback.format_exc()}")
            totals["exception"] += 1
            bad_seeds += 1
            continue
        if not world.violations:
            continue
        bad_seeds += 1
        kinds = Counter(v.kind for v in world.violations)
        totals.update(kinds)
        print(f"seed {seed}: mode {cfg.mode}, controllers {cfg.decoder_of} every {cfg.every}, "
              f"acceleration limits {cfg.accel}, on_stale {cfg.on_stale}, sim time "
              f"{cfg.sim_time}, jitter {cfg.jitter}: {dict(kinds)}")
        per_kind = {}
        for v in world.violations:
            if v.kind not in per_kind or v.excess > per_kind[v.kind].excess:
                per_kind[v.kind] = v
        for v in per_kind.values():
            ratio = v.value / v.limit if v.limit > 0 else float("inf")
            worst[v.kind] = max(worst.get(v.kind, 0.0), ratio)
            print(f"    {v} ({ratio:.2f} x the limit) after: {context(world, v.tick)}")
    print(f"{args.seeds} seeds x {args.ticks} ticks (first {args.first}, forward clock "
          f"jumps {'off' if args.no_forward_jumps else 'on'}, velocity rule "
          f"{args.velocity_rule}) in {time.monotonic() - t0:.0f} s: {bad_seeds} seed(s) with "
          f"a violation; {dict(totals) or 'none'}; worst as a multiple of its limit: "
          f"{ {k: round(r, 2) for k, r in worst.items()} or '-'}")
    return 1 if bad_seeds else 0


if __name__ == "__main__":
    sys.exit(main())
