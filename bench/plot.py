"""PNG plots for the bench scripts (matplotlib, Agg backend: no display needed).

Each function takes plain lists (times in seconds from the start of the measurement window,
values in ms) so the scripts' JSON series can be re-plotted later:

    python bench/plot.py artifacts/bench/graph_vs_baseline_series.json   # rewrites the PNGs
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DUAL_COLOR, BASELINE_COLOR = "tab:blue", "tab:orange"


def plot_command_periods(path: Path, dual: dict[str, Any], baseline: dict[str, Any]) -> Path:
    """Command inter-arrival gaps over time, one panel per system, nominal period dashed.

    dual / baseline: {"t": [...], "gap_ms": [...], "period_ms": float} (may be empty).
    """
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for ax, series, name, color in ((axes[0], dual, "dual-rate (System 1)", DUAL_COLOR),
                                    (axes[1], baseline, "baseline (one synchronous loop)",
                                     BASELINE_COLOR)):
        if series.get("t"):
            ax.plot(series["t"], series["gap_ms"], ".", ms=2, color=color)
            ax.axhline(series["period_ms"], ls="--", color="k", lw=0.8,
                       label=f"nominal {series['period_ms']:.2f} ms")
            ax.axhline(2 * series["period_ms"], ls=":", color="r", lw=0.8, label="2 periods")
            ax.set_yscale("log")
            ax.legend(loc="upper right", fontsize=8)
        ax.set_title(f"{name}: command period (probe receive times)", fontsize=10)
        ax.set_ylabel("period (ms)")
    axes[1].set_xlabel("time in the measurement window (s)")
    return _save(fig, path)


def plot_state_to_command(path: Path, dual: dict[str, Any], baseline: dict[str, Any]) -> Path:
    """State-to-command latency over time.

    dual: {"t", "ms"} per chunk (probe estimate) and {"diag_t", "diag_p50", "diag_p99"} (System
    1's own figure, 1 Hz); baseline: {"t", "ms"} per chunk.
    """
    fig, ax = plt.subplots(figsize=(10, 4.5))
    if dual.get("t"):
        ax.plot(dual["t"], dual["ms"], ".", ms=2, color=DUAL_COLOR, alpha=0.5,
                label="dual: stamp -> first command after the chunk (probe)")
    if dual.get("diag_t"):
        ax.plot(dual["diag_t"], dual["diag_p50"], "-", color="navy", lw=1,
                label="dual: System 1 diagnostics p50")
        ax.plot(dual["diag_t"], dual["diag_p99"], "--", color="navy", lw=1,
                label="dual: System 1 diagnostics p99")
    if baseline.get("t"):
        ax.plot(baseline["t"], baseline["ms"], "o", ms=3, color=BASELINE_COLOR,
                label="baseline: stamp -> first row of its chunk (probe)")
    ax.set_yscale("log")
    ax.set_xlabel("time in the measurement window (s)")
    ax.set_ylabel("state -> command (ms)")
    ax.set_title("state-to-command latency", fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_reactions(path: Path, panels: Sequence[tuple[str, Sequence[float], Sequence[float]]]
                   ) -> Path:
    """Empirical CDFs of reaction times: panels of (title, dual ms, baseline ms)."""
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(5 * max(1, len(panels)), 4))
    axes = [axes] if not hasattr(axes, "__len__") else list(axes)
    for ax, (title, dual, base) in zip(axes, panels):
        for values, name, color in ((dual, "dual-rate", DUAL_COLOR),
                                    (base, "baseline", BASELINE_COLOR)):
            if values:
                v = sorted(values)
                ax.step(v, [(i + 1) / len(v) for i in range(len(v))], where="post",
                        color=color, label=f"{name} (n={len(v)})")
        ax.set_xscale("log")
        ax.set_xlabel("ms")
        ax.set_ylabel("fraction")
        ax.set_title(title, fontsize=10)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    return _save(fig, path)


def plot_soak(path: Path, rss: dict[str, dict[str, list[float]]],
              period_per_minute: Sequence[float]) -> Path:
    """RSS per node over time (MiB) and the median command period per minute (ms)."""
    fig, axes = plt.subplots(2, 1, figsize=(10, 6))
    for name, series in rss.items():
        axes[0].plot(series["t"], [k / 1024 for k in series["kib"]], label=name)
    axes[0].set_xlabel("time (s)")
    axes[0].set_ylabel("RSS (MiB)")
    axes[0].legend(fontsize=8)
    axes[0].set_title("resident memory per node", fontsize=10)
    axes[1].plot(range(1, len(period_per_minute) + 1), period_per_minute, "o-")
    axes[1].set_xlabel("minute")
    axes[1].set_ylabel("median command period (ms)")
    axes[1].set_title("command period drift", fontsize=10)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_graph_vs_baseline(series: dict[str, Any], out_dir: Path) -> list[Path]:
    """All graph_vs_baseline PNGs from its series JSON content."""
    return [
        plot_command_periods(out_dir / "command_period.png", series["dual"]["period"],
                             series["baseline"]["period"]),
        plot_state_to_command(out_dir / "state_to_command.png", series["dual"]["s2c"],
                              series["baseline"]["s2c"]),
        plot_reactions(out_dir / "reaction.png", [
            ("reaction to a joint-state step", series["dual"]["step_ms"],
             series["baseline"]["step_ms"]),
            ("reaction to a new instruction", series["dual"]["instruction_ms"],
             series["baseline"]["instruction_ms"])]),
    ]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python bench/plot.py SERIES.json   (graph_vs_baseline's series file)")
    src = Path(sys.argv[1])
    for p in plot_graph_vs_baseline(json.loads(src.read_text()), src.parent):
        print(p)
