#!/usr/bin/env python3
"""Chunk execution mode x inference delay -> success and smoothness, one gr00t-eval per row.

    source env.sh
    python bench/chunk_mode_table.py --out artifacts/chunk_modes              # 20 rows, ~1 h
    python bench/chunk_mode_table.py --modes crossfade,rtc --delays 0,200 --episodes 8
    python bench/chunk_mode_table.py --modes rtc_prefix --checkpoint CKPT   # a prefix-trained head

Each row is `gr00t-eval --episodes N --seed S --chunk-mode M --inference-delay-ms D
--json-out OUT/M_D.json` on the same seeds (the real graph: simulator, System 2, System 1);
mode rtc_prefix is rtc with `--system1-param rtc_method:=prefix` (a checkpoint trained with
gr00t-train --prefix-prob); mode rtc_blend is rtc with `rtc_method:=blend` (any checkpoint).
A row whose JSON is already in --out is read, not run again, so an interrupted table
continues where it stopped; --rerun runs every row. A stored row made with other arguments
(episodes, seed, checkpoint, chunk mode, delay, rtc_method) is not read: it counts as failed,
naming what differs (pass --rerun, or another --out). Prints a Markdown table: strict success
(held at the episode's end), success at any time, and the arm joints' RMS jerk, largest
acceleration at chunk switches and direction reversals per second, with System 1's command
and replan rates. Exit status 1 when a row's gr00t-eval failed (its output is in
OUT/M_D.log) or a stored row was made with other arguments.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

# row name -> gr00t-eval arguments
MODES = {
    "crossfade": ["--chunk-mode", "crossfade"],
    "latest": ["--chunk-mode", "latest"],
    "ensemble": ["--chunk-mode", "ensemble"],
    "rtc": ["--chunk-mode", "rtc"],
    "rtc_prefix": ["--chunk-mode", "rtc", "--system1-param", "rtc_method:=prefix"],
    "rtc_blend": ["--chunk-mode", "rtc", "--system1-param", "rtc_method:=blend"],
}
DELAYS_MS = (0, 50, 100, 200, 300)


def mismatches(r: dict, mode: str, delay: int, args: argparse.Namespace) -> list[str]:
    """How a stored gr00t-eval result `r` differs from the row this table asks for (empty:
    it is that row)."""
    from gr00t_bringup.graph import checkpoint_path
    from gr00t_sim.evaluation.schedule import task_list

    m = MODES[mode]
    method = (m[m.index("--system1-param") + 1].split(":=", 1)[1] if "--system1-param" in m
              else None)
    want = {"episodes": args.episodes, "seed": args.seed, "chunk_mode": m[1],
            "inference_delay_ms": float(delay), "rtc_method": method,
            "checkpoint": str(checkpoint_path(args.checkpoint)), "complete": True,
            "tasks": task_list(getattr(args, "tasks", "all"))}
    got = {**{k: r.get(k) for k in want},
           "rtc_method": (r.get("system1_parameters") or {}).get("rtc_method"),
           # A run cut short keeps its episodes, marked (gr00t-eval: "complete": false).
           "complete": r.get("complete", True),
           "tasks": r.get("tasks", task_list("all"))}
    return [f"{k} {got[k]!r} (asked: {want[k]!r})" for k in want if got[k] != want[k]]


def run_row(out: Path, mode: str, delay: int, args: argparse.Namespace) -> dict | None:
    """The row's gr00t-eval JSON, running it first when it is not in `out` (or --rerun);
    None when it failed, or when the stored one was made with other arguments."""
    stem = out / f"{mode}_{delay}"
    path = stem.with_suffix(".json")
    if path.is_file() and not args.rerun:
        r = json.loads(path.read_text())
        differ = mismatches(r, mode, delay, args)
        if differ:
            print(f"# {mode} {delay} ms: {path} is not this row: "
                  f"{'; '.join(differ)}; pass --rerun to run the row again, or another --out",
                  file=sys.stderr, flush=True)
            return None
        return r
    cmd = ["gr00t-eval", "--episodes", str(args.episodes), "--seed", str(args.seed),
           *MODES[mode], "--inference-delay-ms", str(delay), "--json-out", str(path)]
    if args.checkpoint:
        cmd += ["--checkpoint", args.checkpoint]
    if getattr(args, "tasks", "all") != "all":
        cmd += ["--tasks", args.tasks]
    t0 = time.monotonic()
    with open(stem.with_suffix(".log"), "w") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
    print(f"# {mode} {delay} ms: gr00t-eval exit {rc} after {time.monotonic() - t0:.0f} s",
          file=sys.stderr, flush=True)
    return json.loads(path.read_text()) if rc == 0 and path.is_file() else None


def figure(x: float | None, fmt: str) -> str:
    """A smoothness figure; "n/a" where gr00t-eval had none (None: no arm command, or no
    chunk arrived, while System 1 was enabled)."""
    return "n/a" if x is None else format(x, fmt)


def row_line(mode: str, delay: int, r: dict) -> str:
    o, arms, rates = r["overall"], r["smoothness"]["arms"], r["rates"]
    n = o["episodes"]
    return (f"| {mode} | {delay} | **{o['successes_at_end']}/{n}** "
            f"({100 * o['success_rate_at_end']:.0f}%) | {o['successes_any_time']}/{n} "
            f"({100 * o['success_rate_any_time']:.0f}%) | {figure(arms['rms_jerk'], '.0f')} | "
            f"{figure(arms['max_accel_at_switch'], '.0f')} | "
            f"{figure(arms.get('p95_accel_at_switch'), '.1f')} / "
            f"{figure(arms.get('p95_accel_elsewhere'), '.1f')} | "
            f"{figure(arms['reversals_per_s'], '.1f')} | "
            f"{rates['system1_command_hz']:.1f} | {rates['system1_replans_hz']:.1f} |")


def main() -> int:
    from gr00t_sim.evaluation.schedule import TASK_SETS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="artifacts/chunk_modes", help="one JSON and log per row")
    ap.add_argument("--modes", default="crossfade,latest,ensemble,rtc",
                    help=f"comma-separated, of {list(MODES)}")
    ap.add_argument("--delays", default=",".join(map(str, DELAYS_MS)), help="ms, comma-separated")
    ap.add_argument("--episodes", type=int, default=24)
    ap.add_argument("--seed", type=int, default=100000)
    ap.add_argument("--checkpoint", default=None, help="default: gr00t-eval's (checkpoints/nano)")
    ap.add_argument("--tasks", default="all", choices=TASK_SETS,
                    help="gr00t-eval's --tasks (default all eight)")
    ap.add_argument("--rerun", action="store_true", help="run rows whose JSON exists again")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    bad = [m for m in modes if m not in MODES]
    if bad or args.episodes < 1:
        print(f"--modes {bad} unknown (use {list(MODES)}) or --episodes < 1", file=sys.stderr)
        return 2
    try:
        delays = [int(d) for d in args.delays.split(",") if d]
    except ValueError:
        print(f"--delays {args.delays!r}: write whole milliseconds, e.g. 0,50,100", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print("| chunk_mode | delay ms | strict (held at end) | any time | arms RMS jerk rad/s^3 | "
          "max accel at switch rad/s^2 | p95 accel at switch / elsewhere rad/s^2 | "
          "reversals /s | S1 commands Hz | replans /s |\n"
          "|---|---|---|---|---|---|---|---|---|---|", flush=True)
    failed = 0
    for mode in modes:
        for delay in delays:
            r = run_row(out, mode, delay, args)
            if r is None:
                failed += 1
                print(f"| {mode} | {delay} | failed: see {out / f'{mode}_{delay}.log'} "
                      "(or the message above) |||||||", flush=True)
            else:
                print(row_line(mode, delay, r), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
