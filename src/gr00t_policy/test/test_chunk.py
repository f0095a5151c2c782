"""Chunk interpolation in time and the cross-fade between chunks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gr00t_policy.runtime.chunk import Chunk, ChunkBlender

DT = 0.05


def make_chunk(stamp=10.0, start=(0.0, 1.0), rows=((1.0, 1.0), (3.0, 0.0), (3.0, 2.0)), seq=1):
    return Chunk(stamp=stamp, action_dt=DT, start=np.array(start), rows=np.array(rows), seq=seq)


def test_rows_land_exactly_at_their_times_and_midpoints_interpolate():
    # Row 0 is commanded at the state's stamp, as in the demonstrations; the measured
    # start is not a row.
    c = make_chunk()
    assert c.at(10.0).tolist() == [1.0, 1.0]
    assert np.allclose(c.at(10.0 + DT), [3.0, 0.0])
    assert np.allclose(c.at(10.0 + 2 * DT), [3.0, 2.0])
    assert np.allclose(c.at(10.0 + 0.5 * DT), [2.0, 0.5])
    assert np.allclose(c.at(10.0 + 1.25 * DT), [3.0, 0.5])
    assert c.end_time == pytest.approx(10.0 + 2 * DT)
    assert c.horizon == 3


def test_clamped_outside_the_chunk():
    c = make_chunk()
    assert c.at(9.0).tolist() == [1.0, 1.0]
    assert c.at(99.0).tolist() == [3.0, 2.0]


def test_future_rows_are_relative_to_now():
    times, rows = make_chunk().future(10.0 + 0.5 * DT)
    assert np.allclose(times, [0.5 * DT, 1.5 * DT])
    assert np.allclose(rows, [[3.0, 0.0], [3.0, 2.0]])


def test_bad_shapes_and_dt_are_refused():
    with pytest.raises(ValueError, match="rows"):
        Chunk(stamp=0.0, action_dt=DT, start=np.zeros(2), rows=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="action_dt"):
        Chunk(stamp=0.0, action_dt=0.0, start=np.zeros(2), rows=np.zeros((3, 2)))


def test_swap_has_no_step_and_fades_over_blend_s():
    blend = ChunkBlender(blend_s=0.1)
    old = Chunk(0.0, DT, np.zeros(1), np.zeros((16, 1)))
    new = Chunk(0.0, DT, np.ones(1), np.ones((16, 1)))  # 1.0 away everywhere
    blend.reset(np.zeros(1))
    blend.push(old, -1.0)
    before = blend.command(0.2)
    blend.push(new, 0.2)
    assert blend.command(0.2).tolist() == before.tolist()  # no step at the swap
    assert blend.command(0.25)[0] == pytest.approx(0.5)
    assert blend.command(0.3 + 1e-9)[0] == pytest.approx(1.0)
    assert blend.command(5.0)[0] == 1.0  # the new chunk alone after blend_s


def test_zero_blend_swaps_immediately():
    blend = ChunkBlender(blend_s=0.0)
    blend.reset(np.zeros(1))
    blend.push(Chunk(0.0, DT, np.ones(1), np.ones((4, 1))), 0.0)
    assert blend.command(0.0)[0] == 1.0


def run_replanning(blend_s, tick=1 / 120, vel=3.0, offset=0.1, seconds=2.0, seed=0):
    """Replan every tick; each chunk moves at vel/2 and disagrees with the last output by up
    to `offset`. Returns the largest per-tick change of the blended command (no limiter)."""
    rng = np.random.default_rng(seed)
    blend = ChunkBlender(blend_s)
    blend.reset(np.zeros(3))
    prev, worst = blend.command(0.0), 0.0
    for k in range(1, int(seconds / tick)):
        t = k * tick
        base = blend.command(t) + rng.uniform(-offset, offset, 3)
        times = DT * np.arange(16)[:, None]
        rows = base + 0.5 * vel * times * np.sign(rng.uniform(-1, 1, 3))  # (16, 3)
        blend.push(Chunk(t, DT, base, rows), t)
        out = blend.command(t)
        worst = max(worst, float(np.abs(out - prev).max()))
        prev = out
    return worst


def test_no_step_at_chunk_boundaries_when_replanning_every_tick():
    """Max change per tick <= velocity limit * dt, although every chunk disagrees with the
    command in force: the disagreement fades at offset / blend_s, the chunks move at vel / 2.
    A hard swap (blend_s = 0) steps by the whole disagreement."""
    tick, vel, offset = 1 / 120, 3.0, 0.1
    blend_s = 2 * offset / vel  # offset / blend_s = vel / 2
    assert run_replanning(blend_s, tick, vel, offset) <= vel * tick + 1e-9
    assert run_replanning(0.0, tick, vel, offset) > 2 * vel * tick


@settings(max_examples=60, deadline=None)
@given(st.floats(-1.0, 2.0), st.floats(0.0, 0.2))
def test_interpolation_stays_between_neighbouring_knots(t, offset):
    c = make_chunk()
    v = c.at(10.0 + t * 3 * DT)
    knots = c.rows
    assert (v >= knots.min(axis=0) - 1e-12).all() and (v <= knots.max(axis=0) + 1e-12).all()
