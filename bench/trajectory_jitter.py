#!/usr/bin/env python3
"""How far tick jitter and pick-up delay take a joint_trajectory_controller past its
acceleration limit.

System 1 sends a trajectory controller a short path every tick (`CommandLoop.path`, the
joint_trajectory decoder's message). This drives the real CommandLoop (ROS-free) with ticks
that come late by a random amount, the way an rcl timer keeps its phase and wakes late, and
a new plan every tick (a 1-Hz sway with a policy's chunk-to-chunk noise), and runs a model
of ros2_controllers' Jazzy joint_trajectory_controller (src/gr00t_system1/test/jtc_model.py:
positions only, interpolate_from_desired_state) over the messages: each arrives a random
transport delay after publishing and is taken up at the controller's next update.

    python bench/trajectory_jitter.py [--seeds 8] [--seconds 4] [--lateness-ms 0 0.3 0.7]
        [--delay-ms 0.05 0.3] [--controller-hz 500] [--stamps receipt tick]
        [--clock-offset-ms 0] [--no-grid]

`--stamps`: the decoder's `header_stamp` param: `receipt` (header stamp 0, the controller
times the path from when it takes it up) or `tick` (stamped with the tick's time, a first
point at 0: the controller times it on the shared clock).

Prints, per stamp mode and lateness: the tick intervals' range, and the acceleration of what
the controller writes to the hardware, read a System 1 period apart at 8 phases (the second
difference over one period), as a multiple of the YAML limit: median over seeds of each
seed's worst, the worst seed, and the 99th percentile over all samples (1.00: the limit).
ROS-free, one core.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src" / "gr00t_system1" / "test"))
from jtc_model import accel_per_period, run_controller  # noqa: E402

from gr00t_policy.runtime.chunk import Chunk  # noqa: E402
from gr00t_policy.runtime.execution import CrossfadeExecutor  # noqa: E402
from gr00t_policy.runtime.planner import Plan, StateSample, TokenSample  # noqa: E402
from gr00t_system1.limiter import CommandLimiter  # noqa: E402
from gr00t_system1.loop import CommandLoop  # noqa: E402
from gr00t_system1.safety import Supervisor  # noqa: E402

TICK = 1 / 120
ACTION_DT = 1 / 30
A = 2
VEL = np.array([1.0, 1.0])
ACCEL = np.array([10.0, 10.0])
T0 = 100.0


def paths(seed: int, seconds: float, lateness_s: float, grid: bool) -> list:
    """The paths System 1 made, one per published tick: (tick time, times (N,), rows (N, A),
    the command at the tick (A,)); `grid`: the loop's `path_grid`, as the node sets it for
    decoders that stamp their messages with the tick."""
    rng = np.random.default_rng(seed)
    lim = CommandLimiter(np.full(A, -2.0), np.full(A, 2.0), VEL, TICK, acceleration=ACCEL)
    loop = CommandLoop(lim, Supervisor(0.05, 0.5), executor=CrossfadeExecutor(0.1),
                       on_stale="hold_last_command", path_joints=np.ones(A, dtype=bool),
                       path_ticks=2, path_grid=grid)
    measured = np.zeros(A)
    phase = rng.uniform(0, 2 * np.pi, A)
    out = []
    for k in range(int(seconds / TICK)):
        t = T0 + k * TICK + (abs(rng.normal(0.0, lateness_s)) if lateness_s else 0.0)
        state = StateSample(measured.copy(), measured.copy(), t, t, k + 1)
        tokens = TokenSample(None, None, t, t, 1, k + 1)
        future = t + ACTION_DT * np.arange(16)  # (16,) the plan: a 1-Hz sway, 0.4 rad
        rows = 0.4 * np.sin(2 * np.pi * (future - T0)[:, None] + phase[None, :])
        rows = rows + rng.normal(0.0, 0.002, rows.shape)
        plan = Plan(Chunk(t, ACTION_DT, measured.copy(), rows, seq=k + 1), state, 1, 0.001, t)
        r = loop.tick(t, t, enabled=True, state=state, tokens=tokens, plan=plan,
                      worker_healthy=True)
        if r.command is None:
            continue
        times, path_rows = loop.path(t, TICK)
        loop.path_sent(np.arange(A))
        out.append((t, np.asarray(times), np.asarray(path_rows), r.command.copy()))
        measured = r.command.copy()
    return out


def messages(made: list, stamps: str, delay_s: tuple[float, float],
             rng: np.random.Generator, offset_s: float = 0.0) -> list:
    """What the controller receives: (arrival, stamp, times, rows), arrival on the
    controller's clock (System 1's + `offset_s`)."""
    out = []
    for t, times, rows, command in made:
        arrival = t + offset_s + rng.uniform(*delay_s)
        if stamps == "tick":
            out.append((arrival, t, np.concatenate([[0.0], times]),
                        np.vstack([command, rows])))
        else:
            out.append((arrival, 0.0, times, rows))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--lateness-ms", type=float, nargs="+", default=[0.0, 0.3, 0.7],
                    help="each tick comes |N(0, this)| ms after its nominal time")
    ap.add_argument("--delay-ms", type=float, nargs=2, default=[0.05, 0.3],
                    help="transport delay from publishing to arrival: U(lo, hi) ms")
    ap.add_argument("--controller-hz", type=float, default=500.0)
    ap.add_argument("--clock-offset-ms", type=float, default=0.0,
                    help="the controller's clock minus System 1's (stamps are System 1's)")
    ap.add_argument("--stamps", nargs="+", default=["receipt", "tick"],
                    choices=("receipt", "tick"))
    ap.add_argument("--no-grid", action="store_true",
                    help="tick stamps without the loop's knot grid (CommandLoop path_grid)")
    args = ap.parse_args(argv)
    period = 1.0 / args.controller_hz
    delay = (args.delay_ms[0] / 1000, args.delay_ms[1] / 1000)
    print(f"limit {ACCEL[0]} rad/s^2, {VEL[0]} rad/s; System 1 {1 / TICK:.0f} Hz, a path "
          f"every tick; controller {args.controller_hz:.0f} Hz; delay U{args.delay_ms} ms; "
          f"{args.seeds} seeds x {args.seconds} s; controller clock {args.clock_offset_ms:+} ms")
    print("stamps   lateness_ms  interval_ms  worst/limit(median, worst seed)  p99/limit  "
          "refused")
    for stamps in args.stamps:
        for late in args.lateness_ms:
            worst, every, lo, hi, refused = [], [], np.inf, 0.0, 0
            for seed in range(args.seeds):
                made = paths(seed, args.seconds, late / 1000,
                             stamps == "tick" and not args.no_grid)
                iv = np.diff([m[0] for m in made])
                lo, hi = min(lo, iv.min()), max(hi, iv.max())
                rng = np.random.default_rng(10_000 + seed)
                start = made[0][3]
                t_from = T0 + rng.uniform(0.0, period)  # the controller's own phase
                t, x, n = run_controller(
                    messages(made, stamps, delay, rng, args.clock_offset_ms / 1000), start,
                    period, t_from, made[-1][0])
                refused += n
                acc = accel_per_period(t[t > T0 + 0.5], x[t > T0 + 0.5], TICK) / ACCEL[0]
                worst.append(acc.max())
                every.append(acc)
            print(f"{stamps:8s} {late:11.2f}  {1000 * lo:5.2f}-{1000 * hi:<5.2f}  "
                  f"{np.median(worst):6.2f}, {max(worst):6.2f}                 "
                  f"{np.percentile(np.concatenate(every), 99):6.2f}     {refused}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
