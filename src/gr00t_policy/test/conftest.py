"""Fixtures shared by the action head tests: a seeded random nano head and inputs for it."""

from __future__ import annotations

import pytest
import torch

from gr00t_policy.action_head import FlowMatchingActionHead
from gr00t_policy.action_head_config import ACTION_HEAD_PRESETS
from gr00t_policy.export import example_inputs

NANO = ACTION_HEAD_PRESETS["nano"]
SLOT = 1  # not slot 0, so that a slot mix-up shows


@pytest.fixture(scope="module")
def head() -> FlowMatchingActionHead:
    """The nano action head, random weights from seed 0, eval mode (one torch thread)."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    return FlowMatchingActionHead(NANO).eval()


@pytest.fixture(scope="module")
def head_inputs(head):
    """(conditioning of 64 example tokens, state (1, 1, S), slot (1,), noise (1, H, A))."""
    ex = {k: torch.from_numpy(v) for k, v in example_inputs(NANO, 64, seed=5).items()}
    with torch.no_grad():
        cond = head.encode_conditioning(ex["tokens"], ex["mask"])
    return cond, ex["state"], torch.tensor([SLOT]), ex["noise"]
