"""gr00t-collect: expert demonstrations in the MuJoCo scene land in a readable LeRobot dataset."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest

from gr00t_policy.dataset import LeRobotDataset
from gr00t_policy.embodiment import load_embodiment
from gr00t_sim.collect import (
    EVAL_SEED_START,
    CollectConfig,
    DemoRecorder,
    collect,
    main,
    task_for_seed,
)
from gr00t_sim.expert import ExpertConfig
from gr00t_sim.tasks import Task, all_instructions

G1_YAML = Path(__file__).resolve().parents[3] / "config" / "unitree_g1.yaml"


@pytest.fixture(scope="module")
def emb():
    return load_embodiment(G1_YAML)


def test_task_for_seed_is_deterministic_and_covers_all_tasks():
    tasks = [task_for_seed(s) for s in range(200)]
    assert tasks == [task_for_seed(s) for s in range(200)]
    assert set(tasks) == set(all_instructions())


def test_touches_naming_no_hand_are_done_with_either_hand_drawn_by_seed(emb):
    # Two ways to do one instruction in the same scenes (docs/plans/rtc_two_modes.md).
    from gr00t_sim.collect import side_for_seed
    from gr00t_sim.tasks import either_instructions

    tasks = [task_for_seed(s, "either") for s in range(60)]
    assert set(tasks) == set(either_instructions())
    sides = [side_for_seed(s, Task.parse(t)).side for s, t in enumerate(tasks)]
    assert 20 <= sides.count("left") <= 40 and sides.count("left") + sides.count("right") == 60
    assert side_for_seed(5, Task.parse("raise your left hand")).side == "left"
    rec = DemoRecorder(emb, CollectConfig(tasks="either"))
    try:
        demos = {side_for_seed(s, Task.parse(task_for_seed(s, "either"))).side: rec.record(s)
                 for s in range(6)}
    finally:
        rec.close()
    assert set(demos) == {"left", "right"}
    for side, demo in demos.items():
        assert demo.success and demo.task in either_instructions()
        arm = [j for j, n in enumerate(emb.action_joints) if n.startswith(f"{side}_shoulder")]
        other = [j for j, n in enumerate(emb.action_joints)
                 if n.startswith(("left_shoulder", "right_shoulder")) and j not in arm]
        # The drawn hand's shoulder moves, the other's stays near rest.
        moved = np.ptp(demo.actions, axis=0)  # (A,) each joint's range over the episode
        assert moved[arm].max() > 0.2 and moved[other].max() < 0.05, (side, moved)
    with pytest.raises(ValueError, match="tasks"):
        CollectConfig(tasks="some")


def test_collect_writes_successful_episodes(emb, tmp_path):
    out = tmp_path / "demos"
    rc = main(["--episodes", "2", "--seed", "3", "--out", str(out), "--embodiment",
                    str(G1_YAML), "--no-progress"])
    assert rc == 0
    ds = LeRobotDataset(out)
    assert ds.num_episodes == 2 and ds.fps == 20.0
    assert ds.state_names == list(emb.state_joints) and len(ds.state_names) == 31
    assert ds.action_names == list(emb.action_joints)
    assert [k for k, _, _ in ds.key_ranges("action")] == [k.key for k in emb.action_keys]
    collected = json.loads((out / "meta/collect.json").read_text())
    seeds = [e["seed"] for e in ds.episodes]
    assert seeds[0] == 3 and all(3 <= s < EVAL_SEED_START for s in seeds)
    assert collected["attempts"] == 2 + len(collected["failed_seeds"])
    # how it was made: the settings asked for (none: the robot's) and the expert's effective ones
    assert collected["config"]["expert"] == {}
    assert collected["expert"]["palm_roll_deg"] == ExpertConfig().palm_roll_deg
    assert collected["embodiment"] == "unitree_g1"
    for i, seed in enumerate(seeds):
        ep = ds.episode(i)
        assert ep.task == task_for_seed(seed)
        assert ep.frames["head"].shape == (ep.length, 224, 224, 3)
        assert ep.states.shape == ep.actions.shape == (ep.length, 31)
        limits = emb.position_limits
        assert (ep.actions >= limits[:, 0] - 1e-4).all() and (ep.actions <= limits[:, 1] + 1e-4).all()
        # The arm that does the task moves; the frames change as it does.
        side = Task.parse(ep.task).side
        arm = [j for j, n in enumerate(emb.action_joints) if n.startswith(f"{side}_shoulder")]
        assert np.abs(ep.actions[-1, arm] - ep.actions[0, arm]).max() > 0.2
        assert np.abs(ep.frames["head"][-1].astype(int) - ep.frames["head"][0]).mean() > 1.0
    # Each episode records where the expert's palm ends (gr00t-train --goal-weight): a touch
    # goal is over the named cube, a raise goal above the shoulder.
    from gr00t_sim.world import SimWorld

    world = SimWorld()
    for entry in ds.episodes:
        task = Task.parse(entry["tasks"][0])
        goal = np.asarray(entry["goal_position"])
        world.reset(entry["seed"])
        if task.kind == "touch":
            offset = goal - world.cube_position(task.color)
            assert np.linalg.norm(offset[:2]) < 0.03 and 0.0 < offset[2] < 0.06, offset
        else:
            assert goal[2] > world.shoulder_position(task.side)[2] + 0.2
        # ... and where every cube starts (gr00t-train --scene-weight): the scene of its seed.
        assert sorted(entry["object_positions"]) == sorted(world.cube_positions())
        for name, pos in entry["object_positions"].items():
            np.testing.assert_allclose(pos, world.cube_position(name), atol=1e-9)


def test_replayed_episode_matches_and_succeeds(emb, tmp_path):
    """Recording the same seed twice gives the same rows (deterministic sim and expert)."""
    recorder = DemoRecorder(emb)
    try:
        a = recorder.record(5)
        b = recorder.record(5)
    finally:
        recorder.close()
    assert a.success and a.task == task_for_seed(5)
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.actions, b.actions)
    assert a.info["first_success_step"] is not None
    # the episode ends hold_s (10 rows) after the first success
    assert len(a.states) == a.info["first_success_step"] + 11


def test_ctrl_c_keeps_the_episodes_written_unless_overwriting(emb, tmp_path, monkeypatch):
    """A collection of hundreds of episodes interrupted keeps what it rendered, as a
    complete dataset (it was deleted, or before that left without meta/); an overwrite keeps
    the dataset it would have replaced."""
    real = DemoRecorder.record
    calls = []

    def record(self, seed):
        calls.append(seed)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, seed)

    monkeypatch.setattr(DemoRecorder, "record", record)
    out = tmp_path / "demos"
    # Python's handler, or SIG_IGN where the suite runs as a background job (`cmd &` in a
    # shell without job control ignores SIGINT, and Python keeps that).
    before = signal.getsignal(signal.SIGINT)
    try:
        rc = main(["--episodes", "3", "--seed", "3", "--out", str(out), "--embodiment",
                   str(G1_YAML), "--no-progress"])
    except KeyboardInterrupt:  # uncaught, it would end the whole pytest session
        pytest.fail("the interrupted collection was not kept: KeyboardInterrupt escaped")
    assert rc == 130
    assert LeRobotDataset(out).num_episodes == 1
    summary = json.loads((out / "meta/collect.json").read_text())
    assert summary["interrupted"] is True and summary["episodes"] == 1
    assert signal.getsignal(signal.SIGINT) is before  # given back
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        collect(out, 3, 20, emb, overwrite=True, progress=False)
    assert [e["seed"] for e in LeRobotDataset(out).episodes] == [3]


def test_failures_are_dropped_and_reported(emb, tmp_path):
    with pytest.raises(RuntimeError, match="only 0 of 1 episodes succeeded in 2 seeds"):
        collect(tmp_path / "none", 1, 0, emb, cfg=CollectConfig(max_s=0.3), max_attempts=2,
                progress=False)


def test_eval_seeds_are_refused(emb, tmp_path):
    with pytest.raises(ValueError, match="evaluation uses seeds"):
        collect(tmp_path / "x", 5, EVAL_SEED_START - 3, emb, progress=False)


def test_perturbation_moves_the_states_and_leaves_the_recorded_actions(emb):
    """DART: the commanded targets are perturbed, the recorded ones are the expert's own."""
    clean_rec = DemoRecorder(emb, CollectConfig(noise_std=0.0))
    noisy_rec = DemoRecorder(emb, CollectConfig(noise_std=0.03))
    try:
        clean, noisy = clean_rec.record(4), noisy_rec.record(4)
    finally:
        clean_rec.close()
        noisy_rec.close()
    n = min(len(clean.actions), len(noisy.actions))
    np.testing.assert_array_equal(clean.actions[:n], noisy.actions[:n])
    arm = [j for j, name in enumerate(emb.state_joints) if "_hand_" not in name]
    moved = np.abs(noisy.states[:n, arm] - clean.states[:n, arm]).max(axis=0)
    assert moved.max() > 0.02  # rad: the perturbation reaches the joints
    np.testing.assert_array_equal(noisy.states[0], clean.states[0])  # both start at rest
    assert noisy.success and clean.success
    with pytest.raises(ValueError, match="noise_std"):
        CollectConfig(noise_std=-0.1)


def test_the_perturbation_fades_after_the_first_success(emb):
    """The hold ends on the expert's own path: the noisy recording's last state meets the
    clean one's, while before the success they differ."""
    clean_rec = DemoRecorder(emb, CollectConfig(noise_std=0.0, hold_s=1.5))
    noisy_rec = DemoRecorder(emb, CollectConfig(noise_std=0.03, hold_s=1.5, noise_fade_s=0.5))
    try:
        clean, noisy = clean_rec.record(4), noisy_rec.record(4)
    finally:
        clean_rec.close()
        noisy_rec.close()
    arm = [j for j, name in enumerate(emb.state_joints) if "_hand_" not in name]
    first = noisy.info["first_success_step"]
    assert np.abs(noisy.states[first, arm] - clean.states[first, arm]).max() > 0.01
    assert np.abs(noisy.states[-1, arm] - clean.states[-1, arm]).max() < 0.01
    scale = noisy_rec._noise_scale
    assert scale(7, None) == 1.0 and scale(10, 10) == 1.0
    assert scale(15, 10) == pytest.approx(0.5) and scale(40, 10) == 0.0  # 0.05 s rows
    with pytest.raises(ValueError, match="noise_fade_s"):
        CollectConfig(noise_fade_s=-1.0)


def test_workers_write_the_same_dataset(emb, tmp_path):
    """--workers records in other processes; the files are byte for byte the one-worker ones."""
    one, two = tmp_path / "one", tmp_path / "two"
    collect(one, 2, 10, emb, progress=False)
    collect(two, 2, 10, emb, progress=False, workers=2)
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file() and p.name != "collect.json")
    assert any(p.suffix == ".mp4" for p in files) and any(p.suffix == ".parquet" for p in files)
    assert files == sorted(p.relative_to(two) for p in two.rglob("*")
                           if p.is_file() and p.name != "collect.json")
    for rel in files:
        assert (one / rel).read_bytes() == (two / rel).read_bytes(), rel
    with pytest.raises(ValueError, match="workers"):
        collect(tmp_path / "x", 1, 0, emb, progress=False, workers=0)


def test_a_nudged_cube_is_touched_where_it_was_moved_to(emb):
    """--nudge-prob: the named cube moves while the palm comes down; the expert re-plans
    (`ScriptedExpert.retarget`) and the episode ends held on the cube where it is, with the
    goal moved by the nudge. Raises are never nudged."""
    seed = next(s for s in range(100) if task_for_seed(s).startswith("touch"))
    plain_rec = DemoRecorder(emb, CollectConfig(noise_std=0.0, hold_s=1.0))
    rec = DemoRecorder(emb, CollectConfig(noise_std=0.0, hold_s=1.0, nudge_prob=1.0,
                                          nudge_cm=3.0))
    try:
        plain, demo = plain_rec.record(seed), rec.record(seed)
        task = Task.parse(demo.task)
        nudge = demo.info["nudge"]
        offset = np.array(nudge["offset"])
        assert 0.015 <= np.linalg.norm(offset) <= 0.03 + 1e-9 and offset[2] == 0.0
        start = np.array(plain.info["object_positions"][task.color])
        after = np.array(demo.info["object_positions"][task.color])  # after the nudge
        np.testing.assert_allclose(after - start, offset, atol=1e-3)  # it settles a little
        moved = rec.world.cube_position(task.color) - start
        assert np.linalg.norm(moved[:2] - offset[:2]) < 0.015  # where it was put, give or take
        assert demo.success and rec.world.success(task)
        goal_shift = np.array(demo.info["goal_position"]) - np.array(plain.info["goal_position"])
        assert np.linalg.norm(goal_shift[:2] - offset[:2]) < 0.005
        # The recorded actions are the plain episode's until the nudge, then differ.
        step = nudge["step"]
        np.testing.assert_allclose(demo.actions[:step], plain.actions[:step])
        assert np.abs(demo.actions[step + 10] - plain.actions[step + 10]).max() > 0.01
        raise_seed = next(s for s in range(100) if task_for_seed(s).startswith("raise"))
        assert "nudge" not in rec.record(raise_seed).info
    finally:
        plain_rec.close()
        rec.close()
    with pytest.raises(ValueError, match="nudge_prob"):
        CollectConfig(nudge_prob=1.5)
    with pytest.raises(ValueError, match="nudge_phase"):
        CollectConfig(nudge_phase="landing")
    with pytest.raises(ValueError, match="--hold-s 1.0"):
        CollectConfig(nudge_prob=1.0, nudge_phase="hold", hold_s=0.5)


def test_a_cube_shoved_during_the_hold_is_landed_on_again(emb):
    """--nudge-phase hold: after the palm first lands, the cube moves away from it (as a
    policy's landing shoves it); the expert lifts, lands on it again, and the hold is counted
    from there, so the episode ends held on the cube where it is and lasts longer."""
    seed = next(s for s in range(100) if task_for_seed(s).startswith("touch"))
    plain_rec = DemoRecorder(emb, CollectConfig(noise_std=0.0, hold_s=1.0))
    rec = DemoRecorder(emb, CollectConfig(noise_std=0.0, hold_s=1.0, max_s=9.0, nudge_prob=1.0,
                                          nudge_phase="hold"))
    try:
        plain, demo = plain_rec.record(seed), rec.record(seed)
        task = Task.parse(demo.task)
        nudge = demo.info["nudge"]
        step, offset = nudge["step"], np.array(nudge["offset"])
        landed = plain.info["first_success_step"]
        assert landed + 3 <= step <= landed + 21  # 0.2-1.0 s after the first landing
        assert 0.015 <= np.linalg.norm(offset) <= 0.03 + 1e-9 and offset[2] == 0.0
        np.testing.assert_allclose(demo.actions[:step], plain.actions[:step])
        assert demo.success and rec.world.success(task)
        assert demo.info["first_success_step"] > step  # counted again from the new landing
        assert len(demo.states) > len(plain.states)
        start = np.array(plain.info["object_positions"][task.color])
        after = np.array(demo.info["object_positions"][task.color])
        assert np.linalg.norm(after[:2] - start[:2] - offset[:2]) < 0.01
        # Away from where the palm rested: within 60 degrees of straight away.
        palm = plain_rec.world.palm_position(task.side)  # the plain episode ends resting there
        away = (start - palm)[:2]
        cos = float(away @ offset[:2]) / (np.linalg.norm(away) * np.linalg.norm(offset[:2]))
        assert cos >= 0.5 - 1e-6
    finally:
        plain_rec.close()
        rec.close()
