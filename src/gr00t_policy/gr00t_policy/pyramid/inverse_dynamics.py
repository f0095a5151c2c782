"""An inverse-dynamics model: the state and action behind a frame pair.

Trained on labelled episodes, it reads ``(o_t, o_{t+k})`` and predicts the robot's state at
``t`` and the action recorded at ``t``; run over video without labels (GR00T N1's "neural
trajectories": generated video; here our simulator's recordings with their labels set aside)
it writes pseudo-labels the policy then trains on as if they were recorded. Targets are
standardized with the labelled episodes' mean and std, which the saved model keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gr00t_policy.pyramid.clips import Clips, draw_pairs, episode_pairs, pair_tensors
from gr00t_policy.pyramid.nets import ConvEncoder, fit, load_typed, save_typed

KIND = "inverse_dynamics_model"


@dataclass(frozen=True)
class InverseDynamicsConfig:
    state_dim: int
    action_dim: int
    image_size: int = 64
    gap: int = 5
    width: int = 32
    hidden: int = 256


class InverseDynamicsModel(nn.Module):
    def __init__(self, cfg: InverseDynamicsConfig) -> None:
        super().__init__()
        self.cfg = cfg
        cells = (cfg.image_size // 8) ** 2
        self.encoder = ConvEncoder(6, cfg.width)
        self.head = nn.Sequential(nn.Linear(4 * cfg.width * cells, cfg.hidden), nn.GELU(),
                                  nn.Linear(cfg.hidden, cfg.state_dim + cfg.action_dim))
        self.register_buffer("mean", torch.zeros(cfg.state_dim + cfg.action_dim))
        self.register_buffer("std", torch.ones(cfg.state_dim + cfg.action_dim))

    def forward(self, first: torch.Tensor, later: torch.Tensor) -> torch.Tensor:
        """Standardized (state, action) predictions, (B, S + A)."""
        return self.head(self.encoder(torch.cat([first, later], dim=1) - 0.5).flatten(1))

    @torch.no_grad()
    def label(self, first: torch.Tensor, later: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """(states (B, S), actions (B, A)) in the dataset's units."""
        y = self(first, later) * self.std + self.mean
        return y[:, :self.cfg.state_dim], y[:, self.cfg.state_dim:]


def _targets(clips: Clips, eps: np.ndarray, ts: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack([np.concatenate([clips.states[e][t], clips.actions[e][t]])
                                      for e, t in zip(eps, ts)]))


def train_inverse_dynamics(clips: Clips, cfg: InverseDynamicsConfig, *, steps: int,
                           batch: int, lr: float, seed: int, log_every: int = 100
                           ) -> tuple[InverseDynamicsModel, list[dict[str, float]]]:
    if clips.states is None or clips.actions is None:
        raise ValueError("the inverse-dynamics model trains on labelled episodes")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = InverseDynamicsModel(cfg)
    every = np.concatenate([np.concatenate([s, a], axis=1)
                            for s, a in zip(clips.states, clips.actions)])
    model.mean.copy_(torch.from_numpy(every.mean(axis=0)))
    model.std.copy_(torch.from_numpy(np.maximum(every.std(axis=0), 1e-3)))

    def batch_loss() -> torch.Tensor:
        eps, ts = draw_pairs(clips, rng, batch)
        first, later = pair_tensors(clips, eps, ts, cfg.gap)
        target = (_targets(clips, eps, ts) - model.mean) / model.std
        return F.mse_loss(model(first, later), target)

    log = fit(model, batch_loss, steps=steps, lr=lr, name="idm", log_every=log_every)
    return model, log


@torch.no_grad()
def label_episode(model: InverseDynamicsModel, frames: torch.Tensor, chunk: int = 256
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-labels of one episode's uint8 frames (T, 3, S, S): (states, actions)."""
    states, actions = [], []
    for first, later in episode_pairs(frames, model.cfg.gap, chunk):
        s, a = model.label(first, later)
        states.append(s)
        actions.append(a)
    return torch.cat(states).numpy(), torch.cat(actions).numpy()


def label_errors(model: InverseDynamicsModel, clips: Clips) -> dict[str, float]:
    """Mean absolute error of the pseudo-labels against the recorded ones (rad), over every
    frame of `clips`, beside predicting the labelled mean (no model)."""
    err_s, err_a, base_s, base_a = [], [], [], []
    mean = model.mean.numpy()
    sd = model.cfg.state_dim
    for frames, s, a in zip(clips.frames, clips.states, clips.actions):
        ps, pa = label_episode(model, frames)
        err_s.append(np.abs(ps - s))
        err_a.append(np.abs(pa - a))
        base_s.append(np.abs(mean[:sd] - s))
        base_a.append(np.abs(mean[sd:] - a))
    cat = np.concatenate
    return {"state_mae": float(cat(err_s).mean()), "action_mae": float(cat(err_a).mean()),
            "state_mae_p95_joint": float(np.percentile(cat(err_s).mean(axis=0), 95)),
            "mean_state_mae": float(cat(base_s).mean()),
            "mean_action_mae": float(cat(base_a).mean()), "frames": int(cat(err_s).shape[0])}


def save_inverse_dynamics(out, model: InverseDynamicsModel, extra: dict) -> None:
    save_typed(out, model, KIND, extra)


def load_inverse_dynamics(path) -> InverseDynamicsModel:
    return load_typed(path, KIND,
                      lambda config: InverseDynamicsModel(InverseDynamicsConfig(**config)))
