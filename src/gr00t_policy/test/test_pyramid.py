"""The data pyramid's models on a video where the answer is known: a square that moves left
or right. The latent action model's code must carry the motion, the inverse-dynamics model
must read the square's position, and `gr00t-pyramid label` must write a dataset that reads
back with the model's labels and the source's frames, instructions and episode fields."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gr00t_policy.dataset import LeRobotDataset, LeRobotWriter
from gr00t_policy.pyramid import cli
from gr00t_policy.pyramid.clips import draw_pairs, load_clips, pair_tensors
from gr00t_policy.pyramid.inverse_dynamics import (InverseDynamicsConfig, label_episode,
                                                   label_errors, load_inverse_dynamics,
                                                   train_inverse_dynamics)
from gr00t_policy.pyramid.latent_actions import (LatentActionConfig, forward_errors,
                                                 load_latent_actions, motion_probe,
                                                 save_latent_actions, train_latent_actions)

torch.set_num_threads(1)
SIZE, GAP = 32, 2
TASKS = ["move right", "move left"]


def square_video(xs: np.ndarray) -> np.ndarray:
    frames = np.full((len(xs), SIZE, SIZE, 3), 40, dtype=np.uint8)
    for t, x in enumerate(xs):
        c = int(round(4 + x * (SIZE - 12)))
        frames[t, 12:20, c:c + 8] = (230, 60, 60)
    return frames


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_squares(tmp_path_factory.mktemp("pyramid") / "squares")


def write_squares(root, joint="x", fps=20, cameras=("head",)):
    """12 episodes of a square that turns left or right at random every 4 frames, so where
    it goes next cannot be told from where it is (its one joint named `joint`)."""
    rng = np.random.default_rng(0)
    with LeRobotWriter(root, fps=fps, state_keys=[("x", [joint])], action_keys=[("x", [joint])],
                       cameras=list(cameras), image_shape=(SIZE, SIZE)) as w:
        for i in range(12):
            x, xs = rng.uniform(0.3, 0.7), []
            for t in range(24):
                if t % 4 == 0:
                    step = 0.05 * rng.choice([-1, 1])
                if not 0.0 <= x + step <= 1.0:
                    step = -step
                x += step
                xs.append(x)
            xs = np.asarray(xs)
            states = xs[:, None].astype(np.float32)
            actions = np.concatenate([xs[1:], xs[-1:]])[:, None].astype(np.float32)
            w.add_episode(states, actions, {c: square_video(xs) for c in cameras}, TASKS[i % 2],
                          extra={"seed": 1000 + i})
    return root


def test_pairs_are_gap_apart_and_held_at_the_episode_end(dataset):
    clips = load_clips(LeRobotDataset(dataset), "head", SIZE, labels=False)
    eps, ts = draw_pairs(clips, np.random.default_rng(0), 2000)
    lengths = np.asarray([f.shape[0] for f in clips.frames])
    assert ((ts >= 0) & (ts < lengths[eps])).all()
    assert set(np.unique(eps)) == set(range(len(clips.frames)))
    assert (ts == lengths[eps] - 1).any()  # last frames are drawn too
    # an early pair, and pairs whose later frame falls past the end (held at the last frame)
    e = np.array([0, 1, 1]); t = np.array([3, lengths[1] - 1, lengths[1] - GAP + 1])
    first, later = pair_tensors(clips, e, t, GAP)
    expected_later = [clips.frames[0][3 + GAP], clips.frames[1][-1], clips.frames[1][-1]]
    assert torch.equal(later, torch.stack(expected_later).float() / 255)
    assert torch.equal(first[0], clips.frames[0][3].float() / 255)
    assert first.shape == (3, 3, SIZE, SIZE)


def test_the_latent_code_carries_the_motion(dataset, tmp_path):
    ds = LeRobotDataset(dataset)
    clips = load_clips(ds, "head", SIZE, labels=False)
    cfg = LatentActionConfig(image_size=SIZE, gap=GAP, latent_dim=2, levels=5, width=8)
    model, log = train_latent_actions(clips, cfg, steps=300, batch=32, lr=3e-3, seed=0,
                                      log_every=100)
    errors = forward_errors(model, clips, 256, seed=1)
    # With its own code the forward model moves the square; with another pair's it cannot.
    assert errors["own_code_error"] < 0.5 * errors["other_code_error"], errors
    assert errors["own_code_error"] < 0.5 * errors["copy_error"], errors
    assert errors["distinct_codes"] > 3  # the pairs are not all given one code
    # A small network from the latent action and the state recovers most of the motion;
    # from the state alone, none.
    labelled = load_clips(ds, "head", SIZE)
    probe = motion_probe(model, labelled, labelled, 512, seed=3)
    assert probe["latent_and_state_r2"] > 0.6 and probe["state_only_r2"] < 0.3, probe
    save_latent_actions(tmp_path / "lam", model, {"log": log})
    again = load_latent_actions(tmp_path / "lam")
    first, later = pair_tensors(clips, np.array([0, 1]), np.array([3, 5]), GAP)
    assert torch.equal(again.latents(first, later)[1], model.latents(first, later)[1])


def test_the_inverse_dynamics_model_reads_the_state(dataset):
    ds = LeRobotDataset(dataset)
    train = load_clips(ds, "head", SIZE, range(0, 10))
    check = load_clips(ds, "head", SIZE, range(10, 12))
    cfg = InverseDynamicsConfig(state_dim=1, action_dim=1, image_size=SIZE, gap=GAP, width=8,
                                hidden=32)
    model, _ = train_inverse_dynamics(train, cfg, steps=400, batch=32, lr=3e-3, seed=0)
    errors = label_errors(model, check)
    assert errors["frames"] == sum(f.shape[0] for f in check.frames)
    assert errors["state_mae"] < 0.3 * errors["mean_state_mae"], errors
    assert errors["action_mae"] < 0.3 * errors["mean_action_mae"], errors


def test_label_writes_a_dataset_with_the_models_labels(dataset, tmp_path, capsys):
    out = tmp_path / "idm"
    argv = ["idm", "--dataset", str(dataset), "--out", str(out), "--episodes", "0:8",
            "--check", "8:10", "--steps", "20", "--batch-size", "8", "--image-size", str(SIZE),
            "--gap", str(GAP)]
    assert cli.main(argv) == 0
    figures = json.loads((out / "figures.json").read_text())
    assert set(figures) == {"train", "check", "seconds"} and figures["check"]["frames"] > 0
    capsys.readouterr()
    labelled = tmp_path / "pseudo"
    assert cli.main(["label", "--idm", str(out), "--dataset", str(dataset), "--out",
                     str(labelled), "--episodes", "8:12"]) == 0
    src, new = LeRobotDataset(dataset), LeRobotDataset(labelled)
    assert new.num_episodes == 4 and new.state_names == src.state_names
    model = load_inverse_dynamics(out)
    for k, i in enumerate(range(8, 12)):
        a, b = src.episode(i), new.episode(k)
        assert b.task == a.task and np.array_equal(b.frames["head"], a.frames["head"])
        states, actions = label_episode(model, load_clips(src, "head", SIZE, [i]).frames[0])
        assert np.allclose(b.states, states, atol=1e-6)
        assert np.allclose(b.actions, actions, atol=1e-6)
        assert new.episodes[k]["seed"] == 1000 + i
        assert new.episodes[k]["pseudo_labels"]["source_episode"] == i


@pytest.mark.parametrize("joint, fps, words", [
    ("left_elbow_joint", 20, "joints ['left_elbow_joint'] here, ['x'] in its training data"),
    ("x", 30, "30 fps here, 20 in its training data"),
])
def test_label_refuses_a_dataset_unlike_the_idms_training_data(dataset, tmp_path, capsys,
                                                                joint, fps, words):
    # As wide as the IDM's targets, but another robot's joint (or another frame rate, which
    # changes the time between the frames of a pair): its labels would be the wrong joint's.
    other = write_squares(tmp_path / "other", joint=joint, fps=fps)
    idm_dir = tmp_path / "idm"
    assert cli.main(["idm", "--dataset", str(dataset), "--out", str(idm_dir), "--steps", "2",
                     "--batch-size", "4", "--image-size", str(SIZE), "--gap", str(GAP)]) == 0
    capsys.readouterr()
    out = tmp_path / "pseudo"
    assert cli.main(["label", "--idm", str(idm_dir), "--dataset", str(other), "--out",
                     str(out)]) == 2
    err = capsys.readouterr().err
    assert words in err and "train the model on this robot's" in err
    assert not out.exists()


def test_label_reads_the_camera_the_idm_was_trained_on(dataset, tmp_path, capsys):
    # The dataset's first camera is the default: here a wrist view the IDM never saw.
    other = write_squares(tmp_path / "other", cameras=("wrist", "head"))
    idm_dir = tmp_path / "idm"
    assert cli.main(["idm", "--dataset", str(dataset), "--out", str(idm_dir), "--steps", "2",
                     "--batch-size", "4", "--image-size", str(SIZE), "--gap", str(GAP)]) == 0
    capsys.readouterr()
    argv = ["label", "--idm", str(idm_dir), "--dataset", str(other), "--out",
            str(tmp_path / "pseudo")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "camera 'wrist' here, 'head' in its training data" in err and "--camera head" in err
    assert cli.main([*argv, "--camera", "head"]) == 0


def test_latent_refuses_video_at_another_frame_rate_than_the_lams(dataset, tmp_path, capsys):
    lam_dir = tmp_path / "lam"
    assert cli.main(["lam", "--dataset", str(dataset), "--out", str(lam_dir), "--steps", "2",
                     "--batch-size", "4", "--image-size", str(SIZE), "--gap", str(GAP)]) == 0
    capsys.readouterr()
    other = write_squares(tmp_path / "other", fps=30)
    assert cli.main(["latent", "--lam", str(lam_dir), "--dataset", str(other), "--out",
                     str(tmp_path / "latent")]) == 2
    assert "30 fps here, 20 in its training data" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["idm", "--episodes", "0:8", "--check", "6:10"], "are also trained on"),
    (["lam", "--episodes", "40:50"], "ends past the dataset's 12 episodes"),
    (["lam", "--episodes", "5:5"], "chooses no episode"),
    (["lam", "--camera", "wrist"], "camera 'wrist' is not in"),
    (["label", "--idm", "nowhere", "--camera", "wrist"], "camera 'wrist' is not in"),
])
def test_bad_requests_name_the_flag(dataset, tmp_path, capsys, argv, words):
    full = [argv[0], "--dataset", str(dataset), "--out", str(tmp_path / "o"), *argv[1:]]
    assert cli.main(full) == 2
    assert words in capsys.readouterr().err


def test_a_model_of_another_kind_is_refused(dataset, tmp_path, capsys):
    lam_dir = tmp_path / "lam"
    assert cli.main(["lam", "--dataset", str(dataset), "--out", str(lam_dir), "--steps", "2",
                     "--batch-size", "4", "--image-size", str(SIZE)]) == 0
    capsys.readouterr()
    assert cli.main(["label", "--idm", str(lam_dir), "--dataset", str(dataset), "--out",
                     str(tmp_path / "x")]) == 2
    assert "not a 'inverse_dynamics_model' one" in capsys.readouterr().err


def test_latent_writes_the_latent_robot_that_gr00t_train_reads(dataset, tmp_path, capsys):
    import sys
    from pathlib import Path

    from gr00t_policy.embodiment import load_embodiment
    from gr00t_policy.train import TrainConfig, train

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_train import tiny_policy_config

    lam_dir, out = tmp_path / "lam", tmp_path / "latent"
    assert cli.main(["lam", "--dataset", str(dataset), "--out", str(lam_dir), "--steps", "3",
                     "--batch-size", "4", "--image-size", str(SIZE), "--gap", str(GAP)]) == 0
    assert cli.main(["latent", "--lam", str(lam_dir), "--dataset", str(dataset), "--out",
                     str(out), "--episodes", "0:4", "--slot", "1"]) == 0
    emb = load_embodiment(out / "embodiment.yaml")
    assert emb.name == "latent_actions" and emb.slot == 1
    assert list(emb.action_joints) == [f"latent_{i}" for i in range(6)]
    new, src = LeRobotDataset(out), LeRobotDataset(dataset)
    model = load_latent_actions(lam_dir)
    ep = new.episode(2)
    frames = load_clips(src, "head", SIZE, [2], labels=False).frames[0]
    first, later = frames[:-GAP].float() / 255, frames[GAP:].float() / 255
    assert np.allclose(ep.actions[:-GAP], model.latents(first, later)[1].numpy(), atol=1e-6)
    assert np.allclose(ep.states[1:], ep.actions[:-1]) and not ep.states[0].any()
    assert np.abs(ep.actions).max() <= 1.0
    assert ep.task == src.episode(2).task
    # The policy trains on it like on any robot's recording.
    result = train(out, tmp_path / "ckpt", policy_config=tiny_policy_config(), embodiment=emb,
                   cfg=TrainConfig(steps=2, batch_size=4, save_every=0), progress=False)
    assert len(result.losses) == 2 and np.isfinite(result.losses).all()


@pytest.mark.parametrize("args, says", [
    (["--slot", "99"], "--slot 99 makes an invalid embodiment.yaml for the latent robot: slot: "
                       "the embodiment slot 99 is out of range 0..31. Fix: use an integer in "
                       "0..31"),
    (["--slot", "-1"], "--slot -1 makes an invalid embodiment.yaml"),
    (["--name", "a b"], "--name 'a b' makes an invalid embodiment.yaml for the latent robot: "
                        "name: "),
    # the name also names the (never served) controller topic
    (["--name", "3d"], "--name '3d' makes an invalid embodiment.yaml for the latent robot: "
                       "controllers[0].topic: "),
], ids=["slot_99", "slot_negative", "name_with_space", "name_not_a_topic_token"])
def test_latent_refuses_an_option_its_embodiment_file_cannot_hold_before_writing(
        dataset, tmp_path, capsys, args, says):
    """--slot 99 used to be refused only after the whole dataset was written (and, with
    --overwrite, the old one replaced), by an error about the generated file that never
    named --slot; the dataset and an invalid embodiment.yaml stayed on disk."""
    lam_dir, out = tmp_path / "lam", tmp_path / "latent"
    assert cli.main(["lam", "--dataset", str(dataset), "--out", str(lam_dir), "--steps", "1",
                     "--batch-size", "4", "--image-size", str(SIZE), "--gap", str(GAP)]) == 0
    out.mkdir()
    (out / "kept").write_text("the dataset --overwrite would replace")
    capsys.readouterr()
    assert cli.main(["latent", "--lam", str(lam_dir), "--dataset", str(dataset), "--out",
                     str(out), "--episodes", "0:2", "--overwrite", *args]) == 2
    assert says in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["kept"]  # nothing written, nothing replaced
