"""Write directories in the official GR00T N1 layout, with random weights, at any size.

The tensors come from the layout fixture (`gr00t_policy.testing.layout`), never from our
model, so converting what this writes tests the converter against the published layout::

    official = write_official_checkpoint(tmp / "official")       # tiny sizes, 2 shards
    eagle = write_eagle_dir(tmp / "eagle2_hg_model")              # tokenizer + Eagle config
    emb = embodiment_with_slot("config/unitree_g1.yaml", 31)      # new_embodiment's slot
    convert_official(official, tmp / "ours", emb, tag="new_embodiment", eagle_dir=eagle)

``write_official_checkpoint(..., sizes=resolve_sizes(load_layout()))`` writes the full
2.2 B-parameter layout (4.4 GB in bfloat16).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from gr00t_policy.testing.layout import TINY_SIZES, layout_shapes, load_layout, resolve_sizes

# The default embodiment's statistics: Isaac-GR00T's tag for fine-tuning a new robot, with
# the key widths of our Unitree G1 upper body (config/unitree_g1.yaml).
DEFAULT_TAG = "new_embodiment"
G1_KEY_DIMS: dict[str, int] = {"waist": 3, "left_arm": 7, "right_arm": 7, "left_hand": 7,
                               "right_hand": 7}
# Words the test tokenizer learns merges for (the prompt's fixed text and our tasks).
_CORPUS = (
    "You are a helpful assistant.",
    "touch the red cube with your left hand",
    "touch the green cube with your right hand",
    "raise your left hand",
    "pick up the apple and place it in the basket",
    "system user assistant",
)
_BPE_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
# Tokens Eagle adds after the BPE vocabulary, in its order (added_tokens.json): the image
# markers, then the non-special "assistant".
_ADDED = (("<img>", True), ("</img>", True), ("<IMG_CONTEXT>", True), ("assistant", False))


def _sizes(sizes: Mapping[str, int] | None) -> dict[str, int]:
    """All sizes from ``sizes`` (TINY_SIZES if None); derived entries given are recomputed."""
    layout = load_layout()
    given = TINY_SIZES if sizes is None else sizes
    return resolve_sizes(layout, {k: v for k, v in given.items()
                                  if "value" in layout["sizes"].get(k, {"value": 0})})


def _random_tensor(key: str, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """Small random weights; norm scales near 1 so random models stay finite."""
    norm_scale = len(shape) == 1 and key.endswith(".weight") and (
        "norm" in key or key == "backbone.model.mlp1.0.weight")
    noise = 0.02 * torch.randn(shape, generator=gen)
    return 1.0 + noise if norm_scale else noise


def official_config_json(sizes: Mapping[str, int]) -> dict[str, Any]:
    """The checkpoint's config.json for ``sizes``, in the published field names."""
    dit = {
        "attention_head_dim": sizes["dit_attention_head_dim"],
        "dropout": 0.2,
        "final_dropout": True,
        "interleave_self_attention": True,
        "norm_type": "ada_norm",
        "num_attention_heads": sizes["dit_num_attention_heads"],
        "num_layers": sizes["dit_num_layers"],
        "output_dim": sizes["dit_output_dim"],
        "positional_embeddings": None,
    }
    head = {
        "action_dim": sizes["action_dim"], "action_horizon": sizes["action_horizon"],
        "add_pos_embed": True, "diffusion_model_cfg": dit, "freeze_decode_layer": False,
        "hidden_size": sizes["hidden_size"], "input_embedding_dim": sizes["input_embedding_dim"],
        "load_pretrained_det_decode_layer_path": None, "max_action_dim": sizes["action_dim"],
        "max_state_dim": sizes["max_state_dim"], "model_dtype": "float32",
        "noise_beta_alpha": 1.5, "noise_beta_beta": 1.0, "noise_s": 0.999,
        "num_inference_timesteps": 16, "num_timestep_buckets": 1000,
        "tune_diffusion_model": True, "tune_projector": True,
    }
    if sizes["max_num_embodiments"] != 32:
        head["max_num_embodiments"] = sizes["max_num_embodiments"]
    if sizes["max_seq_len"] != 1024:
        head["max_seq_len"] = sizes["max_seq_len"]
    backbone = {
        "allow_reshape_visual": True, "load_pretrained_det_eagle_path": None,
        "model_name": "$GR00T_BACKBONE_PATH/eagle2_hg_model",
        "processor_cfg": {"max_input_tiles": 1, "model_path": "$GR00T_BACKBONE_PATH/eagle2_hg_model",
                          "model_spec": {"num_image_token": sizes["num_image_token"],
                                         "template": "qwen2-chat"}},
        "projector_dim": sizes["projector_dim"], "select_layer": sizes["select_layer"],
    }
    return {"action_dim": sizes["action_dim"], "action_head_cfg": head,
            "action_horizon": sizes["action_horizon"], "architectures": ["GR00T_N1"],
            "backbone_cfg": backbone, "model_type": "gr00t_n1"}


def _stats(rng: np.random.Generator, dim: int) -> dict[str, list[float]]:
    # Around 0, within +-0.4 rad: every shipped YAML's joints have 0 within their limits and
    # ranges wider than 0.4 rad, so PolicyBundle.open finds them near the limits
    # (`embodiment.check_statistics`) whichever YAML the statistics are converted for.
    low = rng.uniform(-0.4, -0.05, dim)
    high = rng.uniform(0.05, 0.4, dim)
    return {"max": high.tolist(), "min": low.tolist(), "mean": ((low + high) / 2).tolist(),
            "std": ((high - low) / 4).tolist(), "q01": (low + 0.01 * (high - low)).tolist(),
            "q99": (high - 0.01 * (high - low)).tolist()}


def official_metadata(tags: Mapping[str, Mapping[str, Mapping[str, int]]], seed: int = 0
                      ) -> dict[str, Any]:
    """experiment_cfg/metadata.json: {tag: {"statistics", "modalities", "embodiment_tag"}}.

    ``tags`` is {tag: {"state": {key: width}, "action": {key: width}}}.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for tag, spec in tags.items():
        def part(modality: str) -> tuple[dict, dict]:
            stats = {k: _stats(rng, d) for k, d in spec[modality].items()}
            mods = {k: {"absolute": True, "rotation_type": None, "shape": [d], "continuous": True}
                    for k, d in spec[modality].items()}
            return stats, mods

        (s_stats, s_mods), (a_stats, a_mods) = part("state"), part("action")
        out[tag] = {
            "statistics": {"state": s_stats, "action": a_stats},
            "modalities": {"video": {"ego_view": {"resolution": [256, 256], "channels": 3,
                                                  "fps": 20.0}},
                           "state": s_mods, "action": a_mods},
            "embodiment_tag": tag,
        }
    return out


def write_official_checkpoint(
    out_dir: str | Path,
    *,
    sizes: Mapping[str, int] | None = None,
    seed: int = 0,
    shards: int = 2,
    dtype: torch.dtype = torch.bfloat16,
    tags: Mapping[str, Mapping[str, Mapping[str, int]]] | None = None,
    extra: Mapping[str, tuple[int, ...]] | None = None,
) -> Path:
    """Write an official GR00T N1 directory with random weights; returns it.

    Args:
        out_dir: directory to write (created).
        sizes: layout sizes (official names, `TINY_SIZES` by default); derived sizes follow.
        seed: seeds weights and statistics (same seed, same bytes).
        shards: 1 writes model.safetensors (as published); more write
            model-0000k-of-0000n.safetensors and model.safetensors.index.json (as a
            fine-tune saved by transformers is).
        dtype: stored dtype of floating tensors (the published file holds 16-bit values).
        tags: statistics to write, {tag: {"state": {key: width}, "action": {key: width}}};
            default {"new_embodiment": the Unitree G1 keys}.
        extra: more tensors {key: shape} to store (e.g. ones the converter must refuse).
    """
    from safetensors.torch import save_file

    full = _sizes(sizes)
    out = Path(out_dir)
    (out / "experiment_cfg").mkdir(parents=True, exist_ok=True)
    shapes = {**layout_shapes(load_layout(), full), **dict(extra or {})}
    keys = sorted(shapes)
    # Shards of similar byte size: greedy by tensor size, largest first.
    loads = [0] * shards
    assign: dict[str, int] = {}
    for key in sorted(keys, key=lambda k: -math.prod(shapes[k])):
        i = loads.index(min(loads))
        assign[key] = i
        loads[i] += math.prod(shapes[key])
    names = ([f"model-{i + 1:05d}-of-{shards:05d}.safetensors" for i in range(shards)]
             if shards > 1 else ["model.safetensors"])
    weight_map: dict[str, str] = {}
    for i, name in enumerate(names):
        part = {}
        for n, key in enumerate(keys):
            if assign[key] == i:
                gen = torch.Generator().manual_seed(seed * 1_000_003 + n)
                part[key] = _random_tensor(key, shapes[key], gen).to(dtype).contiguous()
        save_file(part, str(out / name), metadata={"format": "pt"})
        weight_map.update({k: name for k in part})
        del part
    if shards > 1:
        total = sum(math.prod(s) for s in shapes.values()) * torch.finfo(dtype).bits // 8
        (out / "model.safetensors.index.json").write_text(json.dumps(
            {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
    (out / "config.json").write_text(json.dumps(official_config_json(full), indent=2))
    tags = tags or {DEFAULT_TAG: {"state": G1_KEY_DIMS, "action": G1_KEY_DIMS}}
    (out / "experiment_cfg" / "metadata.json").write_text(
        json.dumps(official_metadata(tags, seed), indent=2))
    return out


def eagle_config_json(sizes: Mapping[str, int]) -> dict[str, Any]:
    """The Eagle directory's config.json (backbone sizes), in Eagle-2's field names."""
    return {
        "architectures": ["Eagle2ChatModel"],
        "downsample_ratio": 1.0 / sizes["pixel_shuffle_factor"],
        "force_image_size": sizes["image_size"],
        "model_type": "eagle_chat",
        "select_layer": -1,
        "template": "qwen2-chat",
        "llm_config": {
            "architectures": ["LlamaForCausalLM"], "attention_bias": False, "hidden_act": "silu",
            "hidden_size": sizes["llm_hidden_size"],
            "intermediate_size": sizes["llm_intermediate_size"],
            "max_position_embeddings": 8192, "mlp_bias": False, "model_type": "llama",
            "num_attention_heads": sizes["llm_num_attention_heads"],
            "num_hidden_layers": sizes["llm_num_hidden_layers"],
            "num_key_value_heads": sizes["llm_num_key_value_heads"], "rms_norm_eps": 1e-05,
            "rope_theta": 130000, "tie_word_embeddings": True, "vocab_size": sizes["vocab_size"],
        },
        "vision_config": {
            "hidden_act": "gelu_pytorch_tanh", "hidden_size": sizes["vision_hidden_size"],
            "image_size": sizes["image_size"], "intermediate_size": sizes["vision_intermediate_size"],
            "layer_norm_eps": 1e-06, "model_type": "siglip_vision_model",
            "num_attention_heads": sizes["vision_num_heads"], "num_channels": 3,
            "num_hidden_layers": sizes["vision_num_layers"], "patch_size": sizes["vision_patch_size"],
        },
    }


def write_eagle_dir(out_dir: str | Path, *, sizes: Mapping[str, int] | None = None,
                    bpe_size: int = 320) -> Path:
    """Write an Eagle directory: a small byte-level BPE tokenizer in Eagle-2's file format
    (vocab.json, merges.txt, added_tokens.json, special_tokens_map.json,
    tokenizer_config.json: GPT2Tokenizer, pad = eos = <|im_end|>) and config.json."""
    from tokenizers import ByteLevelBPETokenizer

    full = _sizes(sizes)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(list(_CORPUS) * 4, vocab_size=bpe_size, min_frequency=1,
                            special_tokens=list(_BPE_SPECIALS), show_progress=False)
    bpe.save_model(str(out))
    vocab_size = len(json.loads((out / "vocab.json").read_text()))
    if vocab_size + len(_ADDED) > full["vocab_size"]:
        raise ValueError(f"the test tokenizer has {vocab_size + len(_ADDED)} tokens but the "
                         f"layout's vocab_size is {full['vocab_size']}")
    added = {tok: vocab_size + i for i, (tok, _) in enumerate(_ADDED)}
    decoder = {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                        "single_word": False, "special": True} for i, t in enumerate(_BPE_SPECIALS)}
    for tok, special in _ADDED:
        decoder[str(added[tok])] = {"content": tok, "lstrip": False, "normalized": not special,
                                    "rstrip": False, "single_word": False, "special": special}
    extra = ["<|im_start|>", "<|im_end|>"] + [t for t, special in _ADDED if special]
    specials = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
                "pad_token": "<|im_end|>", "unk_token": "<|endoftext|>"}
    (out / "added_tokens.json").write_text(json.dumps(added, indent=2))
    (out / "special_tokens_map.json").write_text(json.dumps(
        {"additional_special_tokens": extra, **specials}, indent=2))
    (out / "tokenizer_config.json").write_text(json.dumps(
        {"add_bos_token": False, "add_eos_token": False, "add_prefix_space": False,
         "added_tokens_decoder": decoder, "additional_special_tokens": extra,
         "clean_up_tokenization_spaces": False, "errors": "replace", "model_max_length": 16384,
         "tokenizer_class": "GPT2Tokenizer", **specials}, indent=2))
    (out / "config.json").write_text(json.dumps(eagle_config_json(full), indent=2))
    return out


def embodiment_with_slot(source: str | Path, slot: int, **changes: Any):
    """An embodiment YAML's config with another ``slot`` (and other top-level ``changes``),
    e.g. the official checkpoint's slot of the tag it is converted from."""
    from gr00t_policy.embodiment import load_embodiment, parse_embodiment

    emb = load_embodiment(source)
    return parse_embodiment({**emb.to_dict(), "slot": slot, **changes},
                            f"{emb.source} (slot {slot})")
