"""The human-readable tables of a gr00t-eval result dict (what `cli.evaluate` returns)."""

from __future__ import annotations

from typing import Any


def pct(x: float | None) -> str:
    """A rate as a right-aligned percentage ('  n/a' without episodes)."""
    return "  n/a" if x is None else f"{100 * x:4.0f}%"


def format_report(r: dict[str, Any]) -> str:
    """The human-readable tables of a result dict (see `Evaluation.result`)."""
    def num(x: float | None, fmt: str = "{:7.1f}") -> str:
        return "    n/a" if x is None else fmt.format(x)

    o = r["overall"]
    delay = r.get("inference_delay_ms") or 0.0
    cut = ([f"INCOMPLETE: the graph failed or was interrupted after {r['episodes']} of "
            f"{r['episodes_planned']} episodes; the figures are those episodes' only"]
           if r.get("complete") is False else [])
    lines = cut + [f"gr00t-eval: {r['episodes']} episode(s), seeds {r['seed']}..."
             f"{r['seed'] + r['episodes'] - 1}, {r['episode_s']:g} s each; checkpoint "
             f"{r['checkpoint']}; embodiment {r['embodiment']}; backend {r['backend']}; "
             f"chunk_mode {r.get('chunk_mode', '?')}"
             + (f"; inference delay {delay:g} ms" if delay else ""),
             f"success: {r['success_definition']}",
             f"SUCCESS (strict, held at the episode's end): {o['successes_at_end']} of "
             f"{o['episodes']} ({pct(o['success_rate_at_end']).strip()}); at any time during "
             f"the episode: {o['successes_any_time']} of {o['episodes']} "
             f"({pct(o['success_rate_any_time']).strip()})"
             + (f"; System 1 latched a safety fault in {o['system1_fault_episodes']} of them "
                "(marked below)" if o.get("system1_fault_episodes") else "")
             + (f"; System 1 held (a stale input, no plan in time, a fault) in "
                f"{o['system1_hold_episodes']} of them (marked below)"
                if o.get("system1_hold_episodes") else ""), "",
             f"{'ep':>3} {'seed':>7}  {'task':<42} {'at end':>6} {'any time':>8}  best"]
    for e in r["episodes_detail"]:
        best = ("n/a" if e["best"] is None else
                f"{'min dist' if e['best_kind'] == 'min_distance_m' else 'max height'} "
                f"{e['best']:.3f} m")
        when = f" (at {e['first_success_s']:.1f} s)" if e["first_success_s"] is not None else ""
        if e.get("final") is not None:
            when += f", at the end {e['final']:.3f} m"
        if e.get("cube_moved") is not None:
            when += f", cube moved {e['cube_moved']:.3f} m"
        lines.append(f"{e['episode']:>3} {e['seed']:>7}  {e['instruction']:<42} "
                     f"{'yes' if e['success_at_end'] else 'no':>6} "
                     f"{'yes' if e['success'] else 'no':>8}  {best}{when}")
        if e.get("phrasing", e["instruction"]) != e["instruction"]:
            lines.append(f"{'':>13}System 2 read: {e['phrasing']!r}")
        for fault in e.get("system1_faults") or ():
            lines.append(f"{'':>13}System 1 fault: {fault}")
        if e.get("system1_held_s"):
            lines.append(f"{'':>13}System 1 held: " + ", ".join(
                f"{state} {s:.2f} s" for state, s in e["system1_held_s"].items()))
        if e.get("bag"):
            lines.append(f"{'':>13}recorded: {e['bag']}")
    lines += ["", f"{'task':<42} {'episodes':>8} {'at end':>9} {'any time':>9}"]
    for t, s in [*r["per_task"].items(), ("overall", o)]:
        lines.append(f"{t:<42} {s['episodes']:>8} {s['successes_at_end']:>3} "
                     f"{pct(s['success_rate_at_end'])} {s['successes_any_time']:>3} "
                     f"{pct(s['success_rate_any_time'])}")
    if r.get("instructions_file"):
        lines += ["", *_phrasing_table(r)]
    rt = r["rates"]
    d1, d2 = rt["diagnostics"]["system1"], rt["diagnostics"]["system2"]
    lines += ["", f"rates while System 1 was enabled ({rt['enabled_s']:.1f} s wall, "
                  f"{rt['enabled_sim_s']:.1f} s simulated: real-time factor "
                  f"{rt['sim_real_time_factor']:.2f}; rates per wall second):",
              f"  System 1 commands  {num(rt['system1_command_hz'])} Hz   on "
              f"{rt['command_topic']} (target {rt['system1_target_hz']:g} Hz; "
              f"{rt['system1_command_hz_sim']:.1f} per simulated second)",
              f"  System 1 replans   {num(rt['system1_replans_hz'])} /s   /gr00t/action_chunk"
              f"  (diagnostics replans_per_s: {d1.get('replans_per_s', 'n/a')})",
              f"  System 2 tokens    {num(rt['system2_hz'])} Hz   /gr00t/embedding_tokens"
              f"  (diagnostics achieved_rate_hz: {d2.get('achieved_rate_hz', 'n/a')})",
              "", f"latency (ms){'':<31} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} {'n':>6}"]
    names = {"system2_inference": "System 2 inference (EmbeddingTokens)",
             "system1_inference": "System 1 inference (ActionChunk)",
             "token_age_at_plan": "token age at System 1 planning"}
    for key, label in names.items():
        p = r["latency_ms"][key]
        lines.append(f"  {label:<41} {num(p['p50'])} {num(p['p90'])} {num(p['p99'])} "
                     f"{num(p['max'])} {p['n']:>6}")
    if "state_to_command_p99_ms" in d1:
        lines.append(f"  System 1 state->command (diagnostics): median "
                     f"{d1.get('state_to_command_median_ms')} p99 "
                     f"{d1.get('state_to_command_p99_ms')}")
    if "tracking_error_max_all" in d1:
        lines.append(f"  tracking (each joint state against the command in force, rad; "
                     f"diagnostics): p50 {d1['tracking_error_p50']} p99 "
                     f"{d1['tracking_error_p99']} over the last states, largest "
                     f"{d1['tracking_error_max_all']} ({d1['tracking_error_max_all_joint']}); "
                     f"fault above {d1['tracking_max_error']} for {d1['tracking_for_s']} s")
    sm = r.get("smoothness")
    if sm:
        a = sm["arms"]
        lines += ["", f"smoothness of the arm commands ({sm['chunk_switches']} chunk switches; "
                      f"{sm['definition']}):",
                  f"  arms: rms jerk {num(a['rms_jerk'], '{:.1f}').strip()}/s^3, largest "
                  f"acceleration at a switch {num(a['max_accel_at_switch'], '{:.2f}').strip()}"
                  f"/s^2 (95th percentile {num(a.get('p95_accel_at_switch'), '{:.2f}').strip()}"
                  f" at switches, {num(a.get('p95_accel_elsewhere'), '{:.2f}').strip()} "
                  f"elsewhere), {num(a['reversals_per_s'], '{:.2f}').strip()} direction "
                  "reversals per s (mean per joint)",
                  f"  {'joint':<28} {'rms jerk':>10} {'accel@switch':>13} {'reversals/s':>12}"]
        for name, j in sm["joints"].items():
            lines.append(f"  {name:<28} {num(j['rms_jerk'], '{:10.1f}')} "
                         f"{num(j['max_accel_at_switch'], '{:13.2f}')} "
                         f"{num(j['reversals_per_s'], '{:12.2f}')}")
    lines.append(f"\nwall time {r['wall_s']:.1f} s (graph start-up {r['startup_s']:.1f} s)")
    if r.get("video"):
        lines.append(f"video: {r['video']['path']} ({r['video']['frames']} frames at "
                     f"{r['video']['fps']} fps)")
    return "\n".join(lines)


def _phrasing_table(r: dict[str, Any]) -> list[str]:
    """Success per phrasing (gr00t-eval --instructions), grouped by task."""
    table = r["per_phrasing"]
    width = max([42] + [len(p) + 2 for rows in table.values() for p in rows])
    lines = [f"per phrasing (what System 2 read; from {r['instructions_file']}):",
             f"{'task / phrasing':<{width}} {'episodes':>8} {'at end':>9} {'any time':>9}"
             "  unknown words"]
    for task, rows in table.items():
        lines.append(task)
        for said, s in rows.items():
            unknown = s.get("unknown_words")
            words = ("n/a" if unknown is None else
                     ", ".join(unknown) if unknown else "none")
            lines.append(f"  {said:<{width - 2}} {s['episodes']:>8} {s['successes_at_end']:>3} "
                         f"{pct(s['success_rate_at_end'])} {s['successes_any_time']:>3} "
                         f"{pct(s['success_rate_any_time'])}  {words}")
    return lines
