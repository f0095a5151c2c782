"""How smooth the commands were (ROS-free): figures per arm joint from the command stream
gr00t-eval recorded, and the times chunks arrived.

Commands are compared only within runs of consecutive ticks (receive gaps under 1.5 control
periods, as `gr00t_testing.assert_commands_safe` does); differences use the nominal control
period dt, since System 1's limiter steps once per tick and receive times only add jitter.
The messages carry no sequence number, so this needs a recording that loses none: gr00t-eval
subscribes with `gr00t_common.probe.RECORDING` (a command dropped while the recording thread
catches up would make its neighbours look successive, and a one-tick skip at speed v reads as
an acceleration of v / dt).
With x_k the k-th command of a run:

- `rms_jerk` (units/s^3): root mean square of (x_k - 3 x_{k-1} + 3 x_{k-2} - x_{k-3}) / dt^3;
- `max_accel_at_switch` (units/s^2): the largest |x_k - 2 x_{k-1} + x_{k-2}| / dt^2 over the
  commands received within `switch_window_s` after an /gr00t/action_chunk message (System
  1 takes a chunk into use at its next tick; in chunk_mode rtc at the end of the chunk's
  frozen rows, at most about one action_dt later); None without a switch. System 1's
  limiter caps every command's acceleration, so on a policy that asks for more anywhere this
  is the cap; what tells modes apart is how often a switch comes near it:
- `p95_accel_at_switch`, `p95_accel_elsewhere` (units/s^2): the 95th percentile of the same
  |second difference| / dt^2 over the commands within `switch_window_s` after a switch, and
  over all the others (None where there are none): a chunk mode whose switches step has the
  first well above the second;
- `reversals_per_s`: how often the command velocity x_k - x_{k-1} changes sign, counting
  only velocities above `deadband` (units/s) in magnitude, per second of commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

CONSECUTIVE = 1.5  # receive gaps (in periods) below which two commands are successive ticks
DEADBAND = 0.05  # rad/s: slower command velocities are "at rest" for reversals


def definition(switch_window_s: float, deadband: float = DEADBAND) -> str:
    """The sentence the JSON and the report give for these figures."""
    return (f"per arm joint over runs of consecutive commands, differences over the nominal "
            f"control period: rms_jerk = RMS of the third difference / dt^3; "
            f"max_accel_at_switch = largest |second difference| / dt^2 among the commands "
            f"received within {switch_window_s:.3f} s after an /gr00t/action_chunk message "
            f"(p95_accel_at_switch, p95_accel_elsewhere: the 95th percentile of the same "
            f"among them and among the other commands; arms: the mean over joints); "
            f"reversals_per_s = sign changes of the command velocity (|v| > {deadband:g}/s) "
            "per second of commands")


def _runs(times: np.ndarray, period: float) -> list[slice]:
    """Slices of consecutive ticks."""
    breaks = np.flatnonzero(np.diff(times) >= CONSECUTIVE * period) + 1  # (R-1,)
    edges = np.concatenate([[0], breaks, [len(times)]])
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _reversals(v: np.ndarray, deadband: float) -> np.ndarray:
    """Sign changes per column of velocities v (N, J), ignoring |v| <= deadband."""
    out = np.zeros(v.shape[1], dtype=np.int64)
    for j in range(v.shape[1]):
        signs = np.sign(v[np.abs(v[:, j]) > deadband, j])
        out[j] = int(np.count_nonzero(signs[1:] != signs[:-1]))
    return out


def joint_figures(times: Sequence[float], values: Any, switches: Sequence[float], *,
                  period: float, switch_window_s: float,
                  deadband: float = DEADBAND) -> dict[str, np.ndarray | int | float]:
    """Figures per column of `values` (N, J) received at `times` (N,), increasing.

    Returns {"rms_jerk": (J,), "max_accel_at_switch": (J,) (nan: no switch),
    "p95_accel_at_switch": (J,), "p95_accel_elsewhere": (J,) (nan: no such command),
    "reversals": (J,) counts, "seconds": seconds of commands, "jerk_samples": count}.
    """
    t = np.asarray(times, dtype=np.float64)  # (N,)
    x = np.asarray(values, dtype=np.float64).reshape(len(t), -1)  # (N, J)
    sw = np.sort(np.asarray(switches, dtype=np.float64))  # (M,)
    cols = x.shape[1]
    jerk_sq, jerk_n = np.zeros(cols), 0
    accel_max = np.full(cols, np.nan)
    near_abs, far_abs = [], []  # |acceleration| (n, J) per run, at switches and elsewhere
    reversals = np.zeros(cols, dtype=np.int64)
    seconds = 0.0
    for run in _runs(t, period):
        xr, tr = x[run], t[run]
        seconds += len(tr) * period
        if len(tr) >= 2:
            reversals += _reversals(np.diff(xr, axis=0) / period, deadband)
        if len(tr) >= 3:
            accel = np.diff(xr, n=2, axis=0) / period ** 2  # (n-2, J): at commands 2..n-1
            at = tr[2:]  # (n-2,)
            k = np.searchsorted(sw, at, side="right") - 1  # latest switch at or before
            near = (k >= 0) & (at - sw[np.maximum(k, 0)] <= switch_window_s) if sw.size else (
                np.zeros(len(at), bool))
            if near.any():
                peak = np.abs(accel[near]).max(axis=0)  # (J,)
                accel_max = np.where(np.isnan(accel_max), peak, np.maximum(accel_max, peak))
            near_abs.append(np.abs(accel[near]))
            far_abs.append(np.abs(accel[~near]))
        if len(tr) >= 4:
            jerk = np.diff(xr, n=3, axis=0) / period ** 3  # (n-3, J)
            jerk_sq += (jerk ** 2).sum(axis=0)
            jerk_n += jerk.shape[0]
    rms = np.sqrt(jerk_sq / jerk_n) if jerk_n else np.full(cols, np.nan)
    return {"rms_jerk": rms, "max_accel_at_switch": accel_max,
            "p95_accel_at_switch": _p95(near_abs, cols),
            "p95_accel_elsewhere": _p95(far_abs, cols), "reversals": reversals,
            "seconds": seconds, "jerk_samples": jerk_n}


def _p95(parts: list[np.ndarray], cols: int) -> np.ndarray:
    """The 95th percentile per column of the stacked (n_i, J) parts; nan where empty."""
    stacked = np.concatenate(parts) if parts else np.zeros((0, cols))  # (n, J)
    return np.percentile(stacked, 95, axis=0) if len(stacked) else np.full(cols, np.nan)


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 3)


def summarize(streams: Sequence[tuple[Sequence[str], Sequence[float], Any]],
              switches: Sequence[float], *, period: float, switch_window_s: float,
              deadband: float = DEADBAND) -> dict[str, Any]:
    """The `smoothness` entry of gr00t-eval's result.

    Args:
        streams: (joint names, receive times (N,), commands (N, J)) per controller topic.
        switches: receive times of the chunks.
    """
    joints: dict[str, dict[str, float | None]] = {}
    for names, times, values in streams:
        if len(times) == 0:
            continue
        f = joint_figures(times, values, switches, period=period,
                          switch_window_s=switch_window_s, deadband=deadband)
        secs = max(float(f["seconds"]), 1e-9)
        for j, name in enumerate(names):
            joints[name] = {"rms_jerk": _num(f["rms_jerk"][j]),
                            "max_accel_at_switch": _num(f["max_accel_at_switch"][j]),
                            "p95_accel_at_switch": _num(f["p95_accel_at_switch"][j]),
                            "p95_accel_elsewhere": _num(f["p95_accel_elsewhere"][j]),
                            "reversals_per_s": _num(f["reversals"][j] / secs)}

    def over(key: str, how) -> float | None:
        vals = [v[key] for v in joints.values() if v[key] is not None]
        return _num(how(np.array(vals))) if vals else None

    return {
        "definition": definition(switch_window_s, deadband),
        "chunk_switches": len(switches),
        "arms": {"rms_jerk": over("rms_jerk", lambda a: np.sqrt(np.mean(a ** 2))),
                 "max_accel_at_switch": over("max_accel_at_switch", np.max),
                 "p95_accel_at_switch": over("p95_accel_at_switch", np.mean),
                 "p95_accel_elsewhere": over("p95_accel_elsewhere", np.mean),
                 "reversals_per_s": over("reversals_per_s", np.mean)},
        "joints": joints,
    }
