"""The official GR00T N1 layout: our key map and config mapping against the fixture.

The fixture (gr00t_policy/testing/data/gr00t_n1_2b_layout.json) was written from
Isaac-GR00T's source and the Hugging Face model page, not from our model, so these tests
check our code against the published layout rather than against itself.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file, save_file

from gr00t_policy.backbone_config import BackboneConfig
from gr00t_policy.checkpoint import CheckpointError, compute_backbone_id, load_checkpoint
from gr00t_policy.official import (
    OfficialConfigError,
    check_official_compatible,
    load_official_gr00t_n1,
    official_key_shapes,
    policy_config_from_official,
    read_official_config,
)
from gr00t_policy.policy import build_policy
from gr00t_policy.policy_config import PolicyConfig, get_preset
from gr00t_policy.prompt import build_nano_tokenizer
from gr00t_policy.testing.layout import TINY_SIZES, layout_shapes, load_layout, resolve_sizes
from gr00t_policy.testing.official import eagle_config_json, official_config_json
from gr00t_policy.testing.policies import tiny_policy

torch.set_num_threads(1)

PUBLISHED_PARAMETERS = 2_190_016_752


def _meta_shapes(config: PolicyConfig) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in build_policy(config, "meta").state_dict().items()}


def _files(shapes) -> dict:
    """A {key: file} map standing in for stored tensors (policy_config_from_official counts
    the stored language-model layers from the keys alone)."""
    return {k: None for k in shapes}


# The fixture itself -----------------------------------------------------------------------------


def test_fixture_cites_a_source_for_every_fact():
    layout = load_layout()
    sources = set(layout["sources"])
    cited = [e["source"] for e in layout["tensors"]] + [s["source"] for s in layout["sizes"].values()]
    cited += [e["source"] for e in layout["absent"]] + [c["source"] for c in layout["constraints"]]
    cited += [v["source"] for v in layout["config_json"].values()]
    assert set(cited) <= sources, set(cited) - sources
    for name, src in layout["sources"].items():
        assert ("repo" in src and len(src["commit"]) == 40) or "url" in src, name
    assert layout["not_found"], "what could not be found is listed, not guessed"
    keys = [e["key"] for e in layout["tensors"]]
    assert len(keys) == len(set(keys))


def test_fixture_at_published_sizes_fills_the_published_file():
    """2,190,016,752 values at 2 bytes each: the 4.38 GB model.safetensors on the model page."""
    layout = load_layout()
    shapes = layout_shapes(layout, resolve_sizes(layout))
    total = sum(math.prod(s) for s in shapes.values())
    assert total == PUBLISHED_PARAMETERS
    check = layout["total_parameters_check"]
    assert abs(total * check["bytes_per_value"] / 1e9 - check["file_size_gb"]) < 0.005


def test_fixture_sizes_check_their_constraints():
    layout = load_layout()
    with pytest.raises(ValueError, match="must be equal.*input_embedding_dim"):
        resolve_sizes(layout, {**TINY_SIZES, "input_embedding_dim": 64})
    with pytest.raises(ValueError, match="unknown layout size"):
        resolve_sizes(layout, {"vision_width": 3})
    with pytest.raises(ValueError, match="derived"):
        resolve_sizes(layout, {"dit_inner_dim": 3})


# Our layout against the fixture ------------------------------------------------------------------


def test_full_preset_keys_and_shapes_match_the_fixture():
    cfg = get_preset("gr00t-n1-2b")
    layout = load_layout()
    published = layout_shapes(layout, resolve_sizes(layout))
    ours = official_key_shapes(cfg)
    assert set(ours) == set(published), (set(ours) ^ set(published))
    wrong = {k: (ours[k], published[k]) for k in ours if ours[k] != published[k]}
    assert not wrong
    assert _meta_shapes(cfg) == published  # the model the nodes build, on the meta device
    assert ours["backbone.model.mlp1.1.weight"] == (2048, 4608)
    assert not any("decode_layer" in k or "lm_head" in k for k in ours)


def test_tiny_layout_maps_to_a_config_with_the_fixtures_keys():
    layout = load_layout()
    sizes = resolve_sizes(layout, TINY_SIZES)
    config = policy_config_from_official(
        official_config_json(sizes), eagle_config_json(sizes),
        _files(layout_shapes(layout, sizes)), base=get_preset("gr00t-n1-2b"))
    assert config.backbone.select_layer == TINY_SIZES["select_layer"]
    assert config.action_head.num_embodiments == 32
    expected = layout_shapes(layout, sizes)
    assert official_key_shapes(config) == expected
    assert _meta_shapes(config) == expected


def test_published_config_files_give_exactly_the_preset():
    """config.json's action_head_cfg and Eagle-2's config (fixture facts) -> gr00t-n1-2b."""
    layout = load_layout()
    sizes = resolve_sizes(layout)
    official = {k: v["value"] for k, v in layout["config_json"].items() if "." not in k}
    official["backbone_cfg"] = {"model_name": layout["config_json"]["backbone_cfg.model_name"]["value"]}
    eagle = eagle_config_json(sizes)
    for dotted, fact in layout["eagle_config"].items():  # the published values, not ours
        *parents, leaf = dotted.split(".")
        node = eagle
        for p in parents:
            node = node[p]
        node[leaf] = fact["value"]
    config = policy_config_from_official(official, eagle, _files(layout_shapes(layout, sizes)),
                                         base=get_preset("gr00t-n1-2b"))
    assert config == get_preset("gr00t-n1-2b")


def test_official_layout_needs_one_dit_width():
    cfg = get_preset("gr00t-n1-2b")
    check_official_compatible(cfg)
    narrow = PolicyConfig(BackboneConfig(output_dim=1024),
                          cfg.action_head.replace(cross_attention_dim=1024))
    with pytest.raises(OfficialConfigError, match="cross_attention_dim=1024.*1536"):
        official_key_shapes(narrow)


def test_config_mapping_names_the_bad_field():
    sizes = resolve_sizes(load_layout(), TINY_SIZES)
    files = _files(layout_shapes(load_layout(), sizes))
    base = get_preset("gr00t-n1-2b")
    bad = official_config_json(sizes)
    bad["action_head_cfg"]["diffusion_model_cfg"]["positional_embeddings"] = "sinusoidal"
    with pytest.raises(OfficialConfigError, match="positional_embeddings='sinusoidal'"):
        policy_config_from_official(bad, None, files, base=base)
    bad = official_config_json(sizes)
    bad["action_head_cfg"]["diffusion_model_cfg"]["output_dim"] = 7
    with pytest.raises(OfficialConfigError, match="output_dim=7 must equal hidden_size=48"):
        policy_config_from_official(bad, None, files, base=base)
    bad = official_config_json(sizes)
    bad["backbone_cfg"]["select_layer"] = 5
    with pytest.raises(OfficialConfigError, match="select_layer=5 but only 2"):
        policy_config_from_official(bad, None, files, base=base)
    for name, value in (("reproject_vision", True), ("scale_image_resolution", 2),
                        ("remove_llm", True)):
        bad = official_config_json(sizes)
        bad["backbone_cfg"][name] = value
        with pytest.raises(OfficialConfigError, match=f"backbone_cfg.{name}={value!r}; only"):
            policy_config_from_official(bad, None, files, base=base)
    eagle = eagle_config_json(sizes)
    del eagle["vision_config"]["num_attention_heads"]
    with pytest.raises(OfficialConfigError, match="field 'num_attention_heads' of vision_config"):
        policy_config_from_official(official_config_json(sizes), eagle, files, base=base)
    eagle = eagle_config_json(sizes)
    eagle["template"] = "llama3-chat"
    with pytest.raises(OfficialConfigError, match="template='llama3-chat'"):
        policy_config_from_official(official_config_json(sizes), eagle, files, base=base)


def test_later_gr00t_versions_are_refused(tmp_path):
    sizes = resolve_sizes(load_layout(), TINY_SIZES)
    cfg = official_config_json(sizes)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    assert read_official_config(tmp_path)["model_type"] == "gr00t_n1"
    cfg["action_head_cfg"]["vl_self_attention_cfg"] = {"num_layers": 4}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(OfficialConfigError, match="later GR00T version"):
        read_official_config(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "model_type": "gr00t_n1_5"}))
    with pytest.raises(OfficialConfigError, match="'gr00t_n1_5'"):
        read_official_config(tmp_path)


def test_our_loader_points_an_official_directory_at_the_converter(tmp_path):
    sizes = resolve_sizes(load_layout(), TINY_SIZES)
    (tmp_path / "config.json").write_text(json.dumps(official_config_json(sizes)))
    with pytest.raises(CheckpointError, match="official GR00T checkpoint.*gr00t-policy convert"):
        load_checkpoint(tmp_path)


# load_official_gr00t_n1 (in memory, no conversion) -------------------------------------------


def tiny_policy_config() -> PolicyConfig:
    return tiny_policy(dict(vision_num_layers=1, lm_num_layers=4, lm_max_position_embeddings=128))
def _write_fake_official(cfg: PolicyConfig, out, seed: int = 0, shards: int = 2) -> dict:
    """A GR00T-N1-style directory from a tiny model, with the tensors the loader skips."""
    torch.manual_seed(seed)
    state = {k: v.contiguous() for k, v in build_policy(cfg).state_dict().items()}
    extra = {
        "action_head.decode_layer.weight": torch.randn(6, 32),
        "action_head.decode_layer.bias": torch.randn(6),
        "backbone.model.language_model.lm_head.weight": torch.randn(512, 64),
    }
    for n in range(cfg.backbone.select_layer, cfg.backbone.lm_num_layers):
        extra[f"backbone.model.language_model.model.layers.{n}.mlp.up_proj.weight"] = torch.randn(128, 64)
    everything = {**state, **extra}
    keys = sorted(everything)
    out.mkdir(parents=True, exist_ok=True)
    weight_map = {}
    for i in range(shards):
        name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = {k: everything[k] for k in keys[i::shards]}
        save_file(part, str(out / name))
        weight_map.update({k: name for k in part})
    (out / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return state


def test_official_loader_reads_sharded_layout(tmp_path):
    cfg = tiny_policy_config()
    assert official_key_shapes(cfg) == {
        k: tuple(v.shape) for k, v in build_policy(cfg, "meta").state_dict().items()
    }
    state = _write_fake_official(cfg, tmp_path / "official")
    build_nano_tokenizer(cfg.backbone).save_pretrained(str(tmp_path / "official"))
    ckpt = load_official_gr00t_n1(tmp_path / "official", config=cfg)
    loaded = ckpt.policy.state_dict()
    assert set(loaded) == set(state)
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    assert any("decode_layer" in k for k in ckpt.skipped_keys)
    assert any(".layers.3." in k for k in ckpt.skipped_keys)
    assert "backbone.model.language_model.lm_head.weight" in ckpt.skipped_keys
    assert ckpt.backbone_id == compute_backbone_id(cfg.backbone, state)
    assert ckpt.policy.backbone.image_context_id is not None
    head_only = load_official_gr00t_n1(tmp_path / "official", config=cfg, parts=("action_head",),
                                       dtype="bfloat16")
    assert head_only.policy.backbone is None
    assert head_only.policy.action_head.model.proj_out_2.weight.dtype == torch.bfloat16


def test_official_loader_errors_name_the_key(tmp_path):
    cfg = tiny_policy_config()
    _write_fake_official(cfg, tmp_path / "o", shards=1)
    shard = tmp_path / "o" / "model-00001-of-00001.safetensors"
    tensors = load_file(str(shard))
    tensors["action_head.model.proj_out_2.weight"] = torch.zeros(30, 32)
    save_file(tensors, str(shard))
    with pytest.raises(CheckpointError, match=r"proj_out_2\.weight.*\[30, 32\].*\[32, 32\]"):
        load_official_gr00t_n1(tmp_path / "o", config=cfg)
    del tensors["action_head.model.proj_out_2.weight"]
    del tensors["backbone.model.mlp1.3.bias"]
    save_file(tensors, str(shard))
    index = json.loads((tmp_path / "o" / "model.safetensors.index.json").read_text())
    index["weight_map"] = {k: shard.name for k in tensors}
    (tmp_path / "o" / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match=r"missing key 'backbone\.model\.mlp1\.3\.bias'"):
        load_official_gr00t_n1(tmp_path / "o", config=cfg)
    with pytest.raises(CheckpointError, match="neither"):
        load_official_gr00t_n1(tmp_path / "nothing_here", config=cfg)

