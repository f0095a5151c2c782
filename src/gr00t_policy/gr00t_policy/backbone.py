"""System 2 backbone: an Eagle-2 style vision-language model cut at ``select_layer``.

Module tree (mirrors the official GR00T N1 state dict, see DESIGN.md)::

    EagleBackbone
      .model.vision_model.vision_model   transformers SiglipVisionModel (no pooling head)
      .model.mlp1                    Sequential(LayerNorm, Linear, GELU, Linear)
      .model.language_model.model    transformers LlamaModel with select_layer layers
      .linear                        Linear(lm_hidden_size -> output_dim)
      .instruction_proj              Sequential(LayerNorm, Linear(instruction_encoder_dim ->
                                     lm_hidden_size)); only with an instruction encoder

With an instruction encoder (``BackboneConfig.instruction_encoder``, the ``nano-smollm2``
preset) the frozen pretrained LM that reads the instruction lives outside this module
(`gr00t_policy.language.instruction`); ``forward`` takes its states aligned with the prompt.

``BackboneRunner`` is the numpy-in / numpy-out wrapper System 2 calls.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gr00t_policy.backbone_config import BackboneConfig
from gr00t_policy.image_crop import center_crop

logger = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def pixel_shuffle(x: torch.Tensor, ratio: float) -> torch.Tensor:
    """Fold a (N, W, H, C) token grid into (N, W*ratio, H*ratio, C/ratio^2).

    The InternVL / Eagle ordering: fold H into channels, transpose, fold W, transpose back.
    """
    n, w, h, c = x.shape
    x = x.reshape(n, w, int(h * ratio), int(c / ratio))  # (N, W, H*r, C/r)
    x = x.permute(0, 2, 1, 3).contiguous()  # (N, H*r, W, C/r)
    x = x.reshape(n, int(h * ratio), int(w * ratio), int(c / (ratio * ratio)))  # (N, H*r, W*r, C/r^2)
    return x.permute(0, 2, 1, 3).contiguous()  # (N, W*r, H*r, C/r^2)


def siglip_config(config: BackboneConfig):
    """transformers ``SiglipVisionConfig`` for a backbone config (pooling head removed)."""
    from transformers import SiglipVisionConfig

    return SiglipVisionConfig(
        hidden_size=config.vision_hidden_size,
        intermediate_size=config.vision_intermediate_size,
        num_hidden_layers=config.vision_num_layers,
        num_attention_heads=config.vision_num_heads,
        patch_size=config.vision_patch_size,
        image_size=config.image_size,
        layer_norm_eps=config.vision_layer_norm_eps,
        num_channels=3,
        hidden_act="gelu_pytorch_tanh",
        vision_use_head=False,
        attn_implementation="sdpa",
    )


def llama_config(config: BackboneConfig):
    """transformers ``LlamaConfig`` of the truncated language model (select_layer layers)."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.lm_hidden_size,
        intermediate_size=config.lm_intermediate_size,
        num_hidden_layers=config.select_layer,
        num_attention_heads=config.lm_num_heads,
        num_key_value_heads=config.lm_num_kv_heads,
        head_dim=config.lm_head_dim,
        hidden_act="silu",
        rms_norm_eps=config.lm_rms_norm_eps,
        max_position_embeddings=config.lm_max_position_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": float(config.lm_rope_theta)},
        tie_word_embeddings=config.tie_word_embeddings,
        attention_bias=False,
        mlp_bias=False,
        use_cache=False,
        attn_implementation="sdpa",
    )


class VisionModel(nn.Module):
    """Holder so that the vision keys read ``vision_model.vision_model.*``.

    transformers 4.x nested the encoder as ``SiglipVisionModel.vision_model``; transformers
    5 flattened it. This holder keeps the official GR00T N1 key layout either way.
    """

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        from transformers import SiglipVisionModel

        self.vision_model = SiglipVisionModel(siglip_config(config))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) -> last hidden state after the post-LayerNorm (N, P, Cv)."""
        return self.vision_model(pixel_values=pixel_values).last_hidden_state


class LanguageModel(nn.Module):
    """Holder so that the LM's keys read ``language_model.model.*`` as in the official dict."""

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        from transformers import LlamaModel

        self.model = LlamaModel(llama_config(config))


class EagleVLM(nn.Module):
    """Vision encoder, projector and truncated language model (the official ``model``)."""

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        self.vision_model = VisionModel(config)
        d_in, d_lm = config.projector_input_dim, config.lm_hidden_size
        self.mlp1 = nn.Sequential(
            nn.LayerNorm(d_in), nn.Linear(d_in, d_lm), nn.GELU(), nn.Linear(d_lm, d_lm)
        )
        self.language_model = LanguageModel(config)


class EagleBackbone(nn.Module):
    """Images + token ids -> ``max_tokens`` conditioning tokens for the action head.

    ``image_context_id`` is the tokenizer id of ``<IMG_CONTEXT>``; it is used when
    ``forward`` is not given an explicit ``image_token_mask`` (``load_checkpoint`` sets it
    from the checkpoint's tokenizer).
    """

    def __init__(self, config: BackboneConfig, image_context_id: int | None = None) -> None:
        super().__init__()
        self.config = config
        self.image_context_id = image_context_id
        self.text_context_id: int | None = None  # set by bind_prompt
        self.model = EagleVLM(config)
        self.linear = nn.Linear(config.lm_hidden_size, config.output_dim)
        if config.has_instruction_encoder:
            self.instruction_proj = nn.Sequential(
                nn.LayerNorm(config.instruction_encoder_dim),
                nn.Linear(config.instruction_encoder_dim, config.lm_hidden_size),
            )

    def bind_prompt(self, prompt) -> None:
        """Take the placeholder token ids from a ``PromptBuilder`` of this config."""
        self.image_context_id = prompt.image_context_id
        self.text_context_id = prompt.text_context_id

    def reset_nonpersistent_buffers(self, device: str | torch.device) -> None:
        """Recompute the buffers a state dict does not carry (rotary table, patch positions).

        Needed after building on the meta device and assigning loaded weights.
        """
        lm = self.model.language_model.model
        with torch.device(device):
            lm.rotary_emb = type(lm.rotary_emb)(lm.config)
        emb = self.model.vision_model.vision_model.embeddings
        emb.position_ids = torch.arange(emb.num_positions, device=device).expand((1, -1))

    def encode_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) normalized pixels -> (N, image_tokens_per_view, lm_hidden_size)."""
        cfg = self.config
        if pixel_values.ndim != 4 or tuple(pixel_values.shape[1:]) != (3, cfg.image_size, cfg.image_size):
            raise ValueError(
                f"pixel_values must be (N, 3, {cfg.image_size}, {cfg.image_size}), got "
                f"{tuple(pixel_values.shape)}"
            )
        vit = self.model.vision_model(pixel_values)  # (N, P, Cv)
        n, p, c = vit.shape
        side = cfg.patches_per_side
        vit = vit.reshape(n, side, side, c)  # (N, h, w, Cv)
        vit = pixel_shuffle(vit, cfg.pixel_shuffle_ratio)  # (N, h/2, w/2, 4Cv)
        vit = vit.reshape(n, -1, vit.shape[-1])  # (N, T, 4Cv)
        return self.model.mlp1(vit)  # (N, T, D)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        pixel_values: torch.Tensor,
        image_token_mask: torch.Tensor | None = None,
        instruction_states: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the backbone.

        Args:
            input_ids: (B, L) long, left-padded prompt ids (L = max_tokens at run time).
            attention_mask: (B, L) bool/int, 1 on real tokens.
            pixel_values: (B, V, 3, S, S) normalized images, V = images per prompt.
            image_token_mask: (B, L) bool, True on ``<IMG_CONTEXT>`` positions; derived
                from ``image_context_id`` when None.
            instruction_states: (B, L, instruction_encoder_dim), with an instruction encoder
                only: the encoder's states at the ``instruction_context_token`` positions of
                ``input_ids`` (in order), anything elsewhere (ignored).

        Returns:
            tokens (B, L, output_dim) with padded rows zeroed, and the mask (B, L) bool.
        """
        cfg = self.config
        if input_ids.ndim != 2 or attention_mask.shape != input_ids.shape:
            raise ValueError(
                f"input_ids and attention_mask must both be (B, L); got "
                f"{tuple(input_ids.shape)} and {tuple(attention_mask.shape)}"
            )
        if pixel_values.ndim != 5 or pixel_values.shape[0] != input_ids.shape[0]:
            raise ValueError(
                f"pixel_values must be (B, V, 3, S, S) with B={input_ids.shape[0]}, got "
                f"{tuple(pixel_values.shape)}"
            )
        if image_token_mask is None:
            if self.image_context_id is None:
                raise ValueError(
                    "EagleBackbone.image_context_id is unset: pass image_token_mask or set "
                    "image_context_id to the tokenizer id of "
                    f"{cfg.image_context_token!r}"
                )
            image_token_mask = input_ids == self.image_context_id  # (B, L)
        mask = attention_mask.bool()  # (B, L)
        b, v = pixel_values.shape[:2]
        lm = self.model.language_model.model
        embeds = lm.embed_tokens(input_ids)  # (B, L, D)
        vis = self.encode_images(pixel_values.reshape(b * v, *pixel_values.shape[2:]))  # (B*V, T, D)
        vis = vis.reshape(-1, vis.shape[-1]).to(embeds.dtype)  # (B*V*T, D)
        # While torch.export traces, the count is data it cannot read; the exported graph is
        # only fed prompts built for its views (export_backbone).
        n_slots = vis.shape[0] if torch.compiler.is_exporting() else int(image_token_mask.sum())
        if n_slots != vis.shape[0]:
            raise ValueError(
                f"the prompts hold {n_slots} {cfg.image_context_token} tokens but the images "
                f"give {vis.shape[0]} ({b} x {v} images x {cfg.image_tokens_per_view})"
            )
        embeds = embeds.masked_scatter(image_token_mask.unsqueeze(-1), vis)  # (B, L, D)
        if cfg.has_instruction_encoder:
            embeds = self._place_instruction(input_ids, embeds, instruction_states)
        elif instruction_states is not None:
            raise ValueError("instruction_states given but the backbone config has no "
                             "instruction_encoder")
        # Positions count real tokens only, so left padding does not shift them.
        position_ids = (mask.long().cumsum(-1) - 1).clamp(min=0)  # (B, L)
        hidden = lm(
            inputs_embeds=embeds, attention_mask=mask.long(), position_ids=position_ids
        ).last_hidden_state  # (B, L, D)
        tokens = self.linear(hidden)  # (B, L, C)
        tokens = tokens * mask.unsqueeze(-1).to(tokens.dtype)  # (B, L, C)
        return tokens, mask


    def _place_instruction(self, input_ids: torch.Tensor, embeds: torch.Tensor,
                           states: torch.Tensor | None) -> torch.Tensor:
        """``embeds`` (B, L, D) with the projected encoder states at the text slots."""
        cfg = self.config
        if states is None:
            raise ValueError(
                f"this backbone reads the instruction through {cfg.instruction_encoder!r}: pass "
                "instruction_states (gr00t_policy.language.instruction.InstructionEncoder)")
        want = (*input_ids.shape, cfg.instruction_encoder_dim)
        if tuple(states.shape) != want:
            raise ValueError(f"instruction_states must be {want} (aligned with input_ids), got "
                             f"{tuple(states.shape)}")
        if self.text_context_id is None:
            raise ValueError("EagleBackbone.text_context_id is unset: bind_prompt(PromptBuilder) "
                             f"first ({cfg.instruction_context_token!r})")
        slots = (input_ids == self.text_context_id).unsqueeze(-1)  # (B, L, 1)
        projected = self.instruction_proj(states.to(embeds.dtype))  # (B, L, D)
        return torch.where(slots, projected, embeds)  # (B, L, D)


def preprocess_images(images: Sequence[np.ndarray], config: BackboneConfig, *,
                      prepared: bool = False) -> torch.Tensor:
    """uint8 (H, W, 3) RGB images of any size -> (V, 3, S, S) float32 normalized pixels.

    Each image is centre-cropped to ``image_crop`` of each side (`gr00t_policy.image_crop`;
    none at 1), then resized bilinearly with anti-aliasing (torch, deterministic on the CPU)
    to ``image_size`` x ``image_size``; pixels in [0, 1] become (x - mean) / std.

    ``prepared``: the images are already cropped and resized to (S, S, 3) (System 2 does
    that on its converter thread, `gr00t_system2.image.resize_rgb`): they are only
    normalized (cropping them again would cut the view twice).
    """
    out = []
    for i, img in enumerate(images):
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            desc = (
                f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
            )
            raise ValueError(f"images[{i}] must be a uint8 (H, W, 3) RGB array, got {desc}")
        size = config.image_size
        if prepared and img.shape[:2] != (size, size):
            raise ValueError(f"images[{i}] is {img.shape[1]}x{img.shape[0]}, but prepared images "
                             f"are the backbone's {size}x{size} input")
        if not prepared:
            img = center_crop(img, config.image_crop)  # (h, w, 3), a view
        x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float()  # (3, H, W)
        x = x.unsqueeze(0) / 255.0  # (1, 3, H, W)
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
            x = x.clamp(0.0, 1.0)
        out.append(x[0])
    pix = torch.stack(out)  # (V, 3, S, S)
    mean = torch.tensor(config.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(config.image_std).view(1, 3, 1, 1)
    return (pix - mean) / std  # (V, 3, S, S)


def aligned_states(input_ids: np.ndarray, text_context_id: int, states: torch.Tensor) -> torch.Tensor:
    """(L, D) float32: the rows of ``states`` (n, D) at the n text slots of ``input_ids`` (L,),
    in order, zeros elsewhere (the layout ``EagleBackbone.forward`` takes)."""
    slots = np.flatnonzero(np.asarray(input_ids) == text_context_id)
    if len(slots) != states.shape[0]:
        raise ValueError(f"the prompt has {len(slots)} text slots for {states.shape[0]} states")
    out = torch.zeros((len(input_ids), states.shape[1]), dtype=torch.float32)  # (L, D)
    out[torch.from_numpy(slots)] = states.float()
    return out


class BackboneRunner:
    """System 2's numpy interface: camera images + instruction -> embedding tokens."""

    def __init__(self, ckpt_dir: str | Path, device: str = "cpu", dtype: str = "float32",
                 backend: str = "torch", cache_dir: str | Path | None = None,
                 num_threads: int = 0) -> None:
        """Load the backbone part and the tokenizer of a checkpoint directory (and its
        instruction encoder, when the config names one: `language.instruction`).

        backend: "torch", "onnxruntime" (the backbone exported once into `cache_dir`,
        `export_backbone`) or "auto" (`export_backbone.resolve_backend`); `num_threads` is
        onnxruntime's intra-op thread count (0: 1; torch's is set by the caller).
        """
        from gr00t_policy.checkpoint import load_checkpoint

        ckpt = load_checkpoint(ckpt_dir, parts=("backbone",), device=device)
        encoder = None
        if ckpt.config.backbone.has_instruction_encoder:
            from gr00t_policy.language.instruction import load_instruction_encoder

            encoder = load_instruction_encoder(ckpt.config.backbone, ckpt_dir, device=device)
        self._init(ckpt.policy.backbone, ckpt.tokenizer, ckpt.backbone_id, device, dtype, encoder,
                   backend, cache_dir, num_threads)

    @classmethod
    def from_modules(
        cls,
        backbone: EagleBackbone,
        tokenizer,
        backbone_id: str,
        device: str = "cpu",
        dtype: str = "float32",
        instruction_encoder=None,
        backend: str = "torch",
        cache_dir: str | Path | None = None,
        num_threads: int = 0,
    ) -> "BackboneRunner":
        """Wrap an in-memory backbone and tokenizer (no checkpoint directory)."""
        runner = cls.__new__(cls)
        runner._init(backbone, tokenizer, backbone_id, device, dtype, instruction_encoder,
                     backend, cache_dir, num_threads)
        return runner

    def _init(self, backbone: EagleBackbone, tokenizer, backbone_id: str, device: str, dtype: str,
              instruction_encoder=None, backend: str = "torch",
              cache_dir: str | Path | None = None, num_threads: int = 0) -> None:
        from gr00t_policy.export_backbone import resolve_backend
        from gr00t_policy.prompt import PromptBuilder

        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
        self.config: BackboneConfig = backbone.config
        if self.config.has_instruction_encoder and instruction_encoder is None:
            raise ValueError(f"the backbone reads the instruction through "
                             f"{self.config.instruction_encoder!r}: pass instruction_encoder")
        self.device = torch.device(device)
        self.dtype = _DTYPES[dtype]
        self.prompt = PromptBuilder(tokenizer, self.config)
        self.instruction_encoder = instruction_encoder
        self._last_inputs = None  # (instruction, prompt_inputs' result) of the latest call
        self._inputs_lock = threading.Lock()
        backbone.bind_prompt(self.prompt)
        self.backbone = backbone.to(device=self.device, dtype=self.dtype).eval()
        self._backbone_id = backbone_id
        self.backend = resolve_backend(backend, self.device.type, dtype,
                                       sum(p.numel() for p in backbone.parameters()))
        self._onnx = None
        if self.backend == "onnxruntime":
            from gr00t_policy.export_backbone import OnnxBackbone, cached_backbone_export

            self._onnx = OnnxBackbone(cached_backbone_export(self.backbone, cache_dir),
                                      num_threads=num_threads or 1)

    @property
    def backbone_id(self) -> str:
        """Identity of the backbone weights (``config.json``'s ``backbone_id``)."""
        return self._backbone_id

    @property
    def max_tokens(self) -> int:
        return self.config.max_tokens

    @property
    def output_dim(self) -> int:
        return self.config.output_dim

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def image_crop(self) -> float:
        return self.config.image_crop

    @property
    def num_views(self) -> int:
        return self.config.num_views

    def prompt_inputs(self, instruction: str):
        """The padded prompt of ``instruction`` and, with an instruction encoder, its states
        aligned with the prompt (max_tokens, dim) float32 (None without one; `aligned_states`).
        Raises ValueError when the prompt is over max_tokens."""
        if self.instruction_encoder is None:
            return self.prompt.encode(instruction, num_images=self.config.num_views), None
        # System 2 calls this from its inference thread and, for a new instruction, from its
        # executor (check_instruction): one at a time.
        with self._inputs_lock:
            last = self._last_inputs
            if last is not None and last[0] == instruction:
                return last[1]  # System 2 encodes one instruction for many frames
            states = self.instruction_encoder.states(instruction)  # (n, D)
            prompt = self.prompt.encode(instruction, num_images=self.config.num_views,
                                        text_slots=states.shape[0])
            inputs = prompt, aligned_states(prompt.input_ids, self.prompt.text_context_id, states)
            self._last_inputs = (instruction, inputs)
            return inputs

    def check_instruction(self, instruction: str) -> None:
        """Raise ValueError when ``instruction`` does not fit the backbone's max_tokens, or
        when the tokenizer knows none of its words (`PromptBuilder.check_readable`; with an
        instruction encoder this also computes and caches its states)."""
        self.prompt.check_readable(instruction)
        self.prompt_inputs(instruction)

    def encode(self, images: Sequence[np.ndarray], instruction: str, *,
               prepared: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Encode one set of camera images (checkpoint order) and an instruction
        (``prepared``: the images are already cropped and resized, `preprocess_images`).

        Returns tokens np.float32 (max_tokens, output_dim) and mask np.bool_ (max_tokens,).
        Raises ValueError for a wrong number of images or a prompt over ``max_tokens``.
        """
        if len(images) != self.config.num_views:
            raise ValueError(
                f"expected {self.config.num_views} camera image(s) (the checkpoint's views), "
                f"got {len(images)}"
            )
        prompt, states = self.prompt_inputs(instruction)
        pix = preprocess_images(images, self.config, prepared=prepared)  # (V, 3, S, S)
        if self._onnx is not None:
            tokens, mask = self._onnx(
                prompt.input_ids[None], prompt.attention_mask[None], pix.numpy()[None],
                None if states is None else states.numpy()[None])
            return tokens[0], mask[0]
        with torch.inference_mode():
            tokens, mask = self.backbone(
                torch.from_numpy(prompt.input_ids).unsqueeze(0).to(self.device),  # (1, L)
                torch.from_numpy(prompt.attention_mask).unsqueeze(0).to(self.device),  # (1, L)
                pix.unsqueeze(0).to(device=self.device, dtype=self.dtype),  # (1, V, 3, S, S)
                instruction_states=None if states is None else states.unsqueeze(0).to(self.device),
            )
        return (
            tokens[0].float().cpu().numpy().astype(np.float32, copy=False),
            mask[0].cpu().numpy().astype(np.bool_, copy=False),
        )
