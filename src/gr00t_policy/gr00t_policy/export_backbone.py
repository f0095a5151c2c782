"""System 2's backbone as one ONNX graph on onnxruntime, exported once per backbone.

`backbone.onnx` (static shapes, batch 1, float32, the CPU):
  input_ids (1, L) int64, attention_mask (1, L) int64, pixel_values (1, V, 3, S, S) float32
  [, instruction_states (1, L, E) float32 when the backbone reads the instruction through a
  pretrained language model: that model runs once per instruction in torch, not per frame]
  -> tokens (1, L, C) float32, mask (1, L) bool
L is the checkpoint's max_tokens: the prompt is always padded to it.

Why: the nano backbone's forward takes ~20 ms in torch eager on two of our CPU threads and
~12.5 ms as this graph on one onnxruntime thread (docs/BENCHMARKS.md, "System 2 on
onnxruntime"); on a 2-core machine shared with the simulator and System 1 that is the
difference between System 2 keeping 10 Hz and missing ticks. `resolve_backend` says when
the graph is used.

    exported = cached_backbone_export(backbone, cache_dir)
    session = OnnxBackbone(exported, num_threads=1)
    tokens, mask = session(input_ids, attention_mask, pixel_values, instruction_states)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gr00t_policy.backend_names import SYSTEM2_BACKENDS
from gr00t_policy.export import OPSET, onnx_program, read_export_meta
from gr00t_policy.export_cache import (export_once, exporter_id, module_content_hash,
                                       cache_root)

logger = logging.getLogger(__name__)

GRAPH_FILE = "backbone.onnx"
META_FILE = "export.json"
FORMAT = "gr00t_ros/backbone_onnx/1"
INPUTS = ("input_ids", "attention_mask", "pixel_values")
INSTRUCTION_INPUT = "instruction_states"
OUTPUTS = ("tokens", "mask")
# The modules whose code the graph is traced from (`export_cache.exporter_id`): this one and
# the backbone's (it takes the backbone as an argument, so does not import it).
EXPORTERS = ("gr00t_policy.export_backbone", "gr00t_policy.backbone")

# auto leaves larger backbones (the full GR00T N1 VLM, ~1.3 B) to torch: exporting one takes
# minutes and several times its size in memory, and they belong on a GPU anyway.
AUTO_ONNX_MAX_PARAMS = 300_000_000


def resolve_backend(backend: str, device: str, dtype: str, num_params: int) -> str:
    """The backend System 2 runs: `backend` itself, or for "auto" onnxruntime where the graph
    applies (the CPU, float32, at most AUTO_ONNX_MAX_PARAMS parameters) and torch elsewhere.
    Raises ValueError for onnxruntime where it cannot run, naming the fix."""
    if backend not in SYSTEM2_BACKENDS:
        raise ValueError(f"unknown System 2 backend {backend!r}; use one of "
                         f"{list(SYSTEM2_BACKENDS)}")
    if backend == "auto":
        small = num_params <= AUTO_ONNX_MAX_PARAMS
        return "onnxruntime" if device == "cpu" and dtype == "float32" and small else "torch"
    if backend == "onnxruntime" and (device != "cpu" or dtype != "float32"):
        raise ValueError(f"backend 'onnxruntime' runs the backbone in float32 on the CPU, not "
                         f"{dtype} on {device!r}: use backend 'torch' there (or 'auto')")
    return backend


@dataclass(frozen=True)
class ExportedBackbone:
    """Path and static shapes of an exported backbone."""

    graph: Path
    num_views: int
    image_size: int
    max_tokens: int
    instruction_dim: int  # 0: no instruction_states input

    def write_meta(self, out_dir: Path) -> None:
        meta = {"format": FORMAT, "num_views": self.num_views, "image_size": self.image_size,
                "max_tokens": self.max_tokens, "instruction_dim": self.instruction_dim,
                "opset": OPSET}
        (Path(out_dir) / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))

    @classmethod
    def load(cls, out_dir: str | Path) -> "ExportedBackbone":
        """Raises FileNotFoundError when `out_dir` holds no complete export, ValueError when
        its format is not `FORMAT` (another version of gr00t_ros wrote it)."""
        out_dir = Path(out_dir)
        meta_path, graph = out_dir / META_FILE, out_dir / GRAPH_FILE
        if not meta_path.is_file() or not graph.is_file():
            raise FileNotFoundError(f"no backbone export in {out_dir}")
        meta = read_export_meta(meta_path)
        found = meta.get("format") if isinstance(meta, dict) else None
        if found != FORMAT:
            raise ValueError(f"{meta_path}: format {found!r} is not {FORMAT!r}: written by "
                             "another version of gr00t_ros, or not a backbone export. Fix: "
                             f"delete {out_dir} (it is exported again on first use)")
        return cls(graph=graph, num_views=int(meta["num_views"]),
                   image_size=int(meta["image_size"]), max_tokens=int(meta["max_tokens"]),
                   instruction_dim=int(meta["instruction_dim"]))


class _Graph(torch.nn.Module):
    """The backbone's forward with the instruction states positional (or absent)."""

    def __init__(self, backbone: torch.nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, input_ids, attention_mask, pixel_values, instruction_states=None):
        return self.backbone(input_ids, attention_mask, pixel_values,
                             instruction_states=instruction_states)


def export_backbone(backbone: Any, out_dir: str | Path) -> ExportedBackbone:
    """Export `backbone` (an EagleBackbone with its prompt bound) to `out_dir`/backbone.onnx,
    traced in float32 on the CPU on a prompt of max_tokens ids."""
    import copy

    cfg = backbone.config
    if backbone.image_context_id is None:
        raise ValueError("bind_prompt(PromptBuilder) the backbone before exporting it: the "
                         "graph places the image tokens where the prompt has them")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = backbone
    if any(p.dtype != torch.float32 or p.device.type != "cpu" for p in backbone.parameters()):
        model = copy.deepcopy(backbone).float().cpu()
    model.eval()
    length, views, size = cfg.max_tokens, cfg.num_views, cfg.image_size
    # Any prompt with the right number of image slots traces the same graph: where the
    # images go, and the positions, are computed from the inputs.
    ids = torch.zeros((1, length), dtype=torch.long)
    ids[0, length - views * cfg.image_tokens_per_view:] = backbone.image_context_id
    mask = torch.ones((1, length), dtype=torch.long)
    pix = torch.zeros((1, views, 3, size, size), dtype=torch.float32)
    args: tuple = (ids, mask, pix)
    names = list(INPUTS)
    dim = 0
    if cfg.has_instruction_encoder:
        dim = int(cfg.instruction_encoder_dim)
        args += (torch.zeros((1, length, dim), dtype=torch.float32),)
        names.append(INSTRUCTION_INPUT)
    logger.info("exporting System 2's backbone to %s (%d views of %d px, %d tokens)", out_dir,
                views, size, length)
    with torch.no_grad():
        program = onnx_program(_Graph(model).eval(), args, names, OUTPUTS)
    program.save(str(out_dir / GRAPH_FILE), external_data=None)
    exported = ExportedBackbone(graph=out_dir / GRAPH_FILE, num_views=views, image_size=size,
                                max_tokens=length, instruction_dim=dim)
    exported.write_meta(out_dir)
    return exported


def backbone_key(backbone: Any) -> str:
    """Content hash of a backbone (config and weights): its export's cache key."""
    return module_content_hash({"backbone": backbone.config.to_dict(),
                                "image_context_id": backbone.image_context_id,
                                "text_context_id": backbone.text_context_id}, backbone)


def cached_backbone_export(backbone: Any, cache_dir: str | Path | None = None
                           ) -> ExportedBackbone:
    """The export of `backbone` under `cache_dir`/onnx (default ~/.cache/gr00t_ros), made on
    first use; a changed weight or prompt layout gets its own export, and so do other
    exporting code and exporter versions (`export_cache.exporter_id`)."""
    cache = cache_root(cache_dir)  # before the export: CacheDirError names it
    cfg = backbone.config
    exporter = exporter_id(FORMAT, EXPORTERS)
    out_dir = cache / "onnx" / (f"{backbone_key(backbone)[:16]}-x{exporter[:8]}-backbone"
                                f"-v{cfg.num_views}-s{cfg.image_size}-l{cfg.max_tokens}")
    try:
        return ExportedBackbone.load(out_dir)
    except FileNotFoundError:
        pass
    export_once(out_dir, lambda tmp: export_backbone(backbone, tmp))
    return ExportedBackbone.load(out_dir)


class OnnxBackbone:
    """An exported backbone on onnxruntime's CPU provider (one call at a time).

    Its threads never spin-wait for work: onnxruntime's default does, and on a machine
    shared with the simulator and System 1 the spinning threads take the CPU the others
    need (docs/BENCHMARKS.md, "System 2 on onnxruntime").
    """

    def __init__(self, exported: ExportedBackbone, num_threads: int = 1) -> None:
        from gr00t_policy.backends import cpu_session, cpu_session_options

        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        opts = cpu_session_options(num_threads, spin=False)
        self.exported = exported
        self._session = cpu_session(exported.graph, opts)
        names = [i.name for i in self._session.get_inputs()]
        want = list(INPUTS) + ([INSTRUCTION_INPUT] if exported.instruction_dim else [])
        if names != want:
            raise ValueError(f"{exported.graph} takes {names}, expected {want}: delete it to "
                             "have it exported again")

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray,
                 pixel_values: np.ndarray, instruction_states: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(1, L) ids and mask, (1, V, 3, S, S) pixels [, (1, L, E) states] -> tokens (1, L, C)
        float32 and mask (1, L) bool."""
        feed = {"input_ids": np.asarray(input_ids, np.int64),
                "attention_mask": np.asarray(attention_mask, np.int64),
                "pixel_values": np.ascontiguousarray(pixel_values, np.float32)}
        if self.exported.instruction_dim:
            if instruction_states is None:
                raise ValueError("this backbone reads the instruction through a language "
                                 "model: pass instruction_states")
            feed[INSTRUCTION_INPUT] = np.ascontiguousarray(instruction_states, np.float32)
        tokens, mask = self._session.run(list(OUTPUTS), feed)
        return tokens, mask.astype(np.bool_, copy=False)
