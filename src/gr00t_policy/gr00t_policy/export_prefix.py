"""ONNX export of the prefix-conditioned denoising loop (real-time chunking by prefix
conditioning) for one embodiment slot.

`prefix.onnx` sits next to `conditioning.onnx` and `denoise.onnx` in an export directory
(`gr00t_policy.export`):

- inputs: state (1, 1, S_max), noise (1, H, A_max), keys, values, bias (as denoise.onnx),
  prefix (1, H, A_max) float32, given (1, H) bool;
- output: actions (1, H, A_max): the K-step Euler loop with the given rows held at the
  prefix and their tokens at the bucket of clean data
  (`flow_matching.prefix_euler_integrate`). No given row is denoise.onnx's loop.

Unlike the guided loop there is no autograd inside, so it exports like denoise.onnx.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from gr00t_policy.action_head import Conditioning, FlowMatchingActionHead
from gr00t_policy.export import (ExportedActionHead, SlotLoopGraph, cached_beside,
                                 example_inputs, onnx_program, save_beside, single_slot_head)

logger = logging.getLogger(__name__)

PREFIX_FILE = "prefix.onnx"
PREFIX_INPUTS = ("state", "noise", "keys", "values", "bias", "prefix", "given")
PREFIX_OUTPUTS = ("actions",)


class PrefixDenoiseGraph(SlotLoopGraph):
    """The prefix-conditioned K-step loop for one slot: (state, noise, K/V/bias, prefix,
    given) -> actions."""

    def forward(self, state: torch.Tensor, noise: torch.Tensor, keys: torch.Tensor,
                values: torch.Tensor, bias: torch.Tensor, prefix: torch.Tensor,
                given: torch.Tensor) -> torch.Tensor:
        slot = torch.zeros(1, dtype=torch.long, device=state.device)  # (1,)
        cond = Conditioning(keys, values, bias)
        return self.head.sample_prefix_from_conditioning(
            cond, state, slot, noise, prefix, given, self.num_steps)  # (1, H, A_max)


def prefix_path(exported: ExportedActionHead) -> Path:
    """Where an export directory keeps its prefix graph."""
    return exported.denoise.parent / PREFIX_FILE


def export_prefix(head: FlowMatchingActionHead, exported: ExportedActionHead) -> Path:
    """Write `prefix.onnx` into `exported`'s directory for the same slot, steps and tokens;
    returns its path. `head` is the full action head the export came from."""
    cfg = exported.config
    small = single_slot_head(head, exported.slot)
    graph = PrefixDenoiseGraph(small, exported.num_steps).eval()
    ex = {k: torch.from_numpy(v) for k, v in example_inputs(cfg, exported.num_tokens).items()}
    given = torch.zeros(1, cfg.action_horizon, dtype=torch.bool)
    given[:, : max(1, cfg.prefix_rows)] = True
    logger.info("exporting the prefix-conditioned loop into %s (slot %d, %d steps, %d tokens)",
                exported.denoise.parent, exported.slot, exported.num_steps, exported.num_tokens)
    with torch.no_grad():
        cond = small.encode_conditioning(ex["tokens"], ex["mask"])
        args = (ex["state"], ex["noise"], cond.keys, cond.values, cond.bias,
                torch.zeros_like(ex["noise"]), given)
        program = onnx_program(graph, args, PREFIX_INPUTS, PREFIX_OUTPUTS)
    path = prefix_path(exported)
    save_beside(program, path)
    return path


def cached_prefix(exported: ExportedActionHead, head: FlowMatchingActionHead | None,
                  load_head=None) -> Path:
    """The prefix graph of `exported`, exported on first use (`export.cached_beside`)."""
    return cached_beside(prefix_path(exported), lambda h: export_prefix(h, exported), head,
                         load_head)
