"""A dataset's episodes written again with other labels (pseudo-labels from a model).

The new dataset has the source's layout (state and action keys and joint names, cameras,
fps), its frames and instructions, and each episode's extra fields (seed, goal and object
positions), plus ``pseudo_labels``: where the labels came from and the source episode. It is
written with :class:`~gr00t_policy.dataset.LeRobotWriter`, so it reads back like any
recording and trains with ``gr00t-train`` (alone or in a ``--mixture``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gr00t_policy.dataset import LeRobotDataset, LeRobotWriter

logger = logging.getLogger(__name__)
RESERVED = ("episode_index", "tasks", "length")


def _keys(ds: LeRobotDataset, modality: str, names: list[str]) -> list[tuple[str, list[str]]]:
    return [(key, names[start:end]) for key, start, end in ds.key_ranges(modality)]


def relabel(ds: LeRobotDataset, out: str | Path, episodes: Sequence[int],
            labeller: Callable[[dict[str, np.ndarray]], tuple[np.ndarray, np.ndarray]],
            source: dict[str, Any], overwrite: bool = False,
            layout: tuple[list, list, str] | None = None) -> Path:
    """Write `episodes` of `ds` to `out` with the (states, actions) `labeller` gives for the
    episode's frames ({camera: uint8 (T, H, W, 3)}); `source` is recorded per episode.
    `layout` = (state keys, action keys, robot type) of another robot (default: the
    source's), the keys as ``[(key, joint names)]``."""
    cameras = ds.cameras
    state_keys, action_keys, robot_type = layout or (
        _keys(ds, "state", ds.state_names), _keys(ds, "action", ds.action_names),
        str(ds.info.get("robot_type", "unknown")))
    with LeRobotWriter(out, fps=ds.fps, state_keys=state_keys, action_keys=action_keys,
                       cameras=cameras, image_shape={c: ds.image_shape(c) for c in cameras},
                       robot_type=robot_type, overwrite=overwrite) as writer:
        for n, i in enumerate(episodes):
            frames = {cam: ds.frames(i, cam) for cam in cameras}
            states, actions = labeller(frames)
            meta = {k: v for k, v in ds.episodes[i].items() if k not in RESERVED}
            meta["pseudo_labels"] = {**source, "source_episode": int(i)}
            writer.add_episode(states, actions, frames, ds.episode(i, load_video=False).task,
                               extra=meta)
            if (n + 1) % 50 == 0:
                logger.info("relabelled %d / %d episodes", n + 1, len(episodes))
    return Path(out)
