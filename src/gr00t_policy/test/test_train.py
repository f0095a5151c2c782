"""Joint training on a tiny dataset: the loss drops, the checkpoint loads and acts, runs repeat.

A few short episodes are written with the LeRobot writer (synthetic frames whose colour
encodes the task, actions that depend on task and state), then a tiny policy trains for a few
dozen steps on one thread.
"""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import torch

from gr00t_policy.checkpoint import load_checkpoint
from gr00t_policy.dataset import LeRobotDataset, LeRobotWriter
from gr00t_policy.embodiment import parse_embodiment
from gr00t_policy.policy_config import PolicyConfig
from gr00t_policy.testing.policies import tiny_policy
from gr00t_policy.train import TrainConfig, TrainingData, build_metadata, lr_factor, train
from gr00t_policy.train.auxiliary import get_aux_loss

torch.set_num_threads(1)

ARM = ["j0", "j1", "j2"]
HAND = ["h0"]
TASKS = ["raise your left hand", "touch the red cube with your right hand"]


def tiny_embodiment(cameras=("head",), name="tiny", tag="tiny_bot", slot=1):
    joint = {"position": [-2.0, 2.0], "velocity": 5.0}
    return parse_embodiment({
        "name": name, "tag": tag, "slot": slot, "action_dt": 0.05,
        "joint_groups": {
            "arm": {"joints": [{"name": n, **joint} for n in ARM]},
            "hand": {"joints": [{"name": n, **joint} for n in HAND]},
        },
        "state_keys": [{"key": "arm", "normalization": "min_max"},
                       {"key": "hand", "normalization": "mean_std"}],
        "action_keys": [{"key": "arm", "normalization": "min_max"},
                        {"key": "hand", "normalization": "q99"}],
        "cameras": [{"name": c, "topic": f"/camera/{c}/image_raw"} for c in cameras],
        "controllers": [{"name": "all", "type": "forward_command", "topic": "/all/commands",
                         "joints": ARM + HAND}],
        "staleness": {"state_s": 0.05, "tokens_s": 0.5},
        "on_stale": "hold_last_command",
    })


def tiny_policy_config() -> PolicyConfig:
    return tiny_policy(dict(vision_num_layers=1, image_size=28, lm_hidden_size=32,
                            lm_intermediate_size=64, lm_num_layers=1,
                            lm_max_position_embeddings=64, select_layer=1, max_tokens=40),
                       timestep_channels=32)


def write_tiny_dataset(root, episodes: int = 4, seed: int = 0, goals: bool = False,
                       cameras: tuple[str, ...] = ("head",), tasks=TASKS) -> None:
    """Frames coloured by task (the same on every camera); actions = task-dependent ramp +
    0.5 * state; with ``goals`` each episode's goal_position and object_positions depend on
    its task. ``tasks``: the two tasks' texts."""
    rng = np.random.default_rng(seed)
    with LeRobotWriter(root, fps=20, state_keys=[("arm", ARM), ("hand", HAND)],
                       action_keys=[("arm", ARM), ("hand", HAND)], cameras=list(cameras),
                       image_shape=(32, 32)) as w:
        for i in range(episodes):
            task = i % 2
            length = int(rng.integers(10, 16))
            t = np.arange(length, dtype=np.float32)[:, None] / length
            states = (rng.normal(scale=0.3, size=(1, 4)) + (1 if task else -1) * t).astype(np.float32)
            actions = (0.5 * states + (1 if task else -1) * np.array([1.0, 0.5, -0.5, 1.0]) * t)
            frames = np.zeros((length, 32, 32, 3), dtype=np.uint8)
            frames[..., task] = 200
            frames[:, :, :, 2] = np.linspace(0, 255, length, dtype=np.uint8)[:, None, None]
            extra = {"goal_position": [0.3, 0.2 if task else -0.2, 0.8 + 0.1 * task],
                     "object_positions": {"red": [0.4, 0.1 if task else -0.1, 0.8],
                                          "blue": [0.5, 0.0, 0.8 - 0.2 * task]}} if goals else {}
            w.add_episode(states, actions.astype(np.float32), {c: frames for c in cameras},
                          tasks[task], extra=extra)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds") / "tiny"
    write_tiny_dataset(root)
    return root


def test_lr_schedule():
    assert lr_factor(0, 100, 10) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10) == pytest.approx(1.0)
    assert lr_factor(10, 100, 10) == pytest.approx(1.0)
    assert lr_factor(55, 100, 10) == pytest.approx(0.5)
    assert lr_factor(100, 100, 10) == pytest.approx(0.0, abs=1e-12)


def test_batch_layout_masks_and_normalization(dataset):
    from gr00t_policy.prompt import PromptBuilder, build_nano_tokenizer

    emb, config = tiny_embodiment(), tiny_policy_config()
    ds = LeRobotDataset(dataset)
    meta = build_metadata(ds, emb)
    assert sorted(meta["tiny_bot"]["statistics"]["state"]) == ["arm", "hand"]
    assert meta["tiny_bot"]["modalities"]["action"]["arm"]["shape"] == [3]
    data = TrainingData(ds, emb, config, PromptBuilder(build_nano_tokenizer(config.backbone),
                                                       config.backbone), meta)
    cfg = TrainConfig(steps=1, batch_size=64, stale_prob=0.0, augment=False)
    batch = data.sample(np.random.default_rng(0), 64, cfg, torch.Generator().manual_seed(0))
    assert batch["pixel_values"].shape == (64, 1, 3, 28, 28)
    assert batch["state"].shape == (64, 1, 8) and batch["actions"].shape == (64, 4, 6)
    # prompts are cut to the longest one (columns of padding in every prompt dropped)
    builder = PromptBuilder(build_nano_tokenizer(config.backbone), config.backbone)
    longest = max(builder.encode(t).num_real for t in TASKS)
    assert longest < config.backbone.max_tokens
    assert batch["input_ids"].shape == batch["attention_mask"].shape == (64, longest)
    assert batch["attention_mask"][:, 0].any()
    assert (batch["embodiment_id"] == 1).all()
    # padding dims are zero and masked; min_max arm state lies in [-1, 1]
    assert (batch["state"][..., 4:] == 0).all() and (batch["actions"][..., 4:] == 0).all()
    assert (batch["action_mask"][..., 4:] == 0).all()
    assert batch["state"][..., :3].abs().max() <= 1.0 + 1e-6
    # rows past the episode end are masked: some samples sit near an episode's end
    rows = batch["action_mask"][..., 0]  # (B, H)
    assert (rows[:, 0] == 1).all() and (rows == 0).any()
    assert ((rows[:, 1:] <= rows[:, :-1])).all()  # once masked, stays masked


def test_training_frames_get_the_backbones_crop(dataset, monkeypatch):
    """A backbone with image_crop 0.95 (GR00T N1's) trains on the centre crop, the same
    pixels System 2 feeds it (resize_frames, as gr00t_system2.image.resize_rgb)."""
    from dataclasses import replace

    import gr00t_policy.train.data as data_module
    from gr00t_policy.prompt import PromptBuilder, build_nano_tokenizer

    crops = []
    real = data_module.resize_frames

    def spy(frames, size, crop=1.0):
        crops.append(crop)
        return real(frames, size, crop)

    monkeypatch.setattr(data_module, "resize_frames", spy)
    emb, config = tiny_embodiment(), tiny_policy_config()
    config = PolicyConfig(replace(config.backbone, image_crop=0.95), config.action_head)
    ds = LeRobotDataset(dataset)
    data = TrainingData(ds, emb, config, PromptBuilder(build_nano_tokenizer(config.backbone),
                                                       config.backbone), build_metadata(ds, emb))
    assert crops and set(crops) == {0.95}
    size = config.backbone.image_size
    expected = real(ds.frames(0, data.cameras[0]), size, 0.95)  # (T, 3, S, S)
    assert torch.equal(data.images[0][:, 0], expected)


def test_start_prob_draws_frames_from_the_episode_starts(dataset):
    from gr00t_policy.prompt import PromptBuilder, build_nano_tokenizer

    emb, config = tiny_embodiment(), tiny_policy_config()
    ds = LeRobotDataset(dataset)
    builder = PromptBuilder(build_nano_tokenizer(config.backbone), config.backbone)
    data = TrainingData(ds, emb, config, builder, build_metadata(ds, emb))
    n = 4000
    _, uniform = data.draw_frames(np.random.default_rng(0), n, TrainConfig(start_frames=2))
    eps, ts = data.draw_frames(np.random.default_rng(0), n,
                               TrainConfig(start_prob=0.5, start_frames=2))
    assert (ts < np.asarray(data.lengths)[eps]).all()
    early = np.mean(ts < 2)
    base = np.mean(uniform < 2)  # the first two frames' share when drawing uniformly
    assert base < 0.5 and abs(early - (0.5 + 0.5 * base)) < 0.04, (early, base)
    _, only = data.draw_frames(np.random.default_rng(0), n, TrainConfig(start_prob=1.0,
                                                                       start_frames=2))
    assert set(np.unique(only)) == {0, 1}
    with pytest.raises(ValueError, match="start_prob"):
        TrainConfig(start_prob=1.5)
    with pytest.raises(ValueError, match="start_frames"):
        TrainConfig(start_frames=0)


def test_tasks_the_tokenizer_cannot_tell_apart_are_refused_by_name(dataset, tmp_path):
    """Words outside the nano vocabulary are all one [UNK]: two tasks (or phrasings of two
    tasks) that differ only in such words are one prompt, and training on them is refused."""
    from gr00t_policy.prompt import PromptBuilder, build_nano_tokenizer

    emb, config = tiny_embodiment(), tiny_policy_config()
    builder = PromptBuilder(build_nano_tokenizer(config.backbone), config.backbone)
    write_tiny_dataset(tmp_path / "fruit", tasks=("pick up the banana", "pick up the apple"))
    ds = LeRobotDataset(tmp_path / "fruit")
    with pytest.raises(ValueError, match=r"tasks 'pick up the banana' and 'pick up the apple' "
                                         r"reach the model as the same prompt: the tokenizer "
                                         r"reads 'banana', 'apple' as \[UNK\]; .*Fix: "):
        TrainingData(ds, emb, config, builder, build_metadata(ds, emb))
    ds = LeRobotDataset(dataset)
    meta = build_metadata(ds, emb)
    phrasings = {TASKS[0]: ["lift your left hand", "wiggle the cube"],
                 TASKS[1]: ["tap the red cube with your right hand", "jiggle the cube"]}
    with pytest.raises(ValueError, match=r"'wiggle the cube' \(a phrasing of 'raise your left "
                                         r"hand'\) and 'jiggle the cube' \(a phrasing of "
                                         r"'touch the red cube with your right hand'\)"):
        TrainingData(ds, emb, config, builder, meta, phrasings=phrasings)
    phrasings = {TASKS[0]: ["lift your left hand"], TASKS[1]: ["tap the red cube with your right hand"]}
    data = TrainingData(ds, emb, config, builder, meta, phrasings=phrasings)
    assert len(data.texts) == 4  # unknown words ('tap') alone are not refused


def test_cut_prompts_give_the_run_time_features(dataset):
    """Training's shorter prompts: the same tokens and action samples as max_tokens ones."""
    from gr00t_policy.policy import GR00TPolicy
    from gr00t_policy.prompt import PromptBuilder, build_nano_tokenizer

    emb, config = tiny_embodiment(), tiny_policy_config()
    ds = LeRobotDataset(dataset)
    builder = PromptBuilder(build_nano_tokenizer(config.backbone), config.backbone)
    data = TrainingData(ds, emb, config, builder, build_metadata(ds, emb))
    cfg = TrainConfig(steps=1, stale_prob=0.0, augment=False)
    batch = data.sample(np.random.default_rng(1), 8, cfg, torch.Generator().manual_seed(1))
    full = [builder.encode(t) for t in TASKS]
    rows = [next(i for i, e in enumerate(full) if (e.input_ids[-batch["input_ids"].shape[1]:]
                                                    == b.numpy()).all())
            for b in batch["input_ids"]]
    full_batch = dict(batch,
                      input_ids=torch.from_numpy(np.stack([full[r].input_ids for r in rows])),
                      attention_mask=torch.from_numpy(np.stack([full[r].attention_mask for r in rows])))
    torch.manual_seed(0)
    policy = GR00TPolicy(config, image_context_id=builder.image_context_id).eval()
    noise = torch.randn(8, 4, 6, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        cut_f, cut_m = policy.encode(batch)
        full_f, full_m = policy.encode(full_batch)
        width = cut_f.shape[1]
        torch.testing.assert_close(cut_f[cut_m], full_f[:, -width:][cut_m], atol=1e-5, rtol=1e-5)
        assert not full_m[:, :-width].any()
        torch.testing.assert_close(policy.sample(batch, noise), policy.sample(full_batch, noise),
                                   atol=1e-5, rtol=1e-5)


def test_training_drops_loss_and_checkpoint_acts(dataset, tmp_path):
    emb, config = tiny_embodiment(), tiny_policy_config()
    cfg = TrainConfig(steps=150, batch_size=16, lr=3e-3, warmup_ratio=0.1, seed=0, log_every=25,
                      save_every=0)
    result = train(dataset, tmp_path / "ckpt", policy_config=config, embodiment=emb, cfg=cfg,
                   progress=False)
    losses = np.asarray(result.losses)
    assert losses.shape == (150,) and np.isfinite(losses).all()
    # ~1.37 at the start, a plateau near 1.1 (predicting -noise), then ~0.65 (seed 0)
    assert losses[-25:].mean() < 0.7 * losses[:5].mean(), (losses[:5], losses[-25:])
    out = result.checkpoint
    assert (out / "loss.png").stat().st_size > 1000
    log = json.loads((out / "train_log.json").read_text())
    assert log["step"] == 150 and len(log["losses"]) == 150

    ckpt = load_checkpoint(out)
    entry = ckpt.embodiments["tiny_bot"]
    assert {k: entry[k] for k in ("slot", "action_dt", "state_dim", "action_dim")} == {
        "slot": 1, "action_dt": 0.05, "state_dim": 4, "action_dim": 4}
    # The vector layout the model was trained on is recorded for the start-up check.
    assert entry["action_keys"] == [["arm", "min_max"], ["hand", "q99"]]
    assert entry["action_joints"] == ["j0", "j1", "j2", "h0"]
    stats = ckpt.metadata["tiny_bot"]["statistics"]
    assert len(stats["action"]["hand"]["q99"]) == 1
    ds = LeRobotDataset(dataset)
    ep = ds.episode(1)
    from gr00t_policy.backbone import preprocess_images
    from gr00t_policy.normalization import Normalizer
    from gr00t_policy.prompt import PromptBuilder

    norm = Normalizer.from_metadata(ckpt.metadata, "tiny_bot",
                                    [(k.key, k.mode) for k in emb.state_keys],
                                    [(k.key, k.mode) for k in emb.action_keys])
    prompt = PromptBuilder(ckpt.tokenizer, ckpt.config.backbone).encode(ep.task)
    state = np.zeros((1, 1, 8), dtype=np.float32)
    state[0, 0, :4] = norm.normalize_state(ep.states[0])
    batch = {
        "input_ids": torch.from_numpy(prompt.input_ids)[None],
        "attention_mask": torch.from_numpy(prompt.attention_mask)[None],
        "pixel_values": preprocess_images([ep.frames["head"][0]], ckpt.config.backbone)[None],
        "state": torch.from_numpy(state),
        "embodiment_id": torch.tensor([1]),
    }
    actions = ckpt.policy.sample(batch, torch.randn(1, 4, 6, generator=torch.Generator().manual_seed(0)))
    assert actions.shape == (1, 4, 6) and torch.isfinite(actions).all()
    raw = norm.unnormalize_action(actions[0, :, :4].numpy())
    assert np.isfinite(raw).all()


def test_same_seed_same_losses(dataset, tmp_path):
    emb, config = tiny_embodiment(), tiny_policy_config()
    cfg = TrainConfig(steps=3, batch_size=4, seed=7, save_every=0)
    a = train(dataset, tmp_path / "a", policy_config=config, embodiment=emb, cfg=cfg, progress=False)
    b = train(dataset, tmp_path / "b", policy_config=config, embodiment=emb, cfg=cfg, progress=False)
    assert a.losses == b.losses
    c = train(dataset, tmp_path / "c", policy_config=config, embodiment=emb,
              cfg=TrainConfig(steps=3, batch_size=4, seed=8, save_every=0), progress=False)
    assert c.losses != a.losses


def test_layout_mismatch_is_named(dataset, tmp_path):
    emb = tiny_embodiment().to_dict()
    emb["state_keys"] = [{"key": "hand", "group": "hand", "normalization": "min_max"},
                         {"key": "arm", "group": "arm", "normalization": "min_max"}]
    with pytest.raises(ValueError, match="state keys"):
        build_metadata(LeRobotDataset(dataset), parse_embodiment(emb))


def _train_cut_off_after(dataset, out, cfg, cut_at_step, **kwargs):
    """Run ``train`` (``kwargs``: its other options) and kill it (an exception from the
    sampler) when step ``cut_at_step`` starts."""
    calls = {"n": 0}
    original = TrainingData.sample

    def sample(self, *args, **kwargs):
        if calls["n"] == cut_at_step:
            raise KeyboardInterrupt("cut off")
        calls["n"] += 1
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(TrainingData, "sample", sample)
        with pytest.raises(KeyboardInterrupt):
            train(dataset, out, policy_config=tiny_policy_config(), embodiment=tiny_embodiment(),
                  cfg=cfg, progress=False, **kwargs)


def test_resume_after_a_cut_gives_the_uninterrupted_run(dataset, tmp_path):
    from safetensors.torch import load_file

    emb, config = tiny_embodiment(), tiny_policy_config()
    cfg = TrainConfig(steps=6, batch_size=4, seed=3, save_every=3)
    whole = train(dataset, tmp_path / "whole", policy_config=config, embodiment=emb, cfg=cfg,
                  progress=False)
    _train_cut_off_after(dataset, tmp_path / "cut", cfg, cut_at_step=4)
    assert (tmp_path / "cut" / "train_state.pt").is_file()
    assert json.loads((tmp_path / "cut" / "train_log.json").read_text())["step"] == 3
    resumed = train(dataset, tmp_path / "cut", policy_config=config, embodiment=emb, cfg=cfg,
                    progress=False, resume=True)
    assert resumed.losses == whole.losses
    a = load_file(str(tmp_path / "whole" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    log = json.loads((tmp_path / "cut" / "train_log.json").read_text())
    assert log["step"] == 6 and log["resumed"] == [{"step": 3, "exact": True}]
    # The final checkpoint carries no optimizer state.
    assert not (tmp_path / "cut" / "train_state.pt").exists()


class _Killed(BaseException):
    """Stands for a SIGKILL in the middle of a save: nothing after it runs (only `finally`
    blocks; `save_run` cleans up after an Exception only, so its pending train state stays,
    as a kill leaves it)."""


def _train_killed_after_renaming(dataset, out, cfg, name, save):
    """Run ``train`` and kill it just after its ``save``-th save renamed ``name`` into ``out``."""
    import os

    original, seen = os.replace, {"n": 0}

    def replace(src, dst, *args, **kwargs):
        original(src, dst, *args, **kwargs)
        if os.fspath(dst) == os.fspath(out / name):
            seen["n"] += 1
            if seen["n"] == save:
                raise _Killed(name)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "replace", replace)
        with pytest.raises(_Killed):
            train(dataset, out, policy_config=tiny_policy_config(), embodiment=tiny_embodiment(),
                  cfg=cfg, progress=False)


KILL_CFG = TrainConfig(steps=9, batch_size=4, seed=3, save_every=3)
# A save killed just after it renamed a file into --out (the save at step 6 of 9, or the
# final one at 9), and what --resume then does: (the step it goes on from, exactly or not),
# or None: it refuses, the run being finished. The weights record their step; a save writes
# its train state under a pending name first, train_log.json before the weights, and renames
# train_state.pt in last (`save_run`).
KILLED_SAVES = {
    ("train_log.json", 2): (3, True),  # the log ran ahead of the weights: cut back to them
    # Weights and log at 6, train_state.pt at 3: the pending state of 6 is taken (it used to
    # be removed, and the resume restarted the optimizer moments: inexact).
    ("model.safetensors", 2): (6, True),
    ("config.json", 2): (6, True),
    ("train_log.json", 3): (6, True),
    ("model.safetensors", 3): None,  # the final weights are in
    ("config.json", 3): None,
}


@pytest.fixture(scope="module")
def uninterrupted(dataset, tmp_path_factory):
    return train(dataset, tmp_path_factory.mktemp("whole") / "run", policy_config=tiny_policy_config(),
                 embodiment=tiny_embodiment(), cfg=KILL_CFG, progress=False)


@pytest.mark.parametrize("name, save", list(KILLED_SAVES))
def test_a_save_killed_midway_resumes_from_the_weights_step_never_mixing_two(
        dataset, uninterrupted, tmp_path, name, save):
    """The weights used to record no step: killed after the weights were renamed in but
    before train_log.json, --resume went on from the log's older step with the newer weights
    (the final save's: training the finished model further), recorded as exact."""
    from safetensors.torch import load_file

    emb, config, out = tiny_embodiment(), tiny_policy_config(), tmp_path / "cut"
    _train_killed_after_renaming(dataset, out, KILL_CFG, name, save)
    whole = load_file(str(uninterrupted.checkpoint / "model.safetensors"))
    expected = KILLED_SAVES[(name, save)]
    if expected is None:
        with pytest.raises(ValueError, match="at step 9 of 9 .*nothing to resume"):
            train(dataset, out, policy_config=config, embodiment=emb, cfg=KILL_CFG,
                  progress=False, resume=True)
        left = load_file(str(out / "model.safetensors"))
        assert all(torch.equal(whole[k], left[k]) for k in whole)
        return
    step, exact = expected
    resumed = train(dataset, out, policy_config=config, embodiment=emb, cfg=KILL_CFG,
                    progress=False, resume=True)
    log = json.loads((out / "train_log.json").read_text())
    assert log["resumed"] == [{"step": step, "exact": exact}]
    assert len(resumed.losses) == 9 and resumed.losses[:step] == uninterrupted.losses[:step]
    if exact:
        assert resumed.losses == uninterrupted.losses
        b = load_file(str(out / "model.safetensors"))
        assert all(torch.equal(whole[k], b[k]) for k in whole)


def test_a_pending_train_state_cut_off_mid_write_is_not_used(dataset, uninterrupted, tmp_path):
    """Killed after the weights of step 6, with the pending state of 6 cut short (a disk
    that lost its tail): the resume goes on from the weights, inexactly, and says so."""
    from gr00t_policy.train.state import PENDING_TRAIN_STATE_FILE

    out = tmp_path / "cut"
    _train_killed_after_renaming(dataset, out, KILL_CFG, "config.json", 2)
    pending = out / PENDING_TRAIN_STATE_FILE
    pending.write_bytes(pending.read_bytes()[:1000])
    train(dataset, out, policy_config=tiny_policy_config(), embodiment=tiny_embodiment(),
          cfg=KILL_CFG, progress=False, resume=True)
    log = json.loads((out / "train_log.json").read_text())
    assert log["resumed"] == [{"step": 6, "exact": False}]


def test_resume_refuses_weights_ahead_of_the_log_or_of_another_run(dataset, tmp_path):
    """Weights of a later step than train_log.json (files of two saves mixed), or of another
    run (an --overwrite run killed between its first log and weights leaves the replaced
    run's), are refused naming both; where neither records a run (saved before runs were
    recorded) the log's step is taken, as before."""
    from safetensors.torch import load_file, save_file

    emb, config = tiny_embodiment(), tiny_policy_config()
    cfg = TrainConfig(steps=6, batch_size=4, seed=3, save_every=3)
    out = tmp_path / "cut"
    _train_cut_off_after(dataset, out, cfg, cut_at_step=4)
    path = out / "train_log.json"
    log = json.loads(path.read_text())
    assert len(log["run"]) == 32
    for changed, message in (
            ({"step": 2, "losses": log["losses"][:2]},
             r"weights in \S+ are of step 3 but \S+train_log.json of step 2.*--overwrite"),
            ({"run": "0" * 32}, r"weights in \S+ are not of the run \S+train_log.json records "
                                r"\(run [0-9a-f]{32} at step 3, the log's run 0{32} at step 3\)")):
        path.write_text(json.dumps({**log, **changed}))
        with pytest.raises(ValueError, match=message):
            train(dataset, out, policy_config=config, embodiment=emb, cfg=cfg, progress=False,
                  resume=True)
    path.write_text(json.dumps({k: v for k, v in log.items() if k != "run"}))
    weights = out / "model.safetensors"
    save_file(load_file(str(weights)), str(weights), metadata={"format": "pt"})
    train(dataset, out, policy_config=config, embodiment=emb, cfg=cfg, progress=False,
          resume=True)
    assert json.loads(path.read_text())["resumed"] == [{"step": 3, "exact": True}]


def test_a_signal_saves_the_step_reached_and_resume_goes_on_as_if_never_stopped(
        dataset, tmp_path, monkeypatch, caplog):
    """SIGTERM while step 4 runs (a second signal, SIGINT, while stopping is refused): the
    step finishes, the run saves at step 5 (between the saves every 3) and returns; --resume
    then ends with the uninterrupted run's losses and weights."""
    import os
    import signal

    from safetensors.torch import load_file

    emb, config = tiny_embodiment(), tiny_policy_config()
    cfg = TrainConfig(steps=8, batch_size=4, seed=3, save_every=3)
    whole = train(dataset, tmp_path / "whole", policy_config=config, embodiment=emb, cfg=cfg,
                  progress=False)
    calls = {"n": 0}
    original = TrainingData.sample

    def sample(self, *args, **kwargs):
        if calls["n"] == 4:
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)
        calls["n"] += 1
        return original(self, *args, **kwargs)

    handlers = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    with monkeypatch.context() as mp:
        mp.setattr(TrainingData, "sample", sample)
        stopped = train(dataset, tmp_path / "cut", policy_config=config, embodiment=emb,
                        cfg=cfg, progress=False)
    assert (stopped.stopped_at, stopped.stopped_by) == (5, "SIGTERM")
    assert [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)] == handlers
    assert "SIGINT: already stopping" in caplog.text
    assert stopped.losses == whole.losses[:5]
    assert json.loads((tmp_path / "cut" / "train_log.json").read_text())["step"] == 5
    assert (tmp_path / "cut" / "train_state.pt").is_file()
    resumed = train(dataset, tmp_path / "cut", policy_config=config, embodiment=emb, cfg=cfg,
                    progress=False, resume=True)
    assert resumed.stopped_at is None and resumed.losses == whole.losses
    a = load_file(str(tmp_path / "whole" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    log = json.loads((tmp_path / "cut" / "train_log.json").read_text())
    assert log["resumed"] == [{"step": 5, "exact": True}]


def test_resume_refuses_a_train_state_of_another_step(dataset, tmp_path, caplog):
    """A save cut between the weights (step 3) and train_state.pt (left at an older step):
    the stale optimizer and generators are not used, and the log says the resume was not
    exact."""
    emb, config = tiny_embodiment(), tiny_policy_config()
    cfg = TrainConfig(steps=6, batch_size=4, seed=3, save_every=3)
    _train_cut_off_after(dataset, tmp_path / "cut", cfg, cut_at_step=4)
    path = tmp_path / "cut" / "train_state.pt"
    state = torch.load(path, weights_only=True)
    assert state["step"] == 3
    torch.save({**state, "step": 1}, path)
    train(dataset, tmp_path / "cut", policy_config=config, embodiment=emb, cfg=cfg,
          progress=False, resume=True)
    assert "was saved at step 1, the weights at step 3" in caplog.text
    log = json.loads((tmp_path / "cut" / "train_log.json").read_text())
    assert log["resumed"] == [{"step": 3, "exact": False}]


def test_resume_refuses_another_embodiment_naming_the_field(dataset, tmp_path):
    """Resume compared settings, model config, statistics, phrasings and mixture, but not the
    embodiment: another slot or normalization mode trained on, mixing two setups in one
    checkpoint. What config.json records of each robot (`checkpoint_entry`) must match."""
    cfg = TrainConfig(steps=6, batch_size=4, seed=3, save_every=3)
    out = tmp_path / "cut"
    _train_cut_off_after(dataset, out, cfg, cut_at_step=4)
    renormalized = tiny_embodiment().to_dict()
    renormalized["action_keys"][1]["normalization"] = "min_max"
    for emb, message in (
            (tiny_embodiment(slot=0), r"tiny_bot\.slot: saved 1 vs now 0"),
            (parse_embodiment(renormalized),
             r"tiny_bot\.action_keys: saved \[\['arm', 'min_max'\], \['hand', 'q99'\]\] vs "
             r"now \[\['arm', 'min_max'\], \['hand', 'min_max'\]\]"),
            (tiny_embodiment(tag="other_bot"), r"robot other_bot: not in the checkpoint.*"
                                               r"tiny_bot: in the checkpoint, not in this run")):
        with pytest.raises(ValueError, match=r"--resume: \S+ was trained for another embodiment "
                                             r"\(" + message + r".*embodiment YAML"):
            train(dataset, out, policy_config=tiny_policy_config(), embodiment=emb, cfg=cfg,
                  progress=False, resume=True)
    # A checkpoint saved before its entries recorded the cameras and joints compares the rest.
    path = out / "config.json"
    config = json.loads(path.read_text())
    for field in ("cameras", "state_joints", "action_joints"):
        del config["embodiments"]["tiny_bot"][field]
    path.write_text(json.dumps(config))
    train(dataset, out, policy_config=tiny_policy_config(), embodiment=tiny_embodiment(),
          cfg=cfg, progress=False, resume=True)


def test_resume_without_train_state_continues_and_says_so(dataset, tmp_path):
    emb, config = tiny_embodiment(), tiny_policy_config()
    cfg = TrainConfig(steps=6, batch_size=4, seed=3, save_every=3)
    out = tmp_path / "cut"
    _train_cut_off_after(dataset, out, cfg, cut_at_step=4)
    (out / "train_state.pt").unlink()
    first = json.loads((out / "train_log.json").read_text())["losses"]
    result = train(dataset, out, policy_config=config, embodiment=emb, cfg=cfg, progress=False,
                   resume=True)
    assert result.losses[:3] == first and len(result.losses) == 6
    assert np.isfinite(result.losses).all()
    log = json.loads((out / "train_log.json").read_text())
    assert log["resumed"] == [{"step": 3, "exact": False}]


@pytest.mark.parametrize("diverges_at", [6, 9])  # a save's step, the final save's
def test_weights_that_diverge_are_not_saved_over_the_last_checkpoint(dataset, tmp_path,
                                                                      diverges_at):
    """The finite check looked at the loss before the update: an update that made the weights
    NaN on a save step was saved over the only good checkpoint (and PolicyBundle.open took
    it). The weights are checked before every save; the step-3 checkpoint stays."""
    import gr00t_policy.train.loop as loop
    from gr00t_policy.checkpoint import weights_metadata

    calls, original = {"n": 0}, loop._update

    def update(loss, optim, sched, params, grad_clip):
        original(loss, optim, sched, params, grad_clip)
        calls["n"] += 1
        if calls["n"] == diverges_at:
            with torch.no_grad():
                params[0].fill_(float("nan"))

    out = tmp_path / "run"
    cfg = TrainConfig(steps=9, batch_size=4, seed=3, save_every=3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop, "_update", update)
        with pytest.raises(FloatingPointError, match=rf"weights became NaN or inf at step "
                                                     rf"{diverges_at} .*not saved.*lower --lr"):
            train(dataset, out, policy_config=tiny_policy_config(), embodiment=tiny_embodiment(),
                  cfg=cfg, progress=False)
    assert weights_metadata(out)["train_step"] == str(diverges_at - 3)
    load_checkpoint(out)  # finite: load_checkpoint refuses NaN weights
    assert json.loads((out / "train_log.json").read_text())["step"] == diverges_at - 3


def test_resume_refuses_other_settings_and_finished_runs(dataset, tmp_path):
    emb, config = tiny_embodiment(), tiny_policy_config()
    cfg = TrainConfig(steps=6, batch_size=4, seed=3, save_every=3, bf16=False)
    out = tmp_path / "cut"
    _train_cut_off_after(dataset, out, cfg, cut_at_step=4)
    with pytest.raises(ValueError, match=r"lr: saved 0\.0003 vs now 0\.001"):
        train(dataset, out, policy_config=config, embodiment=emb, progress=False, resume=True,
              cfg=TrainConfig(steps=6, batch_size=4, seed=3, save_every=3, lr=1e-3))
    # bf16 is set by --precision: the message names the flag and its values
    with pytest.raises(ValueError, match=r"\(--precision: saved fp32 vs now bf16 \(auto follows "
                                         r"the CPU; pass --precision fp32\)\)"):
        train(dataset, out, policy_config=config, embodiment=emb, progress=False, resume=True,
              cfg=dataclasses.replace(cfg, bf16=True))
    train(dataset, out, policy_config=config, embodiment=emb, cfg=cfg, progress=False, resume=True)
    with pytest.raises(ValueError, match="at step 6 of 6 .*nothing to resume"):
        train(dataset, out, policy_config=config, embodiment=emb, cfg=cfg, progress=False,
              resume=True)
    with pytest.raises(ValueError, match="train_log.json not found"):
        train(dataset, tmp_path / "empty", policy_config=config, embodiment=emb, cfg=cfg,
              progress=False, resume=True)


def test_a_fresh_run_refuses_an_out_that_holds_a_run_unless_told_to_replace_it(dataset, tmp_path):
    """Its first save used to replace the checkpoint in --out without a word. Refused before
    any work (even the dataset is not opened); ``overwrite`` replaces it, and drops the old
    run's train_state.pt at once, so a --resume after a cut in the new run cannot take the
    old optimizer state for its own (both were saved at step 3)."""
    emb, config = tiny_embodiment(), tiny_policy_config()
    cfg = TrainConfig(steps=6, batch_size=4, seed=3, save_every=3)
    out = tmp_path / "cut"
    _train_cut_off_after(dataset, out, cfg, cut_at_step=4)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    for source in (dataset, tmp_path / "no_dataset"):
        with pytest.raises(ValueError, match=r"already holds .*config\.json.*train_state\.pt.*"
                                             r"--resume.*--overwrite") as info:
            train(source, out, policy_config=config, embodiment=emb, cfg=cfg, progress=False)
        assert str(out) in str(info.value)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    with pytest.raises(ValueError, match="pass one of them"):
        train(dataset, out, policy_config=config, embodiment=emb, cfg=cfg, progress=False,
              resume=True, overwrite=True)
    other = TrainConfig(steps=6, batch_size=4, seed=5, save_every=3)
    _train_cut_off_after(dataset, out, other, cut_at_step=1, overwrite=True)
    assert not (out / "train_state.pt").exists()
    assert (out / "model.safetensors").read_bytes() == before["model.safetensors"]  # not yet
    result = train(dataset, out, policy_config=config, embodiment=emb, cfg=other,
                   progress=False, overwrite=True)
    assert json.loads((out / "train_log.json").read_text())["losses"] == result.losses
    assert (out / "model.safetensors").read_bytes() != before["model.safetensors"]


def test_init_from_starts_at_the_checkpoint_and_refuses_another_config(dataset, tmp_path):
    from dataclasses import replace

    from safetensors.torch import load_file

    emb, config = tiny_embodiment(), tiny_policy_config()
    base = train(dataset, tmp_path / "base", policy_config=config, embodiment=emb,
                 cfg=TrainConfig(steps=5, batch_size=4, lr=3e-3, seed=1, save_every=0), progress=False)
    # A learning rate too small to move the weights: what comes out is what went in.
    train(dataset, tmp_path / "tuned", policy_config=config, embodiment=emb,
          cfg=TrainConfig(steps=2, batch_size=4, lr=1e-12, seed=2, save_every=0),
          progress=False, init_from=base.checkpoint)
    train(dataset, tmp_path / "fresh", policy_config=config, embodiment=emb,
          cfg=TrainConfig(steps=2, batch_size=4, lr=1e-12, seed=2, save_every=0),
          progress=False)
    a = load_file(str(tmp_path / "base" / "model.safetensors"))
    b = load_file(str(tmp_path / "tuned" / "model.safetensors"))
    c = load_file(str(tmp_path / "fresh" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-8) for k in a)
    assert not all(torch.allclose(a[k], c[k], atol=1e-3) for k in a)  # the init mattered
    log = json.loads((tmp_path / "tuned" / "train_log.json").read_text())
    assert log["init_from"] == str(base.checkpoint.resolve()) and len(log["losses"]) == 2

    # A fine-tune may feed its images with another crop (a GR00T N1 conversion made before
    # the preset's 0.95 was recorded); its checkpoint records the crop it trained with.
    cropped = PolicyConfig(replace(config.backbone, image_crop=0.95), config.action_head)
    train(dataset, tmp_path / "cropped", policy_config=cropped, embodiment=emb,
          cfg=TrainConfig(steps=1, batch_size=4, save_every=0), progress=False,
          init_from=base.checkpoint)
    saved = json.loads((tmp_path / "cropped" / "config.json").read_text())
    assert saved["backbone"]["image_crop"] == 0.95
    other = PolicyConfig(config.backbone, replace(config.action_head, num_layers=1))
    with pytest.raises(ValueError, match=r"another model config .*action_head\.num_layers"):
        train(dataset, tmp_path / "bad", policy_config=other, embodiment=emb,
              cfg=TrainConfig(steps=1, batch_size=4, save_every=0), progress=False,
              init_from=base.checkpoint)


def test_init_from_refuses_a_slot_the_checkpoint_gives_another_robot(dataset, tmp_path):
    """A fine-tune whose robot took the slot the starting checkpoint gives another robot
    trained over that robot's encoders and decoder and wrote a checkpoint that no longer
    listed it, silently. It is refused before training, naming both robots, the slot and
    the free slots; --overwrite-slot naming the robot replaces it, with a warning and a
    record in train_log.json."""
    config, cfg = tiny_policy_config(), TrainConfig(steps=1, batch_size=4, save_every=0)
    base = train(dataset, tmp_path / "a", policy_config=config, cfg=cfg, progress=False,
                 embodiment=tiny_embodiment(tag="robot_a", slot=0))
    robot_c = tiny_embodiment(tag="robot_c", slot=0)
    free = list(range(1, config.action_head.num_embodiments))
    with pytest.raises(ValueError, match=(
            rf"robot 'robot_c' takes embodiment slot 0, which \S+ gives to robot 'robot_a'.*"
            rf"free: {re.escape(str(free))}\), or pass --overwrite-slot robot_a")):
        train(dataset, tmp_path / "c", policy_config=config, embodiment=robot_c, cfg=cfg,
              progress=False, init_from=base.checkpoint)
    assert not (tmp_path / "c").exists()  # refused before any training
    with pytest.raises(ValueError, match=r"--overwrite-slot robot_b: .* no such robot"):
        train(dataset, tmp_path / "c", policy_config=config, embodiment=robot_c, cfg=cfg,
              progress=False, init_from=base.checkpoint, overwrite_slot=("robot_b",))
    # The same robot fine-tuned in its own slot, or a new one in a free slot: no question.
    for tag, slot in (("robot_a", 0), ("robot_c", 1)):
        train(dataset, tmp_path / f"{tag}{slot}", policy_config=config, cfg=cfg,
              progress=False, init_from=base.checkpoint,
              embodiment=tiny_embodiment(tag=tag, slot=slot))
    train(dataset, tmp_path / "c", policy_config=config, embodiment=robot_c, cfg=cfg,
          progress=False, init_from=base.checkpoint, overwrite_slot=("robot_a",))
    log = json.loads((tmp_path / "c" / "train_log.json").read_text())
    assert log["overwrite_slot"] == {"robot_a": 0}


def test_init_from_reads_the_prompts_with_the_checkpoints_tokenizer(dataset, tmp_path,
                                                                     monkeypatch):
    """The embedding rows of the starting weights are indexed by their own tokenizer's ids
    (a GR00T N1 conversion's is Eagle-2's; here a nano vocabulary with one word more, which
    shifts the ids of every later word): a fine-tune reads its prompts with it."""
    import gr00t_policy.prompt as prompt_module
    from gr00t_policy.prompt import build_nano_tokenizer, load_tokenizer

    emb, config = tiny_embodiment(), tiny_policy_config()
    cfg = TrainConfig(steps=1, batch_size=4, save_every=0)
    with monkeypatch.context() as m:
        m.setattr(prompt_module, "NANO_WORDS", prompt_module.NANO_WORDS + ("aardvark",))
        base = train(dataset, tmp_path / "base", policy_config=config, embodiment=emb, cfg=cfg,
                     progress=False)
    train(dataset, tmp_path / "tuned", policy_config=config, embodiment=emb, cfg=cfg,
          progress=False, init_from=base.checkpoint)
    words = "raise your left hand"
    ids = [load_tokenizer(tmp_path / d)(words, add_special_tokens=False)["input_ids"]
           for d in ("base", "tuned")]
    assert ids[0] == ids[1] != build_nano_tokenizer()(words, add_special_tokens=False)["input_ids"]


def test_resume_keeps_the_init_from_record_and_refuses_another(dataset, tmp_path):
    """--resume without --init-from dropped the record of the checkpoint the fine-tune
    started from (train_log.json init_from: None), and one with another recorded that one,
    falsely: the weights in --out came from the first."""
    emb, config = tiny_embodiment(), tiny_policy_config()
    base = train(dataset, tmp_path / "base", policy_config=config, embodiment=emb,
                 cfg=TrainConfig(steps=1, batch_size=4, seed=1, save_every=0), progress=False)
    cfg = TrainConfig(steps=6, batch_size=4, seed=3, save_every=3)
    out = tmp_path / "tuned"
    _train_cut_off_after(dataset, out, cfg, cut_at_step=4, init_from=base.checkpoint)
    recorded = str(base.checkpoint.resolve())
    for other, message in ((tmp_path / "elsewhere", f"started from {recorded}"),
                           (base.checkpoint, "started without --init-from")):
        where = out if other != base.checkpoint else tmp_path / "fresh"
        if where != out:
            _train_cut_off_after(dataset, where, cfg, cut_at_step=4)
        with pytest.raises(ValueError, match=rf"--resume: \S+ was {message}.*same --init-from"):
            train(dataset, where, policy_config=config, embodiment=emb, cfg=cfg,
                  progress=False, resume=True, init_from=other)
    train(dataset, out, policy_config=config, embodiment=emb, cfg=cfg, progress=False,
          resume=True)
    assert json.loads((out / "train_log.json").read_text())["init_from"] == recorded


@pytest.fixture(scope="module")
def goal_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds") / "tiny_goals"
    write_tiny_dataset(root, goals=True)
    return root


def test_goal_and_scene_losses_are_learned_logged_and_not_saved(goal_dataset, tmp_path):
    from safetensors.torch import load_file

    emb, config = tiny_embodiment(), tiny_policy_config()
    cfg = TrainConfig(steps=80, batch_size=8, lr=3e-3, seed=0,
                      aux_weights={"goal": 1.0, "scene": 1.0}, log_every=20, save_every=0)
    result = train(goal_dataset, tmp_path / "ckpt", policy_config=config, embodiment=emb,
                   cfg=cfg, progress=False)
    log = json.loads((tmp_path / "ckpt" / "train_log.json").read_text())
    assert len(log["losses"]) == 80 and np.isfinite(result.losses).all()
    # The goal is a function of the words, the objects of the image: ~1 (normalized) at
    # first, learned well below.
    for key in ("goal_losses", "scene_losses"):
        aux = np.asarray(log[key])
        assert aux.shape == (80,) and aux[-20:].mean() < 0.3 * aux[:5].mean(), (key, aux)
    # The heads are for training only: the checkpoint holds exactly the policy's tensors.
    saved = load_file(str(tmp_path / "ckpt" / "model.safetensors"))
    assert not [k for k in saved if "goal" in k or "scene" in k or "aux" in k]
    assert load_checkpoint(tmp_path / "ckpt").policy is not None


def test_goal_batches_carry_normalized_goals_and_a_missing_goal_is_named(goal_dataset, dataset):
    from gr00t_policy.prompt import PromptBuilder, build_nano_tokenizer

    emb, config = tiny_embodiment(), tiny_policy_config()
    prompt = PromptBuilder(build_nano_tokenizer(config.backbone), config.backbone)
    ds = LeRobotDataset(goal_dataset)
    data = TrainingData(ds, emb, config, prompt, build_metadata(ds, emb),
                        aux=[get_aux_loss("goal")])
    batch = data.sample(np.random.default_rng(0), 16, TrainConfig(augment=False),
                        torch.Generator().manual_seed(0))
    touch = batch["input_ids"].eq(prompt.tokenizer.convert_tokens_to_ids("touch")).any(dim=1)
    assert 0 < touch.sum() < 16  # both tasks drawn
    # y is +0.2 m for the touch task, -0.2 m for raise: +-1 normalized; x is the same in
    # every episode, so its spread is floored (1 cm) instead of dividing by ~0.
    assert torch.equal(batch["goal"][:, 1], torch.where(touch, 1.0, -1.0))
    assert torch.allclose(batch["goal"][:, 0], torch.zeros(16))
    assert "scene" not in batch  # only asked for
    data = TrainingData(ds, emb, config, prompt, build_metadata(ds, emb),
                        aux=[get_aux_loss("scene")])
    batch = data.sample(np.random.default_rng(0), 16, TrainConfig(augment=False),
                        torch.Generator().manual_seed(0))
    touch = batch["input_ids"].eq(prompt.tokenizer.convert_tokens_to_ids("touch")).any(dim=1)
    # Objects in name order (blue, red), x y z each: blue's z and red's y follow the task.
    sign = torch.where(touch, 1.0, -1.0)
    assert batch["scene"].shape == (16, 6) and "goal" not in batch
    assert torch.equal(batch["scene"][:, 2], -sign) and torch.equal(batch["scene"][:, 4], sign)
    assert torch.allclose(batch["scene"][:, [0, 1, 3, 5]], torch.zeros(16, 4))
    plain = LeRobotDataset(dataset)
    with pytest.raises(ValueError, match=r"episode 0 .* no valid 'goal_position'.*--goal-weight 0"):
        TrainingData(plain, emb, config, prompt, build_metadata(plain, emb),
                     aux=[get_aux_loss("goal")])
    with pytest.raises(ValueError, match=r"episode 0 .* no valid 'object_positions'.*--scene-weight 0"):
        TrainingData(plain, emb, config, prompt, build_metadata(plain, emb),
                     aux=[get_aux_loss("scene")])
    with pytest.raises(ValueError, match="goal_weight must be >= 0"):
        TrainConfig(aux_weights={"goal": -1.0})
    with pytest.raises(ValueError, match="scene_weight must be >= 0"):
        TrainConfig(aux_weights={"scene": float("nan")})


def test_resume_with_the_auxiliary_heads_gives_the_uninterrupted_run(goal_dataset, tmp_path):
    emb, config = tiny_embodiment(), tiny_policy_config()
    cfg = TrainConfig(steps=6, batch_size=4, seed=3, save_every=3,
                      aux_weights={"goal": 0.5, "scene": 0.5})
    whole = train(goal_dataset, tmp_path / "whole", policy_config=config, embodiment=emb,
                  cfg=cfg, progress=False)
    _train_cut_off_after(goal_dataset, tmp_path / "cut", cfg, cut_at_step=4)
    resumed = train(goal_dataset, tmp_path / "cut", policy_config=config, embodiment=emb,
                    cfg=cfg, progress=False, resume=True)
    assert resumed.losses == whole.losses
    logs = [json.loads((tmp_path / d / "train_log.json").read_text()) for d in ("whole", "cut")]
    for key in ("goal_losses", "scene_losses"):
        assert logs[0][key] == logs[1][key] and len(logs[1][key]) == 6


def test_resume_reads_the_goal_head_of_an_older_train_state(goal_dataset, tmp_path):
    """train_state.pt written before the scene head held the goal head as "goal_head"."""
    emb, config = tiny_embodiment(), tiny_policy_config()
    cfg = TrainConfig(steps=6, batch_size=4, seed=3, save_every=3, aux_weights={"goal": 0.5})
    whole = train(goal_dataset, tmp_path / "whole", policy_config=config, embodiment=emb,
                  cfg=cfg, progress=False)
    _train_cut_off_after(goal_dataset, tmp_path / "cut", cfg, cut_at_step=4)
    path = tmp_path / "cut" / "train_state.pt"
    state = torch.load(path, weights_only=True)
    state["goal_head"] = state.pop("heads")["goal"]
    torch.save(state, path)
    resumed = train(goal_dataset, tmp_path / "cut", policy_config=config, embodiment=emb,
                    cfg=cfg, progress=False, resume=True)
    assert resumed.losses == whole.losses


def test_resume_accepts_a_run_saved_before_a_setting_existed(dataset, tmp_path):
    emb, config = tiny_embodiment(), tiny_policy_config()
    # the auxiliary weights at 0, as gr00t-train writes them
    cfg = TrainConfig(steps=6, batch_size=4, seed=3, save_every=3,
                      aux_weights={"goal": 0.0, "scene": 0.0})
    out = tmp_path / "cut"
    _train_cut_off_after(dataset, out, cfg, cut_at_step=4)
    path = out / "train_log.json"
    log = json.loads(path.read_text())
    for newer in ("start_prob", "start_frames", "goal_weight", "scene_weight"):  # absent from older logs
        del log["train_config"][newer]
    path.write_text(json.dumps(log))
    result = train(dataset, out, policy_config=config, embodiment=emb, cfg=cfg, progress=False,
                   resume=True)
    assert len(result.losses) == 6
    # ... but a run saved before the setting existed used its default: another value is refused.
    _train_cut_off_after(dataset, tmp_path / "cut2", cfg, cut_at_step=4)
    log = json.loads((tmp_path / "cut2" / "train_log.json").read_text())
    del log["train_config"]["start_prob"]
    (tmp_path / "cut2" / "train_log.json").write_text(json.dumps(log))
    with pytest.raises(ValueError, match=r"start_prob: saved 0\.0 vs now 0\.5"):
        train(dataset, tmp_path / "cut2", policy_config=config, embodiment=emb, progress=False,
              resume=True, cfg=TrainConfig(steps=6, batch_size=4, seed=3, save_every=3,
                                           start_prob=0.5))


def test_phrasings_are_drawn_per_sample_with_the_encoders_states(dataset, tmp_path):
    """--instructions: every phrasing of an episode's task is drawn, and with an instruction
    encoder each row carries that phrasing's states at its text slots."""
    import dataclasses

    from gr00t_policy.backbone import aligned_states
    from gr00t_policy.language.instruction import CHECKPOINT_SUBDIR, load_instruction_encoder
    from gr00t_policy.phrasings import read_phrasings
    from gr00t_policy.prompt import PromptBuilder, build_nano_tokenizer
    from gr00t_policy.testing.language import write_tiny_language_model

    sha = "12" * 32
    write_tiny_language_model(tmp_path / CHECKPOINT_SUBDIR, sha256=sha, layers=2, width=64)
    base = tiny_policy_config()
    backbone = dataclasses.replace(base.backbone, instruction_encoder="tiny",
                                   instruction_encoder_sha256=sha, instruction_encoder_layers=2,
                                   instruction_encoder_dim=64)
    config = PolicyConfig(backbone, base.action_head)
    encoder = load_instruction_encoder(backbone, tmp_path)
    file = tmp_path / "phrasings.yaml"
    file.write_text("Raise your left hand.: [lift your left hand, left hand up]\n")
    phrasings = read_phrasings(file, TASKS)
    assert phrasings == {TASKS[0]: ("lift your left hand", "left hand up")}
    emb, ds = tiny_embodiment(), LeRobotDataset(dataset)
    prompt = PromptBuilder(build_nano_tokenizer(backbone), backbone)
    data = TrainingData(ds, emb, config, prompt, build_metadata(ds, emb), phrasings=phrasings,
                        instruction_encoder=encoder)
    assert data.texts == [TASKS[0], "lift your left hand", "left hand up", TASKS[1]]
    cfg = TrainConfig(steps=1, batch_size=256, stale_prob=0.0, augment=False)
    batch = data.sample(np.random.default_rng(0), 256, cfg, torch.Generator().manual_seed(0))
    seen = set()
    for ids, states in zip(batch["input_ids"], batch["instruction_states"]):
        row = next(i for i, t in enumerate(data.texts)
                   if torch.equal(data.input_ids[i], ids) and torch.equal(data.instruction_states[i], states))
        seen.add(data.texts[row])
    assert seen == set(data.texts)
    # A row's states are the encoder's for its text, at the prompt's slots.
    text = "left hand up"
    row = data.texts.index(text)
    want = aligned_states(data.input_ids[row].numpy(), prompt.text_context_id, encoder.states(text))
    torch.testing.assert_close(data.instruction_states[row], want[-data.input_ids.shape[1]:])
    # Without an encoder for a config that names one, the data refuses to build.
    with pytest.raises(ValueError, match="pass its InstructionEncoder"):
        TrainingData(ds, emb, config, prompt, build_metadata(ds, emb))


def test_prefix_training_records_its_rows_and_fine_tunes_either_way(dataset, tmp_path):
    emb, config = tiny_embodiment(), tiny_policy_config()
    plain = train(dataset, tmp_path / "plain", policy_config=config, embodiment=emb,
                  cfg=TrainConfig(steps=2, batch_size=4, seed=1, save_every=0), progress=False)
    assert load_checkpoint(plain.checkpoint).config.action_head.prefix_rows == 0
    # A fine-tune that teaches given prefixes (the model config differs only in how it
    # was trained), and one back without them.
    prefixed = train(dataset, tmp_path / "prefixed", policy_config=config, embodiment=emb,
                     cfg=TrainConfig(steps=2, batch_size=4, seed=1, save_every=0,
                                     prefix_prob=1.0, prefix_max_rows=2),
                     progress=False, init_from=plain.checkpoint)
    assert load_checkpoint(prefixed.checkpoint).config.action_head.prefix_rows == 2
    assert all(np.isfinite(x) for x in json.loads(
        (tmp_path / "prefixed" / "train_log.json").read_text())["losses"])
    back = train(dataset, tmp_path / "back", policy_config=config, embodiment=emb,
                 cfg=TrainConfig(steps=1, batch_size=4, seed=1, save_every=0), progress=False,
                 init_from=prefixed.checkpoint)
    assert load_checkpoint(back.checkpoint).config.action_head.prefix_rows == 0
    with pytest.raises(ValueError, match="--prefix-max-rows"):
        train(dataset, tmp_path / "bad", policy_config=config, embodiment=emb,
              cfg=TrainConfig(steps=1, batch_size=4, save_every=0, prefix_prob=0.5,
                              prefix_max_rows=config.action_head.action_horizon),
              progress=False)


def test_cameras_of_different_resolutions_train_as_views_of_the_backbones_size(tmp_path):
    """A head camera and a smaller wrist camera of another aspect: each view is resized to
    the backbone's size on its own, in the camera order of the embodiment."""
    from gr00t_policy.prompt import PromptBuilder, build_nano_tokenizer

    root = tmp_path / "two_cams"
    with LeRobotWriter(root, fps=20, state_keys=[("arm", ARM), ("hand", HAND)],
                       action_keys=[("arm", ARM), ("hand", HAND)], cameras=["head", "wrist"],
                       image_shape={"head": (32, 32), "wrist": (20, 24)}) as w:
        for task in range(2):
            states = np.zeros((12, 4), np.float32)
            w.add_episode(states, states + 0.1 * task,
                          {"head": np.full((12, 32, 32, 3), 50, np.uint8),
                           "wrist": np.full((12, 20, 24, 3), 200, np.uint8)}, TASKS[task])
    emb = tiny_embodiment(cameras=("head", "wrist"))
    config = tiny_policy_config()
    config = dataclasses.replace(config, backbone=dataclasses.replace(config.backbone,
                                                                      num_views=2))
    ds = LeRobotDataset(root)
    data = TrainingData(ds, emb, config, PromptBuilder(build_nano_tokenizer(config.backbone),
                                                       config.backbone), build_metadata(ds, emb))
    batch = data.sample(np.random.default_rng(0), 8, TrainConfig(steps=1, batch_size=8,
                                                                 stale_prob=0.0, augment=False),
                        torch.Generator().manual_seed(0))
    pixels = batch["pixel_values"]  # (B, V, 3, S, S)
    assert pixels.shape == (8, 2, 3, 28, 28)
    # each view its own camera's (uniform) frames, scaled to [-1, 1]
    assert torch.allclose(pixels[:, 0], torch.tensor(50 / 127.5 - 1), atol=1e-5)
    assert torch.allclose(pixels[:, 1], torch.tensor(200 / 127.5 - 1), atol=1e-5)


def test_a_one_camera_checkpoint_fine_tunes_for_a_robot_with_two(dataset, tmp_path):
    """A front and a wrist camera from a preset's one view (the nano checkpoint's): the model
    config grows by the second view's image tokens, every weight carries over, and the
    checkpoint written reads two images per frame."""
    from safetensors.torch import load_file

    from gr00t_policy.runtime.bundle import PolicyBundle

    config = tiny_policy_config()
    base = train(dataset, tmp_path / "base", policy_config=config, embodiment=tiny_embodiment(),
                 cfg=TrainConfig(steps=3, batch_size=4, seed=1, save_every=0), progress=False)
    two = tmp_path / "two_cams"
    write_tiny_dataset(two, cameras=("head", "wrist"))
    two_cams = tiny_embodiment(cameras=("head", "wrist"))
    train(two, tmp_path / "tuned", policy_config=config, embodiment=two_cams,
          cfg=TrainConfig(steps=2, batch_size=4, lr=1e-12, seed=2, save_every=0),
          progress=False, init_from=base.checkpoint)
    saved = json.loads((tmp_path / "tuned" / "config.json").read_text())["backbone"]
    per_view = config.backbone.image_tokens_per_view
    assert saved["num_views"] == 2
    assert saved["max_tokens"] == config.backbone.max_tokens + per_view
    a = load_file(str(tmp_path / "base" / "model.safetensors"))
    b = load_file(str(tmp_path / "tuned" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-8) for k in a)
    bundle = PolicyBundle.open(tmp_path / "tuned", two_cams)
    runner = bundle.backbone_runner()
    image = np.full((32, 32, 3), 90, np.uint8)
    tokens, mask = runner.encode([image, image], TASKS[0])
    assert tokens.shape[0] == saved["max_tokens"] and mask.any()
    with pytest.raises(ValueError, match=r"cameras.*1 camera\(s\) listed.*reads 2 image"):
        PolicyBundle.open(tmp_path / "tuned", tiny_embodiment())


def test_a_run_over_robots_with_different_camera_counts_is_refused(dataset, tmp_path):
    from gr00t_policy.train.mixture import MixtureEntry

    two = tmp_path / "two_cams"
    write_tiny_dataset(two, cameras=("head", "wrist"))
    other = tiny_embodiment(("head", "wrist"), name="tiny2", tag="tiny2_bot", slot=0)
    mixture = [(MixtureEntry(str(dataset), "tiny.yaml"), tiny_embodiment()),
               (MixtureEntry(str(two), "tiny2.yaml"), other)]
    with pytest.raises(ValueError, match=r"different numbers of cameras .*'tiny_bot': 1.*'tiny2_bot': 2"):
        train(None, tmp_path / "out", policy_config=tiny_policy_config(), embodiment=None,
              cfg=TrainConfig(steps=1, batch_size=4, save_every=0), progress=False,
              mixture=mixture)
