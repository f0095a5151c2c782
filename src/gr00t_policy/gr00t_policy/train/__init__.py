"""Joint flow-matching training of the whole policy (backbone + action head) on a LeRobot v2
dataset, producing our checkpoint format. CLI: ``gr00t-train`` (``python -m
gr00t_policy.train``).

One idea per module:

- :mod:`.config`: :class:`TrainConfig` (what shapes the weights) and :class:`RunOptions`
  (where from, where to, how), documented and validated field by field; imports no torch;
- :mod:`.cli`: ``gr00t-train``, its flags derived from those fields;
- :mod:`.data`: the episodes in memory as the policy sees them, random batches, augmentation;
- :mod:`.auxiliary`: the registry of auxiliary losses (plug-ins: a head on the backbone's
  tokens regressing a per-episode target); :mod:`.tabletop`: the tabletop's two;
- :mod:`.state`: the checkpoint, train_log.json, train_state.pt; resume and fine-tuning;
- :mod:`.loop`: :func:`train`, the loop itself.

The names below are importable from here as before the split (loaded on first use, so that
``gr00t_policy.train.config`` stays free of torch).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_EMBODIMENT": "config", "RunOptions": "config", "TrainConfig": "config",
    "build_parser": "cli", "main": "cli", "native_bf16": "cli", "parse_args": "cli",
    "TrainingData": "data", "augment": "data", "build_metadata": "data",
    "open_dataset": "data", "resize_frames": "data",
    "AuxLoss": "auxiliary", "get_aux_loss": "auxiliary", "register": "auxiliary",
    "registered": "auxiliary",
    "GoalHead": "tabletop", "SceneHead": "tabletop",
    "TRAIN_LOG_FILE": "state", "TRAIN_STATE_FILE": "state", "embodiment_entries": "state",
    "save_loss_plot": "state",
    "MixtureData": "mixture", "MixtureEntry": "mixture", "read_mixture": "mixture",
    "TrainResult": "loop", "lr_factor": "loop", "train": "loop",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
