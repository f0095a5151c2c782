"""The tabletop's auxiliary losses (plug-ins of :mod:`gr00t_policy.train.auxiliary`): where
every cube is (``scene``) and where the named hand ends (``goal``).

Why: flow matching alone did not teach the nano backbone, trained from scratch, to find the
named cube: System 2's tokens changed 0.2% with the colour word (bench/grounding_probe.py).
GR00T N1 gets that grounding from its pretrained VLM; these losses are the nano stand-in.

- ``goal`` (``--goal-weight``): :class:`GoalHead` reads the backbone's last token and
  regresses the episode's ``goal_position`` (meta/episodes.jsonl: where the named hand
  ends, world frame; gr00t-collect records it).
- ``scene`` (``--scene-weight``): :class:`SceneHead` reads the backbone's tokens at the
  image positions and regresses every object's position in the episode's
  ``object_positions`` (gr00t-collect records the cubes). A ridge regression finds the
  cubes to ~2-3 cm from raw pixels but only to ~7 cm from the image tokens of a backbone
  trained by flow matching alone: the vision tower, trained from scratch, dropped them. This
  keeps them in the tokens System 1 cross-attends to; ``goal`` then teaches the words to
  pick one.

Targets are normalized over the episodes (MSE on normalized positions). Neither head is part
of the checkpoint.
"""

from __future__ import annotations

import numpy as np
import torch

from gr00t_policy.dataset import LeRobotDataset
from gr00t_policy.policy_config import PolicyConfig
from gr00t_policy.train.auxiliary import AuxLoss, register
from gr00t_policy.train.data import TrainingData

GOAL_KEY = "goal_position"
SCENE_KEY = "object_positions"
GOAL_STD_FLOOR = 0.01  # m: a coordinate that barely varies (the table's height) is not inflated


def _normalized(rows: list[np.ndarray]) -> torch.Tensor:
    """(N, D) float32: each column minus its mean over the episodes, divided by its standard
    deviation (floored at GOAL_STD_FLOOR)."""
    x = np.stack(rows)
    std = np.maximum(x.std(axis=0), GOAL_STD_FLOOR)
    return torch.from_numpy(((x - x.mean(axis=0)) / std).astype(np.float32))


def _episode_goals(ds: LeRobotDataset) -> torch.Tensor:
    """Every episode's ``goal_position`` from meta/episodes.jsonl, normalized; (N, 3)."""
    goals = []
    for i, entry in enumerate(ds.episodes):
        goal = np.asarray(entry.get(GOAL_KEY, []), dtype=np.float64)
        if goal.shape != (3,) or not np.isfinite(goal).all():
            raise ValueError(
                f"episode {i} of {ds.root} has no valid {GOAL_KEY!r} (x, y, z) in "
                f"meta/episodes.jsonl (got {entry.get(GOAL_KEY)!r}); --goal-weight needs it: "
                "record the dataset with this gr00t-collect, or train with --goal-weight 0")
        goals.append(goal)
    return _normalized(goals)


def _episode_objects(ds: LeRobotDataset) -> torch.Tensor:
    """Every episode's ``object_positions`` ({name: (x, y, z)}, the same names in every
    episode) from meta/episodes.jsonl, in name order and normalized; (N, 3 * objects)."""
    names, rows = None, []
    for i, entry in enumerate(ds.episodes):
        objects = entry.get(SCENE_KEY)
        if names is None and isinstance(objects, dict) and objects:
            names = sorted(objects)
        ok = isinstance(objects, dict) and sorted(objects) == names
        row = np.asarray([objects[n] for n in names], dtype=np.float64) if ok else np.zeros(0)
        if row.shape != (len(names or ()), 3) or not np.isfinite(row).all():
            raise ValueError(
                f"episode {i} of {ds.root} has no valid {SCENE_KEY!r} in meta/episodes.jsonl "
                f"({{name: [x, y, z]}} with the names {names} of episode 0; got {objects!r}); "
                "--scene-weight needs it: record the dataset with this gr00t-collect, or train "
                "with --scene-weight 0")
        rows.append(row.reshape(-1))
    return _normalized(rows)


class GoalHead(torch.nn.Module):
    """Training-only head of the ``goal`` loss: the backbone's last token (B, L, C) -> the
    goal position (B, 3), normalized. With left-padded prompts the last column is the last
    real token, which attends to the whole prompt and image."""

    def __init__(self, width: int, hidden: int = 256) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(width, hidden), torch.nn.GELU(),
                                       torch.nn.Linear(hidden, 3))

    def forward(self, features: torch.Tensor, image_mask: torch.Tensor) -> torch.Tensor:
        # image_mask is unused: every auxiliary head takes (features, image_mask).
        return self.net(features[:, -1].float())


class SceneHead(torch.nn.Module):
    """Training-only head of the ``scene`` loss: the backbone's tokens at the image
    positions, (B, tokens, C) flattened, so which token holds what stays known -> every
    object's position (B, outputs), normalized."""

    def __init__(self, width: int, tokens: int, outputs: int, hidden: int = 256) -> None:
        super().__init__()
        self.tokens = tokens
        self.net = torch.nn.Sequential(torch.nn.Linear(width * tokens, hidden), torch.nn.GELU(),
                                       torch.nn.Linear(hidden, outputs))

    def forward(self, features: torch.Tensor, image_mask: torch.Tensor) -> torch.Tensor:
        b, _, c = features.shape
        image = features[image_mask].reshape(b, self.tokens, c)  # (B, tokens, C)
        return self.net(image.reshape(b, -1).float())


def _goal_head(config: PolicyConfig, data: TrainingData) -> GoalHead:
    return GoalHead(config.backbone.output_dim)


def _scene_head(config: PolicyConfig, data: TrainingData) -> SceneHead:
    bb = config.backbone
    return SceneHead(bb.output_dim, bb.image_tokens_per_view * bb.num_views,
                     data.targets["scene"].shape[1])


GOAL = register(AuxLoss(
    name="goal",
    help="weight of the auxiliary goal-position loss that teaches the backbone to find the "
    "named object (0: off; needs goal_position in the dataset's episodes.jsonl, which "
    "gr00t-collect writes)",
    targets=_episode_goals, build_head=_goal_head,
    legacy_state_key="goal_head",  # train_state.pt before the scene head existed
))
SCENE = register(AuxLoss(
    name="scene",
    help="weight of the auxiliary loss that keeps every object's position in the image tokens "
    "(0: off; needs object_positions in episodes.jsonl, which gr00t-collect writes)",
    targets=_episode_objects, build_head=_scene_head,
))
