"""Auxiliary training losses, as registered plug-ins the training loop knows only by name.

An auxiliary loss adds ``weight * MSE(head(features, image_mask), targets)`` to the
flow-matching loss: a small training-only head reads the backbone's tokens and regresses a
per-episode target that the dataset records in meta/episodes.jsonl. What it teaches is the
plug-in's business (:mod:`gr00t_policy.train.tabletop`: where the cubes are, which one the
words name); the loop sees, per loss:

- ``name``: the batch key of its targets, its flag ``--<name>-weight`` and its weight in
  ``TrainConfig.aux_weights``, ``<name>_losses`` in train_log.json, and its head's entry
  ``heads[<name>]`` in train_state.pt (the checkpoint never holds a head);
- ``targets(dataset)``: the per-episode targets, (N, D) float32 (raises ValueError naming
  the episode and the field where one is missing);
- ``build_head(policy_config, data)``: the head, ``head(features (B, L, C), image_mask
  (B, L)) -> (B, D)``, ``data`` being the :class:`~gr00t_policy.train.data.TrainingData`
  (its ``targets[name]`` give D).

Losses run in registration order (the order of :data:`PLUGIN_MODULES`, then within a
module), whatever order the weights are given in: the heads' initialisation draws from
torch's global generator, so the order is part of what a seed reproduces.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # no torch at import: the CLI lists the plug-ins' flags
    import torch

    from gr00t_policy.dataset import LeRobotDataset
    from gr00t_policy.policy_config import PolicyConfig
    from gr00t_policy.train.config import TrainConfig
    from gr00t_policy.train.data import TrainingData

# The modules that register auxiliary losses, imported on the first look-up.
PLUGIN_MODULES = ("gr00t_policy.train.tabletop",)


@dataclass(frozen=True)
class AuxLoss:
    """One auxiliary loss (see the module docstring).

    Attributes:
        name: its key everywhere (a Python identifier).
        help: what it teaches and what the dataset must record (the help of its flag).
        targets: dataset -> per-episode targets (N, D), float32.
        build_head: (policy config, training data) -> the training-only head.
        legacy_state_key: the top-level train_state.pt key that held the head before heads
            were saved under "heads" (None: it never was).
    """

    name: str
    help: str
    targets: Callable[["LeRobotDataset"], "torch.Tensor"]
    build_head: Callable[["PolicyConfig", "TrainingData"], "torch.nn.Module"]
    legacy_state_key: str | None = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"AuxLoss.name must be a Python identifier, got {self.name!r}")


_REGISTRY: dict[str, AuxLoss] = {}
_loaded = False


def register(loss: AuxLoss) -> AuxLoss:
    """Add ``loss`` to the registry (a plug-in module calls this at import); returns it.
    Raises ValueError if another loss has its name."""
    if _REGISTRY.get(loss.name, loss) is not loss:
        raise ValueError(f"auxiliary loss {loss.name!r} is registered twice; rename one")
    _REGISTRY[loss.name] = loss
    return loss


def registered() -> list[AuxLoss]:
    """Every registered auxiliary loss, in registration order."""
    global _loaded
    if not _loaded:
        for module in PLUGIN_MODULES:
            importlib.import_module(module)
        _loaded = True
    return list(_REGISTRY.values())


def get_aux_loss(name: str) -> AuxLoss:
    """The auxiliary loss called ``name``; an unknown name lists the known ones and the closest."""
    known = {loss.name: loss for loss in registered()}
    if name in known:
        return known[name]
    close = difflib.get_close_matches(str(name), sorted(known), n=1, cutoff=0.0)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown auxiliary loss {name!r}; known auxiliary losses: {sorted(known)}{hint}")


def active_losses(cfg: "TrainConfig") -> list[tuple[AuxLoss, float]]:
    """(loss, weight) for each auxiliary loss ``cfg`` turns on (weight > 0), in registration
    order; raises ValueError for a name that is not registered."""
    for name, _ in cfg.aux_weights:
        get_aux_loss(name)
    return [(loss, cfg.aux_weight(loss.name)) for loss in registered() if cfg.aux_weight(loss.name) > 0]
