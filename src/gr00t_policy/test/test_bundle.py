"""PolicyBundle.open: a checkpoint's statistics against the embodiment that will use them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gr00t_policy.embodiment import load_embodiment
from gr00t_policy.runtime.bundle import BundleError, PolicyBundle
from gr00t_policy.testing.checkpoints import make_checkpoint_for

REPO = Path(__file__).resolve().parents[3]
G1_YAML = REPO / "config" / "unitree_g1.yaml"


@pytest.fixture(scope="module")
def g1_checkpoint(tmp_path_factory) -> Path:
    return make_checkpoint_for(tmp_path_factory.mktemp("ckpt") / "nano", [G1_YAML])


def _with_statistics(src: Path, dst: Path, edit) -> Path:
    """`src` (its files linked) with `edit(statistics of unitree_g1)` applied to a copy of
    its metadata.json."""
    (dst / "experiment_cfg").mkdir(parents=True)
    for path in src.iterdir():
        if path.is_file():
            (dst / path.name).symlink_to(path)
    meta = json.loads((src / "experiment_cfg" / "metadata.json").read_text())
    edit(meta["unitree_g1"]["statistics"])
    (dst / "experiment_cfg" / "metadata.json").write_text(json.dumps(meta))
    return dst


def test_statistics_of_other_widths_with_the_same_total_are_refused(g1_checkpoint, tmp_path):
    # waist 4 wide, left_arm 6 (the YAML: 3 and 7): the total (31) and config.json's layout
    # agree, and every left-arm joint was unnormalized with its neighbour's statistics.
    def shift(stats):
        action = stats["action"]
        for field in action["waist"]:
            action["waist"][field] = action["waist"][field] + [0.0]
            action["left_arm"][field] = action["left_arm"][field][:-1]

    g1 = load_embodiment(G1_YAML)
    PolicyBundle.open(g1_checkpoint, g1)
    bad = _with_statistics(g1_checkpoint, tmp_path / "shifted", shift)
    with pytest.raises(BundleError, match=r"shifted/experiment_cfg/metadata\.json: action key "
                                          r"'waist': the checkpoint's statistics are 4 wide but "
                                          r".*unitree_g1\.yaml lists 3 joints for it "
                                          r"\(waist_yaw_joint, waist_roll_joint, "
                                          r"waist_pitch_joint\).*Fix:"):
        PolicyBundle.open(bad, g1)


@pytest.mark.parametrize("case, edit, words", [
    # A dataset recorded in degrees: every statistic x 57.3.
    ("degrees", lambda stats: [stats["action"]["left_arm"].__setitem__(
        field, [math.degrees(v) for v in values])
        for field, values in list(stats["action"]["left_arm"].items())],
     r"action key 'left_arm': the checkpoint's min for joint 'left_shoulder_pitch_joint' is "
     r"-1\d\d\.?\d*, .* beyond its position limits \[-3\.0892, 2\.6704\].*\(-1\d\d\.?\d* "
     r"degrees would be -\d\.\d+ rad, within them\).*degrees, the key's joints in another "
     r"order"),
    # +-50 rad on one arm: System 1 clamped every action to a limit.
    ("wide", lambda stats: stats["state"]["left_arm"].update(min=[-50.0] * 7, max=[50.0] * 7),
     r"state key 'left_arm': the checkpoint's min for joint 'left_shoulder_pitch_joint' is "
     r"-50, 46\.91 beyond"),
])
def test_statistics_far_outside_the_joint_limits_are_refused(g1_checkpoint, tmp_path, case,
                                                             edit, words):
    bad = _with_statistics(g1_checkpoint, tmp_path / case, edit)
    with pytest.raises(BundleError, match=words):
        PolicyBundle.open(bad, load_embodiment(G1_YAML))


def test_the_committed_checkpoints_open_with_every_shipped_yaml_they_were_trained_for():
    # check_statistics' reach (one range width) holds for what real demonstrations recorded.
    opened = []
    for ckpt in sorted((REPO / "checkpoints").iterdir()):
        tags = json.loads((ckpt / "config.json").read_text())["embodiments"]
        for yaml in sorted((REPO / "config").glob("*.yaml")):
            emb = load_embodiment(yaml)
            if emb.tag in tags:
                PolicyBundle.open(ckpt, emb)
                opened.append((ckpt.name, emb.tag))
    assert ("nano", "unitree_g1") in opened and ("nano", "apptronik_apollo") in opened


def test_a_camera_renamed_after_training_is_refused(g1_checkpoint, tmp_path):
    # The checkpoint records its cameras' names (before: their count only, which a rename
    # keeps).
    renamed = G1_YAML.read_text()
    for old, new in (("{name: head, topic: /camera/head/image_raw}",
                      "{name: chest, topic: /camera/chest/image_raw}"),
                     ("    head: {body: torso_link", "    chest: {body: torso_link")):
        assert old in renamed
        renamed = renamed.replace(old, new)
    path = tmp_path / "unitree_g1.yaml"
    path.write_text(renamed)
    with pytest.raises(ValueError, match=r"cameras\[0\] is 'chest' here, 'head' in the "
                                         r"checkpoint"):
        PolicyBundle.open(g1_checkpoint, load_embodiment(path))


def test_weights_with_nan_open_but_every_runner_that_loads_them_refuses(g1_checkpoint, tmp_path):
    """open reads the weights' headers only (1.6 ms for nano; checking every value would read
    the whole file, seconds for the 2B model, backbone included where System 1 loads only
    the action head), so NaN weights are refused where they load: each runner's."""
    from safetensors.torch import load_file, save_file

    from gr00t_policy.checkpoint import WEIGHTS_FILE, CheckpointError, weights_metadata

    bad = tmp_path / "nan"
    bad.mkdir()
    for path in g1_checkpoint.rglob("*"):
        if path.is_file() and path.name != WEIGHTS_FILE:
            (bad / path.relative_to(g1_checkpoint)).parent.mkdir(parents=True, exist_ok=True)
            (bad / path.relative_to(g1_checkpoint)).symlink_to(path)
    tensors = load_file(str(g1_checkpoint / WEIGHTS_FILE))
    for prefix in ("backbone.", "action_head."):
        tensors[next(k for k in tensors if k.startswith(prefix))][0] = float("nan")
    save_file(tensors, str(bad / WEIGHTS_FILE), metadata=weights_metadata(g1_checkpoint))
    bundle = PolicyBundle.open(bad, load_embodiment(G1_YAML))
    for load in (lambda: bundle.action_runner("torch"),
                 lambda: bundle.action_runner("onnxruntime", cache_dir=tmp_path / "cache"),
                 bundle.backbone_runner):
        with pytest.raises(CheckpointError, match="hold NaN or inf.*training diverged"):
            load()
