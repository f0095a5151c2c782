"""The official GR00T N1 checkpoint layout (NVIDIA's GR00T-N1-2B and its fine-tunes).

A directory as Isaac-GR00T writes it::

    config.json                     {"model_type": "gr00t_n1", "backbone_cfg": {...},
                                     "action_head_cfg": {..., "diffusion_model_cfg": {...}}}
    model.safetensors               or model.safetensors.index.json + shards
    experiment_cfg/metadata.json    normalization statistics per embodiment tag

The tensor keys are ours (our module tree mirrors the official one); `official_key_shapes`
gives every key a config needs. The backbone's sizes are not in ``config.json``: they are
Eagle-2's, in ``config.json`` of Isaac-GR00T's ``gr00t/model/backbone/eagle2_hg_model``
(the "Eagle directory", which also holds the tokenizer). `policy_config_from_official`
builds our `PolicyConfig` from both; fields the official files do not decide (the token
budget, the default number of Euler steps) come from a base preset.

Where the official model differs from ours (docs/DESIGN.md, "Official GR00T N1
checkpoints"): its DiT projects keys/values from the DiT width in every block (so we need
cross_attention_dim == input_embedding_dim), it attends to padded backbone tokens, and its
language model's positions count padding. The facts and their sources are in
``gr00t_policy/testing/data/gr00t_n1_2b_layout.json``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch

from gr00t_policy.action_head_config import ActionHeadConfig
from gr00t_policy.backbone_config import BackboneConfig
from gr00t_policy.checkpoint import (
    CONFIG_FILE,
    METADATA_FILE,
    CheckpointError,
    LoadedCheckpoint,
    check_embodiments,
    check_shapes,
    compute_backbone_id,
    materialize_policy,
    read_json_file,
    stored_shapes,
    weight_files,
)
from gr00t_policy.policy import PARTS, check_parts
from gr00t_policy.policy_config import PolicyConfig, get_preset

logger = logging.getLogger(__name__)

MODEL_TYPE = "gr00t_n1"
EAGLE_CONFIG_FILE = "config.json"
# Isaac-GR00T's GR00TTransform: the action head's per-embodiment slot of each tag.
PROJECTOR_INDEX: dict[str, int] = {"gr1": 24, "new_embodiment": 31}
# Values the official code hard-codes (TimestepEncoder's 256 channels, diffusers'
# FeedForward mult 4).
TIMESTEP_CHANNELS = 256
FF_MULT = 4

# Tensors an official directory may hold that we never build (matched against the full key):
# saved by other tools or older versions, none of them is in the published checkpoint.
_SKIP = (
    re.compile(r"^action_head\.decode_layer\."),
    re.compile(r"^backbone\.model\.language_model\.lm_head\."),
    re.compile(r"^backbone\.model\.vision_model\.vision_model\.head\."),
    re.compile(r"\.position_ids$"),
    re.compile(r"\.rotary_emb\.inv_freq$"),
)
_LM_LAYER = re.compile(r"^backbone\.model\.language_model\.model\.layers\.(\d+)\.")
# Keys and fields of later GR00T versions (N1.5: a LayerNorm and a self-attention stack on
# the backbone tokens, learned future tokens), whose checkpoints this layout cannot hold.
_LATER_KEYS = ("action_head.vlln.", "action_head.vl_self_attention.", "action_head.future_tokens.")
_LATER_FIELDS = ("vl_self_attention_cfg", "use_vlln", "num_target_vision_tokens",
                 "backbone_embedding_dim")


class OfficialConfigError(CheckpointError):
    """Official config files that do not describe a GR00T N1 model we can build."""


# Layout ---------------------------------------------------------------------------------------


def _linear(s: dict, name: str, out_f: int, in_f: int) -> None:
    s[name + ".weight"] = (out_f, in_f)
    s[name + ".bias"] = (out_f,)


def _backbone_shapes(b: BackboneConfig) -> dict[str, tuple[int, ...]]:
    s: dict[str, tuple[int, ...]] = {}
    p = "backbone.model.vision_model.vision_model."
    c, i, k = b.vision_hidden_size, b.vision_intermediate_size, b.vision_patch_size
    s[p + "embeddings.patch_embedding.weight"] = (c, 3, k, k)
    s[p + "embeddings.patch_embedding.bias"] = (c,)
    s[p + "embeddings.position_embedding.weight"] = (b.patches_per_side ** 2, c)
    for n in range(b.vision_num_layers):
        layer = f"{p}encoder.layers.{n}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            _linear(s, f"{layer}self_attn.{proj}", c, c)
        for norm in ("layer_norm1", "layer_norm2"):
            s[f"{layer}{norm}.weight"] = (c,)
            s[f"{layer}{norm}.bias"] = (c,)
        _linear(s, f"{layer}mlp.fc1", i, c)
        _linear(s, f"{layer}mlp.fc2", c, i)
    s[p + "post_layernorm.weight"] = (c,)
    s[p + "post_layernorm.bias"] = (c,)
    d_in, d = b.projector_input_dim, b.lm_hidden_size
    s["backbone.model.mlp1.0.weight"] = (d_in,)
    s["backbone.model.mlp1.0.bias"] = (d_in,)
    _linear(s, "backbone.model.mlp1.1", d, d_in)
    _linear(s, "backbone.model.mlp1.3", d, d)
    p = "backbone.model.language_model.model."
    q, kv, ff = b.lm_num_heads * b.lm_head_dim, b.lm_num_kv_heads * b.lm_head_dim, b.lm_intermediate_size
    s[p + "embed_tokens.weight"] = (b.vocab_size, d)
    for n in range(b.select_layer):
        layer = f"{p}layers.{n}."
        s[layer + "self_attn.q_proj.weight"] = (q, d)
        s[layer + "self_attn.k_proj.weight"] = (kv, d)
        s[layer + "self_attn.v_proj.weight"] = (kv, d)
        s[layer + "self_attn.o_proj.weight"] = (d, q)
        s[layer + "mlp.gate_proj.weight"] = (ff, d)
        s[layer + "mlp.up_proj.weight"] = (ff, d)
        s[layer + "mlp.down_proj.weight"] = (d, ff)
        s[layer + "input_layernorm.weight"] = (d,)
        s[layer + "post_attention_layernorm.weight"] = (d,)
    s[p + "norm.weight"] = (d,)
    _linear(s, "backbone.linear", b.output_dim, d)
    return s


def _action_head_shapes(h: ActionHeadConfig) -> dict[str, tuple[int, ...]]:
    s: dict[str, tuple[int, ...]] = {}
    d, hid, e, inner = h.input_embedding_dim, h.hidden_size, h.num_embodiments, h.num_heads * h.head_dim
    m = "action_head.model."
    _linear(s, m + "timestep_encoder.timestep_embedder.linear_1", d, h.timestep_channels)
    _linear(s, m + "timestep_encoder.timestep_embedder.linear_2", d, d)
    for n in range(h.num_layers):
        b = f"{m}transformer_blocks.{n}."
        _linear(s, b + "norm1.linear", 2 * d, d)
        _linear(s, b + "attn1.to_q", inner, d)
        _linear(s, b + "attn1.to_k", inner, d)  # keys/values come from the DiT width
        _linear(s, b + "attn1.to_v", inner, d)
        _linear(s, b + "attn1.to_out.0", d, inner)
        _linear(s, b + "ff.net.0.proj", h.ff_mult * d, d)
        _linear(s, b + "ff.net.2", d, h.ff_mult * d)
    _linear(s, m + "proj_out_1", 2 * d, d)
    _linear(s, m + "proj_out_2", hid, d)

    def category_linear(name: str, in_f: int, out_f: int) -> None:
        s[name + ".W"] = (e, in_f, out_f)
        s[name + ".b"] = (e, out_f)

    category_linear("action_head.state_encoder.layer1", h.max_state_dim, hid)
    category_linear("action_head.state_encoder.layer2", hid, d)
    category_linear("action_head.action_encoder.W1", h.max_action_dim, d)
    category_linear("action_head.action_encoder.W2", 2 * d, d)
    category_linear("action_head.action_encoder.W3", d, d)
    category_linear("action_head.action_decoder.layer1", hid, hid)
    category_linear("action_head.action_decoder.layer2", hid, h.max_action_dim)
    s["action_head.position_embedding.weight"] = (h.max_seq_len, d)
    return s


def check_official_compatible(config: PolicyConfig) -> None:
    """Raise OfficialConfigError if ``config`` has no official layout (one DiT width)."""
    h = config.action_head
    if h.cross_attention_dim != h.input_embedding_dim:
        raise OfficialConfigError(
            f"action_head.cross_attention_dim={h.cross_attention_dim} differs from "
            f"input_embedding_dim={h.input_embedding_dim}: the official DiT projects the "
            "backbone tokens' keys/values from its own width, so the two must be equal")


def official_key_shapes(config: PolicyConfig, parts: Iterable[str] = PARTS
                        ) -> dict[str, tuple[int, ...]]:
    """Every tensor key of the official GR00T N1 layout that ``config`` needs, with its shape."""
    parts = check_parts(parts)
    check_official_compatible(config)
    shapes: dict[str, tuple[int, ...]] = {}
    if "backbone" in parts:
        shapes.update(_backbone_shapes(config.backbone))
    if "action_head" in parts:
        shapes.update(_action_head_shapes(config.action_head))
    return shapes


def skippable(key: str, select_layer: int) -> bool:
    """True for a stored tensor we deliberately do not build (see ``_SKIP``)."""
    if any(p.search(key) for p in _SKIP):
        return True
    m = _LM_LAYER.match(key)
    return bool(m) and int(m.group(1)) >= select_layer


def check_official_tensors(files: Mapping[str, Path], config: PolicyConfig, parts: Iterable[str],
                           where: str, *, strict: bool) -> list[str]:
    """Check stored keys and shapes against ``config``; returns the skipped keys.

    A missing key or a wrong shape raises CheckpointError naming the key and both shapes.
    Stored keys of the requested parts that are neither expected nor skippable raise too
    when ``strict`` (the converter), and are logged otherwise.
    """
    parts = check_parts(parts)
    expected = official_key_shapes(config, parts)
    later = sorted(k for k in files if k.startswith(_LATER_KEYS))
    if later:
        raise OfficialConfigError(
            f"{where} holds {later[:3]}: tensors of a later GR00T version (N1.5 or newer), "
            "which this runtime does not build; only GR00T N1 (model_type gr00t_n1) converts")
    check_shapes(expected, stored_shapes({k: files[k] for k in expected if k in files}), where)
    prefixes = tuple(f"{p}." for p in parts)
    select = config.backbone.select_layer
    skipped = sorted(k for k in files if k not in expected and skippable(k, select))
    unknown = sorted(k for k in files
                     if k not in expected and k not in skipped and k.startswith(prefixes))
    if skipped:
        logger.info("official checkpoint: skipping %d tensors we do not build (LM layers >= %d, "
                    "heads, buffers), e.g. %s", len(skipped), select, skipped[:3])
    if unknown and strict:
        raise CheckpointError(f"{where}: {len(unknown)} tensor(s) this layout does not have, "
                              f"e.g. {unknown[:5]}: not a GR00T N1 checkpoint of these sizes")
    if unknown:
        logger.warning("official checkpoint: ignoring %d unknown tensors, e.g. %s",
                       len(unknown), unknown[:5])
    return skipped


# Config files ---------------------------------------------------------------------------------


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; CheckpointError naming the file if absent or not an object."""
    if not path.is_file():
        raise CheckpointError(f"{path} is missing ({what})")
    try:
        data = read_json_file(path)
    except CheckpointError as exc:
        raise CheckpointError(f"{exc} ({what})") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object ({what})")
    return data


def is_official_config(data: Mapping[str, Any]) -> bool:
    """True if a parsed config.json is an official GR00T checkpoint's (any version)."""
    model_type = str(data.get("model_type", ""))
    return model_type.startswith("gr00t_n1") or "action_head_cfg" in data


def read_official_config(ckpt_dir: str | Path) -> dict[str, Any]:
    """The official ``config.json``, checked to be GR00T N1's (not N1.5 or later)."""
    path = Path(ckpt_dir) / CONFIG_FILE
    data = read_json(path, "the official checkpoint's config")
    model_type = data.get("model_type")
    head = data.get("action_head_cfg")
    if not isinstance(head, dict) or not isinstance(data.get("backbone_cfg"), dict):
        raise OfficialConfigError(f"{path} has no action_head_cfg/backbone_cfg: not a GR00T N1 "
                                  f"checkpoint (model_type {model_type!r})")
    later = [f for f in _LATER_FIELDS if f in head]
    if (model_type not in (None, MODEL_TYPE)) or later:
        raise OfficialConfigError(
            f"{path}: model_type {model_type!r}{f' with fields {later}' if later else ''} is a "
            f"later GR00T version; only {MODEL_TYPE!r} (GR00T N1, e.g. nvidia/GR00T-N1-2B) "
            "converts")
    return data


def _get(cfg: Mapping[str, Any], key: str, default: Any, where: str) -> Any:
    value = cfg.get(key, default)
    if value is None and default is not None:
        return default
    if value is None:
        raise OfficialConfigError(f"{where}.{key} is missing")
    return value


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise OfficialConfigError(message)


def _action_head_from_official(head: Mapping[str, Any], base: ActionHeadConfig, where: str
                               ) -> ActionHeadConfig:
    w = f"{where}: action_head_cfg"
    dit = head.get("diffusion_model_cfg") or {}
    # The DiT's own defaults apply to fields the config omits (cross_attention_dit.DiT).
    heads = int(dit.get("num_attention_heads", 8))
    head_dim = int(dit.get("attention_head_dim", 64))
    width = int(_get(head, "input_embedding_dim", 1536, w))
    hidden = int(_get(head, "hidden_size", 1024, w))
    _require(heads * head_dim == width,
             f"{w}.diffusion_model_cfg: num_attention_heads*attention_head_dim = {heads}*{head_dim}"
             f" must equal input_embedding_dim {width} (the DiT reads the action tokens)")
    _require(int(dit.get("output_dim", 26)) == hidden,
             f"{w}.diffusion_model_cfg.output_dim={dit.get('output_dim', 26)} must equal "
             f"hidden_size={hidden} (the action decoder reads the DiT output)")
    _require(dit.get("positional_embeddings", "sinusoidal") is None,
             f"{w}.diffusion_model_cfg.positional_embeddings="
             f"{dit.get('positional_embeddings', 'sinusoidal')!r}: only null is supported")
    _require(dit.get("norm_type", "ada_norm") == "ada_norm",
             f"{w}.diffusion_model_cfg.norm_type={dit.get('norm_type')!r}: only 'ada_norm' is "
             "supported")
    _require(bool(dit.get("attention_bias", True)),
             f"{w}.diffusion_model_cfg.attention_bias=false is not supported")
    _require(bool(head.get("add_pos_embed", True)),
             f"{w}.add_pos_embed=false is not supported (we always add position embeddings)")
    action_dim = int(_get(head, "action_dim", None, w))
    max_action = int(head.get("max_action_dim", action_dim))
    _require(action_dim == max_action,
             f"{w}.action_dim={action_dim} differs from max_action_dim={max_action}")
    steps = head.get("num_inference_timesteps")
    if steps is not None and steps != base.num_inference_steps:
        logger.info("official action_head_cfg.num_inference_timesteps=%s; our default stays %d "
                    "(System 1's denoising_steps parameter decides)", steps,
                    base.num_inference_steps)
    return ActionHeadConfig(
        hidden_size=hidden,
        input_embedding_dim=width,
        num_layers=int(dit.get("num_layers", 12)),
        num_heads=heads,
        head_dim=head_dim,
        cross_attention_dim=width,
        ff_mult=FF_MULT,
        interleave_self_attention=bool(dit.get("interleave_self_attention", False)),
        timestep_channels=TIMESTEP_CHANNELS,
        max_state_dim=int(_get(head, "max_state_dim", None, w)),
        max_action_dim=action_dim,
        action_horizon=int(_get(head, "action_horizon", None, w)),
        max_seq_len=int(_get(head, "max_seq_len", 1024, w)),
        num_embodiments=int(_get(head, "max_num_embodiments", 32, w)),
        num_timestep_buckets=int(_get(head, "num_timestep_buckets", 1000, w)),
        num_inference_steps=base.num_inference_steps,
        noise_beta_alpha=float(_get(head, "noise_beta_alpha", 1.5, w)),
        noise_beta_beta=float(_get(head, "noise_beta_beta", 1.0, w)),
        noise_s=float(_get(head, "noise_s", 0.999, w)),
    )


def _backbone_from_eagle(eagle: Mapping[str, Any], backbone_cfg: Mapping[str, Any],
                         select_layer: int, output_dim: int, base: BackboneConfig, where: str
                         ) -> BackboneConfig:
    vision, llm = eagle.get("vision_config"), eagle.get("llm_config")
    _require(isinstance(vision, dict) and isinstance(llm, dict),
             f"{where} has no vision_config/llm_config: not an Eagle-2 config.json")
    _require(vision.get("model_type") == "siglip_vision_model",
             f"{where}: vision_config.model_type={vision.get('model_type')!r}, only "
             "'siglip_vision_model' is supported")
    arch = (llm.get("architectures") or ["?"])[0]
    _require(arch == "LlamaForCausalLM",
             f"{where}: llm_config.architectures[0]={arch!r}, only 'LlamaForCausalLM' is supported")
    _require(eagle.get("template", "qwen2-chat") == "qwen2-chat",
             f"{where}: template={eagle.get('template')!r}, only 'qwen2-chat' (ChatML) is supported")
    fields = dict(base.to_dict())
    try:
        _eagle_fields(fields, vision, llm, eagle, select_layer, output_dim)
    except KeyError as exc:
        raise OfficialConfigError(
            f"{where}: field {exc.args[0]!r} of vision_config / llm_config is missing; the "
            "Eagle-2 config.json of Isaac-GR00T's eagle2_hg_model has it") from None
    config = BackboneConfig.from_dict(fields)
    spec = (backbone_cfg.get("processor_cfg") or {}).get("model_spec") or {}
    if "num_image_token" in spec:
        _require(int(spec["num_image_token"]) == config.image_tokens_per_view,
                 f"backbone_cfg.processor_cfg.model_spec.num_image_token={spec['num_image_token']}"
                 f" but the Eagle config gives {config.image_tokens_per_view} tokens per image")
    tiles = (backbone_cfg.get("processor_cfg") or {}).get("max_input_tiles", 1)
    _require(tiles == 1, f"backbone_cfg.processor_cfg.max_input_tiles={tiles}: only 1 tile per "
             "image is supported")
    return config


def _eagle_fields(fields: dict[str, Any], vision: Mapping[str, Any], llm: Mapping[str, Any],
                  eagle: Mapping[str, Any], select_layer: int, output_dim: int) -> None:
    """Our backbone sizes from the Eagle-2 config (KeyError naming a missing field)."""
    fields.update(
        vision_hidden_size=int(vision["hidden_size"]),
        vision_intermediate_size=int(vision["intermediate_size"]),
        vision_num_layers=int(vision["num_hidden_layers"]),
        vision_num_heads=int(vision["num_attention_heads"]),
        vision_patch_size=int(vision["patch_size"]),
        vision_layer_norm_eps=float(vision.get("layer_norm_eps", 1e-6)),
        image_size=int(eagle.get("force_image_size") or vision["image_size"]),
        pixel_shuffle_ratio=float(eagle.get("downsample_ratio", 0.5)),
        lm_hidden_size=int(llm["hidden_size"]),
        lm_intermediate_size=int(llm["intermediate_size"]),
        lm_num_layers=int(llm["num_hidden_layers"]),
        lm_num_heads=int(llm["num_attention_heads"]),
        lm_num_kv_heads=int(llm.get("num_key_value_heads") or llm["num_attention_heads"]),
        lm_rms_norm_eps=float(llm.get("rms_norm_eps", 1e-5)),
        lm_rope_theta=float(llm.get("rope_theta", 10000.0)),
        lm_max_position_embeddings=int(llm.get("max_position_embeddings", 2048)),
        vocab_size=int(llm["vocab_size"]),
        tie_word_embeddings=bool(llm.get("tie_word_embeddings", False)),
        select_layer=select_layer,
        output_dim=output_dim,
    )


# The embodiment-specific layers' biases. Isaac-GR00T initialises them to zero
# (CategorySpecificLinear, flow_matching_action_head.py) and a slot that no training batch
# used gets zero gradients, so AdamW leaves them exactly zero: a slot whose biases are all
# zero was never trained (ours initialise them at random, so this is for official weights).
SLOT_BIASES = ("action_head.state_encoder.layer1.b", "action_head.state_encoder.layer2.b",
               "action_head.action_encoder.W1.b", "action_head.action_encoder.W2.b",
               "action_head.action_encoder.W3.b", "action_head.action_decoder.layer1.b",
               "action_head.action_decoder.layer2.b")


def slot_trained(state_dict: Mapping[str, Any], slot: int) -> bool:
    """False when every embodiment-specific bias of ``slot`` is exactly zero (see
    SLOT_BIASES): the official checkpoint has not learnt that embodiment."""
    present = [k for k in SLOT_BIASES if k in state_dict]
    if not present:
        raise ValueError(f"slot_trained: none of {list(SLOT_BIASES)} in the state dict")
    return any(bool((state_dict[k][slot] != 0).any()) for k in present)


UNSUPPORTED_BACKBONE_OPTIONS = {"reproject_vision": False, "scale_image_resolution": 1,
                                "remove_llm": False}


def stored_select_layer(files: Mapping[str, Path]) -> int:
    """Language-model layers stored in an official checkpoint (0 if none)."""
    layers = {int(m.group(1)) for k in files if (m := _LM_LAYER.match(k))}
    return max(layers) + 1 if layers else 0


def policy_config_from_official(official: Mapping[str, Any], eagle: Mapping[str, Any] | None,
                                files: Mapping[str, Path], *, base: PolicyConfig,
                                where: str = "config.json") -> PolicyConfig:
    """Our PolicyConfig of an official checkpoint.

    Args:
        official: the checkpoint's parsed config.json (`read_official_config`).
        eagle: the Eagle directory's parsed config.json (backbone sizes); None keeps
            ``base``'s backbone sizes, which the tensor shapes then check.
        files: the stored tensors ({key: file}); the language model keeps as many layers
            as are stored (checked against backbone_cfg.select_layer when given).
        base: where the fields the official files do not decide come from (max_tokens,
            num_views, prompt strings, image statistics, num_inference_steps).
    """
    backbone_cfg = official.get("backbone_cfg", {})
    stored = stored_select_layer(files)
    select = backbone_cfg.get("select_layer")
    if select is not None and stored and int(select) > stored:
        raise OfficialConfigError(f"{where}: backbone_cfg.select_layer={select} but only {stored} "
                                  "language-model layers are stored")
    select = int(select) if select is not None else (stored or base.backbone.select_layer)
    if backbone_cfg.get("projector_dim", 0) == -1:
        raise OfficialConfigError(f"{where}: backbone_cfg.projector_dim=-1 (no backbone.linear)"
                                  " is not supported")
    # EagleBackbone options whose published values are the only ones implemented here (any
    # other changes what the backbone computes).
    for name, published in UNSUPPORTED_BACKBONE_OPTIONS.items():
        value = backbone_cfg.get(name, published)
        if value != published:
            raise OfficialConfigError(
                f"{where}: backbone_cfg.{name}={value!r}; only the published {published!r} is "
                "supported (the runtime's backbone would compute something else)")
    head = _action_head_from_official(official["action_head_cfg"], base.action_head, where)
    if eagle is None:
        backbone = BackboneConfig.from_dict({**base.backbone.to_dict(), "select_layer": select,
                                             "output_dim": head.input_embedding_dim})
    else:
        backbone = _backbone_from_eagle(eagle, backbone_cfg, select, head.input_embedding_dim,
                                        base.backbone, f"{where} (Eagle config)")
    try:
        return PolicyConfig(backbone, head)
    except ValueError as exc:
        raise OfficialConfigError(f"{where}: {exc}") from exc


# Loading without converting ------------------------------------------------------------------


def load_official_gr00t_n1(
    ckpt_dir: str | Path,
    *,
    config: PolicyConfig | None = None,
    parts: Iterable[str] = PARTS,
    device: str = "cpu",
    dtype: str | None = "float32",
    tokenizer_dir: str | Path | None = None,
    embodiments: Mapping[str, Mapping[str, Any]] | None = None,
) -> LoadedCheckpoint:
    """Load an official GR00T N1 directory in memory (single file or sharded).

    Nodes take our format only: `gr00t_policy.convert` writes it from this layout once.

    Args:
        ckpt_dir: directory with model.safetensors or model.safetensors.index.json (+ shards)
            and optionally experiment_cfg/metadata.json.
        config: sizes to expect; default the ``gr00t-n1-2b`` preset.
        parts: which parts to build.
        device: where the tensors go.
        dtype: cast floating tensors ("float32", "float16", "bfloat16"; None keeps them).
        tokenizer_dir: a directory with tokenizer.json (default ``ckpt_dir`` if it has one).
        embodiments: our {tag: {"slot", ...}} table for the checkpoint's tags (default {}).

    Raises CheckpointError naming the key (and both shapes) on a missing or mis-shaped tensor.
    """
    dtypes = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if dtype is not None and dtype not in dtypes:
        raise ValueError(f"dtype must be one of {sorted(dtypes)} or None, got {dtype!r}")
    ckpt_dir = Path(ckpt_dir)
    config = config or get_preset("gr00t-n1-2b")
    parts = check_parts(parts)
    files = weight_files(ckpt_dir)
    skipped = check_official_tensors(files, config, parts, str(ckpt_dir), strict=False)
    policy = materialize_policy(config, parts, files, device,
                                dtypes.get(dtype) if dtype else None, str(ckpt_dir))
    tokenizer = None
    tok_dir = Path(tokenizer_dir) if tokenizer_dir is not None else ckpt_dir
    if "backbone" in parts and (tok_dir / "tokenizer.json").is_file():
        from gr00t_policy.prompt import PromptBuilder, load_tokenizer

        tokenizer = load_tokenizer(tok_dir)
        policy.backbone.image_context_id = PromptBuilder(tokenizer, config.backbone).image_context_id
    elif "backbone" in parts:
        logger.warning("no tokenizer.json in %s: pass tokenizer_dir to run the backbone", tok_dir)
    backbone_id = ""
    if policy.backbone is not None:
        backbone_id = compute_backbone_id(config.backbone, policy.backbone.state_dict())
    meta_path = ckpt_dir / METADATA_FILE
    metadata = read_json_file(meta_path) if meta_path.is_file() else {}
    return LoadedCheckpoint(
        config=config,
        policy=policy,
        tokenizer=tokenizer,
        metadata=metadata,
        backbone_id=backbone_id,
        embodiments=check_embodiments(embodiments, config) if embodiments else {},
        preset=None,
        path=ckpt_dir,
        skipped_keys=skipped,
    )
