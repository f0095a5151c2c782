"""Our checkpoint format, random checkpoints and backbone_id (official layout: test_official.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from gr00t_policy.backbone import BackboneRunner
from gr00t_policy.backbone_config import BackboneConfig
from gr00t_policy.checkpoint import (
    FORMAT,
    CheckpointError,
    check_embodiments,
    compute_backbone_id,
    load_checkpoint,
    make_random_checkpoint,
    save_checkpoint,
)
from gr00t_policy.normalization import Normalizer
from gr00t_policy.policy import build_policy
from gr00t_policy.policy_config import PolicyConfig, get_preset
from gr00t_policy.testing.policies import tiny_policy

torch.set_num_threads(1)

CONFIG = Path(__file__).resolve().parents[3] / "config"


def tiny_policy_config() -> PolicyConfig:
    return tiny_policy(dict(vision_num_layers=1, lm_num_layers=4, lm_max_position_embeddings=128))


@pytest.fixture(scope="module")
def nano_ckpt(tmp_path_factory):
    return make_random_checkpoint(tmp_path_factory.mktemp("nano"), "nano", seed=0)


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(120, 160, 3), dtype=np.uint8)


# Our format -----------------------------------------------------------------------------------


def test_random_checkpoint_layout(nano_ckpt):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "experiment_cfg/metadata.json"):
        assert (nano_ckpt / name).is_file(), name
    cfg = json.loads((nano_ckpt / "config.json").read_text())
    assert cfg["format"] == "gr00t_ros/1" and cfg["preset"] == "nano"
    assert cfg["backbone"] == get_preset("nano").backbone.to_dict()
    assert cfg["action_head"] == get_preset("nano").action_head.to_dict()
    assert len(cfg["backbone_id"]) == 16 and int(cfg["backbone_id"], 16) >= 0
    g1 = cfg["embodiments"]["unitree_g1"]
    assert (g1["slot"], g1["action_dt"], g1["state_dim"], g1["action_dim"]) == (0, 0.05, 31, 31)
    meta = json.loads((nano_ckpt / "experiment_cfg/metadata.json").read_text())
    entry = meta["unitree_g1"]
    assert entry["embodiment_tag"] == "unitree_g1"
    dims = sum(v["shape"][0] for v in entry["modalities"]["state"].values())
    assert dims == 31
    norm = Normalizer.from_metadata(meta, "unitree_g1", g1["state_keys"], g1["action_keys"])
    assert norm.state_dim == norm.action_dim == 31
    stats = entry["statistics"]["action"]["left_arm"]
    assert all(lo < hi for lo, hi in zip(stats["min"], stats["max"]))


def test_load_round_trip_is_bit_identical(nano_ckpt, tmp_path):
    ckpt = load_checkpoint(nano_ckpt)
    stored = load_file(str(nano_ckpt / "model.safetensors"))
    state = ckpt.policy.state_dict()
    assert set(state) == set(stored)
    assert all(torch.equal(state[k], stored[k]) for k in stored)
    assert ckpt.backbone_id == compute_backbone_id(ckpt.config.backbone, state)
    # Save again and load: same tensors, same backbone_id, same outputs.
    again_dir = save_checkpoint(
        ckpt.policy, tmp_path / "again", tokenizer=ckpt.tokenizer, metadata=ckpt.metadata,
        embodiments=ckpt.embodiments, preset="nano",
    )
    again = load_checkpoint(again_dir)
    assert again.backbone_id == ckpt.backbone_id
    assert again.embodiments == ckpt.embodiments and again.metadata == ckpt.metadata
    a = BackboneRunner(nano_ckpt).encode([_image(0)], "touch the red cube with your left hand")
    b = BackboneRunner(again_dir).encode([_image(0)], "touch the red cube with your left hand")
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    head_a, head_b = ckpt.policy.action_head, again.policy.action_head
    h = ckpt.config.action_head
    feats, mask = torch.from_numpy(a[0])[None], torch.from_numpy(a[1])[None]
    state_in = torch.randn(1, 1, h.max_state_dim, generator=torch.Generator().manual_seed(1))
    noise = torch.randn(1, h.action_horizon, h.max_action_dim, generator=torch.Generator().manual_seed(2))
    slot = torch.tensor([0])
    assert torch.equal(head_a.sample(feats, mask, state_in, slot, noise, 4),
                       head_b.sample(feats, mask, state_in, slot, noise, 4))


def test_action_head_only_load_builds_no_backbone(nano_ckpt):
    ckpt = load_checkpoint(nano_ckpt, parts=("action_head",))
    assert ckpt.policy.backbone is None and ckpt.tokenizer is None
    assert ckpt.policy.action_head is not None
    assert all(k.startswith("action_head.") for k in ckpt.policy.state_dict())
    assert ckpt.backbone_id == json.loads((nano_ckpt / "config.json").read_text())["backbone_id"]
    backbone_only = load_checkpoint(nano_ckpt, parts=("backbone",))
    assert backbone_only.policy.action_head is None
    rope = backbone_only.policy.backbone.model.language_model.model.rotary_emb.inv_freq
    assert rope.device.type == "cpu" and torch.isfinite(rope).all()


def test_same_seed_same_id_other_seed_other_id(nano_ckpt, tmp_path):
    cfg0 = json.loads((nano_ckpt / "config.json").read_text())
    same = json.loads((make_random_checkpoint(tmp_path / "a", seed=0) / "config.json").read_text())
    other = json.loads((make_random_checkpoint(tmp_path / "b", seed=1) / "config.json").read_text())
    assert same["backbone_id"] == cfg0["backbone_id"] != other["backbone_id"]


def test_backbone_id_covers_config_and_every_byte():
    cfg = tiny_policy_config()
    torch.manual_seed(0)
    policy = build_policy(cfg)
    state = policy.state_dict()
    base = compute_backbone_id(cfg.backbone, state)
    # Same id from the backbone module's own state dict (no "backbone." prefix).
    assert compute_backbone_id(cfg.backbone, policy.backbone.state_dict()) == base
    # Action head tensors do not count.
    changed_head = dict(state)
    changed_head["action_head.position_embedding.weight"] = state[
        "action_head.position_embedding.weight"
    ] + 1
    assert compute_backbone_id(cfg.backbone, changed_head) == base
    tweaked = dict(state)
    w = state["backbone.linear.weight"].clone()
    w[3, 5] = torch.nextafter(w[3, 5], torch.tensor(10.0))
    tweaked["backbone.linear.weight"] = w
    assert compute_backbone_id(cfg.backbone, tweaked) != base
    other_cfg = BackboneConfig.from_dict({**cfg.backbone.to_dict(), "max_tokens": 40})
    assert compute_backbone_id(other_cfg, state) != base
    half = {k: v.half() if k.startswith("backbone.") else v for k, v in state.items()}
    assert compute_backbone_id(cfg.backbone, half) != base
    with pytest.raises(ValueError, match="no backbone tensors"):
        compute_backbone_id(cfg.backbone, {})


def test_shape_mismatch_names_key_and_both_shapes(nano_ckpt, tmp_path):
    bad = make_random_checkpoint(tmp_path / "bad", seed=0)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["action_head"]["max_state_dim"] = 48
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"state_encoder\.layer1\.W.*\[4, 64, 128\].*\[4, 48, 128\]"):
        load_checkpoint(bad, parts=("action_head",))


def test_missing_key_is_named(nano_ckpt, tmp_path):
    bad = make_random_checkpoint(tmp_path / "bad", seed=0)
    tensors = load_file(str(bad / "model.safetensors"))
    del tensors["backbone.linear.bias"]
    save_file(tensors, str(bad / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"missing key 'backbone\.linear\.bias'"):
        load_checkpoint(bad)
    # The action head alone still loads.
    load_checkpoint(bad, parts=("action_head",))
    tensors["backbone.linear.bias"] = torch.zeros(128)
    tensors["stray.weight"] = torch.zeros(2)
    save_file(tensors, str(bad / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"unexpected key\(s\) \['stray\.weight'\]"):
        load_checkpoint(bad, parts=("action_head",))


def test_weights_holding_nan_are_refused_naming_the_tensor(tmp_path):
    # They loaded, and every chunk came out NaN (blamed on /joint_states at run time).
    bad = make_random_checkpoint(tmp_path / "bad", seed=0)
    tensors = load_file(str(bad / "model.safetensors"))
    key = next(k for k in tensors if k.startswith("action_head.") and tensors[k].ndim == 2)
    tensors[key][0, 0] = float("nan")
    save_file(tensors, str(bad / "model.safetensors"))
    with pytest.raises(CheckpointError, match=rf"1 tensor\(s\) hold NaN or inf, e\.g\. "
                                              rf"\['{re.escape(key)}'\].*Fix:"):
        load_checkpoint(bad, parts=("action_head",))


def test_weights_of_an_integer_dtype_are_refused_naming_the_tensor(tmp_path):
    # A torch traceback ("Only Tensors of floating point ... can require gradients"), which
    # System 1 reported as "configure failed unexpectedly".
    bad = make_random_checkpoint(tmp_path / "bad", seed=0)
    tensors = load_file(str(bad / "model.safetensors"))
    key = next(k for k in tensors if k.startswith("action_head.") and tensors[k].ndim == 2)
    tensors[key] = tensors[key].to(torch.int32)
    save_file(tensors, str(bad / "model.safetensors"))
    with pytest.raises(CheckpointError, match=rf"tensor '{re.escape(key)}' is stored as int32 "
                                              r"\(1 tensor\(s\) not floating point\).*Fix:"):
        load_checkpoint(bad, parts=("action_head",))


@pytest.mark.parametrize("edit, words", [
    ({"num_heads": 2, "head_dim": 64}, r"head_dim is 64 in config\.json but 32 in the record; "
                                       r"num_heads is 2 in config\.json but 4 in the record"),
    ({"num_timestep_buckets": 10}, r"num_timestep_buckets is 10 in config\.json but 1000"),
    ({"action_horizon": 8}, r"action_horizon is 8 in config\.json but 16"),
])
def test_an_action_head_config_edited_after_saving_is_refused(tmp_path, edit, words):
    # None of these shapes a tensor: they loaded, and every action changed.
    from gr00t_policy.embodiment import load_embodiment
    from gr00t_policy.runtime.bundle import PolicyBundle
    from gr00t_policy.testing.checkpoints import make_checkpoint_for

    g1 = load_embodiment(CONFIG / "unitree_g1.yaml")
    ckpt = make_checkpoint_for(tmp_path / "ckpt", [CONFIG / "unitree_g1.yaml"])
    path = ckpt / "config.json"
    cfg = json.loads(path.read_text())
    cfg["action_head"].update(edit)
    path.write_text(json.dumps(cfg))
    for load in (lambda: load_checkpoint(ckpt, parts=("action_head",)),
                 lambda: PolicyBundle.open(ckpt, g1)):
        with pytest.raises(CheckpointError, match=r"ckpt: config\.json's action_head is not the "
                                                  r"one the weights were saved with "
                                                  r"\(model\.safetensors metadata "
                                                  r"action_head_config\): " + words + ".*Fix:"):
            load()


def test_an_action_head_config_is_compared_only_where_recorded(tmp_path):
    # The default step count is the runtime's to change; checkpoints saved before the record
    # (checkpoints/nano, conversions) load as before.
    ckpt = make_random_checkpoint(tmp_path / "ckpt", seed=0)
    path = ckpt / "config.json"
    cfg = json.loads(path.read_text())
    cfg["action_head"]["num_inference_steps"] = 8
    path.write_text(json.dumps(cfg))
    assert load_checkpoint(ckpt, parts=("action_head",)).config.action_head.num_inference_steps == 8
    cfg["action_head"].update(num_heads=2, head_dim=64)
    path.write_text(json.dumps(cfg))
    weights = ckpt / "model.safetensors"
    save_file(load_file(str(weights)), str(weights), metadata={"format": "pt"})  # no record
    load_checkpoint(ckpt, parts=("action_head",))
    load_checkpoint(Path(__file__).resolve().parents[3] / "checkpoints" / "nano",
                    parts=("action_head",))


def test_unusable_statistics_are_refused_when_the_bundle_opens(tmp_path):
    # They loaded: NaN made every chunk NaN (blamed on /joint_states), min > max sent the
    # arm rad beyond its range. The error names the file and the entry in it.
    from pathlib import Path

    from gr00t_policy.embodiment import load_embodiment
    from gr00t_policy.runtime.bundle import BundleError, PolicyBundle
    from gr00t_policy.testing.checkpoints import make_checkpoint_for

    g1_yaml = Path(__file__).resolve().parents[3] / "config" / "unitree_g1.yaml"
    ckpt = make_checkpoint_for(tmp_path / "ckpt", [g1_yaml])
    g1 = load_embodiment(g1_yaml)
    path = ckpt / "experiment_cfg/metadata.json"
    good = path.read_text()
    PolicyBundle.open(ckpt, g1)
    for where, value, words in (
            ("state", float("nan"), r"state\.left_arm\.min\[3\] is nan"),
            ("action", 10.0, r"action\.left_arm\.min\[3\] = 10 is above max\[3\]")):
        meta = json.loads(good)
        meta["unitree_g1"]["statistics"][where]["left_arm"]["min"][3] = value
        path.write_text(json.dumps(meta))
        with pytest.raises(BundleError, match=r"ckpt/experiment_cfg/metadata\.json: unitree_g1\."
                                              r"statistics\." + words + r".*Fix: .*retrain"):
            PolicyBundle.open(ckpt, g1)


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no config.json"):
        load_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(CheckpointError, match="load_official_gr00t_n1"):
        load_checkpoint(tmp_path)


def test_embodiment_validation():
    cfg = get_preset("nano")
    ok = {"slot": 0, "action_dt": 0.05, "state_dim": 31, "action_dim": 31}
    assert check_embodiments({"g1": ok}, cfg)["g1"]["slot"] == 0
    with pytest.raises(CheckpointError, match=r"slot=4.*\[0, 4\)"):
        check_embodiments({"g1": {**ok, "slot": 4}}, cfg)
    with pytest.raises(CheckpointError, match="already used by 'a'"):
        check_embodiments({"a": ok, "b": ok}, cfg)
    with pytest.raises(CheckpointError, match=r"action_dim=40.*max_action_dim"):
        check_embodiments({"g1": {**ok, "action_dim": 40}}, cfg)
    with pytest.raises(CheckpointError, match="action_dt"):
        check_embodiments({"g1": {**ok, "action_dt": 0}}, cfg)


def test_custom_embodiments_and_keys(tmp_path):
    emb = {
        "arm_a": {"slot": 1, "action_dt": 0.1, "state_dim": 8, "action_dim": 7,
                  "state_keys": [["joints", "mean_std"], ["gripper", "binary"]],
                  "state_key_dims": {"joints": 7, "gripper": 1},
                  "action_keys": [["joints", "q99"]], "action_key_dims": {"joints": 7}},
        "arm_b": {"slot": 2, "action_dt": 0.05, "state_dim": 5, "action_dim": 5},
    }
    path = make_random_checkpoint(tmp_path / "c", seed=3, embodiments=emb)
    ckpt = load_checkpoint(path, parts=("action_head",))
    assert set(ckpt.embodiments) == {"arm_a", "arm_b"} == set(ckpt.metadata)
    a = ckpt.embodiments["arm_a"]
    norm = Normalizer.from_metadata(ckpt.metadata, "arm_a", a["state_keys"], a["action_keys"])
    assert (norm.state_dim, norm.action_dim) == (8, 7)
    assert set(ckpt.metadata["arm_b"]["statistics"]["state"]) == {"state"}
    bad = {"x": {**emb["arm_a"], "state_key_dims": {"joints": 6, "gripper": 1}}}
    with pytest.raises(CheckpointError, match="sum to 7.*state_dim is 8"):
        make_random_checkpoint(tmp_path / "d", embodiments=bad)


# config.json's structure --------------------------------------------------------------------


def _edited_copy(src, dst, edit):
    """A copy of checkpoint ``src`` at ``dst`` (weights linked) whose config.json ``edit``
    changed in place."""
    import shutil

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("model.safetensors"))
    (dst / "model.safetensors").symlink_to(src / "model.safetensors")
    cfg = json.loads((dst / "config.json").read_text())
    edit(cfg)
    (dst / "config.json").write_text(json.dumps(cfg))
    return dst


# (edit, the key the error names, what it says was expected): each was a traceback
# (AttributeError, TypeError, "invalid literal for int()") from deep in a loader.
MALFORMED = {
    "embodiments_list": (lambda c: c.update(embodiments=[]), r"embodiments", "JSON object"),
    "embodiment_entry_str": (lambda c: c["embodiments"].update(unitree_g1="x"),
                             r"embodiments\['unitree_g1'\]", "JSON object"),
    "num_embodiments_str": (lambda c: c["action_head"].update(num_embodiments="four"),
                            r"action_head\.num_embodiments", "positive int"),
    "action_head_list": (lambda c: c.update(action_head=[]), r"action_head", "JSON object"),
    "backbone_missing": (lambda c: c.pop("backbone"), r"backbone", "key is missing"),
    "token_stats_list": (lambda c: c.update(token_stats=[1]), r"token_stats", "object of"),
    "token_stats_str": (lambda c: c.update(token_stats={"rms_min": "x", "rms_max": 1.0,
                                                        "abs_max": 1.0, "samples": 3}),
                        r"token_stats", "numbers"),
    "action_dt_str": (lambda c: c["embodiments"]["unitree_g1"].update(action_dt="0.05"),
                      r"embodiments\['unitree_g1'\]\.action_dt", "positive number"),
    "backbone_id_list": (lambda c: c.update(backbone_id=[1]), r"backbone_id", "a string"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_config_json_is_named_by_every_reader(nano_ckpt, tmp_path, case, capsys):
    """read_checkpoint_config (and so load_checkpoint, PolicyBundle.open and gr00t-policy
    info) refuses it as a CheckpointError naming the file, the key, what was expected and
    the fix."""
    from gr00t_policy import cli
    from gr00t_policy.checkpoint import read_checkpoint_config
    from gr00t_policy.embodiment import load_embodiment
    from gr00t_policy.runtime.bundle import PolicyBundle

    edit, key, expected = MALFORMED[case]
    bad = _edited_copy(nano_ckpt, tmp_path / "bad", edit)
    where = str(bad / "config.json")
    for read in (read_checkpoint_config, lambda d: load_checkpoint(d, parts=("action_head",)),
                 lambda d: PolicyBundle.open(d, load_embodiment(CONFIG / "unitree_g1.yaml"))):
        with pytest.raises(CheckpointError) as info:
            read(bad)
        message = str(info.value)
        assert where in message and re.search(key, message) and expected in message, message
        assert "Fix:" in message, message
    assert cli.main(["info", "--checkpoint", str(bad)]) == 2
    err = capsys.readouterr().err
    assert where in err and "Traceback" not in err


def test_the_launch_check_names_a_malformed_value_of_a_partial_config(tmp_path):
    """check_fits reads the raw file at launch (gr00t_bringup), where test configs hold only
    the action head's sizes and the embodiments: a malformed value there is named too."""
    from gr00t_policy.embodiment import load_embodiment
    from gr00t_policy.runtime.bundle import check_fits

    emb = load_embodiment(CONFIG / "unitree_g1.yaml")
    head = {"num_embodiments": 4, "max_state_dim": 64, "max_action_dim": 32}
    entry = {"slot": 0, "state_dim": 31, "action_dim": 31}  # no action_dt: still checked
    assert check_fits({"format": FORMAT, "action_head": head,
                       "embodiments": {"unitree_g1": entry}}, emb, "C/config.json")
    assert not check_fits({"model_type": "gr00t_n1"}, emb)  # not ours: left to the loader
    for config, key in (
            ({"format": FORMAT, "action_head": {**head, "num_embodiments": "four"}},
             r"action_head\.num_embodiments"),
            ({"format": FORMAT, "action_head": [], "embodiments": {}}, r"action_head"),
            ({"format": FORMAT, "action_head": head, "embodiments": []}, r"embodiments"),
            ({"format": FORMAT, "action_head": head, "embodiments": {"unitree_g1": "x"}},
             r"embodiments\['unitree_g1'\]")):
        with pytest.raises(CheckpointError, match=rf"C/config\.json: {key}"):
            check_fits(config, emb, "C/config.json")


# Atomic saves ---------------------------------------------------------------------------------


def _files(ckpt) -> dict[str, bytes]:
    return {str(p.relative_to(ckpt)): p.read_bytes() for p in sorted(ckpt.rglob("*"))
            if p.is_file()}


def test_a_save_cut_short_leaves_the_old_checkpoint_whole(tmp_path, monkeypatch):
    """A save killed while the weights are written (here: the writer fails half-way) used to
    have truncated model.safetensors in place: the only copy was lost and --resume could not
    go on. Now the old checkpoint is untouched, byte for byte, and still loads."""
    import safetensors.torch

    ckpt = make_random_checkpoint(tmp_path / "c", seed=0)
    before = _files(ckpt)
    newer = load_checkpoint(make_random_checkpoint(tmp_path / "other", seed=1))

    def half_written(tensors, path, metadata=None):
        with open(path, "wb") as f:
            f.write(b"\0" * 1000)
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(safetensors.torch, "save_file", half_written)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(newer.policy, ckpt, tokenizer=newer.tokenizer, metadata=newer.metadata,
                        embodiments=newer.embodiments, preset="nano")
    assert _files(ckpt) == before  # nothing replaced, no scratch left behind
    load_checkpoint(ckpt)


def test_config_json_is_replaced_last_and_a_cut_between_renames_still_loads(tmp_path,
                                                                           monkeypatch):
    """The files replace their namesakes weights first, config.json last: a loader that finds
    the new config.json finds the new weights beside it. A save killed just before that
    last rename leaves the new weights under the old config (same model config: loads)."""
    import os

    from gr00t_policy import atomic_write

    ckpt = make_random_checkpoint(tmp_path / "c", seed=0)
    old_config = (ckpt / "config.json").read_bytes()
    newer = load_checkpoint(make_random_checkpoint(tmp_path / "other", seed=1))
    replaced = []
    real_replace = os.replace

    def replace(src, dst):
        if os.path.basename(dst) == "config.json":
            raise KeyboardInterrupt("killed before the last rename")
        replaced.append(os.path.relpath(dst, ckpt))
        real_replace(src, dst)

    monkeypatch.setattr(atomic_write.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(newer.policy, ckpt, tokenizer=newer.tokenizer, metadata=newer.metadata,
                        embodiments=newer.embodiments, preset="nano")
    assert replaced[-2:] == ["model.safetensors", "experiment_cfg/metadata.json"]
    assert "tokenizer.json" in replaced
    assert (ckpt / "config.json").read_bytes() == old_config
    loaded = load_checkpoint(ckpt)
    new_state = newer.policy.state_dict()
    assert all(torch.equal(v, new_state[k]) for k, v in loaded.policy.state_dict().items())
    monkeypatch.undo()
    # The next save completes, and clears what a save killed outright (SIGKILL: no cleanup)
    # left in its scratch directory.
    (ckpt / ".save-in-progress").mkdir()
    (ckpt / ".save-in-progress" / "model.safetensors").write_bytes(b"\0" * 100)
    save_checkpoint(newer.policy, ckpt, tokenizer=newer.tokenizer, metadata=newer.metadata,
                    embodiments=newer.embodiments, preset="nano")
    assert json.loads((ckpt / "config.json").read_text())["backbone_id"] == newer.backbone_id
    assert not (ckpt / ".save-in-progress").exists()


def test_write_atomically_keeps_the_old_file_when_the_writer_fails(tmp_path):
    from gr00t_policy.atomic_write import write_atomically, write_text_atomically

    path = write_text_atomically(tmp_path / "a.json", "old")

    def fails(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, fails)
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
