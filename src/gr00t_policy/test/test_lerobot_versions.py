"""LeRobot v2.1 and v3.0 datasets written the way lerobot writes them (no modality.json):
read with the embodiment YAML's key layout, episode by episode, frames included; trained on."""

from __future__ import annotations

import numpy as np
import pytest

from gr00t_policy.dataset import DatasetError, LeRobotDataset
from gr00t_policy.dataset.cli import main as dataset_main
from gr00t_policy.embodiment import parse_embodiment
from gr00t_policy.testing.lerobot import write_v21, write_v30

ARM = ["shoulder", "elbow", "wrist"]
GRIP = ["gripper"]
TASKS = ["pick up the cube", "open the drawer"]


def embodiment(camera="front", joints=ARM + GRIP):
    joint = {"position": [-3.0, 3.0], "velocity": 5.0}
    return parse_embodiment({
        "name": "so100", "tag": "so100", "slot": 1, "action_dt": 0.05,
        "joint_groups": {"arm": {"joints": [{"name": n, **joint} for n in joints[:3]]},
                         "gripper": {"joints": [{"name": n, **joint} for n in joints[3:]]}},
        "state_keys": [{"key": "arm", "normalization": "min_max"},
                       {"key": "gripper", "normalization": "min_max"}],
        "action_keys": [{"key": "arm", "normalization": "min_max"},
                        {"key": "gripper", "normalization": "min_max"}],
        "cameras": [{"name": camera, "topic": "/camera/front/image_raw"}],
        "controllers": [{"name": "all", "type": "forward_command", "topic": "/all/commands",
                         "joints": joints}],
        "staleness": {"state_s": 0.1, "tokens_s": 0.5}, "on_stale": "hold_last_command",
    })


def episodes(n=3, seed=0):
    """Frames whose pixels say (episode, frame); tasks alternate."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        length = 8 + 3 * i
        frames = np.zeros((length, 32, 32, 3), dtype=np.uint8)
        frames[..., 0] = 40 * i
        frames[..., 1] = np.arange(length, dtype=np.uint8)[:, None, None] * 7
        out.append((rng.normal(size=(length, 4)).astype(np.float32),
                    rng.normal(size=(length, 4)).astype(np.float32), frames, TASKS[i % 2]))
    return out


@pytest.mark.parametrize("version", ["v2.1", "v3.0"])
def test_reads_other_tools_layouts_with_the_yaml(tmp_path, version):
    eps = episodes()
    write = write_v21 if version == "v2.1" else write_v30
    root = write(tmp_path / version, eps, state_names=ARM + GRIP, action_names=ARM + GRIP,
                 camera="front")
    with pytest.raises(DatasetError, match="modality.json.*--embodiment"):
        LeRobotDataset(root)
    ds = LeRobotDataset(root, embodiment=embodiment())
    assert ds.version == version and ds.num_episodes == 3 and ds.fps == 20
    assert ds.cameras == ["front"] and ds.key_ranges("state") == [("arm", 0, 3), ("gripper", 3, 4)]
    assert ds.action_names == ARM + GRIP  # from v2's nested {"motors": [...]} form too
    for i, (states, actions, frames, task) in enumerate(eps):
        ep = ds.episode(i)
        np.testing.assert_array_equal(ep.states, states)
        np.testing.assert_array_equal(ep.actions, actions)
        np.testing.assert_array_equal(ep.frames["front"], frames)  # lossless, right slice
        assert ep.task == task and ep.length == len(states)
        np.testing.assert_allclose(ep.timestamps, np.arange(len(states)) / 20, atol=1e-6)
    everything = np.concatenate([e[0] for e in eps])
    stats = ds.stats["observation.state"]  # v2.1: pooled from episodes_stats.jsonl
    np.testing.assert_allclose(stats["mean"], everything.mean(0), atol=1e-5)
    np.testing.assert_allclose(stats["std"], everything.std(0), atol=1e-5)
    np.testing.assert_allclose(stats["max"], everything.max(0), atol=1e-6)


def test_yaml_that_does_not_fit_says_what_to_change(tmp_path):
    root = write_v30(tmp_path / "ds", episodes(2), state_names=ARM + GRIP,
                     action_names=ARM + GRIP, camera="front")
    with pytest.raises(DatasetError, match=r"camera 'wrist'.*observation.images.front.*Fix"):
        LeRobotDataset(root, embodiment=embodiment(camera="wrist"))
    with pytest.raises(DatasetError, match=r"names .* are not embodiment 'so100'.*joint_groups"
                                           r".*info.json.*/joint_states"):
        LeRobotDataset(root, embodiment=embodiment(joints=["a", "b", "c", "d"]))
    # Names grouped under several keys are checked too, in their order.
    import json

    info = json.loads((root / "meta/info.json").read_text())
    info["features"]["observation.state"]["names"] = {"arm": ARM[::-1], "gripper": GRIP}
    (root / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(DatasetError, match=r"names \['wrist', 'elbow', 'shoulder', 'gripper'\]"):
        LeRobotDataset(root, embodiment=embodiment())


def test_other_tools_damaged_meta_files_are_named(tmp_path):
    import json

    # v2.1's per-episode statistics, cut short by an interrupted copy.
    root = write_v21(tmp_path / "v21", episodes(2), state_names=ARM + GRIP,
                     action_names=ARM + GRIP, camera="front")
    path = root / "meta/episodes_stats.jsonl"
    path.write_text(path.read_text()[:-40])
    with pytest.raises(DatasetError, match=r"meta/episodes_stats.jsonl: not valid JSON at line 2 "
                                           r"column \d+ .*Fix:"):
        LeRobotDataset(root, embodiment=embodiment())
    # v3.0 without the template of its data files' paths.
    root = write_v30(tmp_path / "v30", episodes(2), state_names=ARM + GRIP,
                     action_names=ARM + GRIP, camera="front")
    info = json.loads((root / "meta/info.json").read_text())
    del info["data_path"]
    (root / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(DatasetError, match=r"meta/info.json: \"data_path\" is None.*Fix:"):
        LeRobotDataset(root, embodiment=embodiment())


def test_a_yaml_with_more_joints_than_the_dataset_is_named_as_the_source(tmp_path):
    root = write_v21(tmp_path / "ds", episodes(1), state_names=ARM + GRIP,
                     action_names=ARM + GRIP, camera="front")
    # Not a modality.json's fault (there is none): the embodiment's keys are the layout.
    with pytest.raises(DatasetError, match=r"the key layout of embodiment 'so100': the state keys "
                                           r"cover 5 dims but observation.state has 4.*Fix:"):
        LeRobotDataset(root, embodiment=embodiment(joints=ARM + GRIP + ["thumb"]))


def _rewrite_column(root, episode, name, values):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = root / f"data/chunk-000/episode_{episode:06d}.parquet"
    table = pq.read_table(path)
    if name in table.column_names:
        table = table.set_column(table.column_names.index(name), name, pa.array(values))
    else:
        table = table.append_column(name, pa.array(values))
    pq.write_table(table, path)


def test_what_would_train_on_wrong_data_is_refused_naming_it(tmp_path):
    import json

    emb = embodiment()

    def fresh(name):
        return write_v21(tmp_path / name, episodes(2), state_names=ARM + GRIP,
                         action_names=ARM + GRIP, camera="front")

    # An episode whose task changes half way: it was trained on the first task throughout.
    root = fresh("tasks")
    _rewrite_column(root, 0, "task_index", [0] * 4 + [1] * 4)
    with pytest.raises(DatasetError,
                       match=r"changes task \(task_index\) at row 4.*'open the drawer'.*split"):
        LeRobotDataset(root, embodiment=emb).episode(0, load_video=False)
    # A dropped frame: rows are taken as evenly spaced.
    root = fresh("gap")
    _rewrite_column(root, 1, "timestamp", [k / 20 + (0.1 if k >= 5 else 0.0) for k in range(11)])
    with pytest.raises(DatasetError, match=r"row 5 has timestamp 0.3500 s, 2.00 frames off"):
        LeRobotDataset(root, embodiment=emb).episode(1, load_video=False)
    # Cameras stored as images, or a depth map: refused when their frames are read (a dataset
    # may hold cameras the embodiment does not use).
    for name, change, words in (
            ("image", {"dtype": "image"}, "stored as 'image', not 'video'"),
            ("depth", {"info": {"video.is_depth_map": True}}, "is a depth map")):
        root = fresh(name)
        info = json.loads((root / "meta/info.json").read_text())
        info["features"]["observation.images.front"].update(change)
        (root / "meta/info.json").write_text(json.dumps(info))
        ds = LeRobotDataset(root, embodiment=emb)
        with pytest.raises(DatasetError, match=words):
            ds.frames(0, "front")
    # GR00T's modality.json with relative (delta) actions: trained as absolute targets before.
    root = fresh("delta")
    (root / "meta/modality.json").write_text(json.dumps({
        "state": {"arm": {"start": 0, "end": 3}, "gripper": {"start": 3, "end": 4}},
        "action": {"arm": {"start": 0, "end": 3, "absolute": False},
                   "gripper": {"start": 3, "end": 4}},
        "video": {"front": {"original_key": "observation.images.front"}}}))
    with pytest.raises(DatasetError, match=r"\['arm'\] are relative"):
        LeRobotDataset(root)


def test_gr00t_datasets_take_the_instruction_from_their_annotation_column(tmp_path):
    """GR00T's modality.json lists annotation.human.action.task_description: the instruction
    is the task that column indexes (task_index may be 0 throughout), as GR00T reads it."""
    import json

    root = write_v21(tmp_path / "gr00t", episodes(2), state_names=ARM + GRIP,
                     action_names=ARM + GRIP, camera="front")
    modality = {"state": {"arm": {"start": 0, "end": 3}, "gripper": {"start": 3, "end": 4}},
                "action": {"arm": {"start": 0, "end": 3}, "gripper": {"start": 3, "end": 4}},
                "video": {"front": {"original_key": "observation.images.front"}},
                "annotation": {"human.action.task_description": {}}}
    (root / "meta/modality.json").write_text(json.dumps(modality))
    with pytest.raises(DatasetError, match=r"no 'annotation.human.action.task_description' "
                                           r"column.*original_key"):
        LeRobotDataset(root).episode(0, load_video=False)
    # The entry may point at the column that holds the index (GR00T's original_key), and
    # Isaac-GR00T's SO-100 example names the key human.task_description.
    for key in ("human.action.task_description", "human.task_description"):
        modality["annotation"] = {key: {"original_key": "task_index"}}
        (root / "meta/modality.json").write_text(json.dumps(modality))
        assert LeRobotDataset(root).episode(0, load_video=False).task == TASKS[0]
    modality["annotation"] = {"human.action.task_description": {}}
    (root / "meta/modality.json").write_text(json.dumps(modality))
    _rewrite_column(root, 0, "annotation.human.action.task_description", [1] * 8)
    assert LeRobotDataset(root).episode(0, load_video=False).task == TASKS[1]  # not task_index 0
    _rewrite_column(root, 0, "annotation.human.action.task_description", [1] * 4 + [0] * 4)
    with pytest.raises(DatasetError, match=r"changes task \(annotation.human.action.task_"
                                           r"description\) at row 4"):
        LeRobotDataset(root).episode(0, load_video=False)
    del modality["annotation"]  # without the entry: task_index, as LeRobot reads it
    (root / "meta/modality.json").write_text(json.dumps(modality))
    assert LeRobotDataset(root).episode(0, load_video=False).task == TASKS[0]
    _rewrite_column(root, 0, "task_index", [7] * 8)
    with pytest.raises(DatasetError, match=r"task_index is 7, which is not a task index"):
        LeRobotDataset(root).episode(0, load_video=False)


def test_a_rate_that_does_not_match_says_the_action_dt_to_write(tmp_path):
    from gr00t_policy.train.data import open_dataset

    root = write_v21(tmp_path / "ds", episodes(1), state_names=ARM + GRIP,
                     action_names=ARM + GRIP, camera="front", fps=30)
    emb = embodiment().model_copy(update={"action_dt": 0.0333})  # 30.03 actions per second
    with pytest.raises(ValueError, match=r"30 fps.*set action_dt: 0.03333333333333333"):
        open_dataset(root, emb)


def test_a_dataset_in_degrees_is_refused_before_training(tmp_path, caplog):
    from gr00t_policy.train.data import build_metadata

    # LeRobot's own robots record degrees; the YAML's limits are radians. Read as radians,
    # every value would set the normalization and the policy would command 57x too far.
    eps = [(np.degrees(s) * 2, np.degrees(a) * 2, f, t) for s, a, f, t in episodes(2)]
    root = write_v21(tmp_path / "deg", eps, state_names=ARM + GRIP, action_names=ARM + GRIP,
                     camera="front")
    emb = embodiment()
    with pytest.raises(ValueError, match=r"observation.state of \d+ of 19 frames.*radians"):
        build_metadata(LeRobotDataset(root, embodiment=emb), emb)
    # A glitch or two is named in the log and trained on.
    eps = episodes(2)
    eps[0][0][3, 1] = 9.0
    root = write_v21(tmp_path / "glitch", eps, state_names=ARM + GRIP, action_names=ARM + GRIP,
                     camera="front")
    build_metadata(LeRobotDataset(root, embodiment=emb), emb)
    assert "episode 0 row 3: elbow = 9 (limits [-3, 3])" in caplog.text


def test_a_nan_in_the_dataset_is_refused_before_training_naming_where(tmp_path):
    from gr00t_policy.train.data import build_metadata

    # One NaN passed the limits check (NaN compares false), made the statistics NaN and
    # training later stopped with "loss became nan; lower --lr".
    emb = embodiment()
    for what, part, value in (("observation.state", 0, np.nan), ("action", 1, np.inf)):
        eps = episodes(2)
        eps[1][part][4, 1] = value
        root = write_v21(tmp_path / what, eps, state_names=ARM + GRIP, action_names=ARM + GRIP,
                         camera="front")
        with pytest.raises(ValueError, match=rf"{what} holds 1 NaN or infinite value\(s\) in "
                                             rf"episode\(s\) \[1\], e.g. episode 1 row 4 column 1 "
                                             rf"\(elbow\) = {value}.*Fix: repair or re-record"):
            build_metadata(LeRobotDataset(root, embodiment=emb), emb)
        build_metadata(LeRobotDataset(root, embodiment=emb), emb, episodes=[0])  # left out


def test_train_from_v30_and_info_cli(tmp_path, capsys):
    import torch
    import yaml

    from gr00t_policy.testing.policies import tiny_policy
    from gr00t_policy.train import TrainConfig, train

    torch.set_num_threads(1)
    root = write_v30(tmp_path / "ds", episodes(3), state_names=ARM + GRIP,
                     action_names=ARM + GRIP, camera="front")
    emb = embodiment()
    emb_yaml = tmp_path / "so100.yaml"
    emb_yaml.write_text(yaml.safe_dump(emb.to_dict()))
    assert dataset_main(["info", str(root), "--embodiment", str(emb_yaml)]) == 0
    out = capsys.readouterr().out
    assert "LeRobot v3.0, 3 episodes, 33 frames at 20 fps, cameras ['front']" in out
    assert "task 1: open the drawer" in out
    config = tiny_policy(dict(vision_num_layers=1, image_size=28, lm_hidden_size=32,
                              lm_intermediate_size=64, lm_num_layers=1,
                              lm_max_position_embeddings=64, select_layer=1, max_tokens=40),
                         timestep_channels=32)
    result = train(root, tmp_path / "ckpt", policy_config=config, embodiment=emb,
                   cfg=TrainConfig(steps=2, batch_size=4, seed=0), progress=False)
    assert len(result.losses) == 2 and np.isfinite(result.losses).all()
