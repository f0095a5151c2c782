"""ChatML prompts for the System 2 backbone, image-token expansion and left padding.

A prompt for ``V`` images and one instruction reads (newlines are part of the text)::

    <|im_start|>system
    You are a helpful assistant.<|im_end|>
    <|im_start|>user
    <img><IMG_CONTEXT>...<IMG_CONTEXT></img>     (once per image, N context tokens each)
    {instruction}<|im_end|>
    <|im_start|>assistant

The backbone scatters each image's N projected vision tokens into its ``<IMG_CONTEXT>``
positions. With an instruction encoder (``BackboneConfig.instruction_encoder``) the
instruction's words are not in the prompt: ``{instruction}`` is ``text_slots`` copies of
``<TXT_CONTEXT>``, one per token the encoder read, and the backbone puts the encoder's
projected states there. Token ids are left-padded to ``max_tokens`` so that System 2 always emits the
same number of tokens; the mask is True on real tokens.

Tokenizers are only ever read from a local directory (a checkpoint), never from a hub.
``build_nano_tokenizer`` makes the small word-level tokenizer of the nano preset, which reads
every word outside its vocabulary as ``[UNK]``; ``PromptBuilder.unknown_words`` names them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gr00t_policy.backbone_config import BackboneConfig

logger = logging.getLogger(__name__)

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
NANO_PAD = "[PAD]"
NANO_UNK = "[UNK]"

# Words of the nano vocabulary besides the special tokens: the ChatML roles, the system
# message, our tasks ("touch the red cube with your left hand", "raise your right hand")
# and common manipulation words. Order does not matter (the vocabulary is sorted).
NANO_WORDS: tuple[str, ...] = tuple(
    """
    system user assistant you are a an helpful
    touch the red green blue yellow orange purple black white gray grey pink brown
    cube cubes block blocks ball box cup mug bottle can bowl plate object objects item
    with your my its their left right both hand hands arm arms finger fingers thumb palm
    raise lower lift drop up down pick place put set move moving grasp grab release open
    close hold keep stop wait wave point reach push pull press turn rotate slide shake
    give take bring hand over under above below on in into onto out of off to from at
    by near next beside between behind front back side top bottom middle center
    forward backward forwards backwards toward towards away home start position pose
    and or then it this that these those is be do not no yes please now again slowly
    quickly gently carefully fast slow little bit small large big tall short
    table shelf drawer door lid handle tray basket bin container gripper robot head body
    waist leg legs look go come follow clap fist high low one two three first second last
    all other same different for while until before after when if
    """.split()
)
NANO_PUNCTUATION: tuple[str, ...] = (".", ",", "!", "?", "'", "-", ":", ";", '"', "(", ")")


def unknown_words(tokenizer, instruction: str) -> list[str]:
    """The pieces of ``instruction`` that ``tokenizer`` reads as its unknown token, in order,
    each once (in its first spelling: case aside); [] when it has no unknown token (a
    byte-level BPE has no unknown pieces).

    The nano tokenizer is word-level: a word outside its vocabulary neither fails nor
    vanishes, it reaches the model as ``[UNK]``, so to a nano checkpoint "tap the red cube"
    and "poke the red cube" are one and the same prompt.
    """
    unk = tokenizer.unk_token_id
    if unk is None:
        return []
    words: list[str] = []
    for token_id, word in pieces(tokenizer, instruction):
        if token_id == unk and word.casefold() not in {w.casefold() for w in words}:
            words.append(word)
    return words


def pieces(tokenizer, instruction: str) -> list[tuple[int, str]]:
    """(token id, the text it stands for) of each token of ``instruction`` (stripped)."""
    text = instruction.strip()
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return [(i, text[a:b]) for i, (a, b) in zip(enc["input_ids"], enc["offset_mapping"])]


def chat_prompt(instruction: str, num_images: int, config: BackboneConfig,
                text_slots: int | None = None) -> str:
    """Return the ChatML text for ``num_images`` images followed by ``instruction``; for a
    config with an instruction encoder, by ``text_slots`` instruction context tokens instead."""
    if not isinstance(instruction, str):
        raise ValueError(f"instruction must be a string, got {type(instruction).__name__}")
    if num_images < 0:
        raise ValueError(f"num_images must be >= 0, got {num_images}")
    if config.has_instruction_encoder:
        if text_slots is None or text_slots < 1:
            raise ValueError("a backbone with an instruction encoder needs text_slots >= 1 "
                             f"(the encoder's token count), got {text_slots!r}")
        instruction = config.instruction_context_token * text_slots
    image_block = (
        config.image_start_token
        + config.image_context_token * config.image_tokens_per_view
        + config.image_end_token
    ) * num_images
    return (
        f"{IM_START}system\n{config.system_message}{IM_END}\n"
        f"{IM_START}user\n{image_block}\n{instruction.strip()}{IM_END}\n"
        f"{IM_START}assistant\n"
    )


@dataclass(frozen=True)
class EncodedPrompt:
    """Left-padded token ids of one prompt.

    Attributes:
        input_ids: np.int64 (max_tokens,), padding ids first.
        attention_mask: np.bool_ (max_tokens,), True on real tokens.
        num_real: number of real (unpadded) tokens.
    """

    input_ids: np.ndarray
    attention_mask: np.ndarray
    num_real: int


class PromptBuilder:
    """Turns (number of images, instruction) into left-padded token ids for one config."""

    def __init__(self, tokenizer, config: BackboneConfig) -> None:
        """Bind a tokenizer (a transformers fast tokenizer) to a backbone config.

        Raises ValueError if a special token of the config is not a single token of the
        tokenizer, or if the tokenizer does not fit in the config's ``vocab_size``.
        """
        self.tokenizer = tokenizer
        self.config = config
        if len(tokenizer) > config.vocab_size:
            raise ValueError(
                f"tokenizer has {len(tokenizer)} tokens but BackboneConfig.vocab_size is "
                f"{config.vocab_size}; use the tokenizer saved with the checkpoint"
            )
        self.image_context_id = self._single_id(config.image_context_token)
        self.text_context_id = (self._single_id(config.instruction_context_token)
                                if config.has_instruction_encoder else None)
        for token in (config.image_start_token, config.image_end_token, IM_START, IM_END):
            self._single_id(token)
        pad_id = tokenizer.pad_token_id
        if pad_id is None:
            pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
            logger.info("tokenizer has no pad token; padding with id %d (masked anyway)", pad_id)
        self.pad_id = int(pad_id)

    def _single_id(self, token: str) -> int:
        ids = self.tokenizer.convert_tokens_to_ids([token])
        unk = self.tokenizer.unk_token_id
        if not ids or ids[0] is None or (unk is not None and ids[0] == unk):
            raise ValueError(
                f"special token {token!r} is not in the tokenizer's vocabulary; the tokenizer "
                f"must define it as a single token"
            )
        return int(ids[0])

    def unknown_words(self, instruction: str) -> list[str]:
        """The words of ``instruction`` this tokenizer reads as its unknown token
        (module-level `unknown_words`); none with an instruction encoder, whose byte-level
        tokenizer reads every word (the words never reach this tokenizer)."""
        if self.config.has_instruction_encoder:
            return []
        return unknown_words(self.tokenizer, instruction)

    def check_readable(self, instruction: str) -> None:
        """ValueError when the tokenizer knows no word of ``instruction`` (every piece with a
        letter or digit in it is its unknown token): the model would read the instruction
        as [UNK] alone, which says nothing of the task, and a nano checkpoint still moved the
        robot on it (an instruction in Chinese raised a hand). With an instruction encoder,
        or a tokenizer without an unknown token, every word is read: nothing to check."""
        unk = self.tokenizer.unk_token_id
        if self.config.has_instruction_encoder or unk is None:
            return
        words = [(i, w) for i, w in pieces(self.tokenizer, instruction)
                 if any(ch.isalnum() for ch in w)]
        if words and all(i == unk for i, _ in words):
            raise ValueError(
                f"no word of the instruction is in the checkpoint tokenizer's vocabulary (it "
                f"would reach the model as {self.tokenizer.unk_token} alone, which says nothing "
                f"of the task): {', '.join(repr(w) for _, w in words)}. Rephrase it with the "
                "words the checkpoint was trained on (the nano vocabulary: "
                "gr00t_policy.prompt.NANO_WORDS)")

    def vocabulary_note(self, instruction: str) -> str | None:
        """A sentence for the log when ``instruction`` has words the tokenizer does not know
        (`unknown_words`), else None. Say it once per instruction, not per inference."""
        words = self.unknown_words(instruction)
        if not words:
            return None
        return (f"{len(words)} word(s) not in the tokenizer's vocabulary reach the model as "
                f"{self.tokenizer.unk_token}, all as the same token: "
                + ", ".join(repr(w) for w in words))

    def token_ids(self, instruction: str, num_images: int, text_slots: int | None = None) -> list[int]:
        """Unpadded token ids of the prompt (``text_slots``: `chat_prompt`); ValueError when
        the instruction holds one of the tokenizer's control tokens."""
        refuse_control_tokens(instruction, self.tokenizer)
        text = chat_prompt(instruction, num_images, self.config, text_slots)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode(self, instruction: str, num_images: int | None = None,
               text_slots: int | None = None) -> EncodedPrompt:
        """Token ids left-padded to ``max_tokens`` (``text_slots``: `chat_prompt`).

        Raises ValueError naming both lengths if the prompt is longer than ``max_tokens``.
        """
        if num_images is None:
            num_images = self.config.num_views
        ids = self.token_ids(instruction, num_images, text_slots)
        max_tokens = self.config.max_tokens
        if len(ids) > max_tokens:
            if text_slots is None:
                fixed = len(self.token_ids("", num_images))  # the prompt around it
                read_as = ""
            else:  # the instruction is text_slots slots whatever its words: count them
                fixed = len(ids) - text_slots
                read_as = (f" as {self.config.instruction_encoder} reads it (its user turn "
                           "included)")
            shown = instruction if len(instruction) <= 80 else instruction[:77] + "..."
            raise ValueError(
                f"the instruction takes {len(ids) - fixed} tokens{read_as} but this "
                f"checkpoint's prompt has room for at most {max_tokens - fixed} (max_tokens "
                f"{max_tokens}, {fixed} of them the prompt's own); shorten the instruction "
                f"{shown!r}"
            )
        n_ctx = sum(1 for i in ids if i == self.image_context_id)
        expected = num_images * self.config.image_tokens_per_view
        if n_ctx != expected:
            raise ValueError(
                f"prompt holds {n_ctx} {self.config.image_context_token} tokens, expected "
                f"{expected}; the instruction must not contain image tokens"
            )
        pad = max_tokens - len(ids)
        input_ids = np.full((max_tokens,), self.pad_id, dtype=np.int64)  # (L,)
        input_ids[pad:] = ids
        mask = np.zeros((max_tokens,), dtype=np.bool_)  # (L,)
        mask[pad:] = True
        return EncodedPrompt(input_ids=input_ids, attention_mask=mask, num_real=len(ids))


def nano_vocabulary(config: BackboneConfig | None = None) -> dict[str, int]:
    """The nano tokenizer's vocabulary: special tokens first, then sorted words/punctuation."""
    config = config or BackboneConfig()
    specials = [
        NANO_PAD, NANO_UNK, IM_START, IM_END,
        config.image_start_token, config.image_end_token, config.image_context_token,
    ]
    words = sorted(set(NANO_WORDS) | set(NANO_PUNCTUATION))
    # The instruction context token comes last, so that adding it kept every earlier id.
    return {tok: i for i, tok in enumerate(specials + words + [config.instruction_context_token])}


def build_nano_tokenizer(config: BackboneConfig | None = None):
    """Build the deterministic word-level tokenizer of the nano preset.

    Lower-cases, splits on whitespace and punctuation, maps unknown words to ``[UNK]``.
    Returns a transformers ``PreTrainedTokenizerFast`` (save it with ``save_pretrained``).
    """
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    config = config or BackboneConfig()
    vocab = nano_vocabulary(config)
    tok = Tokenizer(WordLevel(vocab=vocab, unk_token=NANO_UNK))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    specials = [
        NANO_PAD, NANO_UNK, IM_START, IM_END,
        config.image_start_token, config.image_end_token, config.image_context_token,
        config.instruction_context_token,
    ]
    tok.add_special_tokens(specials)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token=NANO_UNK,
        pad_token=NANO_PAD,
        eos_token=IM_END,
        padding_side="left",
    )
    return wrapped


def refuse_control_tokens(instruction: str, tokenizer: Any) -> None:
    """ValueError naming each control token of `tokenizer` (its special and added tokens:
    <|im_end|>, <img>, [PAD], ...) that `instruction` contains: read as the real tokens,
    they would end the user's turn or fake image blocks, rewriting the prompt's structure."""
    controls = set(tokenizer.all_special_tokens) | set(tokenizer.get_added_vocab())
    found = sorted(t for t in controls if t and t in instruction)
    if found:
        raise ValueError(f"the instruction contains the tokenizer's control token(s) {found}, "
                         "which would rewrite the prompt; remove them")


def load_tokenizer(directory: str | Path):
    """Load the tokenizer saved in a checkpoint directory (local files only, never a hub)."""
    from transformers import PreTrainedTokenizerFast

    directory = Path(directory)
    if not (directory / "tokenizer.json").is_file():
        raise FileNotFoundError(
            f"no tokenizer.json in {directory}; a checkpoint must carry its tokenizer files "
            f"(tokenizer.json, tokenizer_config.json, special_tokens_map.json)"
        )
    return PreTrainedTokenizerFast.from_pretrained(str(directory), local_files_only=True)
