#!/usr/bin/env python3
"""The loop fuzz with every joint_trajectory message played through the model of the Jazzy
controller as the `header_stamp: tick` decoder stamps it (src/gr00t_system1/test/
stamped_fuzz.py: what is played and checked); counts what the controller writes beyond a
joint's speed or acceleration limit, and the messages it refuses.

    python bench/loop_fuzz_jtc.py --seeds 40 --ticks 1000 [--first 1] [--step 2] [--calm]
        [--delay-ms 0.5 4] [--clock-offset-ms 0] [--controller-hz 500] [--ratio 1.1]
        [--window N] [--verbose]

Odd seeds (`--first 1 --step 2`, the default) run the loop's knot grid (`path_grid`), as the
node does for the joints of stamped decoders; even seeds run without it (what a stamped
controller got before the grid, or beside a `header_stamp: receipt` one until 1253195). `--delay-ms`:
from the tick to the message's arrival, U(lo, hi) (System 1's send, ~3 ms, plus transport);
`--calm`: no stalls, clock steps, measurement jumps, blocked joints or deactivation.

Prints, per decoder with a finding not explained by a documented exception (a stall, a
re-arm, a clock step, a deactivation within the window before it; all with --verbose), the
worst of each kind with the events before it, then the totals and the worst unexplained.
ROS-free; one core; ~0.3 s a seed of 1000 ticks.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src" / "gr00t_system1" / "test"))
from loop_fuzz import random_config  # noqa: E402
from stamped_fuzz import calm, run_stamped  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--ticks", type=int, default=1000)
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--step", type=int, default=2, help="seed step (default 2: odd seeds)")
    ap.add_argument("--calm", action="store_true")
    ap.add_argument("--delay-ms", type=float, nargs=2, default=(0.5, 4.0))
    ap.add_argument("--clock-offset-ms", type=float, default=0.0,
                    help="the controller manager's clock minus System 1's")
    ap.add_argument("--controller-hz", type=float, default=500.0)
    ap.add_argument("--ratio", type=float, default=1.1)
    ap.add_argument("--window", type=int, default=None,
                    help="ticks searched for an exception (default 4 + 2 every_n_ticks)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", RuntimeWarning)  # plans of NaN and 1e300, on purpose
    totals: Counter[str] = Counter()
    worst: dict[str, float] = {}
    for seed in range(args.first, args.first + args.seeds * args.step, args.step):
        cfg = random_config(seed)
        if args.calm:
            cfg = calm(cfg)
        if not any(cfg.decoder_of):
            continue
        w, findings, refused = run_stamped(
            cfg, args.ticks, delay_s=(args.delay_ms[0] / 1e3, args.delay_ms[1] / 1e3),
            period=1.0 / args.controller_hz, clock_offset_s=args.clock_offset_ms / 1e3,
            ratio=args.ratio, window=args.window)
        for reason, n in refused.items():
            totals[f"refused: {reason}"] += n
        per = {}
        for f in findings:
            totals[f"{f.kind} {'explained' if f.explained else 'UNEXPLAINED'}"] += 1
            if not f.explained:
                worst[f.kind] = max(worst.get(f.kind, 0.0), f.ratio)
            key = (f.decoder, f.kind, f.explained)
            if key not in per or f.ratio > per[key].ratio:
                per[key] = f
        for f in per.values():
            if f.explained and not args.verbose:
                continue
            print(f"seed {seed} decoder {f.decoder} (every {cfg.every[f.decoder - 1]}, sim "
                  f"{cfg.sim_time}, grid {cfg.path_grid}, {cfg.mode}): {f.kind} "
                  f"{f.ratio:.2f}x joint {f.joint} tick {f.tick} "
                  f"{'explained' if f.explained else 'UNEXPLAINED'}: {f.context}")
    print(f"totals: {dict(totals) or 'none'}; worst unexplained, as a multiple of the limit: "
          f"{ {k: round(r, 2) for k, r in worst.items()} or '-'}")
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())
