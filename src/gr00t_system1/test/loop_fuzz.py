"""Adversarial fuzzing of System 1's CommandLoop (ROS-free): a simulated node around the
loop, a robot that follows (or is blocked), and checkers, independent of the loop's own
code, of what reaches the controllers. `bench/loop_fuzz.py` runs campaigns; test_loop_fuzz
beside it runs a few seeds in the suite.

What a random configuration (`random_config`) draws: one to three action joints and maybe a
held one, random limits, forward-command and joint_trajectory controllers (every_n_ticks
1-4), every chunk mode, on_stale, tracking limits; per tick: late and off-period ticks,
stalls, clock jumps, enable toggles, faults, a dying inference thread, blocked joints,
measurement jumps, input outages, deactivation and reactivation, and plans that are smooth,
ramps, noise, huge, NaN or made for an older instruction.

Checked: forward-command joints, every published command in order (finite, within the
position limits, |dv| <= v*dt and |d2x| <= a*dt^2, from rest after a stall or a re-arm);
trajectory joints, every path (finite, increasing times, within limits, internally limited,
ending at rest) and every message as joint_trajectory_controller with
interpolate_from_desired_state runs it (from where it is at receipt, linearly through the
points, holding the last; on the monotonic clock, on the node's under sim time): its
velocity changes at the message by at most a * (the gap to the first point) from the
controller's velocity there (`velocity_rule="change"`), or from its mean velocity over the
last period (`"period"`: stricter, a point passed just before the message counts too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gr00t_policy.runtime.chunk import Chunk
from gr00t_policy.runtime.execution import make_executor
from gr00t_policy.runtime.planner import Plan, StateSample, TokenSample
from gr00t_policy.runtime.rtc import RtcLink
from gr00t_system1.limiter import STALL_GAP, CommandLimiter
from gr00t_system1.loop import CommandLoop
from gr00t_system1.safety import Supervisor
from gr00t_system1.tracking import TrackingMonitor

TICK = 1 / 120
DT = 0.05
STATE_S, TOKENS_S = 0.05, 0.5

# Tolerances: positions (units), velocity (units/s), acceleration checks (units/s change).
POS_TOL = 1e-9
VEL_TOL = 1e-6
ACC_TOL = 1e-5  # REST_SPEED is 1e-6 u/s: a joint "at rest" may still creep at that


@dataclass
class Violation:
    kind: str
    tick: int
    t: float
    joint: int
    value: float
    limit: float
    note: str = ""

    @property
    def excess(self) -> float:
        return self.value - self.limit

    def __str__(self) -> str:
        return (f"{self.kind} tick={self.tick} t={self.t:.5f} joint={self.joint} "
                f"value={self.value:.6g} limit={self.limit:.6g} excess={self.excess:.3g} "
                f"{self.note}")


@dataclass
class Config:
    seed: int = 0
    n_action: int = 2
    n_held: int = 0
    accel: bool = True
    mode: str = "crossfade"
    on_stale: str = "hold_last_command"
    # per command joint: 0 = forward controller, n >= 1 = JTC decoder id (index into every)
    decoder_of: tuple = (0, 0)
    every: tuple = ()  # every_n_ticks per JTC decoder
    max_error: float = math.inf
    for_s: float = 0.05
    checked: tuple | None = None
    jitter: float = 0.0  # fraction of a period
    sim_time: bool = False
    velocity_rule: str = "change"  # or "period" (see the module docstring)
    # CommandLoop(path_grid=...): the trajectory decoders stamp their messages with the tick
    # (header_stamp tick), so the loop keeps the knots of the paths sent on one grid.
    path_grid: bool = False
    p: dict = field(default_factory=dict)  # event probabilities


class JtcModel:
    """One joint_trajectory_controller over some joints (positions only)."""

    def __init__(self, joints: np.ndarray, start: np.ndarray):
        self.joints = joints
        self.knots_t = np.array([-math.inf])
        self.knots = start[joints][None, :].copy()

    def at(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        kt, k = self.knots_t, self.knots
        # velocity: the segment leading into t (at a knot, the one ending there)
        if t <= kt[0] or len(kt) == 1:
            return k[0].copy(), np.zeros(k.shape[1])
        if t > kt[-1] + 1e-9:
            return k[-1].copy(), np.zeros(k.shape[1])
        i = max(int(np.searchsorted(kt, t - 1e-9, side="left")) - 1, 0)
        v = (k[i + 1] - k[i]) / (kt[i + 1] - kt[i])
        return k[i] + v * (t - kt[i]), v

    def reset(self, pos: np.ndarray):
        self.knots_t = np.array([-math.inf])
        self.knots = pos[self.joints][None, :].copy()

    def receive(self, t: float, times: np.ndarray, rows: np.ndarray):
        cur, _ = self.at(t)
        self.knots_t = np.concatenate([[t], t + np.asarray(times)])
        self.knots = np.vstack([cur, np.asarray(rows)[:, self.joints]])


class World:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)
        n = cfg.n_action + cfg.n_held
        self.n = n
        self.lower = np.full(n, -1.0)
        self.upper = np.full(n, 1.0)
        self.vel = self.rng.uniform(0.5, 2.0, n) if cfg.p.get("random_limits") else np.ones(n)
        self.acc = (self.rng.uniform(2.0, 20.0, n) if cfg.p.get("random_limits")
                    else np.full(n, 5.0)) if cfg.accel else None
        self.decoder_of = np.array(cfg.decoder_of)
        assert self.decoder_of.shape == (n,)
        self.held = np.zeros(cfg.n_held) + 0.2
        self.build_loop()
        # clocks
        self.t = 100.0
        self.mono = 5000.0
        self.tick_no = 0
        # robot
        self.robot = self.rng.uniform(-0.8, 0.8, n)
        self.blocked = np.zeros(n, dtype=bool)
        self.offset = np.zeros(n)  # measurement offsets (jumps)
        self.fwd_target = self.robot.copy()  # forward controllers' held target
        self.jtcs = {d: JtcModel(np.flatnonzero(self.decoder_of == d), self.robot)
                     for d in range(1, len(cfg.every) + 1)}
        self.dec_tick = {d: 0 for d in self.jtcs}
        # inputs
        self.state = self.tokens = self.plan = None
        self.state_seq = 0
        self.plan_seq = 0
        self.token_seq = 0
        self.instruction = 1
        self.enabled = True
        self.healthy = True
        self.fault = None
        self.old_states = []
        # checker state, forward joints
        self.fwd_prev = None  # (cmd, mono)
        self.fwd_prev_v = np.zeros(n)
        self.violations: list[Violation] = []
        self.log = []  # (tick, kind, detail)
        self.states_seen = set()
        self.jtc_prev_v = {d: None for d in self.jtcs}

    def build_loop(self):
        """A fresh loop (the node's activation)."""
        cfg, n = self.cfg, self.n
        lim = CommandLimiter(self.lower, self.upper, self.vel, TICK, acceleration=self.acc)
        path_joints = self.decoder_of > 0
        sparsest = max(cfg.every, default=1)
        names = [f"j{i}" for i in range(n)]
        tracking = TrackingMonitor(names, max_error=cfg.max_error, for_s=cfg.for_s,
                                   checked=None if cfg.checked is None
                                   else np.array(cfg.checked))
        self.loop = CommandLoop(lim, Supervisor(STATE_S, TOKENS_S),
                                executor=make_executor(cfg.mode, link=RtcLink()),
                                on_stale=cfg.on_stale,
                                held_posture=self.held if cfg.n_held else None,
                                path_joints=path_joints, path_ticks=sparsest + 1,
                                path_grid=cfg.path_grid, joint_names=names,
                                tracking=tracking)
        self.loop.sim_time = cfg.sim_time
        self.rearmed = None
        orig_reset = lim.reset

        def reset(measured):
            out = orig_reset(measured)
            self.rearmed = np.asarray(measured, dtype=float).copy()
            return out
        lim.reset = reset

    def deactivate(self, advance):
        """The node's `_brake_to_rest`, a period apart, then a fresh loop (reactivation);
        the decoders' counters start again too (new decoders? no: same node, same
        decoders; they are made at configure)."""
        lim = self.loop.limiter
        deadline = self.mono + lim.longest_stop_s + (10 + self.loop.path_ticks) * TICK
        first = True
        while self.mono < deadline:
            if not first:
                advance()  # a period after the last, never sooner
            first = False
            if self.node_brake() is None and not lim.too_soon(self.t):
                break
        self.log.append((self.tick_no, round(self.t, 5), round(self.mono, 5), "DEACTIVATED",
                         None, False, self.enabled, self.fault, self.healthy,
                         self.blocked.tolist(), np.round(self.measured(), 4).tolist(), False))
        self.build_loop()
        self.fault = None

    # -- inputs --------------------------------------------------------------------
    def measured(self):
        return self.robot + self.offset

    def feed_state(self, stamp_lag=0.0):
        self.state_seq += 1
        m = self.measured()
        a = self.cfg.n_action
        self.state = StateSample(m[:a].copy(), m[:a].copy(), self.t - stamp_lag,
                                 self.mono - stamp_lag, self.state_seq,
                                 held_positions=m[a:].copy())
        self.old_states.append(self.state)
        del self.old_states[:-40]

    def feed_tokens(self, stale=0.0):
        self.token_seq += 1
        self.tokens = TokenSample(None, None, self.t - stale, self.mono - stale,
                                  self.instruction, self.token_seq)

    def make_rows(self, kind, start):
        a = self.cfg.n_action
        H = 16
        r = self.rng
        if kind == "smooth":
            target = r.uniform(-1.3, 1.3, a)
            w = np.linspace(0, 1, H)[:, None]
            return start[None, :] * (1 - w) + target[None, :] * w
        if kind == "const":
            return np.tile(r.uniform(-1.5, 1.5, a), (H, 1))
        if kind == "noise":
            return r.uniform(-2, 2, (H, a))
        if kind == "huge":
            rows = r.choice([1e6, -1e6, 1e300, -1e300, 3.0, -3.0], (H, a))
            return rows
        if kind == "nan":
            rows = r.uniform(-1, 1, (H, a))
            mask = r.random((H, a)) < 0.5
            rows[mask] = r.choice([np.nan, np.inf, -np.inf], mask.sum())
            return rows
        if kind == "ramp":
            speed = r.uniform(-2, 2, a)
            return start[None, :] + speed[None, :] * DT * np.arange(H)[:, None]
        raise ValueError(kind)

    def feed_plan(self, kind=None, delay_states=0, instruction=None):
        if not self.old_states:
            return
        st = self.old_states[-1 - min(delay_states, len(self.old_states) - 1)]
        kind = kind or self.rng.choice(["smooth", "smooth", "const", "ramp", "noise",
                                        "huge", "nan"],
                                       p=[0.3, 0.1, 0.15, 0.2, 0.1, 0.075, 0.075])
        rows = self.make_rows(kind, st.action_positions)
        self.plan_seq += 1
        ch = Chunk(st.stamp, DT, st.action_positions, rows, seq=self.plan_seq)
        frozen = (st.stamp + DT * int(self.rng.integers(0, 5)) if self.cfg.mode == "rtc"
                  else None)
        self.plan = Plan(ch, st, self.instruction if instruction is None else instruction,
                         0.001, self.mono, frozen)

    # -- one node tick -----------------------------------------------------------------
    def advance(self, periods=1.0, jump_now=0.0):
        self.t += periods * TICK + jump_now
        self.mono += periods * TICK
        if (self.loop.sim_time and self.fwd_prev is not None
                and self.t < self.fwd_prev[1]):
            # A simulator reset: its controllers hold the last command from the reset on,
            # on its clock, so a gap of more than STALL_GAP periods from there stops them.
            self.fwd_prev = (self.fwd_prev[0], self.t)

    def tick(self):
        self.tick_no += 1
        self.rearmed = None
        r = self.loop.tick(self.t, self.mono, enabled=self.enabled, state=self.state,
                           tokens=self.tokens, plan=self.plan, worker_healthy=self.healthy,
                           fault=self.fault)
        self.states_seen.add(r.state)
        self.log.append((self.tick_no, round(self.t, 5), round(self.mono, 5), r.state.name,
                         None if r.command is None else np.round(r.command, 5).tolist(),
                         self.rearmed is not None, self.enabled, self.fault, self.healthy,
                         self.blocked.tolist(), np.round(self.measured(), 4).tolist(),
                         self.loop.tracking_fault is not None))
        if self.rearmed is not None:
            for jtc in self.jtcs.values():
                jtc.reset(np.clip(self.rearmed, self.lower, self.upper))
        if r.command is not None:
            self.publish(r.command, r.state)
        self.move_robot()
        return r

    def node_brake(self):
        """The node's deactivation braking (`_brake_to_rest`), one call."""
        self.rearmed = None
        if self.loop.limiter.too_soon(self.t):
            return None
        c = self.loop.brake(self.t, self.mono)
        if c is not None:
            self.publish(c, "deactivating")
        self.move_robot()
        return c

    def publish(self, command, state):
        path = None
        if self.jtcs:
            path = self.loop.path(self.t, TICK)
            self.check_path_internal(path)
        self.check_forward(command)
        for d, jtc in self.jtcs.items():
            self.dec_tick[d] += 1
            if (self.dec_tick[d] - 1) % self.cfg.every[d - 1]:
                continue
            self.loop.path_sent(jtc.joints)
            self.message_sent(d, jtc, path, command)
        self.fwd_target = command.copy()

    def message_sent(self, d, jtc, path, command):
        """Decoder `d` sent `path` to its controller `jtc` this tick (`command`: the tick's)."""
        self.check_jtc_message(d, jtc, path)
        jtc.receive(self.jtc_time(), path[0], path[1])

    def ctrl_time(self):
        """The controllers' clock: the monotonic one on a robot (joint_trajectory_controller
        counts its trajectory's time from update periods), the node's under sim time."""
        return self.t if self.loop.sim_time else self.mono

    def jtc_time(self):
        return self.ctrl_time()

    def move_robot(self):
        """The robot follows its controllers (unless blocked)."""
        follow = ~self.blocked
        tgt = self.fwd_target.copy()
        for d, jtc in self.jtcs.items():
            p, _ = jtc.at(self.jtc_time())
            tgt[jtc.joints] = p
        self.robot = np.where(follow, tgt, self.robot)

    # -- checks ------------------------------------------------------------------------
    def _viol(self, kind, j, value, limit, note=""):
        self.violations.append(Violation(kind, self.tick_no, self.t, int(j), float(value),
                                         float(limit), note))

    def check_forward(self, c):
        fwd = self.decoder_of == 0
        if not np.isfinite(c).all():
            self._viol("nonfinite", int(np.argmin(np.isfinite(c))), 1, 0)
            return
        for j in np.flatnonzero((c < self.lower - POS_TOL) | (c > self.upper + POS_TOL)):
            self._viol("pos_limit", j, abs(c[j]), 1.0)
        if self.rearmed is not None:
            # The first command after a (re)arm: from the measured position itself (beyond
            # a limit too: the loop starts only where one step from rest reaches it), at rest.
            prev = self.rearmed.copy()
            prev_v = np.zeros(self.n)
        elif self.fwd_prev is None:
            self.fwd_prev = (c.copy(), self.ctrl_time())
            return
        else:
            prev, prev_mono = self.fwd_prev
            prev_v = self.fwd_prev_v
            if self.ctrl_time() - prev_mono > STALL_GAP * TICK:
                prev_v = np.zeros(self.n)  # a forward controller held it: at rest
        v = (c - prev) / TICK
        for j in np.flatnonzero(fwd & (np.abs(v) > self.vel + VEL_TOL)):
            self._viol("fwd_vel", j, abs(v[j]), self.vel[j],
                       "rearm" if self.rearmed is not None else "")
        if self.acc is not None:
            dv = np.abs(v - prev_v)
            for j in np.flatnonzero(fwd & (dv > self.acc * TICK + ACC_TOL)):
                self._viol("fwd_acc", j, dv[j], self.acc[j] * TICK,
                           "rearm" if self.rearmed is not None else "")
        self.fwd_prev = (c.copy(), self.ctrl_time())
        self.fwd_prev_v = v

    def check_path_internal(self, path):
        """The path vs the current command and its velocity (limiter's own view)."""
        times, rows = path
        lim = self.loop.limiter
        if not np.isfinite(rows).all() or not np.isfinite(times).all():
            self._viol("path_nonfinite", 0, 1, 0)
            return
        if not (np.diff(times) > 0).all() or times[0] <= 0:
            self._viol("path_times", 0, float(times[0]), 0, f"{times[:5]}")
        for j in np.flatnonzero(((rows < self.lower - POS_TOL)
                                 | (rows > self.upper + POS_TOL)).any(axis=0)):
            self._viol("path_pos_limit", j, np.abs(rows[:, j]).max(), 1.0)
        tt = np.concatenate([[0.0], times])
        rr = np.vstack([lim.last, rows])
        gaps = np.diff(tt)
        v = np.diff(rr, axis=0) / gaps[:, None]
        pj = self.decoder_of > 0
        over = (np.abs(v) > self.vel + VEL_TOL) & pj
        for j in np.flatnonzero(over.any(axis=0)):
            k = int(np.argmax(np.abs(v[:, j])))
            self._viol("path_vel_internal", j, abs(v[k, j]), self.vel[j], f"point {k}")
        if self.acc is not None:
            vv = np.vstack([lim.last_velocity, v])
            dv = np.abs(np.diff(vv, axis=0))
            over = (dv > self.acc * gaps[:, None] + ACC_TOL) & pj
            for j in np.flatnonzero(over.any(axis=0)):
                k = int(np.argmax(dv[:, j] - self.acc[j] * gaps))
                self._viol("path_acc_internal", j, dv[k, j], self.acc[j] * gaps[k],
                           f"point {k}")
            if (np.abs(v[-1][pj]) > 1e-6).any():
                j = int(np.flatnonzero(pj)[np.argmax(np.abs(v[-1][pj]))])
                self._viol("path_not_at_rest", j, abs(v[-1, j]), 1e-6)

    def check_jtc_message(self, d, jtc, path):
        """What the controller executes: from where it is now, at its velocity now."""
        times, rows = path
        cur, cur_v = jtc.at(self.jtc_time())
        # The design's model of a velocity: over the last period (a knot inside it may have
        # changed the velocity by up to a * its gap, which the per-gap rule allows).
        if self.cfg.velocity_rule == "period":
            before, _ = jtc.at(self.jtc_time() - TICK)
            cur_v = (cur - before) / TICK
        if self.rearmed is not None:
            # the documented exception: a (re)arm starts from the measurement, at rest
            cur = np.clip(self.rearmed, self.lower, self.upper)[jtc.joints]
            cur_v = np.zeros(len(jtc.joints))
            jtc.reset(np.clip(self.rearmed, self.lower, self.upper))
        js = jtc.joints
        tt = np.concatenate([[0.0], times])
        rr = np.vstack([cur, rows[:, js]])
        gaps = np.diff(tt)
        v = np.diff(rr, axis=0) / gaps[:, None]
        vmax, = (self.vel[js],)
        over = np.abs(v) > vmax + VEL_TOL
        for c in np.flatnonzero(over.any(axis=0)):
            k = int(np.argmax(np.abs(v[:, c])))
            self._viol("jtc_vel", js[c], abs(v[k, c]), vmax[c],
                       f"point {k} gap {gaps[k]:.4f} dec {d}")
        if self.acc is not None:
            a = self.acc[js]
            vv = np.vstack([cur_v, v])
            dv = np.abs(np.diff(vv, axis=0))
            over = dv > a * gaps[:, None] + ACC_TOL
            for c in np.flatnonzero(over.any(axis=0)):
                k = int(np.argmax(dv[:, c] - a[c] * gaps))
                self._viol("jtc_acc", js[c], dv[k, c], a[c] * gaps[k],
                           f"point {k} gap {gaps[k]:.4f} dec {d}")


# -- campaigns ---------------------------------------------------------------------------

def random_config(seed: int, *, forward_jumps: bool = True,
                  velocity_rule: str = "change") -> Config:
    """Seed -> a configuration (the same on every machine). ``forward_jumps``: the node
    clock may step forward (NTP); without, only backwards."""
    cfg = _random_config(seed)
    cfg.velocity_rule = velocity_rule
    cfg.path_grid = seed % 2 == 1  # (not drawn: the other draws stay those of earlier seeds)
    if not forward_jumps:
        cfg.p["jump_fwd"] = 0.0
    return cfg


def _random_config(seed):
    rng = np.random.default_rng(10_000 + seed)
    n_action = int(rng.integers(1, 4))
    n_held = int(rng.integers(0, 2))
    n = n_action + n_held
    n_dec = int(rng.integers(0, 3))
    every = tuple(int(x) for x in rng.integers(1, 5, n_dec))
    dec = np.zeros(n, dtype=int)
    if n_dec:
        for j in range(n_action):
            dec[j] = int(rng.integers(0, n_dec + 1))
    max_error = float(rng.choice([math.inf, 0.02, 0.05, 0.1, 0.3]))
    checked = None
    if rng.random() < 0.3:
        checked = tuple(bool(x) for x in rng.random(n) < 0.6)
    return Config(seed=seed, n_action=n_action, n_held=n_held, accel=rng.random() < 0.85,
                  mode=str(rng.choice(["crossfade", "latest", "ensemble", "rtc"])),
                  sim_time=bool(rng.random() < 0.2),
                  on_stale=str(rng.choice(["hold_last_command", "hold_measured"])),
                  decoder_of=tuple(dec), every=every, max_error=max_error,
                  for_s=float(rng.choice([0.0, 0.02, 0.1])), checked=checked,
                  jitter=float(rng.choice([0.0, 0.0, 0.1])),
                  p=dict(random_limits=rng.random() < 0.5,
                         stall=float(rng.choice([0.0, 0.01, 0.03])),
                         late=float(rng.choice([0.0, 0.02])),
                         jump_back=float(rng.choice([0.0, 0.005])),
                         jump_fwd=float(rng.choice([0.0, 0.005])),
                         toggle=float(rng.choice([0.002, 0.005, 0.02, 0.05])),
                         fault=float(rng.choice([0.0, 0.01])),
                         unhealthy=float(rng.choice([0.0, 0.01])),
                         state=float(rng.choice([0.98, 0.9, 0.7])),
                         tokens=float(rng.choice([0.99, 0.9])),
                         plan=float(rng.choice([0.2, 0.5, 1.0])),
                         block=float(rng.choice([0.0, 0.01, 0.03])),
                         jumpstate=float(rng.choice([0.0, 0.01, 0.03])),
                         deact=float(rng.choice([0.0, 0.003, 0.01])),
                         outage=float(rng.choice([0.0, 0.01, 0.03]))))


def context(w, tick, k=6):
    """What happened in the k ticks up to `tick` (from w.log): stall, rearm, jumps, states."""
    rows = [r for r in w.log if tick - k <= r[0] <= tick]
    tags = []
    for a, b in zip(rows, rows[1:]):
        gap = (b[2] - a[2]) / TICK
        if gap > 2.5:
            tags.append(f"stall{gap:.1f}@{b[0]}")
        elif abs(gap - 1.0) > 0.05:
            tags.append(f"offperiod{gap:.2f}@{b[0]}")
        jump = (b[1] - a[1]) - (b[2] - a[2])
        if abs(jump) > 1e-6:
            tags.append(f"jump{jump:+.2f}@{b[0]}")
        if b[3] != a[3]:
            tags.append(f"{a[3]}>{b[3]}@{b[0]}")
        if b[11] and not a[11]:
            tags.append(f"trackfault@{b[0]}")
    tags += [f"rearm@{r[0]}" for r in rows if r[5]]
    return ",".join(tags) or "-"


def run(cfg, ticks):
    w = World(cfg)
    rng = w.rng
    p = cfg.p
    w.feed_state()
    w.feed_tokens()
    w.feed_plan()
    late = False
    outage = {}
    for _ in range(ticks):
        # clocks
        periods = 1.0 + (rng.uniform(-cfg.jitter, cfg.jitter) if cfg.jitter else 0.0)
        jump = 0.0
        if late:
            periods, late = 0.1, False
        elif rng.random() < p["late"]:
            periods, late = 1.9, True
        elif rng.random() < p["stall"]:
            periods = float(rng.uniform(2.6, 10))
        if rng.random() < p["jump_back"]:
            jump = -float(rng.uniform(0.05, 3.0))
        elif rng.random() < p["jump_fwd"]:
            jump = float(rng.uniform(0.05, 1.0))
        w.advance(periods, jump)
        if rng.random() < p.get("deact", 0.0):
            w.deactivate(lambda: w.advance(1.0))
            continue
        # person / faults
        if rng.random() < p["toggle"]:
            w.enabled = not w.enabled
            if not w.enabled:
                w.loop.clear_tracking_fault()
        if rng.random() < p["fault"]:
            w.fault = None if w.fault else "implausible"
        if rng.random() < p["unhealthy"]:
            w.healthy = not w.healthy
        # robot
        for j in range(w.n):
            if rng.random() < p["block"]:
                w.blocked[j] = not w.blocked[j]
            if rng.random() < p["jumpstate"]:
                w.offset[j] = 0.0 if w.offset[j] else float(rng.uniform(-0.4, 0.4))
        w.offset = np.clip(w.robot + w.offset, -1.02, 1.02) - w.robot
        # inputs (with outages: a sensor or System 2 silent for a while)
        if rng.random() < p.get("outage", 0.0):
            which = rng.choice(["state", "tokens"])
            outage[which] = int(rng.integers(5, 120))
        outage = {k: v - 1 for k, v in outage.items() if v > 0}
        if "state" not in outage and rng.random() < p["state"]:
            w.feed_state(stamp_lag=float(rng.uniform(0, 0.01)))
        if "tokens" not in outage and rng.random() < p["tokens"]:
            if rng.random() < 0.01:
                w.instruction += 1
            w.feed_tokens()
        if rng.random() < p["plan"]:
            w.feed_plan(delay_states=int(rng.integers(0, 8)),
                        instruction=w.instruction - (rng.random() < 0.05))
        w.tick()
    return w
