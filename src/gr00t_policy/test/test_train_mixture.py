"""Co-training one policy on two robots (gr00t-train --mixture): weighted batches, one
checkpoint holding both robots, and a one-dataset mixture that is exactly a --dataset run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gr00t_policy.checkpoint import load_checkpoint
from gr00t_policy.dataset import LeRobotDataset, LeRobotWriter
from gr00t_policy.embodiment import parse_embodiment
from gr00t_policy.prompt import PromptBuilder, build_nano_tokenizer
from gr00t_policy.train import TrainConfig, TrainingData, build_metadata, train
from gr00t_policy.train.cli import parse_args
from gr00t_policy.train.mixture import MixtureData, MixtureEntry, merge_batches, read_mixture

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the tiny robot, dataset and policy of test_train.py
from test_train import TASKS, tiny_embodiment, tiny_policy_config, write_tiny_dataset  # noqa: E402

torch.set_num_threads(1)
OTHER = ["k0", "k1"]


def other_embodiment(tag: str = "other_bot"):
    """A second tiny robot: two joints, slot 0 (the first robot has slot 1)."""
    return parse_embodiment(_other_dict(tag))


def _other_dict(tag: str) -> dict:
    joint = {"position": [-1.0, 1.0], "velocity": 5.0}
    return {
        "name": "other", "tag": tag, "slot": 0, "action_dt": 0.05,
        "joint_groups": {"arm": {"joints": [{"name": n, **joint} for n in OTHER]}},
        "state_keys": [{"key": "arm", "normalization": "min_max"}],
        "action_keys": [{"key": "arm", "normalization": "min_max"}],
        "cameras": [{"name": "head", "topic": "/camera/head/image_raw"}],
        "controllers": [{"name": "arm", "type": "forward_command", "topic": "/arm/commands",
                         "joints": OTHER}],
        "staleness": {"state_s": 0.05, "tokens_s": 0.5},
        "on_stale": "hold_last_command",
    }


def write_other_dataset(root, episodes: int = 3) -> None:
    rng = np.random.default_rng(1)
    with LeRobotWriter(root, fps=20, state_keys=[("arm", OTHER)], action_keys=[("arm", OTHER)],
                       cameras=["head"], image_shape=(32, 32)) as w:
        for i in range(episodes):
            length = int(rng.integers(8, 12))
            states = rng.uniform(-0.5, 0.5, size=(length, 2)).astype(np.float32)
            frames = np.full((length, 32, 32, 3), 90, dtype=np.uint8)
            w.add_episode(states, (0.8 * states).astype(np.float32), {"head": frames},
                          TASKS[i % 2])


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    write_tiny_dataset(root / "tiny")
    write_other_dataset(root / "other")
    return root / "tiny", root / "other"


def _data(ds_dir, emb, config, prompt):
    ds = LeRobotDataset(ds_dir)
    return TrainingData(ds, emb, config, prompt, build_metadata(ds, emb))


def test_batches_follow_the_weights_and_pad_prompts_on_the_left(datasets):
    config = tiny_policy_config()
    prompt = PromptBuilder(build_nano_tokenizer(config.backbone), config.backbone)
    a = _data(datasets[0], tiny_embodiment(), config, prompt)
    b = _data(datasets[1], other_embodiment(), config, prompt)
    mix = MixtureData([a, b], [3.0, 1.0], prompt.pad_id)
    cfg = TrainConfig(steps=1, batch_size=16, augment=False)
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    slots = torch.cat([mix.sample(rng, 16, cfg, gen)["embodiment_id"] for _ in range(50)])
    share = float((slots == 1).float().mean())  # the first robot's slot
    assert 0.70 < share < 0.80, share
    assert set(slots.tolist()) == {0, 1}
    # a robot's padded action dims stay masked out of the loss
    batch = mix.sample(rng, 16, cfg, gen)
    other = batch["embodiment_id"] == 0
    assert batch["action_mask"][other][..., 2:].sum() == 0
    assert batch["action_mask"][~other][..., 4:].sum() == 0

    short = {"input_ids": torch.tensor([[5, 6]]), "attention_mask": torch.tensor([[1, 1]]),
             "x": torch.tensor([[1.0]])}
    long = {"input_ids": torch.tensor([[7, 8, 9]]), "attention_mask": torch.tensor([[1, 1, 1]]),
            "x": torch.tensor([[2.0]])}
    merged = merge_batches([short, long], pad_id=0)
    assert merged["input_ids"].tolist() == [[0, 5, 6], [7, 8, 9]]
    assert merged["attention_mask"].tolist() == [[0, 1, 1], [1, 1, 1]]
    assert merged["x"].tolist() == [[1.0], [2.0]]


def test_one_checkpoint_holds_both_robots(datasets, tmp_path):
    config = tiny_policy_config()
    cfg = TrainConfig(steps=3, batch_size=8, seed=2, save_every=0, log_every=1)
    mixture = [(MixtureEntry(str(datasets[0]), "tiny.yaml", 1.0), tiny_embodiment()),
               (MixtureEntry(str(datasets[1]), "other.yaml", 1.0), other_embodiment())]
    result = train(None, tmp_path / "ckpt", policy_config=config, embodiment=None, cfg=cfg,
                   progress=False, mixture=mixture)
    ckpt = load_checkpoint(result.checkpoint)
    assert set(ckpt.embodiments) == {"tiny_bot", "other_bot"}
    assert ckpt.embodiments["other_bot"]["action_joints"] == OTHER
    assert set(ckpt.metadata) == {"tiny_bot", "other_bot"}
    assert sorted(ckpt.metadata["other_bot"]["statistics"]["action"]) == ["arm"]
    log = __import__("json").loads((result.checkpoint / "train_log.json").read_text())
    assert [m["embodiment"] for m in log["mixture"]] == ["tiny", "other"]
    assert log["episodes"] == 4 + 3


def test_a_one_dataset_mixture_is_the_dataset_run(datasets, tmp_path):
    """Same seed, same losses: the mixture adds no random draw with one dataset."""
    config, emb = tiny_policy_config(), tiny_embodiment()
    cfg = TrainConfig(steps=3, batch_size=4, seed=7, save_every=0)
    plain = train(datasets[0], tmp_path / "a", policy_config=config, embodiment=emb, cfg=cfg,
                  progress=False)
    mixed = train(None, tmp_path / "b", policy_config=config, embodiment=None, cfg=cfg,
                  progress=False, mixture=[(MixtureEntry(str(datasets[0]), "t.yaml"), emb)])
    assert plain.losses == mixed.losses


def test_two_datasets_of_one_robot_share_its_slot_and_statistics(datasets, tmp_path):
    emb = tiny_embodiment()
    write_tiny_dataset(tmp_path / "more", episodes=2, seed=5)
    result = train(None, tmp_path / "x", policy_config=tiny_policy_config(), embodiment=None,
                   cfg=TrainConfig(steps=1, batch_size=4, save_every=0), progress=False,
                   mixture=[(MixtureEntry(str(datasets[0]), "a"), emb),
                            (MixtureEntry(str(tmp_path / "more"), "b"), emb)])
    ckpt = load_checkpoint(result.checkpoint)
    assert list(ckpt.embodiments) == ["tiny_bot"]
    both = build_metadata(LeRobotDataset(datasets[0]), emb, None,
                          [(LeRobotDataset(tmp_path / "more"), None)])
    assert ckpt.metadata["tiny_bot"]["statistics"] == both["tiny_bot"]["statistics"]
    alone = build_metadata(LeRobotDataset(datasets[0]), emb)
    assert alone["tiny_bot"]["statistics"] != both["tiny_bot"]["statistics"]


def test_a_mixture_lists_each_phrasing_once(datasets):
    config = tiny_policy_config()
    prompt = PromptBuilder(build_nano_tokenizer(config.backbone), config.backbone)
    a = _data(datasets[0], tiny_embodiment(), config, prompt)
    again = _data(datasets[0], tiny_embodiment(), config, prompt)
    other = _data(datasets[1], other_embodiment(), config, prompt)
    mix = MixtureData([a, again, other], [1.0, 1.0, 1.0], prompt.pad_id)
    assert len(a.texts) >= 2 and mix.texts == list(dict.fromkeys(a.texts + other.texts))
    assert len(mix.texts) == len(set(mix.texts))


def test_two_robots_in_one_slot_are_refused(datasets, tmp_path):
    squatter = parse_embodiment({**_other_dict("squatter"), "slot": tiny_embodiment().slot})
    with pytest.raises(ValueError, match="both take embodiment slot 1"):
        train(None, tmp_path / "x", policy_config=tiny_policy_config(), embodiment=None,
              cfg=TrainConfig(steps=1, batch_size=2), progress=False,
              mixture=[(MixtureEntry(str(datasets[0]), "a"), tiny_embodiment()),
                       (MixtureEntry(str(datasets[1]), "b"), squatter)])


def test_one_tag_for_two_robots_is_refused(datasets, tmp_path):
    impostor = other_embodiment(tag="tiny_bot")  # another robot under the first one's tag
    with pytest.raises(ValueError, match="gives embodiment tag 'tiny_bot' to another robot"):
        train(None, tmp_path / "x", policy_config=tiny_policy_config(), embodiment=None,
              cfg=TrainConfig(steps=1, batch_size=2), progress=False,
              mixture=[(MixtureEntry(str(datasets[0]), "a"), tiny_embodiment()),
                       (MixtureEntry(str(datasets[1]), "b"), impostor)])


@pytest.mark.parametrize("text, words", [
    ("datasets: []", "expected `datasets:`"),
    ("datasets: [{dataset: d}]", "datasets[0].embodiment: missing"),
    ("datasets: [{dataset: d, embodiment: e, weight: -1}]", "datasets[0].weight"),
    # YAML 1.1 reads an exponent without a '.' and a sign as a string: said as the
    # embodiment loader says it (`yaml_string_number`).
    ("datasets: [{dataset: d, embodiment: e, weight: 1e3}]",
     "weight: '1e3' is not a positive number: YAML reads it as a string (no '.' and no sign "
     "after the 'e'; a number with an exponent needs a '.' and a signed exponent). Fix: "
     "write it as 1.0e+3, unquoted"),
    ("datasets: [{dataset: d, embodiment: e, wieght: 2}]", "unknown keys ['wieght']"),
    ("datasets: [{dataset: d, embodiment: e}, 3]", "datasets[1]: expected a mapping"),
    ("datasets: [", "cannot read it"),
])
def test_a_bad_mixture_file_names_the_entry(tmp_path, text, words):
    path = tmp_path / "mix.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=None) as info:
        read_mixture(path)
    assert words in str(info.value)


def test_mixture_file_and_flags(tmp_path):
    path = tmp_path / "mix.yaml"
    path.write_text("datasets:\n  - {dataset: a, embodiment: a.yaml, weight: 2}\n"
                    "  - {dataset: b, embodiment: b.yaml}\n")
    assert read_mixture(path) == [MixtureEntry("a", "a.yaml", 2.0), MixtureEntry("b", "b.yaml")]
    run, _ = parse_args(["--mixture", str(path), "--out", "O"])
    assert run.mixture == str(path) and run.dataset is None
    for argv in (["--out", "O"], ["--dataset", "D", "--mixture", str(path), "--out", "O"],
                 ["--mixture", str(path), "--embodiment", "e.yaml", "--out", "O"]):
        with pytest.raises(SystemExit) as exit_info:
            parse_args(argv)
        assert exit_info.value.code == 2


@pytest.mark.parametrize("name, g1_weight", [("g1_apollo", 1.0), ("g1_apollo_g1_heavy", 2.0)])
def test_the_committed_mixtures_name_robots_that_exist(name, g1_weight):
    from gr00t_policy.embodiment import load_embodiment

    repo = HERE.parents[2]
    entries = read_mixture(repo / "config" / "mixtures" / f"{name}.yaml")
    robots = [load_embodiment(repo / e.embodiment) for e in entries]
    assert [r.name for r in robots] == ["unitree_g1", "apptronik_apollo"]
    assert len({r.slot for r in robots}) == 2
    assert [e.weight for e in entries] == [g1_weight, 1.0]
    assert [e.dataset for e in entries] == ["artifacts/data/g1_holds",
                                            "artifacts/data/apollo_tabletop"]


def test_the_last_stage_s_mixture_adds_the_shoved_g1_touches():
    from gr00t_policy.embodiment import load_embodiment

    repo = HERE.parents[2]
    entries = read_mixture(repo / "config" / "mixtures" / "g1_shoved_apollo.yaml")
    robots = [load_embodiment(repo / e.embodiment).name for e in entries]
    assert robots == ["unitree_g1", "unitree_g1", "apptronik_apollo"]
    assert [e.weight for e in entries] == [1.0, 1.0, 1.0]
    assert [e.dataset for e in entries] == ["artifacts/data/g1_holds", "artifacts/data/g1_shoved",
                                            "artifacts/data/apollo_tabletop_200"]


# -- per-trajectory selection and weights -------------------------------------------------------

def test_episode_keys_are_read_from_the_file(tmp_path):
    weights = tmp_path / "w.json"
    weights.write_text('{"2": 3.0, "5": 0}')
    path = tmp_path / "mix.yaml"
    path.write_text("datasets:\n"
                    "  - {dataset: a, embodiment: a.yaml, episodes: '0:80', "
                    "episode_weights: {3: 2.5}}\n"
                    "  - {dataset: b, embodiment: b.yaml, episodes: [5, 2, 7], "
                    f"episode_weights: {weights}}}\n")
    a, b = read_mixture(path)
    assert a.episodes == "0:80" and a.episode_weights == {3: 2.5}
    assert b.episodes == (5, 2, 7) and b.episode_weights == {2: 3.0, 5: 0.0}


@pytest.mark.parametrize("value, words", [
    ("episodes: '1-5'", "not a \"start:stop[:step]\" slice"),
    ("episodes: '::0'", "the step must be positive"),
    ("episodes: [1, 1]", "repeats an episode"),
    ("episodes: 3", "neither a list of episode indices"),
    ("episode_weights: {1: -2}", "episode 1: weight -2 is not a number >= 0"),
    ("episode_weights: {1: 2e2}", "weight '2e2' is not a number >= 0: YAML reads it as a "
                                  "string (no '.' and no sign after the 'e'"),
    ("episode_weights: {x: 1}", "key 'x' is not an episode index"),
    ("episode_weights: {1.5: 1}", "key 1.5 is not an episode index"),
    ("episodes: []", "an empty list chooses no episode"),
    ("episode_weights: no_such_file.json", "cannot read no_such_file.json"),
])
def test_bad_episode_keys_name_the_entry(tmp_path, monkeypatch, value, words):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "mix.yaml"
    path.write_text(f"datasets:\n  - {{dataset: d, embodiment: e, {value}}}\n")
    with pytest.raises(ValueError) as info:
        read_mixture(path)
    assert "datasets[0].episode" in str(info.value) and words in str(info.value)


def test_select_checks_the_indices_against_the_dataset():
    assert MixtureEntry("d", "e").select(4) == ([0, 1, 2, 3], [1.0] * 4)
    assert MixtureEntry("d", "e", episodes="1::2").select(6) == ([1, 3, 5], [1.0] * 3)
    assert MixtureEntry("d", "e", episodes=(3, 0), episode_weights={0: 2.0}).select(4) == (
        [3, 0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"episodes \[4\] out of range; it has 4 episodes"):
        MixtureEntry("d", "e", episodes=(1, 4)).select(4)
    with pytest.raises(ValueError, match=r"names episodes \[2\] that are not among"):
        MixtureEntry("d", "e", episodes="0:2", episode_weights={2: 1.0}).select(4)
    with pytest.raises(ValueError, match="ends past the dataset's 4 episodes"):
        MixtureEntry("d", "e", episodes="0:9").select(4)
    with pytest.raises(ValueError, match=r"episode_weights names episodes \[7\] out of range"):
        MixtureEntry("d", "e", episode_weights={7: 1.0}).select(4)
    # weight 0: not loaded at all (nor in the statistics)
    assert MixtureEntry("d", "e", episode_weights={1: 0.0, 2: 2.0}).select(4) == (
        [0, 2, 3], [1.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="no episode left to train on"):
        MixtureEntry("d", "e", episodes=(0,), episode_weights={0: 0.0}).select(4)


def test_only_the_chosen_episodes_are_loaded_and_normalized(datasets):
    config, emb = tiny_policy_config(), tiny_embodiment()
    prompt = PromptBuilder(build_nano_tokenizer(config.backbone), config.backbone)
    ds = LeRobotDataset(datasets[0])
    data = TrainingData(ds, emb, config, prompt, build_metadata(ds, emb, [2, 0]),
                        episodes=[2, 0])
    assert data.episode_index == [2, 0]
    assert data.lengths == [ds.episode(2).length, ds.episode(0).length]
    every = build_metadata(ds, emb)["tiny_bot"]["statistics"]["state"]["arm"]["max"]
    chosen = build_metadata(ds, emb, [2, 0])["tiny_bot"]["statistics"]["state"]["arm"]["max"]
    states = np.concatenate([ds.episode(i).states for i in (2, 0)])
    assert np.allclose(chosen, states[:, :len(chosen)].max(axis=0))
    assert not np.allclose(every, chosen)


def test_episode_weights_set_how_often_an_episode_is_drawn(datasets):
    config, emb = tiny_policy_config(), tiny_embodiment()
    prompt = PromptBuilder(build_nano_tokenizer(config.backbone), config.backbone)
    ds = LeRobotDataset(datasets[0])
    meta = build_metadata(ds, emb)
    cfg = TrainConfig(steps=1, batch_size=8, start_prob=0.3)
    plain = TrainingData(ds, emb, config, prompt, meta)
    ones = TrainingData(ds, emb, config, prompt, meta, episode_weights=[1.0] * 4)
    draws = [d.draw_frames(np.random.default_rng(3), 64, cfg) for d in (plain, ones)]
    assert all(np.array_equal(x, y) for x, y in zip(*draws))  # weights of 1 draw as before

    weighted = TrainingData(ds, emb, config, prompt, meta, episode_weights=[3.0, 1.0, 0.0, 1.0])
    eps, _ = weighted.draw_frames(np.random.default_rng(0), 40000, cfg)
    assert not (eps == 2).any()  # weight 0: never drawn, not even as a start frame
    lengths = np.asarray(weighted.lengths, dtype=float)
    expected = np.array([3.0, 1.0, 0.0, 1.0]) * lengths
    expected = 0.7 * expected / expected.sum() + 0.3 * np.array([3.0, 1.0, 0.0, 1.0]) / 5.0
    share = np.bincount(eps, minlength=4) / eps.size
    assert np.allclose(share, expected, atol=0.01), (share, expected)


def test_a_mixture_entry_trains_on_its_chosen_episodes(datasets, tmp_path):
    config, emb = tiny_policy_config(), tiny_embodiment()
    cfg = TrainConfig(steps=2, batch_size=4, seed=1, save_every=0)
    entry = MixtureEntry(str(datasets[0]), "t.yaml", episodes="0:3",
                         episode_weights={1: 2.0})
    result = train(None, tmp_path / "c", policy_config=config, embodiment=None, cfg=cfg,
                   progress=False, mixture=[(entry, emb)])
    log = __import__("json").loads((result.checkpoint / "train_log.json").read_text())
    assert log["episodes"] == 3
    assert log["mixture"][0]["selected"] == "0:3" and log["mixture"][0]["of_episodes"] == 4
    assert log["mixture"][0]["episode_weights"] == {"1": 2.0}


def test_the_pyramid_mixtures_take_80_of_the_800_demonstrations():
    repo = HERE.parents[2]
    for name in ("pyramid_10", "pyramid_10_pseudo", "pyramid_10_latent"):
        entries = read_mixture(repo / "config" / "mixtures" / f"{name}.yaml")
        top = entries[0]
        assert top.dataset == "artifacts/data/g1_holds" and top.episodes == "0:80"
        assert top.select(800)[0] == list(range(80))
        assert (repo / top.embodiment).is_file()


@pytest.mark.parametrize("entry, words", [
    ("{dataset: data/g1, embodiment: config/unitree_g1.yaml}",
     "datasets[0].embodiment: config/unitree_g1.yaml is not a file"),
    ("{dataset: data/g1, embodiment: unitree_g1}",  # a bare name is not looked up here
     "datasets[0].embodiment: unitree_g1 is not a file"),
    ("{dataset: data/nowhere, embodiment: EMB}", "datasets[0].dataset: data/nowhere is not a "
                                                 "directory"),
])
def test_a_path_the_mixture_names_but_that_is_not_there_names_the_entry_and_the_directory(
        tmp_path, monkeypatch, entry, words):
    # Run from another directory than the one the committed mixtures' paths are relative to.
    from gr00t_policy.train.cli import main

    repo = Path(__file__).resolve().parents[3]
    (tmp_path / "data" / "g1").mkdir(parents=True)
    mix = tmp_path / "mix.yaml"
    mix.write_text("datasets:\n  - " + entry.replace("EMB", str(repo / "config" /
                                                                  "unitree_g1.yaml")) + "\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["--mixture", str(mix), "--out", str(tmp_path / "out"), "--steps", "1"])
    text = str(info.value.code)
    assert f"--mixture {mix}: {words}" in text, text
    assert f"read from the current directory ({tmp_path})" in text, text
