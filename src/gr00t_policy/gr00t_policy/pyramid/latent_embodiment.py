"""Video labelled with latent actions, as a robot of its own for co-training.

GR00T N1 trains its latent-action data as one more embodiment: the policy's per-embodiment
state encoder, action encoder and decoder learn the latent "robot", while the backbone and the
DiT are shared with the real ones. Here that robot has one joint per latent dimension, each
in [-1, 1] (the quantizer's range); its action at ``t`` is the latent action of
``(o_t, o_{t+k})`` and its state the previous latent action (zero at the start), the
closest thing it has to proprioception.

Its embodiment file is written beside the dataset. It exists for training only: no robot
has these joints, and its controller topic is never served.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from gr00t_policy.embodiment.schema import MAX_VELOCITY
from gr00t_policy.pyramid.clips import episode_pairs

KEY = "latent"


def joint_names(dim: int) -> list[str]:
    return [f"latent_{i}" for i in range(dim)]


def latent_labels(model: Any, frames: torch.Tensor, chunk: int = 256
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(states, actions) of one episode's uint8 frames (T, 3, S, S) for the latent robot."""
    actions = [model.latents(first, later)[1]
               for first, later in episode_pairs(frames, model.cfg.gap, chunk)]
    actions = torch.cat(actions).numpy().astype(np.float32)
    states = np.concatenate([np.zeros_like(actions[:1]), actions[:-1]])
    return states, actions


def embodiment_yaml(*, name: str, slot: int, dim: int, camera: str, action_dt: float,
                    source: str) -> str:
    """The latent robot's embodiment file (validated by gr00t_policy.embodiment). The names
    are quoted, so that YAML reads each as the string given (`true`, `3`: not a bool, an int).
    """
    q = json.dumps  # a JSON string is a YAML double-quoted scalar
    # Nothing commands these joints: the fastest velocity limit the schema takes.
    joints = "\n".join(f"      - {{name: {j}, position: [-1.0, 1.0], velocity: {MAX_VELOCITY:.1f}}}"
                       for j in joint_names(dim))
    names = ", ".join(joint_names(dim))
    return f"""# The latent actions of {source}: video without robot actions, labelled by
# `gr00t-pyramid latent` (gr00t_policy.pyramid.latent_embodiment). For co-training only
# (gr00t-train --mixture): no robot has these joints and nothing serves the controller topic.
name: {q(name)}
tag: {q(name)}
slot: {slot}
action_representation: absolute
action_dt: {action_dt}

joint_groups:
  {KEY}:
    joints:
{joints}

state_keys:
  - {{key: {KEY}, group: {KEY}, normalization: min_max}}
action_keys:
  - {{key: {KEY}, group: {KEY}, normalization: min_max}}

cameras:
  - {{name: {q(camera)}, topic: {q(f"/camera/{camera}/image_raw")}}}

controllers:
  - name: {KEY}_controller
    type: forward_command
    topic: {q(f"/{name}/never_commanded")}
    joints: [{names}]

staleness:
  state_s: 0.1
  tokens_s: 0.5
on_stale: hold_last_command
"""
