"""What both pyramid models share: a small convolutional image encoder, and saving a model
as safetensors weights beside a JSON description."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

logger = logging.getLogger(__name__)
WEIGHTS = "model.safetensors"
DESCRIPTION = "model.json"


class ConvEncoder(nn.Module):
    """(B, C, S, S) -> (B, 4 * width, S / 8, S / 8): three stride-2 convolutions."""

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.GELU(),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.GELU(),
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.GELU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def warmup_cosine(optim: torch.optim.Optimizer, steps: int, warmup: float = 0.05
                  ) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning rate rises linearly over the first `warmup` of `steps`, then follows a
    cosine down to 0."""
    rise = max(1, int(warmup * steps))

    def factor(step: int) -> float:
        if step < rise:
            return (step + 1) / rise
        return 0.5 * (1 + math.cos(math.pi * (step - rise) / max(1, steps - rise)))

    return torch.optim.lr_scheduler.LambdaLR(optim, factor)


def fit(model: nn.Module, batch_loss: Callable[[], torch.Tensor], *, steps: int, lr: float,
        name: str, log_every: int = 100) -> list[dict[str, float]]:
    """AdamW on `batch_loss()` (a fresh batch each call) for `steps`, with `warmup_cosine`;
    the log of every `log_every`-th step's loss and elapsed seconds. Leaves `model` in eval
    mode."""
    optim = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = warmup_cosine(optim, steps)
    log: list[dict[str, float]] = []
    t0 = time.monotonic()
    for step in range(1, steps + 1):
        loss = batch_loss()
        optim.zero_grad()
        loss.backward()
        optim.step()
        sched.step()
        if step % log_every == 0 or step == steps:
            log.append({"step": step, "loss": float(loss.detach()), "s": time.monotonic() - t0})
            logger.info("%s step %d: loss %.5f", name, step, float(loss.detach()))
    model.eval()
    return log


def save_model(out: str | Path, model: nn.Module, description: dict[str, Any]) -> Path:
    """Write `model`'s weights and `description` (its kind, config, anything to rebuild it)."""
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()},
              str(out / WEIGHTS))
    (out / DESCRIPTION).write_text(json.dumps(description, indent=2))
    return out


def read_model(path: str | Path, kind: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The description and weights of a model saved by :func:`save_model`; ValueError
    naming the file and the fix when it is missing or of another kind."""
    from safetensors.torch import load_file

    path = Path(path)
    try:
        description = json.loads((path / DESCRIPTION).read_text())
        weights = load_file(str(path / WEIGHTS))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a saved pyramid model ({exc}); pass the directory "
                         f"`gr00t-pyramid` wrote") from exc
    if description.get("kind") != kind:
        raise ValueError(f"{path} holds a {description.get('kind')!r} model, not a {kind!r} "
                         "one; pass the other directory")
    return description, weights


def save_typed(out: str | Path, model: nn.Module, kind: str, extra: dict[str, Any]) -> Path:
    """`save_model` for a model with a dataclass ``cfg``: its kind, config and `extra`."""
    from dataclasses import asdict

    return save_model(out, model, {"kind": kind, "config": asdict(model.cfg), **extra})


def load_typed(path: str | Path, kind: str, build: Callable[[dict[str, Any]], nn.Module]
               ) -> nn.Module:
    """A model `save_typed` wrote, rebuilt by `build(config)`, in eval mode; its description
    (the `extra` it was saved with, e.g. the data it was trained on) as ``model.description``."""
    description, weights = read_model(path, kind)
    model = build(description["config"])
    model.load_state_dict(weights)
    model.description = description
    return model.eval()
