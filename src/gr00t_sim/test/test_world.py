"""The tabletop world: fixed base, cubes on the table, a head camera that sees them; built from
the embodiment's simulator section, with errors that name the key."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gr00t_sim.tasks import CUBE_COLORS, Task, all_instructions  # noqa: E402
from gr00t_sim.world import SimWorld, HeadCamera, SceneConfig  # noqa: E402


@pytest.fixture(scope="module")
def world() -> SimWorld:
    return SimWorld()


def test_model_has_the_g1_joints_and_no_free_base(world):
    assert len(world.robot_joints) == 43
    assert "floating_base_joint" not in world.robot_joints
    assert world.robot_joints[:3] == ("left_hip_pitch_joint", "left_hip_roll_joint",
                                      "left_hip_yaw_joint")
    assert "right_hand_index_1_joint" in world.robot_joints


def test_pelvis_fixed_and_cubes_stay_on_the_table(world):
    world.reset(5)
    pelvis0 = world.data.xpos[world.base_id].copy()
    cubes0 = world.cube_positions()
    world.set_targets({n: 0.0 for n in world.robot_joints})  # zero commands
    world.step(1000)  # 2 s
    assert np.abs(world.data.xpos[world.base_id] - pelvis0).max() < 1e-9
    cfg = world.cfg
    for color, pos in world.cube_positions().items():
        assert pos[2] == pytest.approx(cfg.table_height + cfg.cube_half_size, abs=3e-3), color
        assert np.linalg.norm(pos[:2] - cubes0[color][:2]) < 5e-3, color
        assert cfg.cube_x[0] <= pos[0] <= cfg.cube_x[1]


def test_cube_toucher_names_what_touches_a_cube_besides_the_table(world):
    world.reset(5)
    world.step(50)
    assert all(world.cube_toucher(c) is None for c in CUBE_COLORS)  # the table only
    # Stacked 1 mm into the green cube: the green cube touches the red one.
    stacked = world.cube_position("green") + [0.0, 0.0, 2 * world.cfg.cube_half_size - 0.001]
    world.place_cube("red", stacked)
    np.testing.assert_allclose(world.cube_position("red"), stacked)
    assert world.cube_toucher("red") == "green_cube"
    # Centred on the left palm: a body of the left hand or wrist.
    world.place_cube("red", world.palm_position("left"))
    assert (world.cube_toucher("red") or "").startswith("left_")
    world.reset(5)


def test_reset_is_seeded(world):
    world.reset(11)
    a = world.cube_positions()
    world.reset(12)
    b = world.cube_positions()
    world.reset(11)
    c = world.cube_positions()
    assert all(np.array_equal(a[k], c[k]) for k in CUBE_COLORS)
    assert not all(np.allclose(a[k], b[k]) for k in CUBE_COLORS)


def test_tasks_parse_and_success_geometry(world):
    assert len(all_instructions()) == 8
    assert Task.parse("Touch the red cube with your left hand.") == Task("touch", "left", "red")
    with pytest.raises(ValueError, match="known"):
        Task.parse("wave")
    world.reset(0)
    assert not world.success("raise your left hand")
    assert not world.success("touch the red cube with your left hand")


def test_a_touch_naming_no_hand_counts_either_palm(world):
    from gr00t_sim.tasks import EITHER, either_instructions

    assert either_instructions() == [f"touch the {c} cube" for c in CUBE_COLORS]
    task = Task.parse("Touch the blue cube.")
    assert task == Task("touch", EITHER, "blue") and task.instruction == "touch the blue cube"
    assert task.with_side("right") == Task("touch", "right", "blue")
    world.reset(0)
    # Either palm's margin: the verdict is the nearer one's, whichever that is.
    left, right = (world.verdict(task.with_side(s)) for s in ("left", "right"))
    assert world.verdict(task).margin == min(left.margin, right.margin)
    assert left.margin != right.margin


def test_head_camera_sees_three_coloured_cubes(world):
    """The camera is framed on the cubes' region: each cube, wherever it was put, is in view
    and large (a 4.5 cm cube is ~20 px wide at 224 px: 320-390 pixels over seeds 0-7)."""
    camera = HeadCamera(world)
    try:
        for seed in range(8):
            world.reset(seed)
            img = camera.render(world.data)
            assert img.shape == (224, 224, 3) and img.dtype == np.uint8
            assert img.std() > 10  # not blank
            rgb = img.astype(int)
            r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
            counts = {
                "red": int(((r > 120) & (r > 2 * g) & (r > 2 * b)).sum()),
                "green": int(((g > 100) & (g > 2 * r) & (g > 1.5 * b)).sum()),
                "blue": int(((b > 100) & (b > 2 * r) & (b > 1.5 * g)).sum()),
            }
            for color, n in counts.items():
                assert n > 250, (seed, color, counts)  # 189-207 at the first framing
    finally:
        camera.close()


def test_scene_config_validation():
    with pytest.raises(ValueError, match="table_near_x"):
        SceneConfig(table_near_x=1.0, table_far_x=0.5)
    with pytest.raises(ValueError, match="cube_x"):
        SceneConfig(cube_x=(0.1, 0.3))


def test_simulator_section_errors_name_the_key(world):
    """A bad scene or expert setting, a body the model lacks, a model file that is missing:
    each error names the simulator key and what to do."""
    import dataclasses

    from gr00t_policy.embodiment import parse_embodiment
    from gr00t_sim.expert import expert_config
    from gr00t_sim.world import build_spec, scene_config

    emb = world.embodiment
    raw = emb.to_dict()

    def with_sim(**changes):
        return parse_embodiment({**raw, "simulator": {**raw["simulator"], **changes}})

    with pytest.raises(ValueError, match=r"simulator.scene.table_hight: not a scene setting"):
        scene_config(with_sim(scene={"table_hight": 0.8}).simulator)
    with pytest.raises(ValueError, match=r"simulator.scene: cube_x="):
        scene_config(with_sim(scene={"cube_x": [0.9, 1.0]}).simulator)
    assert scene_config(with_sim(scene={"cube_x": [0.3, 0.4]}).simulator).cube_x == (0.3, 0.4)
    with pytest.raises(ValueError, match=r"simulator.expert.params.palm_rol: not an expert"):
        expert_config(with_sim(expert={**raw["simulator"]["expert"],
                                       "params": {"palm_rol": 0}}).simulator)
    assert expert_config(emb.simulator, palm_roll_deg=0.0, touch_height=None).palm_roll_deg == 0.0
    bad_palm = {**raw["simulator"]["palms"], "left": {"body": "left_wrist_link", "pos": [0, 0, 0]}}
    with pytest.raises(ValueError, match=r"simulator.palms.left.body: the model has no body"):
        build_spec(with_sim(palms=bad_palm), dataclasses.replace(world.cfg, simplify_meshes=False))
    with pytest.raises(FileNotFoundError, match=r"simulator.model: .* does not exist"):
        build_spec(with_sim(model="unitree_g1/nope.xml"), world.cfg)
    no_sim = parse_embodiment({k: v for k, v in raw.items() if k != "simulator"})
    with pytest.raises(ValueError, match="has no `simulator:` section"):
        SimWorld(no_sim)
