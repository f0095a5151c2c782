"""ONNX export of the guided denoising loop (real-time chunking) for one embodiment slot.

`guided.onnx` sits next to `conditioning.onnx` and `denoise.onnx` in an export directory
(`gr00t_policy.export`):

- inputs: state (1, 1, S_max), noise (1, H, A_max), keys, values, bias (as denoise.onnx),
  target (1, H, A_max), weights (1, H, A_max), beta (1,), all float32;
- output: actions (1, H, A_max): the K-step Euler loop with every velocity guided towards
  `target` (`flow_matching.guided_euler_integrate`), the vector-Jacobian products included.

torch.export cannot capture the autograd call inside the loop, so the loop is first traced
with `torch.fx.experimental.proxy_tensor.make_fx`, which records the backward pass as plain
aten operators, with attention on its math kernels (the fused CPU attention has a backward
operator without an ONNX translation); the traced graph then goes through the same
`torch.onnx.export(dynamo=True)` as the other graphs. onnxruntime's output matches eager
torch (test_export_guided.py checks the parity).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from gr00t_policy.action_head import Conditioning, FlowMatchingActionHead
from gr00t_policy.export import (ExportedActionHead, SlotLoopGraph, cached_beside,
                                 example_inputs, onnx_program, save_beside, single_slot_head)

logger = logging.getLogger(__name__)

GUIDED_FILE = "guided.onnx"
GUIDED_INPUTS = ("state", "noise", "keys", "values", "bias", "target", "weights", "beta")
GUIDED_OUTPUTS = ("actions",)


class GuidedDenoiseGraph(SlotLoopGraph):
    """The guided K-step loop for one slot: (state, noise, K/V/bias, target, weights, beta)
    -> actions."""

    def forward(self, state: torch.Tensor, noise: torch.Tensor, keys: torch.Tensor,
                values: torch.Tensor, bias: torch.Tensor, target: torch.Tensor,
                weights: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        slot = torch.zeros(1, dtype=torch.long, device=state.device)  # (1,)
        cond = Conditioning(keys, values, bias)
        return self.head.sample_guided_from_conditioning(
            cond, state, slot, noise, target, weights, beta, self.num_steps)  # (1, H, A_max)


def guided_path(exported: ExportedActionHead) -> Path:
    """Where an export directory keeps its guided graph."""
    return exported.denoise.parent / GUIDED_FILE


def export_guided(head: FlowMatchingActionHead, exported: ExportedActionHead) -> Path:
    """Write `guided.onnx` into `exported`'s directory (atomically) for the same slot, steps
    and tokens; returns its path. `head` is the full action head the export came from."""
    from torch.fx.experimental.proxy_tensor import make_fx
    from torch.nn.attention import SDPBackend, sdpa_kernel

    cfg = exported.config
    small = single_slot_head(head, exported.slot)
    for p in small.parameters():
        p.requires_grad_(False)  # differentiate with respect to the sample only
    graph = GuidedDenoiseGraph(small, exported.num_steps).eval()
    ex = {k: torch.from_numpy(v) for k, v in example_inputs(cfg, exported.num_tokens).items()}
    with torch.no_grad():
        cond = small.encode_conditioning(ex["tokens"], ex["mask"])
    args = (ex["state"], ex["noise"], cond.keys, cond.values, cond.bias,
            torch.zeros_like(ex["noise"]), torch.ones_like(ex["noise"]),
            torch.full((1,), 5.0))
    logger.info("exporting the guided loop into %s (slot %d, %d steps, %d tokens)",
                exported.denoise.parent, exported.slot, exported.num_steps, exported.num_tokens)
    with sdpa_kernel(SDPBackend.MATH):
        traced = make_fx(graph, tracing_mode="real")(*args)
    path = guided_path(exported)
    save_beside(onnx_program(traced, args, GUIDED_INPUTS, GUIDED_OUTPUTS), path)
    return path


def cached_guided(exported: ExportedActionHead, head: FlowMatchingActionHead | None,
                  load_head=None) -> Path:
    """The guided graph of `exported`, exported on first use (`export.cached_beside`)."""
    return cached_beside(guided_path(exported), lambda h: export_guided(h, exported), head,
                         load_head)
