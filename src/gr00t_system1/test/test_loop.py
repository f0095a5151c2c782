"""CommandLoop: one control tick from plan + safety, simulated tick by tick (no DDS)."""

import math

import numpy as np
import pytest

from gr00t_policy.runtime.chunk import Chunk
from gr00t_policy.runtime.execution import CrossfadeExecutor
from gr00t_system1.loop import CommandLoop, position_on_path
from gr00t_policy.runtime.planner import Plan, StateSample, TokenSample
from gr00t_system1.limiter import CommandLimiter
from gr00t_system1.safety import SafetyState, Supervisor

A, TICK, DT = 2, 1 / 120, 0.05
VEL = np.array([1.0, 1.0])
STATE_S, TOKENS_S = 0.05, 0.5


class Sim:
    """Drives a CommandLoop with a clock, inputs and plans that the test controls."""

    def __init__(self, on_stale="hold_last_command", measured=(0.3, -0.3), accel=None,
                 path_joints=None):
        lim = CommandLimiter(np.array([-1.0, -1.0]), np.array([1.0, 1.0]), VEL, TICK,
                             acceleration=accel)
        self.loop = CommandLoop(lim, Supervisor(STATE_S, TOKENS_S),
                                executor=CrossfadeExecutor(0.1), on_stale=on_stale,
                                path_joints=path_joints)
        self.t = 100.0
        self.mono_shift = 0.0  # the monotonic clock is t + this (a jump of t leaves it going)
        self.measured = np.array(measured)
        self.state = self.tokens = self.plan = None
        self.seq = 0

    def feed_state(self):
        self.seq += 1
        self.state = StateSample(self.measured.copy(), self.measured.copy(), self.t,
                                 self.t + self.mono_shift, self.seq)

    def feed_tokens(self, instruction_id=1):
        seq = 1 if self.tokens is None else self.tokens.seq + 1
        self.tokens = TokenSample(None, None, self.t, self.t + self.mono_shift, instruction_id,
                                  seq)

    def feed_plan(self, target, instruction_id=1):
        rows = np.tile(np.asarray(target, dtype=float), (16, 1))
        self.plan = Plan(Chunk(self.state.stamp, DT, self.state.action_positions, rows,
                               seq=self.state.seq), self.state, instruction_id, 0.001, self.t)

    def tick(self, enabled=True):
        self.t += TICK
        return self.loop.tick(self.t, self.t + self.mono_shift, enabled=enabled,
                              state=self.state, tokens=self.tokens, plan=self.plan,
                              worker_healthy=True)


def running_sim(**kw):
    sim = Sim(**kw)
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.9, 0.9])
    r = sim.tick()
    assert r.state == SafetyState.RUNNING
    return sim, r


def test_enabling_starts_from_the_measured_position():
    sim = Sim()
    assert sim.tick().command is None  # nothing received: WAITING, nothing published
    sim.feed_state()
    sim.feed_tokens()
    assert sim.tick(enabled=False).command is None
    sim.feed_plan([0.9, 0.9])
    r = sim.tick()
    assert r.state == SafetyState.RUNNING and r.new_plan is sim.plan
    assert np.abs(r.command - sim.measured).max() <= VEL[0] * TICK + 1e-12


def test_stale_state_holds_within_one_tick_and_the_command_stays_constant():
    sim, _ = running_sim()
    arrival = sim.state.arrival
    held = None
    while True:
        r = sim.tick()
        if r.state != SafetyState.RUNNING:
            break
        sim.feed_tokens()
    assert r.state == SafetyState.HOLD_STALE_STATE
    assert sim.t - arrival - STATE_S <= TICK + 1e-9
    held = r.command
    for _ in range(10):
        sim.feed_tokens()
        r = sim.tick()
        assert r.state == SafetyState.HOLD_STALE_STATE
        assert r.command.tolist() == held.tolist()


def test_stale_tokens_hold_and_fresh_inputs_recover_without_a_step():
    sim, _ = running_sim()
    prev = None
    while True:
        sim.feed_state()
        sim.feed_plan([0.9, 0.9])
        r = sim.tick()
        if r.state != SafetyState.RUNNING:
            break
        prev = r.command
    assert r.state == SafetyState.HOLD_STALE_TOKENS
    assert sim.t - sim.tokens.arrival - TOKENS_S <= TICK + 1e-9
    held = r.command
    assert np.abs(held - prev).max() <= VEL[0] * TICK + 1e-12
    sim.feed_tokens()
    sim.feed_state()
    sim.feed_plan([-0.9, -0.9])  # a very different plan after the hold
    r = sim.tick()
    assert r.state == SafetyState.RUNNING
    assert np.abs(r.command - held).max() <= VEL[0] * TICK + 1e-12


def test_hold_measured_moves_towards_the_measured_position():
    sim, _ = running_sim(on_stale="hold_measured", measured=(0.0, 0.0))
    for _ in range(30):
        sim.feed_state()
        sim.feed_plan([0.9, 0.9])
        sim.tick()
    away = sim.loop.limiter.last.copy()
    assert away.min() > 0.1
    # Tokens go stale: hold the measured position (0, 0), rate limited.
    sim.tokens = TokenSample(None, None, sim.t - 1.0, sim.t - 1.0, 1, 1)
    sim.feed_state()
    r = sim.tick()
    assert r.state == SafetyState.HOLD_STALE_TOKENS
    assert (r.command < away).all()


def test_hold_measured_target_is_fixed_when_the_hold_starts():
    # A position-controlled arm settles below its target under gravity; if the hold
    # followed the live measurement, the arm would sink tick after tick.
    sim, _ = running_sim(on_stale="hold_measured", measured=(0.2, 0.2))
    sim.tokens = TokenSample(None, None, sim.t - 1.0, sim.t - 1.0, 1, 1)
    sim.feed_state()
    assert sim.tick().state == SafetyState.HOLD_STALE_TOKENS  # the hold starts at (0.2, 0.2)
    commands = []
    for _ in range(120):
        sim.measured = sim.measured - 0.01  # the arm sags while held
        sim.feed_state()
        r = sim.tick()
        assert r.state == SafetyState.HOLD_STALE_TOKENS
        commands.append(r.command)
    # It converges on the position measured when the hold began, and stays there.
    assert np.allclose(commands[-1], [0.2, 0.2])
    assert np.allclose(commands[-1], commands[-20])


def test_a_fault_during_a_measured_hold_holds_the_last_command_instead():
    sim, _ = running_sim(on_stale="hold_measured", measured=(0.0, 0.0))
    for _ in range(30):
        sim.feed_state()
        sim.feed_plan([0.9, 0.9])
        sim.tick()
    sim.tokens = TokenSample(None, None, sim.t - 1.0, sim.t - 1.0, 1, 1)
    sim.feed_state()
    assert sim.tick().state == SafetyState.HOLD_STALE_TOKENS  # towards (0, 0)
    sim.feed_state()
    braking = sim.tick().command
    r = sim.loop.tick(sim.t + TICK, sim.t + TICK, enabled=True, state=sim.state,
                      tokens=sim.tokens, plan=sim.plan, worker_healthy=True, fault="elbow")
    assert r.state == SafetyState.FAULT
    # The fault's target is where the last command comes to rest, not the old measurement.
    assert np.allclose(sim.loop._hold_target, sim.loop.limiter.stopping_point(), atol=0.05)
    assert (sim.loop._hold_target > 0.1).all() and (r.command <= braking + 1e-12).all()


def test_non_finite_plan_never_reaches_the_command():
    sim, _ = running_sim()
    sim.feed_state()
    sim.feed_plan([math.nan, math.inf])
    for _ in range(5):
        r = sim.tick()
        assert np.isfinite(r.command).all()


def test_disable_publishes_nothing_and_re_enable_restarts_from_measured():
    sim, _ = running_sim()
    assert sim.tick(enabled=False).command is None
    sim.measured = np.array([-0.5, 0.5])
    sim.feed_state()
    sim.feed_tokens()
    assert sim.tick().command is None  # no new plan since the state: WAITING
    sim.feed_plan([0.0, 0.0])
    r = sim.tick()
    assert np.abs(r.command - sim.measured).max() <= VEL[0] * TICK + 1e-12


ACCEL = np.array([5.0, 5.0])  # rad/s^2: from 1 rad/s, 0.2 s (24 ticks) to rest


@pytest.mark.parametrize("sag, from_held", [(0.03, True), (0.2, False)])
def test_re_enabled_the_commands_go_on_from_where_the_controllers_hold_the_arm(sag, from_held):
    """Disabled and braked to rest, the controllers hold the last command; a position-
    controlled arm sags below it by its steady-state error. Enabled again, the first
    command was the measured position, moving the target by the sag in one tick (0.03 rad
    against a * dt^2 = 0.35 mrad): the drives' holding torque let go at once. Within
    REARM_HELD_TOLERANCE the commands go on from the held command, at rest; further away
    (something else moved the arm), from the measured position, as before."""
    sim, _ = running_sim(accel=ACCEL)
    for _ in range(30):
        sim.feed_state()
        sim.feed_tokens()
        sim.feed_plan([0.9, 0.9])
        sim.tick()
    while sim.tick(enabled=False).command is not None:  # braking to rest
        pass
    for _ in range(10):
        assert sim.tick(enabled=False).command is None
    held = sim.loop.limiter.last.copy()
    sim.measured = held - sag
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.9, 0.9])
    r = sim.tick()
    assert r.state == SafetyState.RUNNING
    reach = ACCEL * TICK * TICK
    start = held if from_held else sim.measured
    assert (np.abs(r.command - start) <= reach + 1e-12).all(), (r.command, held, sim.measured)


def moving_sim(ticks=60):
    """Running with acceleration limits, at full speed towards (0.9, -0.9)."""
    sim = Sim(accel=ACCEL, measured=(-0.9, 0.9))
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.9, -0.9])
    commands = []
    for _ in range(ticks):
        sim.feed_state()  # fresh inputs: RUNNING throughout
        sim.feed_tokens()
        commands.append(sim.tick().command)
    assert np.allclose(np.abs(np.diff(commands[-2:], axis=0)) / TICK, VEL), "not at speed"
    return sim, commands


def assert_within_limits(commands):
    """Every step within the velocity limit, every velocity change within a * dt."""
    x = np.array(commands)
    v = np.diff(x, axis=0) / TICK
    assert (np.abs(v) <= VEL + 1e-9).all()
    assert (np.abs(np.diff(v, axis=0)) <= ACCEL * TICK + 1e-9).all(), np.diff(v, axis=0)


def test_disable_while_moving_brakes_to_rest_then_publishes_nothing():
    sim, commands = moving_sim()
    braking = []
    for _ in range(40):
        r = sim.tick(enabled=False)
        assert r.state == SafetyState.DISABLED
        if r.command is None:
            break
        braking.append(r.command)
    # 1 rad/s at 5 rad/s^2: 24 ticks, plus the last few that land softly on the target.
    assert 24 <= len(braking) <= 32, len(braking)
    assert_within_limits(commands + braking)
    assert np.allclose(braking[-1], braking[-2], atol=1e-6 * TICK), "not at rest"
    assert all(sim.tick(enabled=False).command is None for _ in range(5))
    # At rest already: disabling publishes nothing at all.
    sim2, _ = running_sim()
    assert sim2.tick(enabled=False).command is None  # no acceleration limits: stops at once


def test_re_enable_while_braking_goes_on_from_the_last_command():
    sim, commands = moving_sim()
    braking = [sim.tick(enabled=False).command for _ in range(5)]
    assert all(c is not None for c in braking)
    sim.measured = np.array([-0.5, 0.5])  # the measurement lags the commands
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.9, -0.9])
    after = [sim.tick().command for _ in range(10)]
    assert all(c is not None for c in after)
    assert_within_limits(commands + braking + after)


def test_plan_path_is_safe_and_starts_at_least_one_period_ahead():
    sim, _ = running_sim()
    times, rows = sim.loop.path(sim.t, TICK)
    assert times[0] >= TICK - 1e-12 and len(times) > 1 and (np.diff(times) > 0).all()
    # From the current command (now's), on the chunk's row times.
    steps = np.abs(np.diff(np.vstack([sim.loop.limiter.last, rows]), axis=0))
    gaps = np.diff(np.concatenate([[0.0], times]))
    assert (steps <= VEL * gaps[:, None] + 1e-12).all()
    # A point a period for path_ticks periods (the next commands), then the chunk's rows.
    k = sim.loop.path_ticks
    assert np.allclose(times[:k], TICK * np.arange(1, k + 1))
    chunk = sim.plan.chunk
    rows_t = sim.t + times[k:k + 5] - chunk.stamp
    assert np.allclose(rows_t / DT, np.round(rows_t / DT))
    # Holding: the current command one period ahead, then nothing (at rest already).
    for _ in range(70):
        sim.feed_state()
        r = sim.tick()
    assert r.state == SafetyState.HOLD_STALE_TOKENS
    times, rows = sim.loop.path(sim.t, TICK)
    assert times.tolist() == [pytest.approx(TICK)]
    assert rows[0].tolist() == sim.loop.limiter.last.tolist()


def assert_path_ends_at_rest_within_limits(sim, times, rows):
    """From the current command, now's."""
    times = np.concatenate([[0.0], times])
    rows = np.vstack([sim.loop.limiter.last, rows])
    v = np.diff(rows, axis=0) / np.diff(times)[:, None]  # (N-1, A)
    v = np.vstack([sim.loop.limiter.last_velocity, v])  # the command's own velocity first
    gaps = np.diff(times)
    assert (np.abs(v) <= VEL + 1e-9).all()
    assert (np.abs(np.diff(v, axis=0)) <= ACCEL * gaps[:, None] + 1e-9).all()
    assert np.abs(v[-1]).max() <= 1e-6, f"the path ends moving at {v[-1]}"


def test_a_trajectory_path_ends_at_rest_running_and_holding():
    # Running at full speed towards (0.9, -0.9), short of it: the chunk's last row is
    # reached moving; the path goes on past it, braking, and ends at rest.
    sim, _ = moving_sim(ticks=30)
    times, rows = sim.loop.path(sim.t, TICK)
    assert (np.diff(times) > 0).all() and times[0] >= TICK - 1e-12
    assert len(times) > 16  # the chunk's rows ahead plus the braking tail
    assert_path_ends_at_rest_within_limits(sim, times, rows)
    # Holding (stale tokens) while still braking: the path is the braking itself.
    for _ in range(70):
        sim.feed_state()
        r = sim.tick()
    assert r.state == SafetyState.HOLD_STALE_TOKENS and sim.loop.limiter.moving
    times, rows = sim.loop.path(sim.t, TICK)
    assert len(times) > 1
    assert_path_ends_at_rest_within_limits(sim, times, rows)


def test_the_path_while_braking_for_a_deactivation_is_the_braking():
    # Deactivating brakes through CommandLoop.brake with the supervisor still RUNNING: the
    # trajectory must be the braking, not the chunk it was following.
    sim, _ = moving_sim(ticks=30)
    sim.t += TICK
    assert sim.loop.brake(sim.t) is not None
    times, rows = sim.loop.path(sim.t, TICK)
    assert_path_ends_at_rest_within_limits(sim, times, rows)
    assert np.allclose(rows[-1], sim.loop.limiter.stopping_point(), atol=1e-3)
    assert np.abs(rows[-1] - [0.9, -0.9]).min() > 0.1  # not the chunk's target


def test_a_plan_for_a_replaced_instruction_is_never_taken():
    # A slow head's plan in flight when a new instruction's tokens arrive carries the old
    # instruction: enabling for a new episode must wait for a plan of the new one, not
    # turn the arms towards the old task for one latency.
    sim = Sim()
    sim.feed_state()
    sim.feed_tokens(instruction_id=2)
    sim.feed_plan([0.9, 0.9], instruction_id=1)
    r = sim.tick()
    assert r.command is None and r.state == SafetyState.WAITING and r.new_plan is None
    assert sim.loop.stale_instruction_plans == 1
    assert sim.tick().new_plan is None  # still waiting; the same plan is counted once
    assert sim.loop.stale_instruction_plans == 1
    sim.feed_state()
    sim.feed_plan([0.9, 0.9], instruction_id=2)
    r = sim.tick()
    assert r.state == SafetyState.RUNNING and r.new_plan is sim.plan
    # Running: the chunk in force goes on while a plan for the old instruction is refused.
    sim.feed_tokens(instruction_id=3)
    sim.feed_state()
    sim.feed_plan([-0.9, -0.9], instruction_id=2)
    before = sim.loop.executor.command(sim.t + TICK)
    r = sim.tick()
    assert r.state == SafetyState.RUNNING and r.new_plan is None
    assert np.allclose(sim.loop.executor.command(sim.t), before)
    assert sim.loop.stale_instruction_plans == 2


def slow_plan(sim, target, latency):
    """A plan from the newest state that is handed over `latency` s later (a slow head),
    while fresh states go on arriving every tick; returns the last tick's result."""
    planned_from = sim.state
    r = None
    for _ in range(round(latency / TICK)):
        r = sim.tick()
        sim.feed_state()
    rows = np.tile(np.asarray(target, dtype=float), (16, 1))
    sim.plan = Plan(Chunk(planned_from.stamp, DT, planned_from.action_positions, rows,
                          seq=planned_from.seq), planned_from, 1, latency,
                    sim.t + sim.mono_shift)
    return r


def test_plans_slower_than_the_state_staleness_limit_are_named_not_waited_for():
    # An action head slower than state_staleness_s (a 150-ms N1-size head on a Jetson, the
    # G1's 0.1 s): every plan is refused as stale. The loop said "waiting for the first
    # plan" for ever while plans kept coming; it must say why they are refused and what to
    # change, and count them.
    sim = Sim()
    sim.feed_state()
    sim.feed_tokens()
    slow_plan(sim, [0.9, 0.9], latency=3 * STATE_S)
    r = sim.tick()
    assert r.command is None and r.state == SafetyState.WAITING
    reason = sim.loop.supervisor.reason
    assert "state_staleness_s 0.05" in reason and "came 0.150 s after" in reason, reason
    assert sim.loop.stale_state_plans == 1
    assert sim.tick().state == SafetyState.WAITING and sim.loop.stale_state_plans == 1
    # Running, then the head slows down: the hold when the chunk runs out names it too.
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.2, -0.2])
    assert sim.tick().state == SafetyState.RUNNING
    assert "from fresh inputs" in sim.loop.supervisor.reason
    for _ in range(5):
        sim.feed_tokens()
        r = slow_plan(sim, [0.9, 0.9], latency=0.4)
    assert r.state == SafetyState.HOLD_NO_PLAN
    assert "state_staleness_s" in sim.loop.supervisor.reason
    assert sim.loop.stale_state_plans > 1
    # A plan that keeps up is taken again, and the hold's reason goes with it.
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.2, -0.2])
    sim.tick()
    assert sim.loop.supervisor.state == SafetyState.RUNNING


def test_a_plan_whose_chunk_ran_out_before_it_came_is_refused_and_named():
    # Inference slower than the chunk, with state_staleness_s raised to let its plans in:
    # each was taken for one tick of RUNNING towards its last row (where the policy wanted
    # the arm a latency ago), then held: a start and a brake at every plan, and a hold whose
    # reason asked whether inference was slower than the chunk.
    sim = Sim()
    sim.loop.supervisor = Supervisor(2.0, 2.0)
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.3, -0.3])  # the measured position: at rest
    assert sim.tick().state == SafetyState.RUNNING
    sim.feed_state()
    r = slow_plan(sim, [0.9, 0.9], latency=1.0)  # its chunk covers 0.75 s
    assert r.state == SafetyState.HOLD_NO_PLAN
    before = sim.loop.limiter.last.copy()
    r = sim.tick()
    assert r.state == SafetyState.HOLD_NO_PLAN and r.new_plan is None
    assert np.allclose(r.command, before)  # no start towards the old plan's last row
    reason = sim.loop.supervisor.reason
    assert "longer than the 0.75 s its chunk covers" in reason, reason
    assert sim.loop.run_out_plans == 1 and sim.loop.stale_state_plans == 0


def test_a_plan_in_progress_for_long_is_named_while_waiting_and_holding():
    # A hung runner (a plan that never returns) leaves the worker healthy: the loop held
    # saying "inference slower than the chunk?" for ever, and waited for "the first plan"
    # without a word of the plan in progress since.
    sim = Sim()
    sim.feed_state()
    sim.feed_tokens()
    sim.t += TICK
    r = sim.loop.tick(sim.t, sim.t, enabled=True, state=sim.state, tokens=sim.tokens,
                      plan=None, worker_healthy=True, planning_s=2.5)
    assert r.state == SafetyState.WAITING
    assert "in progress for 2.500 s" in sim.loop.supervisor.reason
    sim, _ = running_sim()
    for _ in range(round(1.0 / TICK)):  # the chunk (0.75 s) runs out
        sim.feed_state()
        sim.feed_tokens()
        sim.t += TICK
        r = sim.loop.tick(sim.t, sim.t, enabled=True, state=sim.state, tokens=sim.tokens,
                          plan=sim.plan, worker_healthy=True, planning_s=12.0)
    assert r.state == SafetyState.HOLD_NO_PLAN
    assert "in progress for 12.000 s" in sim.loop.supervisor.reason
    assert "stalled" in sim.loop.supervisor.reason


def test_a_new_instruction_s_first_plan_replaces_the_old_instruction_s_chunks():
    """The default mode averages every live chunk: the old instruction's must not steer the
    arm once a plan for the new one is taken (they did for up to a chunk's length)."""
    from gr00t_policy.runtime.execution import EnsembleExecutor

    sim = Sim()
    sim.loop.executor = EnsembleExecutor()
    sim.feed_state()
    sim.feed_tokens(instruction_id=1)
    for _ in range(40):  # many plans towards +0.9: the ensemble is full of them
        sim.feed_state()
        sim.feed_plan([0.9, 0.9], instruction_id=1)
        sim.tick()
    last = sim.loop.limiter.last.copy()
    sim.feed_tokens(instruction_id=2)
    sim.feed_state()
    sim.feed_plan([-0.9, -0.9], instruction_id=2)
    r = sim.tick()
    assert r.new_plan is sim.plan
    # The executor now follows the new plan alone (the rate limiter takes the command there).
    assert np.allclose(sim.loop.executor.command(sim.t), [-0.9, -0.9])
    assert np.all(r.command < last)  # on its way, from where it was
    assert np.abs(r.command - last).max() <= VEL[0] * TICK + 1e-12


def test_a_clock_that_jumps_back_skips_one_tick_not_the_seconds_it_jumped():
    """A wall clock stepped back by NTP, or a replayed /clock: commands go on a period after
    the jump, within the limits, instead of stopping until the clock is back where it was
    (which stopped a moving arm dead for those seconds while the state said RUNNING). The
    plan it had is on the old clock (`_clock_went_back`): with no newer one the arm stops
    within the limits, and the next plan runs."""
    sim, commands = moving_sim()
    sim.t -= 5.0
    sim.mono_shift += 5.0
    after, states = [], []
    for _ in range(30):
        sim.feed_state()
        sim.feed_tokens()
        r = sim.tick()
        states.append(r.state)
        after.append(r.command)
    assert after[0] is None and all(c is not None for c in after[1:])
    assert set(states[1:]) == {SafetyState.HOLD_NO_PLAN}
    sim.feed_state()
    sim.feed_plan([0.9, -0.9])  # made on the new clock
    for _ in range(5):
        sim.feed_tokens()
        r = sim.tick()
        after.append(r.command)
        sim.feed_state()
    assert r.state == SafetyState.RUNNING
    assert_within_limits([*commands, *after[1:]])
    assert sim.loop.limiter.clock_jumps_back == 1


def test_a_tick_right_after_a_late_one_gives_no_command():
    """rcl keeps a late timer's phase, so the tick after a late one comes almost at once:
    two full steps an instant apart would reach the controller as one jump of two. That
    tick gives nothing; the next, a period later, goes on by one step."""
    sim, commands = moving_sim()
    sim.t += 0.9 * TICK  # late by most of a period ...
    sim.feed_state()
    sim.feed_tokens()
    late = sim.tick().command
    sim.t -= 0.9 * TICK  # ... and the next on time: 0.1 period after it
    sim.feed_state()
    sim.feed_tokens()
    bunched = sim.tick()
    assert bunched.state == SafetyState.RUNNING and bunched.command is None
    sim.feed_state()
    sim.feed_tokens()
    after = sim.tick().command
    assert np.abs(late - commands[-1]).max() <= VEL[0] * TICK + 1e-12
    assert_within_limits([*commands, late, after])
    # Ordinary jitter (a fifth of a period early) publishes as usual; so does braking.
    sim.t -= 0.2 * TICK
    sim.feed_state()
    sim.feed_tokens()
    assert sim.tick().command is not None
    sim.t += 0.2 * TICK
    assert sim.tick(enabled=False).command is not None  # braking, a period later
    sim.t -= 0.9 * TICK
    assert sim.tick(enabled=False).command is None  # too soon, even braking
    sim.t += 0.9 * TICK


def jtc_positions(messages, t_end, step=1e-3):
    """What a joint_trajectory_controller given positions only commands, sampled every
    `step`: each message (receipt time, times from receipt (N,), rows (N, A)) replaces the
    trajectory, which runs linearly from where the previous one was at receipt through its
    points, and holds the last point after it."""
    out_t = np.arange(messages[0][0], t_end, step)
    pos = np.empty((len(out_t), messages[0][2].shape[1]))
    current = messages[0][2][0]
    m = 0
    for k, t in enumerate(out_t):
        while m + 1 < len(messages) and messages[m + 1][0] <= t:
            m += 1
            current = pos[k - 1]  # where the controller was when the message came
            knots_t = np.concatenate([[messages[m][0]], messages[m][0] + messages[m][1]])
            knots = np.vstack([current, messages[m][2]])
        if m == 0 and k == 0:
            knots_t = np.concatenate([[messages[0][0]], messages[0][0] + messages[0][1]])
            knots = np.vstack([current, messages[0][2]])
        pos[k] = [np.interp(t, knots_t, knots[:, j]) for j in range(knots.shape[1])]
    return out_t, pos


def turn_round(sim, speed):
    """A new plan for `sim`: back down the ramp from the last command at `speed`."""
    rows = sim.loop.limiter.last - speed * DT * np.arange(16)[:, None] * np.ones((1, A))
    sim.plan = Plan(Chunk(sim.state.stamp, DT, sim.state.action_positions, rows,
                          seq=sim.state.seq), sim.state, 1, 0.001, sim.t)


def ramp_sim(**kw):
    """A Sim from (0, 0) whose plan is a steady 0.5 rad/s ramp of 16 rows; (sim, speed)."""
    sim = Sim(measured=(0.0, 0.0), **kw)
    sim.feed_state()
    sim.feed_tokens()
    speed = 0.5
    rows = speed * DT * np.arange(16)[:, None] * np.ones((1, A))  # (16, A) a steady ramp
    sim.plan = Plan(Chunk(sim.state.stamp, DT, sim.state.action_positions, rows,
                          seq=sim.state.seq), sim.state, 1, 0.001, sim.t)
    return sim, speed


def test_the_first_path_points_are_the_next_commands_of_a_forward_controller(every=3):
    """The path a trajectory controller gets runs through the commands the loop gives the
    next ticks (with no newer plan), period by period, past its next message."""
    sim, _ = ramp_sim(accel=ACCEL, path_joints=np.ones(A, dtype=bool))
    sim.loop.path_ticks = every + 1
    for _ in range(10):
        sim.feed_state()
        sim.feed_tokens()
        sim.tick()
    times, rows = sim.loop.path(sim.t, TICK)
    given = []
    for _ in range(every + 1):
        sim.feed_state()
        sim.feed_tokens()
        given.append(sim.tick().command)
    np.testing.assert_allclose(rows[:every + 1], given, atol=1e-12)


@pytest.mark.parametrize("every", [1, 4])
def test_a_trajectory_controller_changes_speed_within_the_limits_when_the_plan_turns(every):
    """A controller sent a path every tick (or every 4th) runs from rest up a ramp, then a
    new plan turns the arm round: its velocity may change by the acceleration limit a
    period, as a forward controller's. A first point at the chunk's next row (up to a row
    gap ahead) let it change by up to a * gap within one period: 0.52 rad/s a period here,
    0.04 allowed. Sent every 4th tick, it followed the path it got while the commands took
    the new plan, and the next path started from those: 0.57, then 0.42 with the first
    points a period apart; the commands now stay on the path sent (`_as_sent`)."""
    sim, speed = ramp_sim(accel=ACCEL, path_joints=np.ones(A, dtype=bool))
    sim.loop.path_ticks = every + 1
    messages, ticks = [], []
    for k in range(90):
        if k == 41:
            turn_round(sim, speed)
        sim.feed_state()
        sim.feed_tokens()
        sent = k % every == 0
        assert sim.tick().state == SafetyState.RUNNING
        ticks.append(sim.t)
        path = sim.loop.path(sim.t, TICK)
        if sent:
            sim.loop.path_sent(np.arange(A))
            messages.append((sim.t, *path))
    t, pos = jtc_positions(messages, sim.t, step=TICK / 40)
    at = np.interp(ticks, t, pos[:, 0])
    v = np.diff(at) / TICK  # the controller's velocity over each period
    change = np.abs(np.diff(v))[1:]  # (the model starts at the first point: not from rest)
    assert change.max() <= ACCEL[0] * TICK + 1e-9, change.max()
    assert v.min() < -0.4 and v.max() > 0.4  # it did go up and come back


def test_re_enabled_a_controller_sent_every_4th_path_starts_from_rest_within_the_limits():
    """Disabled, braked to rest, enabled again: a decoder sent every 4th tick may send its
    first path 3 ticks after the re-arm. Those ticks' commands stay where the joints are,
    so that path starts from there at rest; taking the plan meanwhile made the controller
    step to the path's first point in one period (15 times the acceleration limit)."""
    every = 4
    sim, speed = ramp_sim(accel=ACCEL, path_joints=np.ones(A, dtype=bool))
    sim.loop.path_ticks = every + 1
    messages, ticks, sent_ticks = [], [], 0

    def step(enabled=True):
        nonlocal sent_ticks
        sim.feed_state()
        sim.feed_tokens()
        r = sim.tick(enabled=enabled)
        if r.command is not None:
            ticks.append(sim.t)
            path = sim.loop.path(sim.t, TICK)
            if sent_ticks % every == 0:  # the decoder's own count of published ticks
                sim.loop.path_sent(np.arange(A))
                messages.append((sim.t, *path))
            sent_ticks += 1
        return r

    for _ in range(40):
        step()
    while step(enabled=False).command is not None:  # braking to rest
        pass
    for _ in range(5):
        step(enabled=False)
    sim.measured = sim.loop.limiter.last.copy()  # the arm stands where it was braked to
    sim.feed_state()
    rows = sim.measured + speed * DT * np.arange(16)[:, None] * np.ones((1, A))
    sim.plan = Plan(Chunk(sim.state.stamp, DT, sim.state.action_positions, rows,
                          seq=sim.state.seq), sim.state, 1, 0.001, sim.t)
    while sent_ticks % every != 1:  # the next message three ticks after the re-arm
        sent_ticks += 1
    for _ in range(40):
        assert step().state == SafetyState.RUNNING
    t, pos = jtc_positions(messages, sim.t, step=TICK / 40)
    v = np.diff(np.interp(ticks, t, pos[:, 0])) / np.diff(ticks)
    change = np.abs(np.diff(v))[1:]
    assert change.max() <= ACCEL[0] * TICK + 1e-6, change.max()


@pytest.mark.parametrize("every", [1, 4])
def test_a_trajectory_controller_follows_a_steady_plan_without_dips(every):
    """A plan moving at a steady 0.5 rad/s must reach the joints at that speed whichever
    tick a trajectory message is sent on: a path whose first point lagged the chunk's time
    base made a controller updated every 4th tick stall for a period after each message."""
    sim, speed = ramp_sim()
    messages = []
    for k in range(60):  # 0.5 s, inside the 0.8 s chunk
        sim.feed_state()  # fresh inputs: RUNNING throughout
        sim.feed_tokens()
        r = sim.tick()
        assert r.state == SafetyState.RUNNING
        if k % every == 0:
            messages.append((sim.t, *sim.loop.path(sim.t, TICK)))
    t, pos = jtc_positions(messages, sim.t)
    w = 8  # velocity over 8 ms windows: a controller's first sample of a new trajectory is
    # where it was (one sample standing still at any receipt, the same before and after)
    v = (pos[w:, 0] - pos[:-w, 0]) / (t[w:] - t[:-w])
    steady = t[w:] > t[0] + 0.2  # after the cross-fade and the limiter's start
    assert v[steady].min() >= 0.8 * speed, v[steady].min()
    assert v[steady].max() <= 1.2 * speed, v[steady].max()


def test_after_a_stall_a_held_joint_starts_again_from_rest():
    """A forward-command controller holds the last command through a stall: the joint stands
    still there, so the first command after it must start from rest (one tick's worth of
    acceleration), not jump back to the speed it had before the stall."""
    sim, commands = moving_sim()
    sim.t += 5 * TICK  # no tick for 6 periods
    sim.feed_state()
    sim.feed_tokens()
    after = []
    for _ in range(30):
        after.append(sim.tick().command)
        sim.feed_state()
        sim.feed_tokens()
    assert np.abs(after[0] - commands[-1]).max() <= ACCEL[0] * TICK * TICK + 1e-12
    assert sim.loop.limiter.stalls == 1
    assert_within_limits(after)  # then speeds up again within the limits
    speeds = np.abs(np.diff(after[:20], axis=0))[:, 0] / TICK
    assert (np.diff(speeds) > 0.9 * ACCEL[0] * TICK).all(), speeds
    # Up to STALL_GAP periods (one late tick and the skipped one after it) is no stall.
    sim.t += 1.4 * TICK
    sim.feed_state()
    sim.feed_tokens()
    before = sim.loop.limiter.last_velocity.copy()
    late = sim.tick().command
    assert np.abs((late - after[-1]) / TICK - before).max() <= ACCEL[0] * TICK + 1e-9
    assert np.abs(before).min() > 0.3 and sim.loop.limiter.stalls == 1


def test_a_node_clock_stepped_forward_is_no_stall():
    """The robot computer's clock stepped 0.5 s (NTP) while the arm moves at full speed: a
    period passed for the controllers, so the next command goes on at that speed; taking it
    for a stall restarted the joints from rest, a velocity jump of the whole speed."""
    sim, commands = moving_sim()
    speed = (commands[-1] - commands[-2]) / TICK
    mono = sim.t + TICK
    sim.t += 0.5 + TICK  # the node clock steps; inputs come stamped on the new clock
    sim.state = StateSample(sim.measured.copy(), sim.measured.copy(), sim.t, mono, sim.seq + 1)
    sim.tokens = TokenSample(None, None, sim.t, mono, 1, sim.tokens.seq + 1)
    r = sim.loop.tick(sim.t, mono, enabled=True, state=sim.state, tokens=sim.tokens,
                      plan=sim.plan, worker_healthy=True)
    assert r.command is not None and sim.loop.limiter.stalls == 0
    assert np.abs((r.command - commands[-1]) / TICK - speed).max() <= ACCEL[0] * TICK + 1e-9


@pytest.mark.parametrize("sim_time", [True, False])
def test_under_sim_time_a_stall_is_measured_on_the_node_clock(sim_time):
    """A simulator faster than the wall: its /clock ran 6 periods while the wall ran 2. Its
    controllers run on /clock, so under sim time that is a stall (the held joints stopped);
    on a robot the monotonic clock decides, and 2 periods are none."""
    sim, _ = moving_sim()
    sim.loop.sim_time = sim_time
    sim.t += 5 * TICK
    sim.mono_shift -= 4 * TICK
    sim.feed_state()
    sim.feed_tokens()
    sim.tick()
    assert sim.loop.limiter.stalls == (1 if sim_time else 0)


def test_after_a_stall_a_trajectory_controller_goes_on_without_stepping_back():
    """A trajectory controller runs on along the last path it was sent while System 1
    stalls: the first path after the stall must go on from where the controller is by then
    (at its speed), not from the last command, which it has long passed."""
    sim, speed = ramp_sim(accel=ACCEL, path_joints=np.ones(A, dtype=bool))
    messages = []
    for k in range(60):
        if k == 40:
            sim.t += 5 * TICK  # System 1 stalls for 6 periods; the controller runs on
        sim.feed_state()
        sim.feed_tokens()
        assert sim.tick().state == SafetyState.RUNNING
        messages.append((sim.t, *sim.loop.path(sim.t, TICK)))
    assert sim.loop.limiter.stalls == 1
    t, pos = jtc_positions(messages, sim.t)
    w = 8
    v = (pos[w:, 0] - pos[:-w, 0]) / (t[w:] - t[:-w])
    steady = t[w:] > t[0] + 0.2
    assert v[steady].min() >= 0.8 * speed, v[steady].min()  # no step back, no stop
    assert v[steady].max() <= 1.2 * speed, v[steady].max()


def test_after_a_stall_a_controller_sent_every_nth_path_goes_on_from_the_one_it_got():
    """A trajectory controller sent every 4th path follows an older one than the newest: a
    plan that turned the arm round after the last path sent (a tick before the stall) must
    not be taken for where the controller is. The first path after the stall starts from
    the command; going on from the newest path put that 21 mrad from the controller."""
    sim, speed = ramp_sim(accel=ACCEL, path_joints=np.ones(A, dtype=bool))
    messages, starts = [], []
    for k in range(52):
        if k == 41:
            turn_round(sim, speed)
        if k == 42:
            sim.t += 5 * TICK  # System 1 stalls for 6 periods; the controller runs on
        sim.feed_state()
        sim.feed_tokens()
        assert sim.tick().state == SafetyState.RUNNING
        path = sim.loop.path(sim.t, TICK)
        if k % 4 == 0:  # every_n_ticks: 4
            sim.loop.path_sent(np.arange(A))
            messages.append((sim.t, *path))
            starts.append(sim.loop.limiter.last.copy())
    assert sim.loop.limiter.stalls == 1
    t, pos = jtc_positions(messages, sim.t + TICK)
    first_after = 11  # k == 44
    received = messages[first_after][0]
    at_receipt = np.array([np.interp(received, t, pos[:, j]) for j in range(A)])
    # Without a stall this run's paths start within 8 mrad of the controller (a path from
    # a newer plan than the controller's, every 4th tick); the first after the stall:
    assert np.abs(at_receipt - starts[first_after]).max() <= 0.004


@pytest.mark.parametrize("mode", ["ensemble", "crossfade", "latest"])
def test_after_the_node_clock_goes_back_new_plans_take_over(mode):
    """/clock went back 2 s (a simulator reset, a bag replayed in a loop): the chunks held
    are stamped ahead of the new time. An ensemble kept them live and weighing most, at
    their first row: 1.5 s later it still commanded 0.25 where every new plan said -0.5."""
    from gr00t_policy.runtime.execution import make_executor

    sim = Sim(accel=ACCEL, measured=(0.0, 0.0))
    sim.loop.executor = make_executor(mode)
    sim.feed_state()
    sim.feed_tokens()
    for _ in range(30):
        sim.feed_state()
        sim.feed_tokens()
        sim.feed_plan([0.5, 0.5])
        sim.tick()
    sim.feed_state()
    sim.feed_plan([0.5, 0.5])
    in_flight = sim.plan  # not taken yet when the clock jumps: made by the old clock
    sim.t -= 2.0
    sim.mono_shift += 2.0
    sim.feed_state()
    sim.feed_tokens()
    sim.plan = in_flight
    for _ in range(3):
        assert sim.tick().new_plan is None  # its times are 2 s ahead of the clock
    commands = []
    for _ in range(180):  # 1.5 s of new plans that all say -0.5 (1.2 s away at the limits)
        sim.feed_state()
        sim.feed_tokens()
        sim.feed_plan([-0.5, -0.5])
        r = sim.tick()
        assert r.state == SafetyState.RUNNING
        commands.append(r.command)
    assert np.abs(commands[-1] + 0.5).max() < 1e-6, commands[-1]
    assert_within_limits(commands)


def test_a_joint_measured_beyond_its_limit_is_not_started_from():
    """The plausibility margin lets a reading a little beyond a limit in (a thumb resting
    past its limit); clamped into the limits, the first command jumped there in one step.
    The loop waits, saying which joint and the fix, until it is within."""
    sim = Sim(measured=(1.05, 0.0))  # upper limit 1.0; a period's travel is 1/120
    sim.loop.joint_names = ["left_thumb", "right_thumb"]
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.9, 0.0])
    for _ in range(3):
        r = sim.tick()
        assert r.state == SafetyState.WAITING and r.command is None
    reason = sim.loop.supervisor.reason
    assert "left_thumb is measured at 1.0500, 0.0500 beyond its upper limit 1.0000" in reason
    assert "Fix: move it within its limits" in reason
    sim.measured = np.array([1.005, 0.0])  # within one period's travel: starts
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.9, 0.0])
    r = sim.tick()
    assert r.state == SafetyState.RUNNING
    assert np.abs(r.command - sim.measured).max() <= VEL[0] * TICK + 1e-12


def test_with_an_acceleration_limit_a_joint_starts_only_where_one_step_from_rest_reaches():
    """With an acceleration limit a, one command from rest moves a joint a * dt^2 at most
    (here 5 / 120^2 = 0.35 mrad): a joint measured 5 mrad beyond a limit (within the
    velocity limit's 8.3 mrad a period) was started with a first command 5 mrad away, an
    acceleration from rest 14 times the limit. It now waits, saying which limit."""
    sim = Sim(measured=(1.005, 0.0), accel=ACCEL)
    sim.loop.joint_names = ["left_thumb", "right_thumb"]
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.9, 0.0])
    r = sim.tick()
    assert r.state == SafetyState.WAITING and r.command is None
    reason = sim.loop.supervisor.reason
    assert "left_thumb is measured at 1.0050, 0.0050 beyond its upper limit 1.0000" in reason
    assert "beyond its acceleration limit" in reason
    reach = ACCEL[0] * TICK * TICK
    sim.measured = np.array([1.0 + 0.9 * reach, 0.0])
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.9, 0.0])
    r = sim.tick()
    assert r.state == SafetyState.RUNNING
    assert r.command[0] <= 1.0
    assert abs(r.command[0] - sim.measured[0]) <= reach + 1e-12


def test_the_path_is_read_only():
    """Every decoder gets the same path and the loop keeps it for after a stall: a plugin
    converting it in place (to degrees, say) would move where the joints go on from."""
    sim, _ = ramp_sim(accel=ACCEL, path_joints=np.ones(A, dtype=bool))
    sim.tick()
    times, rows = sim.loop.path(sim.t, TICK)
    with pytest.raises(ValueError, match="read-only"):
        rows *= 57.3
    with pytest.raises(ValueError, match="read-only"):
        times[0] = 0.0


def test_position_on_a_path_is_piecewise_linear_and_at_rest_outside_it():
    times = np.array([1.0, 2.0, 4.0])
    rows = np.array([[0.0, 1.0], [1.0, 1.0], [3.0, 0.0]])
    p, v = position_on_path(times, rows, 3.0)
    assert p.tolist() == [2.0, 0.5] and v.tolist() == [1.0, -0.5]
    p, v = position_on_path(times, rows, 1.5)
    assert p.tolist() == [0.5, 1.0] and v.tolist() == [1.0, 0.0]
    p, v = position_on_path(times, rows, 9.0)
    assert p.tolist() == [3.0, 0.0] and v.tolist() == [0.0, 0.0]
    p, v = position_on_path(times, rows, 0.0)
    assert p.tolist() == [0.0, 1.0] and v.tolist() == [0.0, 0.0]
    # On a point: the segment leaving it, or with `incoming` the one that reached it (a
    # command's velocity), also a rounding error either side of the point's time; the
    # position is where the time is, not snapped.
    p, v = position_on_path(times, rows, 2.0)
    assert p.tolist() == [1.0, 1.0] and v.tolist() == [1.0, -0.5]
    for t in (2.0, 2.0 - 2e-15, 2.0 + 2e-15):  # a few float steps either side
        p, v = position_on_path(times, rows, t, incoming=True)
        assert v.tolist() == [1.0, 0.0] and p[0] == pytest.approx(1.0 + (t - 2.0))
    p, v = position_on_path(times, rows, 2.0 + 1e-9, incoming=True)
    assert v.tolist() == [1.0, -0.5]  # within the next segment: the controller moved on
    p, v = position_on_path(times, rows, 4.0, incoming=True)
    assert p.tolist() == [3.0, 0.0] and v.tolist() == [1.0, -0.5]  # arriving at the end


@pytest.mark.parametrize("stop", ["disable", "stale_tokens"])
def test_a_stall_while_stopping_does_not_start_the_stopped_joints_again(stop):
    """Braking (disabled) or holding (stale tokens) towards where the arm comes to rest; a
    stall meanwhile stops the held joints dead at the last command. The stop is then there:
    the commands stay put instead of driving the stopped joints on to the old stopping point."""
    sim, _ = moving_sim()
    if stop == "stale_tokens":
        sim.tokens = TokenSample(None, None, sim.t - 1.0, sim.t - 1.0, 1, sim.tokens.seq + 1)
    sim.feed_state()
    first = sim.tick(enabled=stop != "disable").command  # the stop starts
    assert first is not None and sim.loop.limiter.moving
    sim.t += 5 * TICK  # stall
    after = []
    for _ in range(10):
        sim.feed_state()
        after.append(sim.tick(enabled=stop != "disable").command)
    moved = [c for c in after if c is not None]
    assert all(np.allclose(c, first, atol=1e-12) for c in moved), (first, moved)



def test_a_token_refusal_reaches_the_safety_reason():
    sim = Sim()
    sim.feed_state()
    sim.t += TICK
    sim.loop.tick(sim.t, sim.t, enabled=True, state=sim.state, tokens=None, plan=None,
                  worker_healthy=True, tokens_refused="tokens refused: backbone_id 'aa'")
    assert sim.loop.supervisor.reason == ("no embedding tokens accepted yet: tokens refused: "
                                          "backbone_id 'aa'")
