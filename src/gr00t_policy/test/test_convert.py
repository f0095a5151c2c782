"""gr00t-policy convert: an official GR00T N1 directory (tiny sizes) into our format.

The official directory is written from the layout fixture (gr00t_policy.testing.official),
not from our model: a converter that disagreed with the published layout would fail here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from gr00t_policy import cli
from gr00t_policy.checkpoint import CheckpointError, load_checkpoint
from gr00t_policy.convert import PROVENANCE_FILE, convert_official
from gr00t_policy.runtime.bundle import PolicyBundle
from gr00t_policy.testing.official import (
    DEFAULT_TAG,
    embodiment_with_slot,
    write_eagle_dir,
    write_official_checkpoint,
)

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[3]
G1_YAML = REPO / "config" / "unitree_g1.yaml"
SLOT = 31  # Isaac-GR00T's slot of new_embodiment


@pytest.fixture(scope="module")
def official(tmp_path_factory) -> Path:
    return write_official_checkpoint(tmp_path_factory.mktemp("official") / "ckpt", shards=2)


@pytest.fixture(scope="module")
def eagle(tmp_path_factory) -> Path:
    return write_eagle_dir(tmp_path_factory.mktemp("eagle") / "eagle2_hg_model")


@pytest.fixture(scope="module")
def emb():
    return embodiment_with_slot(G1_YAML, SLOT)


@pytest.fixture(scope="module")
def converted(official, eagle, emb, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ours") / "ckpt"
    convert_official(official, out, emb, tag=DEFAULT_TAG, eagle_dir=eagle)
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(120, 160, 3), dtype=np.uint8)


def test_converted_weights_are_the_official_ones(official, converted):
    ckpt = load_checkpoint(converted)
    state = ckpt.policy.state_dict()
    stored = {}
    for shard in sorted(official.glob("model-*.safetensors")):
        stored.update(load_file(str(shard)))
    assert set(state) == set(stored)
    for key, tensor in stored.items():  # bfloat16 -> float32 is exact
        assert state[key].dtype == torch.float32
        assert torch.equal(state[key], tensor.float()), key


def test_converted_checkpoint_records_embodiment_statistics_and_provenance(
        official, converted, emb):
    cfg = json.loads((converted / "config.json").read_text())
    assert cfg["format"] == "gr00t_ros/1"
    assert cfg["preset"] is None  # tiny sizes are no preset
    assert cfg["embodiments"] == {emb.tag: json.loads(json.dumps(emb.checkpoint_entry()))}
    assert cfg["embodiments"][emb.tag]["slot"] == SLOT
    meta = json.loads((converted / "experiment_cfg" / "metadata.json").read_text())
    theirs = json.loads((official / "experiment_cfg" / "metadata.json").read_text())[DEFAULT_TAG]
    assert set(meta) == {emb.tag}
    assert meta[emb.tag]["statistics"] == theirs["statistics"]
    assert meta[emb.tag]["embodiment_tag"] == emb.tag
    assert (converted / "tokenizer.json").is_file()
    prov = json.loads((converted / PROVENANCE_FILE).read_text())
    assert (prov["official_tag"], prov["slot"], prov["eagle_config"]) == (DEFAULT_TAG, SLOT, True)


def test_both_systems_run_on_the_converted_checkpoint(converted, emb):
    """System 2's BackboneRunner and System 1's torch runner + planner, as the nodes use them."""
    bundle = PolicyBundle.open(converted, emb)
    encoder = bundle.backbone_runner()
    tokens, mask = encoder.encode([_image(0)], "touch the red cube with your left hand")
    again, _ = encoder.encode([_image(0)], "touch the red cube with your left hand")
    other, _ = encoder.encode([_image(0)], "raise your left hand")
    assert tokens.shape == (bundle.num_tokens, bundle.token_dim) and np.isfinite(tokens).all()
    assert np.array_equal(tokens, again) and not np.array_equal(tokens, other)
    # The tokenizer is Eagle's format: image tokens expand to num_image_token per view.
    image_id = encoder.prompt.image_context_id
    ids = encoder.prompt.encode("raise your left hand").input_ids
    assert int((ids == image_id).sum()) == encoder.config.image_tokens_per_view
    runner = bundle.action_runner("torch", num_steps=4)
    assert runner.embodiment_slot == SLOT
    runner.set_conditioning(tokens, mask)
    rng = np.random.default_rng(1)
    noise = rng.standard_normal((runner.horizon, runner.max_action_dim)).astype(np.float32)
    state = np.zeros(runner.max_state_dim, np.float32)
    actions = runner.sample(state, noise)
    assert actions.shape == (runner.horizon, runner.max_action_dim) and np.isfinite(actions).all()


def test_sin_cos_state_keys_reach_the_model_as_isaac_gr00t_feeds_them(official, eagle, tmp_path):
    """A YAML whose left_arm state key is sin_cos (Isaac-GR00T's gr1 encoding) converts, and
    the runtime feeds the head [sin(q), cos(q)] there: 38 values for the 31 joints."""
    from gr00t_policy.embodiment import parse_embodiment

    data = embodiment_with_slot(G1_YAML, SLOT).to_dict()
    assert data["state_keys"][1]["key"] == "left_arm"  # state columns 3..9
    data["state_keys"][1]["normalization"] = "sin_cos"
    sin_cos = parse_embodiment(data, "sin_cos test")
    out = tmp_path / "ours"
    convert_official(official, out, sin_cos, tag=DEFAULT_TAG, eagle_dir=eagle)
    proc = PolicyBundle.open(out, sin_cos).processor
    q = np.linspace(-1.0, 1.0, 31)
    state = proc.state(q)  # (max_state_dim,) = (40,)
    np.testing.assert_allclose(state[3:10], np.sin(q[3:10]), rtol=1e-6)
    np.testing.assert_allclose(state[10:17], np.cos(q[3:10]), rtol=1e-6)
    assert proc.state_width == 38 and not state[38:].any()
    for key in data["state_keys"]:  # every key: 62 values, more than the tiny head's 40
        key["normalization"] = "sin_cos"
    with pytest.raises(CheckpointError, match="state 62 / action 31 values but the checkpoint "
                                              "takes at most 40"):
        convert_official(official, tmp_path / "wide", parse_embodiment(data, "all sin_cos"),
                         tag=DEFAULT_TAG, eagle_dir=eagle)


def test_a_slot_the_official_checkpoint_never_trained_converts_but_does_not_drive(
        emb, eagle, tmp_path, caplog):
    """Isaac-GR00T initialises the embodiment-specific biases to zero and an unused slot keeps
    them so: such a slot converts (to start a fine-tune) but System 1's runner is refused."""
    from gr00t_policy.official import SLOT_BIASES
    from gr00t_policy.runtime.bundle import BundleError

    official = write_official_checkpoint(tmp_path / "base", shards=1, seed=5)
    path = official / "model.safetensors"
    tensors = load_file(str(path))
    for key in SLOT_BIASES:
        tensors[key][SLOT] = 0
    save_file(tensors, str(path))
    out = tmp_path / "ours"
    with caplog.at_level("WARNING"):
        convert_official(official, out, emb, tag=DEFAULT_TAG, eagle_dir=eagle)
    assert "slot 31 (tag 'new_embodiment')" in caplog.text and "never trained" in caplog.text
    assert json.loads((out / PROVENANCE_FILE).read_text())["slot_trained"] is False
    bundle = PolicyBundle.open(out, emb)
    with pytest.raises(BundleError, match=r"slot 31 \(unitree_g1\) was never trained.*"
                                          r"gr00t-train --init-from"):
        bundle.action_runner("torch")
    # One trained bias is enough: a trained slot has no all-zero layer.
    tensors[SLOT_BIASES[-1]][SLOT, 0] = 0.25
    save_file(tensors, str(path))
    convert_official(official, tmp_path / "trained", emb, tag=DEFAULT_TAG, eagle_dir=eagle)
    assert PolicyBundle.open(tmp_path / "trained", emb).untrained_slot is False


def test_single_file_checkpoint_converts_too(emb, eagle, tmp_path):
    official = write_official_checkpoint(tmp_path / "single", shards=1, seed=3)
    assert (official / "model.safetensors").is_file()
    report = convert_official(official, tmp_path / "ours", emb, tag=DEFAULT_TAG, eagle_dir=eagle)
    assert report.slot == SLOT and report.skipped_keys == []


def _shard_with(official: Path, key: str) -> Path:
    index = json.loads((official / "model.safetensors.index.json").read_text())
    return official / index["weight_map"][key]


def test_wrong_shape_names_the_key_and_both_shapes(official, eagle, emb, tmp_path):
    bad = _copy(official, tmp_path / "bad")
    key = "action_head.state_encoder.layer1.W"
    shard = _shard_with(bad, key)
    tensors = load_file(str(shard))
    tensors[key] = torch.zeros(32, 30, 48, dtype=torch.bfloat16)
    save_file(tensors, str(shard))
    with pytest.raises(CheckpointError,
                       match=r"state_encoder\.layer1\.W' has shape \[32, 30, 48\].*\[32, 40, 48\]"):
        convert_official(bad, tmp_path / "out", emb, tag=DEFAULT_TAG, eagle_dir=eagle)
    assert not (tmp_path / "out").exists()


def test_missing_key_is_named(official, eagle, emb, tmp_path):
    bad = _copy(official, tmp_path / "bad")
    key = "backbone.model.mlp1.3.bias"
    shard = _shard_with(bad, key)
    tensors = load_file(str(shard))
    del tensors[key]
    save_file(tensors, str(shard))
    index = json.loads((bad / "model.safetensors.index.json").read_text())
    del index["weight_map"][key]
    (bad / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match=r"missing key 'backbone\.model\.mlp1\.3\.bias' "
                                              r"\(config expects shape \[64\]\)"):
        convert_official(bad, tmp_path / "out", emb, tag=DEFAULT_TAG, eagle_dir=eagle)


def test_tensors_of_other_layouts_are_refused(emb, eagle, tmp_path):
    later = write_official_checkpoint(tmp_path / "n15", shards=1,
                                      extra={"action_head.vlln.weight": (64,)})
    with pytest.raises(CheckpointError, match="later GR00T version"):
        convert_official(later, tmp_path / "a", emb, tag=DEFAULT_TAG, eagle_dir=eagle)
    stray = write_official_checkpoint(tmp_path / "stray", shards=1,
                                      extra={"backbone.model.extra_proj.weight": (4, 4)})
    with pytest.raises(CheckpointError, match=r"does not have, e\.g\. \['backbone\.model\.extra_proj"):
        convert_official(stray, tmp_path / "b", emb, tag=DEFAULT_TAG, eagle_dir=eagle)


def test_missing_tokenizer_file_is_named_with_its_origin(official, eagle, emb, tmp_path):
    partial = _copy(eagle, tmp_path / "eagle")
    (partial / "merges.txt").unlink()
    with pytest.raises(CheckpointError, match=r"no tokenizer\.json and no merges\.txt.*"
                                              r"Isaac-GR00T.*eagle2_hg_model"):
        convert_official(official, tmp_path / "out", emb, tag=DEFAULT_TAG, eagle_dir=partial)


def test_tag_and_slot_errors_say_what_to_change(official, eagle, emb, tmp_path):
    g1 = embodiment_with_slot(G1_YAML, 0)
    with pytest.raises(CheckpointError, match=r"slot is 0 .* slot 31: set `slot: 31`"):
        convert_official(official, tmp_path / "a", g1, tag=DEFAULT_TAG, eagle_dir=eagle)
    with pytest.raises(CheckpointError, match=r"no statistics for tag 'gr1'.*\['new_embodiment'\]"):
        convert_official(official, tmp_path / "b", embodiment_with_slot(G1_YAML, 24), tag="gr1",
                         eagle_dir=eagle)
    with pytest.raises(CheckpointError, match="'unitree_g1' has no slot.*--slot"):
        convert_official(official, tmp_path / "c", emb, eagle_dir=eagle)  # the YAML's own tag


def test_statistics_that_would_land_on_other_joints_or_relative_actions_are_refused(
        official, eagle, emb, tmp_path):
    from gr00t_policy.testing.official import G1_KEY_DIMS

    # Two keys of other widths with the YAML's total (4 + 6 = 3 + 7): the sizes agree, the
    # joints do not.
    dims = {**G1_KEY_DIMS, "waist": 4, "left_arm": 6}
    shifted = write_official_checkpoint(tmp_path / "shifted", shards=1,
                                        tags={DEFAULT_TAG: {"state": dims, "action": dims}})
    with pytest.raises(CheckpointError, match=r"state key 'waist': tag 'new_embodiment'.s "
                                              r"statistics are 4 wide but .* lists 3 joints"):
        convert_official(shifted, tmp_path / "a", emb, tag=DEFAULT_TAG, eagle_dir=eagle)
    for change, words in ((("absolute", False), r"action key 'left_arm'.*relative \(delta\)"),
                          (("rotation_type", "quaternion"), r"as a rotation \('quaternion'\)")):
        bad = _copy(official, tmp_path / f"bad_{change[0]}")
        path = bad / "experiment_cfg" / "metadata.json"
        meta = json.loads(path.read_text())
        meta[DEFAULT_TAG]["modalities"]["action"]["left_arm"][change[0]] = change[1]
        path.write_text(json.dumps(meta))
        with pytest.raises(CheckpointError, match=words):
            convert_official(bad, tmp_path / f"out_{change[0]}", emb, tag=DEFAULT_TAG,
                             eagle_dir=eagle)
    # Recorded at 30 fps, played at the YAML's 20 Hz rows: 1.5 times as slow.
    bad = _copy(official, tmp_path / "bad_fps")
    path = bad / "experiment_cfg" / "metadata.json"
    meta = json.loads(path.read_text())
    meta[DEFAULT_TAG]["modalities"]["video"]["ego_view"]["fps"] = 30.0
    path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"action_dt is 0.05 s but tag 'new_embodiment' "
                                              r"was recorded at 30 fps.*1.50 times as slow as learnt.*"
                                              r"action_dt: 0.0333333"):
        convert_official(bad, tmp_path / "out_fps", emb, tag=DEFAULT_TAG, eagle_dir=eagle)


def test_weights_left_as_git_lfs_pointers_or_cut_short_say_so(official, eagle, emb, tmp_path,
                                                             capsys):
    pointer = _copy(official, tmp_path / "lfs")
    shard = sorted(pointer.glob("model-*.safetensors"))[0]
    shard.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0123\n"
                     "size 4321\n")
    with pytest.raises(CheckpointError, match=r"model-00001-of-00002.safetensors is a Git LFS "
                                              r"pointer.*git lfs pull"):
        convert_official(pointer, tmp_path / "a", emb, tag=DEFAULT_TAG, eagle_dir=eagle)
    cut = _copy(official, tmp_path / "cut")
    shard = sorted(cut.glob("model-*.safetensors"))[1]
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"00002.safetensors is not a readable safetensors "
                                              r"file.*complete"):
        convert_official(cut, tmp_path / "b", emb, tag=DEFAULT_TAG, eagle_dir=eagle)
    (cut / "model.safetensors.index.json").write_text('{"weight_map": ')
    argv = ["convert", str(cut), str(tmp_path / "c"), "--embodiment", str(G1_YAML), "--tag",
            DEFAULT_TAG, "--eagle-dir", str(eagle), "--slot", str(SLOT)]
    assert cli.main(argv) == 2  # an error line, not a traceback
    assert "model.safetensors.index.json is not valid JSON" in capsys.readouterr().err


def test_cameras_named_otherwise_than_the_training_videos_are_warned_about(
        official, eagle, tmp_path, caplog):
    emb = embodiment_with_slot(G1_YAML, SLOT)  # its camera: "head"; the tag's video: ego_view
    with caplog.at_level("WARNING"):
        convert_official(official, tmp_path / "out", emb, tag=DEFAULT_TAG, eagle_dir=eagle)
    assert "names its cameras ['head'] but tag 'new_embodiment' was trained on video keys " \
           "['ego_view']" in caplog.text


def test_cli_convert(official, eagle, tmp_path, capsys):
    yaml = tmp_path / "g1.yaml"
    text = G1_YAML.read_text().replace("\nslot: 0\n", f"\nslot: {SLOT}\n")
    assert f"slot: {SLOT}" in text
    yaml.write_text(text)
    out = tmp_path / "ours"
    argv = ["convert", str(official), str(out), "--embodiment", str(yaml), "--tag", DEFAULT_TAG,
            "--eagle-dir", str(eagle)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "slot 31" in printed
    assert "state columns: waist[0:3] min_max, left_arm[3:10] min_max," in printed
    assert cli.main(argv) == 2  # OUT_DIR is no longer empty
    assert "--force" in capsys.readouterr().err
    assert cli.main(argv + ["--force"]) == 0
