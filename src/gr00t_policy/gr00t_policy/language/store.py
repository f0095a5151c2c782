"""Our directory for a cut pretrained language model, and its loader (local files only).

Layout::

    DIR/language_model.json     manifest: {"format", "num_layers", "source_num_layers",
                                "llama" (model.llama_spec), "dtype", "weights_sha256",
                                "parameters", "source" {..., "sha256"}}
    DIR/model.safetensors       CutLanguageModel's state dict (keys model.*)
    DIR/tokenizer.json, tokenizer_config.json, ...

The tokenizer files are the ones a policy checkpoint carries (``prompt.load_tokenizer`` reads
both). The manifest has its own name, not config.json, so that the directory is never taken
for a policy checkpoint. The loader reads the manifest, checks the weights' sha256, builds the
cut on the meta device and assigns the stored tensors; it never asks a hub for anything.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch

from gr00t_policy.language.model import (
    CutLanguageModel,
    build_llama_config,
    check_num_layers,
    llama_spec,
)
from gr00t_policy.language.source import file_sha256

logger = logging.getLogger(__name__)

FORMAT = "gr00t_ros/language_model/1"
MANIFEST_FILE = "language_model.json"
WEIGHTS_FILE = "model.safetensors"
STORED_DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16}
REIMPORT_HINT = "write it again with `gr00t-policy import-lm --out DIR`"


class LanguageModelError(ValueError):
    """A language model directory that is missing, corrupt or does not match its manifest."""


@dataclass
class LoadedLanguageModel:
    """What :func:`load_language_model` returns.

    Attributes:
        model: the cut LM in eval mode.
        tokenizer: its tokenizer (transformers fast tokenizer).
        manifest: the parsed language_model.json.
        path: the directory.
    """

    model: CutLanguageModel
    tokenizer: Any
    manifest: dict[str, Any]
    path: Path


def _check_out_dir(out: Path, overwrite: bool) -> None:
    """Refuse to write into a non-empty directory that is not one of ours (e.g. a checkpoint)."""
    if overwrite or not out.exists():
        return
    if not out.is_dir():
        raise LanguageModelError(f"{out} exists and is not a directory")
    if any(out.iterdir()) and not (out / MANIFEST_FILE).is_file():
        raise LanguageModelError(
            f"{out} is not empty and holds no {MANIFEST_FILE} (a policy checkpoint's "
            "model.safetensors and tokenizer would be overwritten); choose an empty directory "
            "or pass overwrite=True (--force)"
        )


def save_language_model(
    model: CutLanguageModel,
    tokenizer,
    out_dir: str | Path,
    *,
    source: Mapping[str, Any],
    source_num_layers: int,
    dtype: str = "bfloat16",
    overwrite: bool = False,
) -> Path:
    """Write ``model`` and ``tokenizer`` in our directory format; returns the directory.

    Args:
        model: the cut LM.
        tokenizer: its tokenizer (``save_pretrained``).
        out_dir: the directory (created; a non-empty one without our manifest is refused
            unless ``overwrite``).
        source: where the weights came from, recorded as is (e.g. package, version, file,
            sha256 of the file).
        source_num_layers: the layer count of the model the cut was taken from.
        dtype: "bfloat16" (half the bytes; see docs/BENCHMARKS.md for what it changes) or
            "float32" (the dequantised values exactly).
    """
    from safetensors.torch import save_file

    if dtype not in STORED_DTYPES:
        raise ValueError(f"dtype={dtype!r} must be one of {sorted(STORED_DTYPES)}")
    out = Path(out_dir)
    _check_out_dir(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    stored = STORED_DTYPES[dtype]
    state = {
        k: v.detach().to("cpu", stored if v.is_floating_point() else v.dtype).contiguous()
        for k, v in model.state_dict().items()
    }
    weights = out / WEIGHTS_FILE
    save_file(state, str(weights), metadata={"format": "pt", "gr00t_ros": FORMAT})
    tokenizer.save_pretrained(str(out))
    manifest = {
        "format": FORMAT,
        "num_layers": model.num_layers,
        "source_num_layers": int(source_num_layers),
        "llama": llama_spec(model.model.config),
        "dtype": dtype,
        "weights_file": WEIGHTS_FILE,
        "weights_sha256": file_sha256(weights),
        "parameters": sum(t.numel() for t in state.values()),
        "source": json.loads(json.dumps(dict(source))),
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    logger.info("saved a %d-layer language model (%s) in %s", model.num_layers, dtype, out)
    return out


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """Parse and check ``language_model.json``."""
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        raise LanguageModelError(
            f"{directory} is not a language model directory: no {MANIFEST_FILE}; {REIMPORT_HINT}"
        )
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise LanguageModelError(f"{path} is not valid JSON ({exc}); {REIMPORT_HINT}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise LanguageModelError(f"{path}: format {found!r} is not {FORMAT!r}")
    for key in ("num_layers", "source_num_layers", "llama", "dtype", "weights_sha256"):
        if key not in manifest:
            raise LanguageModelError(f"{path} lacks {key!r}; it has {sorted(manifest)}")
    try:
        check_num_layers(manifest["num_layers"], manifest["source_num_layers"])
    except ValueError as exc:
        raise LanguageModelError(f"{path}: {exc}") from exc
    return manifest


def _read_weights(path: Path, expected: Mapping[str, tuple[int, ...]], device: str,
                  dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """The tensors of ``path``, checked against ``expected`` shapes; errors name the file."""
    from safetensors import safe_open

    out: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            stored = set(f.keys())
            missing = sorted(set(expected) - stored)
            extra = sorted(stored - set(expected))
            if missing or extra:
                raise LanguageModelError(
                    f"{path}: missing keys {missing[:5]}, unexpected keys {extra[:5]} for the "
                    f"manifest's sizes; {REIMPORT_HINT}"
                )
            for key, shape in expected.items():
                t = f.get_tensor(key)
                if tuple(t.shape) != tuple(shape):
                    raise LanguageModelError(
                        f"{path}: key {key!r} has shape {list(t.shape)} but the manifest's "
                        f"sizes give {list(shape)}"
                    )
                out[key] = t.to(dtype) if t.is_floating_point() else t
    except LanguageModelError:
        raise
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise LanguageModelError(f"{path} cannot be read ({exc}); {REIMPORT_HINT}") from exc
    return out


def load_language_model(
    directory: str | Path,
    *,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    verify: bool = True,
) -> LoadedLanguageModel:
    """Load a directory written by :func:`save_language_model` (local files only).

    Args:
        directory: the directory.
        device: where the tensors go.
        dtype: the compute dtype floating tensors are cast to (float32 by default: the CPU
            runs it fastest and a bfloat16 file widens exactly).
        verify: check the weights file's sha256 against the manifest first.

    Raises LanguageModelError naming the file when the manifest or the weights are missing,
    corrupt or do not match.
    """
    from gr00t_policy.prompt import load_tokenizer

    directory = Path(directory)
    manifest = read_manifest(directory)
    weights = directory / str(manifest.get("weights_file", WEIGHTS_FILE))
    if not weights.is_file():
        raise LanguageModelError(f"{weights} is missing; {REIMPORT_HINT}")
    if verify:
        got = file_sha256(weights)
        if got != manifest["weights_sha256"]:
            raise LanguageModelError(
                f"{weights} has sha256 {got[:16]}... but {MANIFEST_FILE} records "
                f"{str(manifest['weights_sha256'])[:16]}... (truncated or changed); {REIMPORT_HINT}"
            )
    try:
        config = build_llama_config(manifest["llama"], manifest["num_layers"])
    except (TypeError, ValueError) as exc:
        raise LanguageModelError(f"{directory / MANIFEST_FILE}: bad 'llama' sizes ({exc})") from exc
    with torch.device("meta"):
        model = CutLanguageModel(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    tensors = _read_weights(weights, expected, device, dtype)
    model.load_state_dict(tensors, strict=True, assign=True)
    model.reset_rotary(device)
    tokenizer = load_tokenizer(directory)
    if len(tokenizer) > config.vocab_size:
        raise LanguageModelError(
            f"{directory}: the tokenizer has {len(tokenizer)} tokens but the embedding has "
            f"{config.vocab_size} rows; {REIMPORT_HINT}"
        )
    return LoadedLanguageModel(model=model.eval(), tokenizer=tokenizer, manifest=manifest,
                               path=directory)
