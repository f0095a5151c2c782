"""A short calm campaign of `stamped_fuzz` (beside this file; bench/loop_fuzz_jtc.py runs long
ones): the loop's knot grid (path_grid), every trajectory message stamped with its tick and
played through the model of the Jazzy joint_trajectory_controller, taken up 0.5-4 ms after
its tick; late and jittered ticks, holds, faults, disables, outages, every every_n_ticks and
chunk mode. Nothing the controller writes goes beyond 1.1 times a speed or acceleration
limit except at a re-arm (the documented exception left in a calm run), and the controller
refuses no message.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the fuzz, helpers beside it
from loop_fuzz import random_config  # noqa: E402
from stamped_fuzz import calm, run_stamped  # noqa: E402

# Plans of NaN and 1e300 are drawn on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

# Odd seeds run the grid; these have trajectory controllers (one to two, every_n_ticks 1-4).
SEEDS = [s for s in range(1, 60, 2) if any(random_config(s).decoder_of)][:8]
TICKS = 700


@pytest.mark.parametrize("seed", SEEDS)
def test_a_stamped_controller_keeps_the_limits_on_the_grid(seed):
    cfg = calm(random_config(seed))
    assert cfg.path_grid
    world, findings, refused = run_stamped(cfg, TICKS)
    bad = [f for f in findings if not f.explained]
    assert not bad, (f"seed {seed} ({cfg.mode}, controllers {cfg.decoder_of} every "
                     f"{cfg.every}): " + "; ".join(map(str, bad[:3])))
    assert not refused
    assert any(world.stamped.values())  # messages were played
