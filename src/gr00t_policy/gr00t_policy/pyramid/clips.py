"""Frames of a LeRobot dataset at low resolution, and frame pairs drawn from them.

Both pyramid models read a pair of frames ``k`` steps apart (``k / fps`` seconds): what
changed between them is the motion an action caused. Frames are kept as uint8
(T, 3, S, S) per episode; at S = 64 an 800-episode dataset of ~75k frames takes ~0.9 GB.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from gr00t_policy.dataset import LeRobotDataset
from gr00t_policy.train.data import resize_frames

logger = logging.getLogger(__name__)


@dataclass
class Clips:
    """Every chosen episode's frames (and, when labelled, its states and actions)."""

    frames: list[torch.Tensor]  # per episode (T, 3, S, S) uint8
    states: list[np.ndarray] | None  # per episode (T, S_dim) float32
    actions: list[np.ndarray] | None  # per episode (T, A_dim) float32
    episodes: list[int]  # dataset episode index of each entry

    @property
    def num_frames(self) -> int:
        return sum(int(f.shape[0]) for f in self.frames)


def load_clips(ds: LeRobotDataset, camera: str, size: int,
               episodes: Sequence[int] | None = None, labels: bool = True) -> Clips:
    """Decode `camera` of `episodes` (default all) at `size` x `size` pixels."""
    if camera not in ds.cameras:
        raise ValueError(f"camera {camera!r} is not in {ds.root} (it has {ds.cameras}); "
                         "pass --camera with one of those")
    chosen = list(range(ds.num_episodes)) if episodes is None else list(episodes)
    frames, states, actions = [], [], []
    for n, i in enumerate(chosen):
        frames.append(resize_frames(ds.frames(i, camera), size))
        if labels:
            ep = ds.episode(i, load_video=False)
            states.append(ep.states.astype(np.float32))
            actions.append(ep.actions.astype(np.float32))
        if (n + 1) % 100 == 0:
            logger.info("decoded %d / %d episodes", n + 1, len(chosen))
    return Clips(frames, states if labels else None, actions if labels else None, chosen)


def draw_pairs(clips: Clips, rng: np.random.Generator, batch: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """(episode entry, t) of `batch` pairs' first frames, uniform over all frames (the later
    frame is :func:`later_index`'s)."""
    lengths = np.asarray([f.shape[0] for f in clips.frames])
    flat = rng.integers(0, lengths.sum(), size=batch)
    ends = np.cumsum(lengths)
    eps = np.searchsorted(ends, flat, side="right")
    ts = flat - (ends[eps] - lengths[eps])
    return eps, ts


def later_index(t, gap: int, length: int):
    """The pair's later frame: ``gap`` after ``t``, held at the episode's last frame (an
    episode's end holds still). Works on ints and on index tensors."""
    if isinstance(t, torch.Tensor):
        return torch.clamp(t + gap, max=length - 1)
    return min(t + gap, length - 1)


def pair_tensors(clips: Clips, eps: np.ndarray, ts: np.ndarray, gap: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The frame pairs as float in [0, 1]: (B, 3, S, S) each."""
    first = torch.stack([clips.frames[e][t] for e, t in zip(eps, ts)])
    later = torch.stack([clips.frames[e][later_index(t, gap, clips.frames[e].shape[0])]
                         for e, t in zip(eps, ts)])
    return first.float() / 255.0, later.float() / 255.0


def episode_pairs(frames: torch.Tensor, gap: int, chunk: int = 256
                  ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Every frame's pair in one episode's uint8 frames (T, 3, S, S), in order and in
    chunks: (first, later) float in [0, 1], the later frame clamped at the episode's end."""
    n = frames.shape[0]
    for start in range(0, n, chunk):
        t = torch.arange(start, min(start + chunk, n))
        yield frames[t].float() / 255.0, frames[later_index(t, gap, n)].float() / 255.0
