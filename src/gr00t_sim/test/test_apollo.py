"""The second simulated humanoid, the Apptronik Apollo: built from its embodiment file alone.

Its model file, limits and mounts come from config/apptronik_apollo.yaml; nothing in gr00t_sim
names an Apollo joint. Its geoms collide with nothing by default, so these tests check what the
simulator section adds: cubes that rest on the table, hands that touch them, a camera that sees
them, and an expert whose demonstrations gr00t-collect records.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")

from pathlib import Path  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gr00t_policy.dataset import LeRobotDataset  # noqa: E402
from gr00t_policy.embodiment import load_embodiment  # noqa: E402
from gr00t_sim.collect import CollectConfig, DemoRecorder, collect  # noqa: E402
from gr00t_sim.tasks import CUBE_COLORS, Task  # noqa: E402
from gr00t_sim.world import HeadCamera, SimWorld, menagerie_dir  # noqa: E402

APOLLO_YAML = Path(__file__).resolve().parents[3] / "config" / "apptronik_apollo.yaml"


@pytest.fixture(scope="module")
def emb():
    return load_embodiment(APOLLO_YAML)


@pytest.fixture(scope="module")
def world(emb):
    return SimWorld(emb)


def test_names_and_limits_match_the_mujoco_model(emb):
    """Driven + held joints are every hinge of the model, in its order within each group, and
    the limits are the model's joint ranges (not its wider ctrlrange)."""
    model = mujoco.MjModel.from_xml_path(str(menagerie_dir() / emb.simulator.model))
    hinges = [model.joint(i).name for i in range(model.njnt)
              if model.jnt_type[i] == mujoco.mjtJoint.mjJNT_HINGE]
    held = [h.name for h in emb.held_joints]
    assert len(hinges) == 32 and emb.action_dim == emb.state_dim == 17
    assert sorted(emb.action_joints + tuple(held)) == sorted(hinges)
    order = {n: i for i, n in enumerate(hinges)}
    for _, joints, _ in emb.action_keys:
        assert [order[j] for j in joints] == sorted(order[j] for j in joints)
    ranges = np.array([model.joint(n).range for n in emb.action_joints])
    np.testing.assert_allclose(emb.position_limits, ranges, atol=1e-6)
    for h in emb.held_joints:
        lo, hi = model.joint(h.name).range
        assert lo <= h.position <= hi and (lo, hi) == pytest.approx(h.position_limits, abs=1e-6)


def test_base_is_fixed_and_cubes_rest_on_the_table(world):
    """Without the section's explicit contacts the cubes fall through the table (the model's
    default geom collides with nothing)."""
    world.reset(5)
    base0 = world.data.xpos[world.base_id].copy()
    cubes0 = world.cube_positions()
    world.set_targets(world.rest_pose())
    world.step(1000)  # 2 s at 0.002
    assert world.model.opt.timestep == pytest.approx(0.002)
    np.testing.assert_allclose(world.data.xpos[world.base_id], base0, atol=1e-9)
    for color, pos in world.cube_positions().items():
        assert pos[2] == pytest.approx(world.cfg.table_height + world.cfg.cube_half_size,
                                       abs=3e-3), color
        assert np.linalg.norm(pos[:2] - cubes0[color][:2]) < 5e-3, color
    # the legs hold the `stand` pose the file gives them
    legs = world.qpos_index(["l_knee_fe", "r_knee_fe"])
    np.testing.assert_allclose(world.data.qpos[legs], [1.033, 1.033], atol=0.02)


def test_palm_sites_follow_the_expert_contract(world):
    """Site x along the fingers (down at rest, arms hanging); the left palm faces the site's
    -y, the right its +y: at rest both face the body's midline."""
    world.reset(0)
    for side, normal in (("left", -1.0), ("right", 1.0)):
        rot = world.data.site_xmat[world.palm_site_id(side)].reshape(3, 3)
        assert rot[:, 0] @ np.array([0.0, 0.0, -1.0]) > 0.8, side  # fingers point down
        inwards = np.array([0.0, -1.0 if side == "left" else 1.0, 0.0])
        assert (normal * rot[:, 1]) @ inwards > 0.8, side


def test_head_camera_sees_the_three_cubes(world):
    camera = HeadCamera(world)
    try:
        for seed in range(4):
            world.reset(seed)
            rgb = camera.render(world.data).astype(int)
            assert rgb.shape == (224, 224, 3)
            r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
            counts = [int(((r > 120) & (r > 2 * g) & (r > 2 * b)).sum()),
                      int(((g > 100) & (g > 2 * r) & (g > 1.5 * b)).sum()),
                      int(((b > 100) & (b > 2 * r) & (b > 1.5 * g)).sum())]
            assert min(counts) > 200, (seed, dict(zip(CUBE_COLORS, counts)))  # ~16 px cubes
    finally:
        camera.close()


def test_expert_touches_and_raises_with_either_hand(emb, world):
    """Noise-free expert episodes of each kind succeed at the end."""
    rec = DemoRecorder(emb, CollectConfig(hold_s=1.0, max_s=6.0, noise_std=0.0), world=world)
    try:
        for seed, task in ((0, "touch the green cube with your left hand"),
                           (2, "touch the red cube with your right hand"),
                           (3, "raise your left hand"), (5, "raise your right hand")):
            demo = rec.record(seed, task)
            assert demo.success, (seed, task)
            assert demo.actions.shape[1] == 17
            limits = emb.position_limits
            assert (demo.actions >= limits[:, 0] - 1e-6).all()
            assert (demo.actions <= limits[:, 1] + 1e-6).all()
    finally:
        rec.close()


def test_the_hand_stops_on_the_cube_not_inside_it(emb, world):
    """Aimed at the cube's centre, the palm ends on top of the cube: the hands collide (the
    section's contact_bodies); without that it would sink to the centre."""
    rec = DemoRecorder(emb, CollectConfig(hold_s=1.0, max_s=4.0, noise_std=0.0,
                                          expert={"touch_height": 0.001}), world=world)
    try:
        instruction = "touch the green cube with your left hand"
        task = Task.parse(instruction)
        rec.record(0, instruction)
        cube = world.cube_position(task.color)
        palm = world.palm_position(task.side)
        assert palm[2] > cube[2] + world.cfg.cube_half_size - 0.005, (palm, cube)
    finally:
        rec.close()


def test_collect_records_an_apollo_dataset(emb, tmp_path):
    out = tmp_path / "apollo"
    summary = collect(out, 2, 7, emb, progress=False)
    ds = LeRobotDataset(out)
    assert ds.num_episodes == 2 and ds.state_names == list(emb.state_joints)
    assert summary["embodiment"] == "apptronik_apollo"
    assert summary["expert"]["touch_height"] == emb.simulator.expert.params["touch_height"]
    ep = ds.episode(0)
    assert ep.frames["head"].shape == (ep.length, 224, 224, 3)
    assert ep.actions.shape == (ep.length, 17)
