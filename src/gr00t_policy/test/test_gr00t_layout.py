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
        np.testing.assert_array_equal(ep.frames["ego_view"], frames)
        assert ep.task == task  # not the "valid" of the second annotation
        np.testing.assert_allclose(ep.timestamps, (np.arange(len(states)) + 1) / 20, atol=1e-6)


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

    joint = {"position": [-5.0, 5.0], "velocity": 5.0}
    groups = {key: joints[start:start + n] for (key, n), start in zip(KEYS, (0, 3, 5))}
    keys = [{"key": key, "normalization": "min_max"} for key, _ in KEYS]
    return parse_embodiment({
        "name": "gr1_small", "tag": "gr1", "slot": 1, "action_dt": 0.05,
        "joint_groups": {k: {"joints": [{"name": n, **joint} for n in v]}
                         for k, v in groups.items()},
        "state_keys": keys, "action_keys": keys,
        "cameras": [{"name": "ego_view", "topic": "/camera/ego_view/image_raw"}],
        "controllers": [{"name": "all", "type": "forward_command", "topic": "/all/commands",
                         "joints": joints}],
        "staleness": {"state_s": 0.1, "tokens_s": 0.5}, "on_stale": "hold_last_command",
    })


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


def test_a_dataset_with_more_keys_than_the_yaml_says_what_to_write(tmp_path):
    """Isaac-GR00T's GR-1 data holds legs and neck that its arms+waist data config leaves
    out; training takes a dataset's keys as they are, and its refusal told a team to "pass
    the embodiment YAML the dataset was recorded with" (config/fourier_gr1.yaml is that
    robot's)."""
    from gr00t_policy.train.data import build_metadata

    joints = ["l_sh_pitch", "l_sh_roll", "l_elbow", "l_thumb", "l_index", "waist_yaw"]
    eps = [(np.concatenate([s, s[:, :2]], 1), np.concatenate([a, a[:, :2]], 1), f, t)
           for s, a, f, t in episodes()]
    root = write_gr00t_v20(tmp_path / "ds", eps, keys=KEYS[:2] + [("left_leg", 2), KEYS[2]])
    _edit(root / "meta/info.json", lambda i: [i["features"][f].update(names=None)
                                              for f in ("observation.state", "action")])
    with pytest.raises(ValueError, match=r"state keys .* differ from embodiment 'gr1_small'.*: "
                                         r"the dataset also holds \['left_leg'\].*does not pick "
                                         r"keys.*Fix: write a copy of the dataset"):
        build_metadata(LeRobotDataset(root), embodiment(joints))


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
