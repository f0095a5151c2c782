"""Trajectory controllers through timing faults: the path a joint_trajectory_controller is
sent must start where the controller is, at its velocity, whenever the loop's ticks come.

The controller is modelled as test_loop.jtc_positions does (from where it is at receipt,
linearly through the points, holding the last), on the controllers' clock (monotonic on a
robot: joint_trajectory_controller counts its trajectory's time from update periods); the
check is the loop's own rule: over each control period the controller's velocity changes by
at most a * dt, and its speed stays within the velocity limit. Found by an adversarial review
(2026-12-07): a late tick, a stall into the chunk's rows, a re-arm before a sparse decoder's
first message, a disable while the command rested but the path sent did not.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

from gr00t_policy.runtime.chunk import Chunk
from gr00t_policy.runtime.planner import Plan
from gr00t_system1.safety import SafetyState

sys.path.insert(0, str(Path(__file__).resolve().parent))  # test_loop's simulated ticks
from jtc_model import accel_per_period, run_controller  # noqa: E402
from test_loop import (A, ACCEL, DT, TICK, VEL, Sim, jtc_positions, ramp_sim,  # noqa: E402
                       turn_round)


def worst_accel(messages, t_end, t_from=None):
    """Largest per-period velocity change of the controller, sampled every period from the
    first message (and half a period off it); (dv_max, v_max)."""
    t, pos = jtc_positions(messages, t_end, step=TICK / 40)
    worst_dv = worst_v = 0.0
    for off in (0.0, 0.5):
        grid = np.arange(messages[0][0] + off * TICK, t_end - TICK, TICK)
        if t_from is not None:
            grid = grid[grid >= t_from - 3 * TICK]
        at = np.stack([np.interp(grid, t, pos[:, j]) for j in range(A)], axis=1)
        v = np.diff(at, axis=0) / TICK
        worst_v = max(worst_v, np.abs(v).max())
        worst_dv = max(worst_dv, np.abs(np.diff(v, axis=0))[1:].max())
    return worst_dv, worst_v


def step(sim, messages, every, k, mono=None):
    sim.feed_state()
    sim.feed_tokens()
    mono = sim.t + sim.mono_shift + TICK if mono is None else mono
    sim.t += TICK
    r = sim.loop.tick(sim.t, mono, enabled=True, state=sim.state, tokens=sim.tokens,
                      plan=sim.plan, worker_healthy=True)
    if r.command is not None:
        path = sim.loop.path(sim.t, TICK)
        if k[0] % every == 0:
            sim.loop.path_sent(np.arange(A))
            messages.append((mono, *path))  # received on the controllers' clock
        k[0] += 1
    return r


@pytest.mark.parametrize("event", ["none", "late", "jitter", "clock_back", "clock_forward"])
def test_a_tick_off_the_period_keeps_the_next_path_on_the_controller(event):
    """every_n_ticks 1, a steady 0.5 rad/s ramp. late: one tick 0.9 period late, the next on
    phase (0.1 period later: too soon, skipped); jitter: one tick 0.25 period late, the next
    on phase; clock_back / clock_forward: the node clock steps 1 s back / 0.3 s forward (NTP
    on a robot; the controllers' clock, monotonic, goes on). The controller runs on its path
    in real time; commands one limited step each fell behind it, and the next path moved it
    back; paths read at the stepped node-clock time were read 0.3 s ahead of it."""
    sim, speed = ramp_sim(accel=ACCEL, path_joints=np.ones(A, dtype=bool))
    sim.loop.path_ticks = 2  # every_n_ticks 1
    messages, k = [], [0]
    late = {"late": 0.9, "jitter": 0.25}.get(event, 0.0)
    for i in range(40):
        if i == 30:
            sim.t += late * TICK
            step_s = {"clock_back": -1.0, "clock_forward": 0.3}.get(event, 0.0)
            sim.t += step_s
            sim.mono_shift -= step_s
        if i == 31:
            sim.t -= late * TICK  # back on phase
        step(sim, messages, 1, k)
    dv, v = worst_accel(messages, sim.t + sim.mono_shift)
    assert v <= VEL[0] + 1e-6
    assert dv <= ACCEL[0] * TICK + 1e-6, f"dv {dv:.4f} rad/s per period > {ACCEL[0] * TICK:.4f}"


def receipt_dv(messages, t_end, skip=2):
    """At each message after the first `skip` (jtc_positions starts at the first message's
    first point, not at the command before it: the second receipt is off by that): the controller's velocity over the period before
    its receipt and over the period after, and their largest difference (rad/s)."""
    t, pos = jtc_positions(messages, t_end, step=TICK / 40)
    worst = 0.0
    for r, *_ in messages[skip:]:
        if r + TICK > t[-1]:
            break
        at = np.stack([np.interp([r - TICK, r, r + TICK], t, pos[:, j]) for j in range(A)], 1)
        v = np.diff(at, axis=0) / TICK
        worst = max(worst, np.abs(v[1] - v[0]).max())
    return worst


@pytest.mark.parametrize("stall", [0, 6])
def test_after_a_stall_into_the_chunks_rows_the_next_path_starts_on_the_controller(stall):
    """every_n_ticks 4; the plan turns round, then System 1 stalls 7 periods. The controller
    runs past the path's point-a-period part into the chunk's rows, whose velocity changes
    (up to a * action_dt at a row: the per-gap rule) the commands, each one limited step
    (a * dt) towards where the sent path is, cannot follow: the next message starts 3.1 mrad
    off the controller."""
    every = 4
    sim, speed = ramp_sim(accel=ACCEL, path_joints=np.ones(A, dtype=bool))
    sim.loop.path_ticks = every + 1
    messages, k = [], [0]
    for i in range(60):
        if i == 26:
            turn_round(sim, speed)
        if i == 30:
            sim.t += stall * TICK  # no tick for stall + 1 periods (GC pause, CPU starvation)
        step(sim, messages, every, k)
    assert sim.loop.limiter.stalls == (1 if stall else 0)
    dv = receipt_dv(messages, sim.t + sim.mono_shift)
    assert dv <= ACCEL[0] * TICK + 1e-6, f"dv at a receipt {dv:.4f} > {ACCEL[0] * TICK:.4f}"


@pytest.mark.parametrize("stall", [0, 4])
def test_a_stall_before_a_sparse_decoders_first_message_after_a_re_arm(stall):
    """every_n_ticks 3, re-armed (disabled, braked to rest, enabled) on a tick the decoder
    does not send on; System 1 stalls 5 periods before the decoder's first message.
    `_catch_up` takes the joints never sent a path (`_path_of == 0`) along the newest path
    (made, never sent) instead of where they stand (the re-arm's `_hold_paths_at`); and the
    re-arm window (`_rearm`, node-clock time) has run out during the stall. The first
    message then starts the controller from where it never was."""
    every = 3
    sim, speed = ramp_sim(accel=ACCEL, path_joints=np.ones(A, dtype=bool))
    sim.loop.path_ticks = every + 1
    messages, k = [], [0]

    def tick(enabled=True):
        sim.feed_state()
        sim.feed_tokens()
        sim.t += TICK
        r = sim.loop.tick(sim.t, sim.t + sim.mono_shift, enabled=enabled, state=sim.state,
                          tokens=sim.tokens, plan=sim.plan, worker_healthy=True)
        if r.command is not None:
            path = sim.loop.path(sim.t, TICK)
            if k[0] % every == 0:
                sim.loop.path_sent(np.arange(A))
                messages.append((sim.t + sim.mono_shift, *path))
            k[0] += 1
        return r

    for _ in range(40):
        tick()
    while tick(enabled=False).command is not None:
        pass
    for _ in range(5):
        tick(enabled=False)
    sim.measured = sim.loop.limiter.last.copy()  # at rest where it was braked to
    sim.feed_state()
    rows = sim.measured + speed * DT * np.arange(16)[:, None] * np.ones((1, A))
    sim.plan = Plan(Chunk(sim.state.stamp, DT, sim.state.action_positions, rows,
                          seq=sim.state.seq), sim.state, 1, 0.001, sim.t)
    while k[0] % every != 1:  # the decoder sends its first message 2 ticks after the re-arm
        k[0] += 1
    before = len(messages)
    assert tick().command is not None  # re-armed: no message on this tick
    assert len(messages) == before
    sim.t += stall * TICK  # stall: 5 periods
    for _ in range(20):
        tick()
    dv = receipt_dv(messages[before - 2:], sim.t + sim.mono_shift)
    assert dv <= ACCEL[0] * TICK + 1e-6, f"dv at a receipt {dv:.4f} > {ACCEL[0] * TICK:.4f}"


def test_disabled_while_the_command_rests_the_controller_does_not_run_the_plan_on():
    """Enabled: the first command rests at the measurement (the re-arm holds trajectory
    joints at the start) but the path sent goes to the plan. Disabled the next tick: the
    command is at rest (`limiter.moving` is False), so `brake` publishes nothing; the
    controller runs the whole path it was sent: 0.5 rad after the disable. (With a path
    that moves within 2.5 periods the stall logic notices late, 3 periods on, and then
    `test_C`'s jump follows: the fuzz found 1.31 rad/s in a period, a * dt = 0.15.)"""
    sim = Sim(accel=ACCEL, measured=(0.0, 0.0), path_joints=np.ones(A, dtype=bool))
    sim.loop.path_ticks = 2
    sim.feed_state()
    sim.feed_tokens()
    rows = np.concatenate([np.zeros((5, A)), np.full((11, A), 0.5)])  # 0.2 s still, then 0.5
    sim.plan = Plan(Chunk(sim.state.stamp, DT, sim.state.action_positions, rows,
                          seq=sim.state.seq), sim.state, 1, 0.001, sim.t)
    messages = []
    assert sim.tick().command is not None
    messages.append((sim.t, *sim.loop.path(sim.t, TICK)))
    sim.loop.path_sent(np.arange(A))
    for _ in range(120):  # 1 s disabled
        sim.feed_state()
        sim.feed_tokens()
        if sim.tick(enabled=False).command is not None:
            messages.append((sim.t, *sim.loop.path(sim.t, TICK)))
            sim.loop.path_sent(np.arange(A))
    t, pos = jtc_positions(messages, sim.t, step=TICK)
    assert np.abs(pos[-1] - pos[0]).max() < 0.01, f"moved {pos[-1] - pos[0]} after the disable"


def test_a_simulators_clock_going_back_leaves_the_controller_where_it_was():
    """Under sim time the controllers run on the node clock (/clock): when it goes back (a
    simulator reset), a trajectory controller is before the start of the path it runs, and
    the loop reads it at the path's first point, at rest. The paths had been moved onto the
    new timeline as a robot's (on a monotonic clock) would be, and the next one started from
    where the controller never was (a fuzz found 1.5 rad/s changed in a period against 0.14
    allowed)."""
    sim, speed = ramp_sim(accel=ACCEL, path_joints=np.ones(A, dtype=bool))
    sim.loop.sim_time = True
    sim.loop.path_ticks = 2
    messages, k = [], [0]
    for _ in range(30):
        step(sim, messages, 1, k)
    _, times, rows = messages[-1]
    start_of_last = sim.loop.limiter.last.copy()  # the command the last path started from
    before = len(messages)
    sim.t -= 1.0  # the simulator's clock goes back; the monotonic one goes on
    sim.mono_shift += 1.0
    for _ in range(3):
        step(sim, messages, 1, k)
    assert len(messages) > before
    _, times_after, rows_after = messages[before]  # the first message after the jump
    # It starts at rest where the controller stands: the last path's start.
    v0 = (rows_after[0] - start_of_last) / times_after[0]
    assert np.abs(v0).max() <= ACCEL[0] * TICK + 1e-6, (v0, rows_after[0], start_of_last)


@pytest.mark.parametrize("lateness_ms", [0.3, 1.0])
def test_late_ticks_leave_a_stamped_trajectory_controller_within_its_acceleration_limit(
        lateness_ms):
    """Each tick comes |N(0, lateness)| late (an rcl timer keeps its phase and wakes late)
    with a new plan (a 1-Hz sway the limits cut); each path goes out stamped with its tick,
    the command first at 0 (header_stamp tick), and a model of the Jazzy
    joint_trajectory_controller at 500 Hz (jtc_model) plays it on that clock. Each path
    changed the velocity from its tick on, so two changes of up to a * dt each could come
    within less than a period: 2.3 times the limit over a period. The loop now keeps the
    knots of the path sent on one grid (path_grid) and changes course only there."""
    rng = np.random.default_rng(7)
    sim = Sim(accel=ACCEL, measured=(0.0, 0.0), path_joints=np.ones(A, dtype=bool))
    sim.loop.path_ticks = 2
    sim.loop.path_grid = True
    t0, messages, kept = sim.t, [], 0
    for k in range(300):
        sim.t = t0 + k * TICK + abs(rng.normal(0.0, lateness_ms / 1000))
        sim.feed_state()
        sim.feed_tokens()
        ahead = sim.t + DT * np.arange(16)
        rows = 0.4 * np.sin(2 * np.pi * (ahead - t0))[:, None] * np.ones((1, A))
        sim.plan = Plan(Chunk(sim.t, DT, sim.state.action_positions, rows,
                              seq=sim.state.seq), sim.state, 1, 0.001, sim.t)
        r = sim.loop.tick(sim.t, sim.t, enabled=True, state=sim.state, tokens=sim.tokens,
                          plan=sim.plan, worker_healthy=True)
        if r.command is None:
            continue
        kept += sim.loop._kept_knots(sim.t, TICK)[0].size > 0
        times, rows = sim.loop.path(sim.t, TICK)
        sim.loop.path_sent(np.arange(A))
        messages.append((sim.t + 1e-4, sim.t, np.concatenate([[0.0], times]),
                         np.vstack([r.command, rows])))
        sim.measured = r.command.copy()
    assert kept > 100  # the ticks came off the grid, and paths kept its knots
    t, x, refused = run_controller(messages, messages[0][3][0], 0.002, t0 + 7e-4, sim.t)
    assert refused == 0
    after = t > t0 + 0.3
    worst = accel_per_period(t[after], x[after], TICK).max()
    assert worst <= 1.1 * ACCEL[0], f"{worst:.2f} rad/s^2 over a period, limit {ACCEL[0]}"


@pytest.mark.parametrize("lateness_ms", [0.0, 0.5])
def test_a_path_keeps_the_path_sent_for_a_period_after_its_tick(lateness_ms):
    """The controller takes a message up milliseconds after its tick (System 1 sends it ~3
    ms later, then transport and the controller's next update), so each path runs as the
    path sent for at least a period after its tick, on steady ticks too: a tick on a knot
    changed course at once, and the controller stepped onto the new path on taking it up
    (2.86 mrad in a recorded stream; 2.3 times the acceleration limit over a period)."""
    rng = np.random.default_rng(3)
    sim, speed = ramp_sim(accel=ACCEL, path_joints=np.ones(A, dtype=bool))
    sim.loop.path_ticks = 2
    sim.loop.path_grid = True
    t0, sent, checked = sim.t, None, 0
    for k in range(80):
        if k in (20, 45):
            turn_round(sim, speed if k == 20 else -speed)
        sim.t = t0 + (k + 1) * TICK + abs(rng.normal(0.0, lateness_ms / 1000))
        sim.feed_state()
        sim.feed_tokens()
        r = sim.loop.tick(sim.t, sim.t, enabled=True, state=sim.state, tokens=sim.tokens,
                          plan=sim.plan, worker_healthy=True)
        assert r.command is not None
        times, rows = sim.loop.path(sim.t, TICK)
        sim.loop.path_sent(np.arange(A))
        new = (sim.t + np.concatenate([[0.0], times]), np.vstack([r.command, rows]))
        if sent is not None:
            for s in sim.t + TICK * np.linspace(0.0, 1.0, 9):
                for j in range(A):
                    assert np.interp(s, new[0], new[1][:, j]) == pytest.approx(
                        np.interp(s, sent[0], sent[1][:, j]), abs=1e-12), (k, s - sim.t)
                checked += 1
        sent = new
    assert checked > 500


@pytest.mark.parametrize("delay_ms", [2.0, 4.0])
def test_a_start_from_rest_keeps_a_stamped_controller_within_its_acceleration_limit(delay_ms):
    """The first stamped path after a start (activation, a re-arm; also a node clock that
    went back) has no path sent to keep: it left the start at its tick, and the controller,
    at rest there, took it up `delay_ms` later (System 1's send, transport, its next update)
    and stepped onto it: about 1.6 and 2.1 times the acceleration limit over a period.
    At rest, the path keeps the command for a period, on a fresh grid."""
    sim = Sim(accel=ACCEL, measured=(0.0, 0.0), path_joints=np.ones(A, dtype=bool))
    sim.loop.path_ticks = 2
    sim.loop.path_grid = True
    t0, messages = sim.t, []
    for k in range(12):
        sim.t = t0 + k * TICK
        sim.feed_state()
        sim.feed_tokens()
        ahead = sim.t + DT * np.arange(16)
        rows = 0.5 * (ahead - t0)[:, None] * np.ones((1, A))  # a 0.5 rad/s ramp from rest
        sim.plan = Plan(Chunk(sim.t, DT, sim.state.action_positions, rows,
                              seq=sim.state.seq), sim.state, 1, 0.001, sim.t)
        r = sim.loop.tick(sim.t, sim.t, enabled=True, state=sim.state, tokens=sim.tokens,
                          plan=sim.plan, worker_healthy=True)
        assert r.command is not None
        times, path = sim.loop.path(sim.t, TICK)
        sim.loop.path_sent(np.arange(A))
        messages.append((sim.t + delay_ms / 1000, sim.t, np.concatenate([[0.0], times]),
                         np.vstack([r.command, path])))
        sim.measured = r.command.copy()
    t, x, refused = run_controller(messages, messages[0][3][0], 0.002, t0 - 0.02 + 7e-4, sim.t)
    assert refused == 0
    assert x[-1, 0] > x[0, 0] + 0.01  # it started
    worst = accel_per_period(t, x, TICK).max()
    assert worst <= 1.1 * ACCEL[0], f"{worst:.2f} rad/s^2 over a period, limit {ACCEL[0]}"


def test_only_the_joints_of_stamped_controllers_keep_the_grid():
    """Two trajectory controllers, one stamped with the tick (joint 0), one stamped 0 (joint
    1): the stamped one keeps its grid (before, the node turned the grid off for both, and
    the stamped controller went 2.75-3.19 times past its acceleration limit), the other's
    path starts its step at the tick, as a controller timing it from receipt needs."""
    rng = np.random.default_rng(5)
    sim, speed = ramp_sim(accel=ACCEL, path_joints=np.ones(A, dtype=bool))
    sim.loop.path_ticks = 2
    sim.loop.path_grid = np.array([True, False])
    t0, sent, kept = sim.t, None, 0
    for k in range(40):
        if k == 20:
            turn_round(sim, speed)
        sim.t = t0 + (k + 1) * TICK + abs(rng.normal(0.0, 0.0005))
        sim.feed_state()
        sim.feed_tokens()
        r = sim.loop.tick(sim.t, sim.t, enabled=True, state=sim.state, tokens=sim.tokens,
                          plan=sim.plan, worker_healthy=True)
        kept_t, _, joints = sim.loop._kept_knots(sim.t, TICK)
        if kept_t.size:
            assert list(joints) == [True, False]
            kept += 1
        times, rows = sim.loop.path(sim.t, TICK)
        sim.loop.path_sent(np.arange(A))
        new = (sim.t + np.concatenate([[0.0], times]), np.vstack([r.command, rows]))
        if sent is not None:  # joint 0 runs as the path sent for a period after the tick
            for s in sim.t + TICK * np.linspace(0.0, 1.0, 5):
                assert np.interp(s, new[0], new[1][:, 0]) == pytest.approx(
                    np.interp(s, sent[0], sent[1][:, 0]), abs=1e-12)
        sent = new
    assert kept > 30


@pytest.mark.parametrize("path_grid", [True, False])
def test_a_hold_at_rest_is_not_refused_by_a_controller_taking_paths_up_late(path_grid):
    """A stamped controller that takes messages up 12 ms after their tick (more than a
    period: the clock check warns, the protection of the grid has ended). Running, the paths
    reach far into the chunk; in a hold at rest the path was the command one period on, so
    it ended before the controller received it: "ends in the past", every message refused
    (an ERROR at 120 Hz on the controller's side; it kept its last path). A path covers the
    same periods at rest as running."""
    sim, speed = ramp_sim(accel=ACCEL, path_joints=np.ones(A, dtype=bool))
    sim.loop.path_ticks = 2
    sim.loop.path_grid = path_grid
    messages, states, delay = [], set(), 0.012
    for k in range(80):
        if k < 20:  # then no state: a hold, braking, then at rest
            sim.feed_state()
            sim.feed_tokens()
        sim.t += TICK
        r = sim.loop.tick(sim.t, sim.t, enabled=True, state=sim.state, tokens=sim.tokens,
                          plan=sim.plan, worker_healthy=True)
        states.add(r.state)
        assert r.command is not None
        times, rows = sim.loop.path(sim.t, TICK)
        sim.loop.path_sent(np.arange(A))
        messages.append((sim.t + delay, sim.t, np.concatenate([[0.0], times]),
                         np.vstack([r.command, rows])))
    assert SafetyState.HOLD_STALE_STATE in states and not sim.loop.limiter.moving
    t, x, refused = run_controller(messages, messages[0][3][0], 0.002, messages[0][0], sim.t)
    assert refused == 0
    assert x[-1] == pytest.approx(sim.loop.limiter.last, abs=1e-12)
