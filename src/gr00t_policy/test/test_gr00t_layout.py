"""Datasets laid out as Isaac-GR00T ships its own (demo_data/robot_sim.PickNPlace: LeRobot
v2.0 with meta/modality.json): read as GR00T's loader reads them, or refused naming the field
and the fix where reading them as we do would train on other values than GR00T's."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from gr00t_policy.dataset import DatasetError, LeRobotDataset
from gr00t_policy.testing.lerobot import write_gr00t_v20

KEYS = [("left_arm", 3), ("left_hand", 2), ("waist", 1)]
TASKS = ["pick the squash from the counter and place it in the plate",
         "pick the ketchup from the counter and place it in the plate"]


def episodes(n=2, seed=0):
    """Frames whose pixels say (episode, frame)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        length = 6 + 2 * i
        frames = np.zeros((length, 16, 16, 3), dtype=np.uint8)
        frames[..., 0] = 60 * i
        frames[..., 1] = np.arange(length, dtype=np.uint8)[:, None, None] * 9
        out.append((rng.normal(size=(length, 6)), rng.normal(size=(length, 6)), frames,
                    TASKS[i % 2]))
    return out


def _edit(path, edit):
    obj = json.loads(path.read_text())
    edit(obj)
    path.write_text(json.dumps(obj))


def test_reads_isaac_gr00ts_own_layout_as_recorded(tmp_path):
    eps = episodes()
    ds = LeRobotDataset(write_gr00t_v20(tmp_path / "ds", eps, keys=KEYS))
    assert ds.key_ranges("state") == [("left_arm", 0, 3), ("left_hand", 3, 5), ("waist", 5, 6)]
    assert ds.task_column == "annotation.human.action.task_description"
    for i, (states, actions, frames, task) in enumerate(eps):
        ep = ds.episode(i)
        np.testing.assert_allclose(ep.states, states, atol=1e-6)  # float64 read as float32
        np.testing.assert_allclose(ep.actions, actions, atol=1e-6)
        assert ep.task == task  # not the "valid" of the second annotation
        np.testing.assert_allclose(ep.timestamps, (np.arange(len(states)) + 1) / 20, atol=1e-6)
        # Row r (r + 1 frames in, GR00T's timestamps) shows the frame at its timestamp, as
        # GR00T's loader decodes it: frame r + 1; the last row the video's last frame.
        shown = np.minimum(np.arange(len(states)) + 1, len(states) - 1)
        np.testing.assert_array_equal(ep.frames["ego_view"], frames[shown])


def _set_timestamps(path, timestamps):
    import pyarrow as pa

    table = pq.read_table(path)
    index = table.column_names.index("timestamp")
    pq.write_table(table.set_column(index, "timestamp", pa.array(timestamps)), path)


def test_rows_whose_timestamps_miss_the_video_are_refused_naming_the_row(tmp_path):
    """Rows were paired with frames by position whatever their timestamps said; paired by
    timestamp, rows further than GR00T's one frame (+ half a frame) from any frame of the
    video cannot be given a frame sensibly."""
    eps = episodes()
    root = write_gr00t_v20(tmp_path / "ds", eps, keys=KEYS)
    path = root / "data/chunk-000/episode_000001.parquet"  # 8 rows, frames at 0 .. 0.35 s
    # From 0 s (frame_index / fps, as our writer and LeRobot's write them): frame r for row r.
    _set_timestamps(path, np.arange(8) / 20)
    np.testing.assert_array_equal(LeRobotDataset(root).frames(1, "ego_view"), eps[1][2])
    # Half a frame late is still the nearest frame's row.
    _set_timestamps(path, (np.arange(8) + 0.4) / 20)
    np.testing.assert_array_equal(LeRobotDataset(root).frames(1, "ego_view"), eps[1][2])
    # Two frames in: row 6 lies 1 frame past the last frame (GR00T's clamp), row 7 two.
    _set_timestamps(path, (np.arange(8) + 2) / 20)
    with pytest.raises(DatasetError, match=r"episode_000001.parquet: episode 1's row 7 has "
                                           r"timestamp 0.4500 s, 2.00 frames from the nearest "
                                           r"frame of its video .*\(8 frames, 0 to 0.3500 s at "
                                           r"20 fps\).*Fix: give the rows timestamps from the "
                                           r"episode's first video frame"):
        LeRobotDataset(root).frames(1, "ego_view")
    # A recording's clock (seconds since 1970): refused at its first row.
    _set_timestamps(path, 1.7e9 + np.arange(8) / 20)
    with pytest.raises(DatasetError, match=r"episode 1's row 0 has timestamp 1700000000.0000 s"):
        LeRobotDataset(root).frames(1, "ego_view")


def test_a_key_that_reads_another_column_is_refused_naming_it(tmp_path):
    """GR00T reads each state / action key from its "original_key" column (default
    observation.state / action); a key pointing elsewhere was read from observation.state."""
    root = write_gr00t_v20(tmp_path / "ds", episodes(), keys=KEYS)
    # The default column, said out loud, is what was read all along.
    _edit(root / "meta/modality.json",
          lambda m: m["state"]["left_arm"].update(original_key="observation.state"))
    LeRobotDataset(root)
    _edit(root / "meta/modality.json",
          lambda m: m["state"]["left_arm"].update(original_key="action"))
    with pytest.raises(DatasetError, match=r"modality.json: state.left_arm reads column 'action' "
                                           r"\(its \"original_key\"\).*observation.state.*Fix:"):
        LeRobotDataset(root)


def test_a_depth_camera_flagged_in_v20s_video_info_is_refused(tmp_path):
    """v2.0 (GR00T's layout) keeps a video's flags under "video_info", v2.1 under "info": a
    depth map flagged in the first was decoded as a colour camera."""
    root = write_gr00t_v20(tmp_path / "ds", episodes(), keys=KEYS)
    _edit(root / "meta/info.json", lambda i: i["features"]["observation.images.ego_view"]
          ["video_info"].update({"video.is_depth_map": True}))
    with pytest.raises(DatasetError, match=r"camera 'ego_view' .* is a depth map.*Fix:"):
        LeRobotDataset(root).frames(0, "ego_view")


def _rewrite_rows(path, column, edit):
    import pyarrow as pa

    table = pq.read_table(path)
    rows = table.column(column).to_pylist()
    edit(rows)
    index = table.column_names.index(column)
    pq.write_table(table.set_column(index, column, pa.array(rows, pa.list_(pa.float64()))), path)


@pytest.mark.parametrize("name, edit, match", [
    # One row a value short and the next one long: flattened and cut in rows of 6, every
    # value from there on was read into the column before its own.
    ("ragged", lambda rows: (rows.__setitem__(1, rows[1][:5]), rows[2].append(9.0)),
     r"observation.state row 1 holds 5 values"),
    # Every row narrower than info.json's shape: the last key's range ran past the columns.
    ("narrow", lambda rows: [r.pop() for r in rows], r"observation.state row 0 holds 5 values"),
])
def test_a_state_row_of_another_width_than_info_json_is_refused(tmp_path, name, edit, match):
    root = write_gr00t_v20(tmp_path / "ds", episodes(), keys=KEYS)
    _rewrite_rows(root / "data/chunk-000/episode_000001.parquet", "observation.state", edit)
    ds = LeRobotDataset(root)
    ds.episode(0, load_video=False)
    with pytest.raises(DatasetError, match=r"episode_000001.parquet: " + match +
                       r", not the 6 of its shape in meta/info.json.*Fix:"):
        ds.episode(1, load_video=False)


def embodiment(joints):
    from gr00t_policy.embodiment import parse_embodiment

    return parse_embodiment(embodiment_dict(joints))


def embodiment_dict(joints):
    joint = {"position": [-5.0, 5.0], "velocity": 5.0}
    groups = {key: joints[start:start + n] for (key, n), start in zip(KEYS, (0, 3, 5))}
    keys = [{"key": key, "normalization": "min_max"} for key, _ in KEYS]
    return {
        "name": "gr1_small", "tag": "gr1", "slot": 1, "action_dt": 0.05,
        "joint_groups": {k: {"joints": [{"name": n, **joint} for n in v]}
                         for k, v in groups.items()},
        "state_keys": keys, "action_keys": keys,
        "cameras": [{"name": "ego_view", "topic": "/camera/ego_view/image_raw"}],
        "controllers": [{"name": "all", "type": "forward_command", "topic": "/all/commands",
                         "joints": joints}],
        "staleness": {"state_s": 0.1, "tokens_s": 0.5}, "on_stale": "hold_last_command",
    }


def test_joint_names_that_are_not_the_yamls_are_named_with_the_fix(tmp_path):
    """GR00T's datasets name their columns motor_0, motor_1, ...: training refused them
    saying only "first mismatch at 0"."""
    from gr00t_policy.train.data import build_metadata

    joints = ["l_sh_pitch", "l_sh_roll", "l_elbow", "l_thumb", "l_index", "waist_yaw"]
    root = write_gr00t_v20(tmp_path / "ds", episodes(), keys=KEYS)
    with pytest.raises(ValueError, match=r"observation.state names \['motor_0', .* are not "
                                         r"embodiment 'gr1_small'.*\(column 0: 'motor_0' where "
                                         r"the YAML has 'l_sh_pitch'\). Fix:.*meta/info.json"):
        build_metadata(LeRobotDataset(root), embodiment(joints))
    # Renamed as the fix says, the dataset trains.
    _edit(root / "meta/info.json", lambda i: [i["features"][f].update(names=joints)
                                              for f in ("observation.state", "action")])
    build_metadata(LeRobotDataset(root), embodiment(joints))


# The dataset's layout: the YAML's keys (KEYS) in another order, between keys it leaves out.
WIDE = [("waist", 1), ("left_leg", 2), ("left_arm", 3), ("neck", 1), ("left_hand", 2)]
JOINTS = ["l_sh_pitch", "l_sh_roll", "l_elbow", "l_thumb", "l_index", "waist_yaw"]
WIDE_NAMES = ["waist_yaw", "l_hip", "l_knee", *JOINTS[:3], "neck_yaw", *JOINTS[3:5]]
PICK = [3, 4, 5, 7, 8, 0]  # the columns of JOINTS in WIDE's vector


def wide_dataset(path, eps):
    """``eps`` (6-wide, the YAML's order) written in the WIDE layout, the left-out columns
    far beyond the YAML's limits (+-5)."""
    def widen(x):
        out = np.full((len(x), 9), 100.0)
        out[:, PICK] = x
        return out

    root = write_gr00t_v20(path, [(widen(s), widen(a), f, t) for s, a, f, t in eps], keys=WIDE)
    _edit(root / "meta/info.json", lambda i: [i["features"][f].update(names=WIDE_NAMES)
                                              for f in ("observation.state", "action")])
    return root


def test_the_yamls_keys_are_read_by_name_out_of_a_dataset_holding_more(tmp_path, caplog):
    """Isaac-GR00T's GR-1 data holds legs and neck that its arms+waist data config leaves
    out, its keys in another order than config/fourier_gr1.yaml's: training refused it (and
    told a team to write a copy of the dataset), as Isaac-GR00T picks its keys by name."""
    import logging

    from gr00t_policy.train.data import build_metadata

    eps = episodes()
    root = wide_dataset(tmp_path / "ds", eps)
    emb = embodiment(JOINTS)
    with caplog.at_level(logging.INFO, logger="gr00t_policy.dataset.reader"):
        ds = LeRobotDataset(root, embodiment=emb)
    said = [r.getMessage() for r in caplog.records if "leaving out" in r.getMessage()]
    assert len(said) == 2 and "['left_leg', 'neck']" in said[0]  # state, action: once each
    assert ds.left_out == {"state": ["left_leg", "neck"], "action": ["left_leg", "neck"]}
    for modality in ("state", "action"):
        assert ds.key_ranges(modality) == [("left_arm", 0, 3), ("left_hand", 3, 5),
                                           ("waist", 5, 6)]
    assert ds.state_names == JOINTS and ds.action_names == JOINTS
    for i, (states, actions, _, _) in enumerate(eps):
        ep = ds.episode(i, load_video=False)
        np.testing.assert_allclose(ep.states, states, atol=1e-6)
        np.testing.assert_allclose(ep.actions, actions, atol=1e-6)
    # Statistics, limits and joint names see the YAML's columns only (the left-out ones lie
    # beyond its limits and are named otherwise): the same as from a dataset of those only.
    meta = build_metadata(ds, emb)
    narrow = write_gr00t_v20(tmp_path / "narrow", eps, keys=KEYS)
    _edit(narrow / "meta/info.json", lambda i: [i["features"][f].update(names=JOINTS)
                                                for f in ("observation.state", "action")])
    expected = build_metadata(LeRobotDataset(narrow, embodiment=emb), emb)["gr1"]["statistics"]
    for modality, stats in meta["gr1"]["statistics"].items():
        assert list(stats) == list(expected[modality])
        for key, values in stats.items():
            for name, v in values.items():
                np.testing.assert_allclose(v, expected[modality][key][name], rtol=1e-6)
    # A mixture's second dataset of the robot (build_metadata's `others`) is read alike.
    both = build_metadata(LeRobotDataset(narrow, embodiment=emb), emb, others=[(ds, None)])
    np.testing.assert_allclose(both["gr1"]["statistics"]["state"]["waist"]["max"],
                               meta["gr1"]["statistics"]["state"]["waist"]["max"])
    # Without the embodiment the dataset reads as stored, and training says how to open it.
    whole = LeRobotDataset(root)
    assert [k for k, _, _ in whole.key_ranges("state")] == [k for k, _ in WIDE]
    assert whole.episode(0, load_video=False).states.shape == (6, 9)
    with pytest.raises(ValueError, match=r"state keys .* differ from embodiment 'gr1_small'.*"
                                         r"Fix: open the dataset with the embodiment"):
        build_metadata(whole, emb)


def test_only_the_keys_read_must_be_absolute_actions(tmp_path):
    root = wide_dataset(tmp_path / "ds", episodes())
    _edit(root / "meta/modality.json", lambda m: m["action"]["neck"].update(absolute=False))
    LeRobotDataset(root, embodiment=embodiment(JOINTS))  # the neck is left out
    _edit(root / "meta/modality.json", lambda m: m["action"]["waist"].update(absolute=False))
    with pytest.raises(DatasetError, match=r"action keys \['waist'\] are relative"):
        LeRobotDataset(root, embodiment=embodiment(JOINTS))


def test_dataset_info_shows_the_keys_taken_by_name(tmp_path, capsys):
    import yaml

    from gr00t_policy.dataset.cli import main as dataset_main

    root = wide_dataset(tmp_path / "ds", episodes())
    (tmp_path / "gr1_small.yaml").write_text(yaml.safe_dump(embodiment_dict(JOINTS)))
    dataset_main(["info", str(root)])
    assert "('waist', 0, 1), ('left_leg', 1, 3)" in capsys.readouterr().out  # as stored
    dataset_main(["info", str(root), "--embodiment", str(tmp_path / "gr1_small.yaml")])
    out = capsys.readouterr().out
    assert "state keys [('left_arm', 0, 3), ('left_hand', 3, 5), ('waist', 5, 6)]" in out
    assert "left out: state keys ['left_leg', 'neck'], action keys ['left_leg', 'neck']" in out


def test_keys_equal_to_the_yamls_read_as_stored(tmp_path):
    eps = episodes()
    root = write_gr00t_v20(tmp_path / "ds", eps, keys=KEYS)
    _edit(root / "meta/info.json", lambda i: [i["features"][f].update(names=JOINTS)
                                              for f in ("observation.state", "action")])
    ds, plain = LeRobotDataset(root, embodiment=embodiment(JOINTS)), LeRobotDataset(root)
    assert ds.left_out == {"state": [], "action": []}
    assert ds.key_ranges("state") == plain.key_ranges("state")
    for i in range(len(eps)):
        a, b = ds.episode(i, load_video=False), plain.episode(i, load_video=False)
        assert a.states.tobytes() == b.states.tobytes()
        assert a.actions.tobytes() == b.actions.tobytes()


@pytest.mark.parametrize("keys, match", [
    # The YAML's waist is not in the dataset.
    ([("left_arm", 3), ("left_leg", 2), ("left_hand", 2)],
     r"no state key \['waist'\] of embodiment 'gr1_small' \(the dataset's state keys and "
     r"widths: \[\('left_arm', 3\), \('left_leg', 2\), \('left_hand', 2\)\]\)\. Fix: pass "
     r"the embodiment YAML the dataset was recorded with \(--embodiment; its info.json names "
     r"robot_type 'GR1ArmsOnly'\)"),
    # The dataset's left_hand has 3 columns, the YAML's 2 joints.
    ([("left_arm", 3), ("left_hand", 3), ("waist", 1)],
     r"state key 'left_hand' holds 3 columns of the dataset but 2 joints of embodiment "
     r"'gr1_small'\. Fix: list the key's 3 joints"),
])
def test_a_yaml_key_the_dataset_lacks_or_holds_at_another_width_is_named(tmp_path, keys, match):
    width = sum(n for _, n in keys)
    eps = [(np.zeros((6, width)), np.zeros((6, width)), f, t) for _, _, f, t in episodes()]
    root = write_gr00t_v20(tmp_path / "ds", eps, keys=keys)
    with pytest.raises(DatasetError, match=match):
        LeRobotDataset(root, embodiment=embodiment(JOINTS))


def test_a_video_at_another_rate_than_info_json_says_so(tmp_path):
    """A camera recorded at 30 fps beside 20-fps rows decodes to 1.5 frames per row: the
    refusal gave the two counts only, not that the rates differ, nor what to do."""
    from gr00t_policy.dataset import write_video

    eps = episodes()
    root = write_gr00t_v20(tmp_path / "ds", eps, keys=KEYS)
    frames = eps[1][2]
    write_video(root / "videos/chunk-000/observation.images.ego_view/episode_000001.mp4",
                np.repeat(frames, 3, axis=0)[::2], fps=30)  # 1.5 frames per row
    ds = LeRobotDataset(root)
    with pytest.raises(DatasetError, match=r"decodes to 12 frames of episode 1, expected 8.*"
                                           r"30 fps.*20 fps.*Fix: re-encode"):
        ds.frames(1, "ego_view")
    # A video of the dataset's rate but other frames is not called a rate mismatch.
    write_video(root / "videos/chunk-000/observation.images.ego_view/episode_000001.mp4",
                frames[:-1], fps=20)
    with pytest.raises(DatasetError, match=r"decodes to 7 frames .*expected 8[^.]*\. Fix: "
                                           r"write the video again"):
        ds.frames(1, "ego_view")
