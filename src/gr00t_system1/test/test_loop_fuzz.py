"""A short campaign of `loop_fuzz` (beside this file; bench/loop_fuzz.py runs long ones): random
hostile inputs and timing, node clock steps both ways included, through the command loop, and
nothing beyond a limit reaches a forward-command controller or a modelled
joint_trajectory_controller (on the monotonic clock on a robot, the node's under sim time).
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # loop_fuzz, a helper beside it
from loop_fuzz import random_config, run  # noqa: E402

# Plans of NaN and 1e300 are drawn on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

SEEDS = range(40)
TICKS = 900


@pytest.mark.parametrize("seed", SEEDS)
def test_nothing_beyond_a_limit_reaches_a_controller(seed):
    cfg = random_config(seed)
    world = run(cfg, TICKS)
    assert not world.violations, (
        f"seed {seed} ({cfg.mode}, controllers {cfg.decoder_of} every {cfg.every}, sim time "
        f"{cfg.sim_time}, path grid {cfg.path_grid}): " + "; ".join(str(v) for v in world.violations[:3]))


def test_the_campaign_reaches_trajectory_controllers_and_timing_faults():
    """The seeds above are not all forward-only, quiet runs (what would pass trivially)."""
    configs = [random_config(seed) for seed in SEEDS]
    assert sum(any(c.decoder_of) for c in configs) >= 15
    # trajectory controllers sent stamped paths (the loop's knot grid) and unstamped ones
    assert sum(any(c.decoder_of) and c.path_grid for c in configs) >= 6
    assert sum(any(c.decoder_of) and not c.path_grid for c in configs) >= 6
    assert sum(c.p["stall"] > 0 or c.p["late"] > 0 or c.jitter > 0 for c in configs) >= 20
    assert sum(c.p["jump_back"] > 0 for c in configs) >= 5
    assert sum(c.p["jump_fwd"] > 0 for c in configs) >= 5
    assert {c.mode for c in configs} == {"crossfade", "latest", "ensemble", "rtc"}
