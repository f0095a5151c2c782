"""Joint flow-matching training of the whole policy (backbone + action head) on a LeRobot v2
dataset, producing our checkpoint format. CLI: ``gr00t-train``.

One training sample is a random (episode, frame t) of the dataset:

- the camera image(s) at frame ``t - k``: with probability ``stale_prob`` ``k`` is drawn from
  1..``max_stale_frames`` (the System 2 tokens are older than the state at run time: up to
  ~100 ms by design, p99 160-190 ms measured in the graph on 2 cores, where System 1's
  real-time priority slows System 2; the default 4 frames at 20 fps covers 200 ms), else
  ``k = 0``; clamped at the episode start;
- the instruction, as a left-padded ChatML prompt;
- the state at ``t``, normalized with the dataset statistics (per key, the embodiment's
  normalization mode) and zero-padded to ``max_state_dim``;
- the action chunk: the ``H`` joint set-points commanded at frames ``t .. t+H-1`` (row 0 is
  commanded right after observing state ``t`` and held for one action_dt; row k at
  ``t + k*dt``: `gr00t_policy.runtime.chunk` plays them back on the same timeline), normalized, zero-padded to ``max_action_dim``; rows past the episode end
  repeat the last row and are masked out of the loss;
- the embodiment slot of the embodiment config.

The loss is ``GR00TPolicy.loss`` (masked flow-matching MSE through backbone and action head
jointly). AdamW, linear warmup then cosine decay to zero, bfloat16 autocast where the CPU computes
bfloat16 natively (``--precision`` to choose), gradient clipping. Deterministic for a given ``seed`` (one numpy Generator for sampling, one torch
Generator for augmentation, noise and flow times; no loader workers).

Resuming (``--resume``): every intermediate save also writes ``train_state.pt`` (optimizer
moments and the random generators' states) beside the weights; a run cut off after a save
continues from it with the same command plus ``--resume`` and gives the same weights as an
uninterrupted run. A checkpoint without ``train_state.pt`` (one from before it existed) can be
resumed too: its weights and losses carry on, the optimizer moments start from zero and the
generators are re-seeded from (seed, step); ``train_log.json`` records that in ``resumed``.
The final save removes ``train_state.pt``.

Fine-tuning (``--init-from CKPT``): the weights start from a trained checkpoint of the same
model config instead of a random init; the optimizer, learning-rate schedule (warmup, cosine)
and step count start afresh, and the normalization statistics are the new dataset's (as when
Isaac-GR00T fine-tunes on a dataset). ``train_log.json`` names the checkpoint in
``init_from``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from gr00t_policy.dataset import ACTION, STATE, LeRobotDataset
from gr00t_policy.embodiment import EmbodimentConfig, load_embodiment
from gr00t_policy.normalization import compute_statistics, metadata_entry
from gr00t_policy.policy import GR00TPolicy
from gr00t_policy.policy_config import PolicyConfig, get_preset
from gr00t_policy.processor import Processor
from gr00t_policy.prompt import PromptBuilder, build_nano_tokenizer

logger = logging.getLogger(__name__)

DEFAULT_EMBODIMENT = "config/unitree_g1.yaml"


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and sampling settings.

    Attributes:
        steps: optimizer steps.
        batch_size: samples per step.
        lr: peak learning rate (after warmup).
        weight_decay: AdamW weight decay.
        betas: AdamW betas.
        warmup_ratio: fraction of ``steps`` with a linear warmup from 0.
        grad_clip: max global gradient norm (0 disables clipping).
        seed: seeds model init, sampling, augmentation, noise and flow times.
        start_prob: probability that a sample's frame is drawn from its episode's first
            ``start_frames`` frames instead of uniformly from the whole episode.
        start_frames: that window. Why: there the state is the rest pose (or the first,
            cube-independent lift) whatever the instruction, so only the image and the words
            say where the arm goes; later frames can be fitted by continuing the motion the
            state already shows. The checkpoint trained with uniform frames went to the wrong
            cube in 6 of 8 failed touches *on its own training scenes*
            (bench/policy_loop.py --collect-tasks).
        goal_weight: weight of the auxiliary goal loss (0: off, plain flow matching). When on,
            a small training-only head (:class:`GoalHead`) reads the backbone's last token
            and regresses the episode's ``goal_position`` (meta/episodes.jsonl: where the
            named hand ends, world frame; gr00t-collect records it), and its MSE on
            normalized positions is added to the flow-matching loss times this weight. Why:
            flow matching alone did not teach the nano backbone, trained from scratch, to
            find the named cube: System 2's tokens changed 0.2% with the colour word
            (bench/grounding_probe.py). GR00T N1 gets that grounding from its pretrained
            VLM; this loss is the nano stand-in. The head is not part of the checkpoint.
        scene_weight: weight of the auxiliary scene loss (0: off). When on, a training-only
            head (:class:`SceneHead`) reads the backbone's tokens at the image positions and
            regresses every object's position in the episode's ``object_positions``
            (meta/episodes.jsonl; gr00t-collect records the cubes), MSE on normalized
            positions, times this weight. Why: a ridge regression finds the cubes to ~2-3 cm
            from raw pixels but only to ~7 cm from the image tokens of a backbone trained by
            flow matching alone: the vision tower, trained from scratch, dropped them. This
            keeps them in the tokens System 1 cross-attends to; ``goal_weight`` then teaches
            the words to pick one. Not part of the checkpoint either.
        stale_prob: probability that a sample's image is older than its state.
        max_stale_frames: the image is then 1..max_stale_frames frames older.
        augment: random shift (+-``shift_px``) and colour jitter on the images.
        shift_px: largest random translation, pixels at the backbone's image size. Kept
            small (2): the camera is fixed to the torso, so where a cube appears is where it
            is, and a cube is ~10 px wide at 112 px.
        jitter: largest relative brightness / contrast change.
        bf16: bfloat16 autocast for the forward pass (fp32 master weights). The CLI turns it
            on only where the CPU has native bfloat16 (:func:`native_bf16`): on an AVX512-BF16
            CPU a nano step at batch 32 took ~0.46 s against ~0.67 s in fp32 (best of 12
            interleaved steps each, 2 threads, shared machine), but on an AVX2-only AMD EPYC
            (2026-12-02) a bfloat16 step took ~18 s: emulated.
        log_every: steps between logged (averaged) losses.
        save_every: steps between intermediate checkpoints (0: only at the end).
    """

    steps: int = 5000
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 1e-5
    betas: tuple[float, float] = (0.95, 0.999)
    warmup_ratio: float = 0.05
    grad_clip: float = 1.0
    seed: int = 0
    start_prob: float = 0.0
    start_frames: int = 16
    goal_weight: float = 0.0
    scene_weight: float = 0.0
    stale_prob: float = 0.5
    max_stale_frames: int = 4
    augment: bool = True
    shift_px: int = 2
    jitter: float = 0.1
    bf16: bool = True
    log_every: int = 50
    save_every: int = 1000

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"TrainConfig.warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        for name in ("stale_prob", "start_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"TrainConfig.{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("goal_weight", "scene_weight"):
            weight = getattr(self, name)
            if not (math.isfinite(weight) and weight >= 0):
                raise ValueError(f"TrainConfig.{name} must be >= 0, got {weight}")
        if self.start_frames < 1:
            raise ValueError(f"TrainConfig.start_frames must be >= 1, got {self.start_frames}")
        if self.max_stale_frames < 0 or self.shift_px < 0 or self.log_every < 1 or self.save_every < 0:
            raise ValueError(
                "TrainConfig.max_stale_frames, shift_px, save_every must be >= 0 and log_every "
                f">= 1; got {self.max_stale_frames}, {self.shift_px}, {self.save_every}, "
                f"{self.log_every}"
            )
        if not 0.0 <= self.jitter < 1.0:
            raise ValueError(f"TrainConfig.jitter must be in [0, 1), got {self.jitter}")


# --------------------------------------------------------------------------------- metadata


def _check_layout(ds: LeRobotDataset, emb: EmbodimentConfig) -> None:
    """The dataset's keys, joints and cameras must be the embodiment's."""
    for modality, keys, names in (
        ("state", emb.state_keys, ds.state_names),
        ("action", emb.action_keys, ds.action_names),
    ):
        ds_keys = [(k, e - s) for k, s, e in ds.key_ranges(modality)]
        emb_keys = [(k.key, len(k.joints)) for k in keys]
        if ds_keys != emb_keys:
            raise ValueError(
                f"dataset {ds.root} {modality} keys {ds_keys} differ from embodiment "
                f"{emb.name!r} keys {emb_keys}; record the dataset with this embodiment"
            )
        joints = [j for k in keys for j in k.joints]
        if names and names != joints:
            raise ValueError(
                f"dataset {ds.root} {modality} joint names differ from embodiment {emb.name!r}: "
                f"first mismatch at {next(i for i, (a, b) in enumerate(zip(names, joints)) if a != b)}"
            )
    cams = [c.name for c in emb.cameras]
    missing = [c for c in cams if c not in ds.cameras]
    if missing:
        raise ValueError(
            f"embodiment {emb.name!r} cameras {missing} are not in dataset {ds.root} "
            f"(it has {ds.cameras})"
        )


def build_metadata(ds: LeRobotDataset, emb: EmbodimentConfig) -> dict[str, Any]:
    """Isaac-GR00T ``experiment_cfg/metadata.json`` for the embodiment, from the dataset.

    Per state / action key: min, max, mean, std, q01, q99 over all frames (recomputed from
    the episode files, so meta/stats.json need not be current).
    """
    _check_layout(ds, emb)
    states = np.concatenate([ds.episode(i, load_video=False).states for i in range(ds.num_episodes)])
    actions = np.concatenate([ds.episode(i, load_video=False).actions for i in range(ds.num_episodes)])
    state_stats = compute_statistics({k: states[:, s:e] for k, s, e in ds.key_ranges("state")})
    action_stats = compute_statistics({k: actions[:, s:e] for k, s, e in ds.key_ranges("action")})
    return {emb.tag: metadata_entry(emb.tag, state_stats, action_stats)}


def embodiment_entry(emb: EmbodimentConfig) -> dict[str, dict[str, Any]]:
    """config.json "embodiments" entry: {tag: EmbodimentConfig.checkpoint_entry()}."""
    return {emb.tag: emb.checkpoint_entry()}


# ------------------------------------------------------------------------------------ data


def resize_frames(frames: np.ndarray, size: int) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> uint8 (T, 3, size, size), bilinear with anti-aliasing.

    The same resampling as ``backbone.preprocess_images`` (then rounded to uint8).
    """
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()  # (T, 3, H, W)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)  # (T, 3, S, S)


class TrainingData:
    """All episodes in memory (images resized to the backbone's size, vectors normalized)."""

    def __init__(
        self,
        ds: LeRobotDataset,
        emb: EmbodimentConfig,
        config: PolicyConfig,
        prompt: PromptBuilder,
        metadata: dict[str, Any],
        *,
        goals: bool = False,
        scene: bool = False,
    ) -> None:
        """Load and preprocess every episode of ``ds``; raises ValueError on a layout mismatch.

        ``goals``: also load each episode's ``goal_position`` (for ``TrainConfig.goal_weight``),
        normalized over the episodes; batches then carry ``goal`` (B, 3).
        ``scene``: likewise its ``object_positions`` (``TrainConfig.scene_weight``); batches
        then carry ``scene`` (B, 3 * objects), objects in name order.
        """
        _check_layout(ds, emb)
        bb, ah = config.backbone, config.action_head
        if len(emb.cameras) != bb.num_views:
            raise ValueError(
                f"embodiment {emb.name!r} has {len(emb.cameras)} camera(s) but the backbone "
                f"takes num_views={bb.num_views}"
            )
        if not 0 <= emb.slot < ah.num_embodiments:
            raise ValueError(
                f"embodiment slot {emb.slot} out of range [0, {ah.num_embodiments}) "
                "(ActionHeadConfig.num_embodiments)"
            )
        self.horizon = ah.action_horizon
        self.slot = emb.slot
        self.cameras = [c.name for c in emb.cameras]
        proc = Processor.from_metadata(
            metadata, emb.tag,
            state_keys=[(k.key, k.mode) for k in emb.state_keys],
            action_keys=[(k.key, k.mode) for k in emb.action_keys],
            max_state_dim=ah.max_state_dim, max_action_dim=ah.max_action_dim,
        )
        task_ids = sorted(ds.tasks)
        encoded = [prompt.encode(ds.tasks[i], num_images=bb.num_views) for i in task_ids]
        self._task_row = {t: r for r, t in enumerate(task_ids)}
        ids = np.stack([e.input_ids for e in encoded])  # (K, max_tokens)
        real = np.stack([e.attention_mask for e in encoded])  # (K, max_tokens)
        # Prompts are left-padded to max_tokens (64) and ours are <= 40 tokens: drop the
        # columns that are padding in every prompt. The language model's positions count real
        # tokens only (backbone: cumsum of the mask) and the action head masks padding out of
        # its cross-attention, so the policy computes the same function as on max_tokens
        # columns at run time, and a training step runs ~21% faster (602 -> 476 ms forward and
        # backward at batch 32, 2 threads, AMD EPYC).
        first = int(np.argmax(real.any(axis=0)))
        self.input_ids = torch.from_numpy(ids[:, first:])  # (K, L)
        self.attention_mask = torch.from_numpy(real[:, first:])  # (K, L)

        self.images: list[torch.Tensor] = []  # per episode (T, V, 3, S, S) uint8
        self.states: list[torch.Tensor] = []  # per episode (T, S_max) float32
        self.actions: list[torch.Tensor] = []  # per episode (T + H - 1, A_max) float32
        self.lengths: list[int] = []
        self.task_rows: list[int] = []
        for i in range(ds.num_episodes):
            ep = ds.episode(i, load_video=False)
            views = [resize_frames(ds.frames(i, cam), bb.image_size) for cam in self.cameras]
            self.images.append(torch.stack(views, dim=1))  # (T, V, 3, S, S)
            state = proc.state(ep.states)  # (T, S_max)
            act = proc.actions(ep.actions)  # (T, A_max)
            act = np.concatenate([act, np.repeat(act[-1:], self.horizon - 1, axis=0)])  # (T+H-1, A_max)
            self.states.append(torch.from_numpy(state))
            self.actions.append(torch.from_numpy(act))
            self.lengths.append(ep.length)
            self.task_rows.append(self._task_row[ep.task_index])
        self.goals = _episode_goals(ds) if goals else None  # (N, 3) normalized
        self.scene = _episode_objects(ds) if scene else None  # (N, 3 * objects) normalized
        self.action_dim = emb.action_dim
        self.max_action_dim = ah.max_action_dim
        self.mean = torch.tensor(bb.image_mean).view(1, 1, 3, 1, 1)
        self.std = torch.tensor(bb.image_std).view(1, 1, 3, 1, 1)
        self._episode_of = np.concatenate(
            [np.full(n, i, dtype=np.int64) for i, n in enumerate(self.lengths)]
        )
        self._frame_of = np.concatenate([np.arange(n, dtype=np.int64) for n in self.lengths])
        mib = sum(x.numel() for x in self.images) / 2**20
        logger.info("training data: %d episodes, %d frames, images %.0f MiB",
                    len(self.lengths), self.num_frames, mib)

    @property
    def num_frames(self) -> int:
        return int(self._episode_of.shape[0])

    def draw_frames(self, rng: np.random.Generator, batch_size: int,
                    cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
        """(episode, frame) index pairs, (B,) each: uniform over all frames, except that with
        probability ``cfg.start_prob`` a pair comes from a uniformly drawn episode's first
        ``cfg.start_frames`` frames."""
        flat = rng.integers(0, self.num_frames, size=batch_size)
        eps, ts = self._episode_of[flat], self._frame_of[flat]
        if cfg.start_prob > 0:  # no extra draws otherwise: runs before this option repeat
            early = rng.random(batch_size) < cfg.start_prob
            start_eps = rng.integers(0, len(self.lengths), size=batch_size)
            window = np.minimum(np.asarray(self.lengths)[start_eps], cfg.start_frames)
            start_ts = (rng.random(batch_size) * window).astype(np.int64)
            eps, ts = np.where(early, start_eps, eps), np.where(early, start_ts, ts)
        return eps, ts

    def sample(
        self,
        rng: np.random.Generator,
        batch_size: int,
        cfg: TrainConfig,
        generator: torch.Generator,
    ) -> dict[str, torch.Tensor]:
        """A batch for ``GR00TPolicy.loss`` at the frames :meth:`draw_frames` picks."""
        eps, ts = self.draw_frames(rng, batch_size, cfg)
        stale = rng.random(batch_size) < cfg.stale_prob
        lag = rng.integers(1, cfg.max_stale_frames + 1, size=batch_size) if cfg.max_stale_frames else (
            np.zeros(batch_size, dtype=np.int64))
        img_t = np.maximum(ts - np.where(stale, lag, 0), 0)
        images = torch.stack([self.images[e][t] for e, t in zip(eps, img_t)])  # (B, V, 3, S, S)
        state = torch.stack([self.states[e][t] for e, t in zip(eps, ts)]).unsqueeze(1)  # (B, 1, S_max)
        actions = torch.stack(
            [self.actions[e][t : t + self.horizon] for e, t in zip(eps, ts)]
        )  # (B, H, A_max)
        steps = torch.arange(self.horizon)  # (H,)
        remaining = torch.as_tensor([self.lengths[e] - t for e, t in zip(eps, ts)])  # (B,)
        row_valid = steps.unsqueeze(0) < remaining.unsqueeze(1)  # (B, H)
        dim_valid = torch.arange(self.max_action_dim) < self.action_dim  # (A_max,)
        action_mask = (row_valid.unsqueeze(-1) & dim_valid).float()  # (B, H, A_max)
        pix = images.float() / 255.0  # (B, V, 3, S, S)
        if cfg.augment:
            pix = augment(pix, generator, cfg.shift_px, cfg.jitter)
        rows = torch.as_tensor([self.task_rows[e] for e in eps])  # (B,)
        extra = {}
        if self.goals is not None:
            extra["goal"] = self.goals[torch.from_numpy(eps)]  # (B, 3)
        if self.scene is not None:
            extra["scene"] = self.scene[torch.from_numpy(eps)]  # (B, 3 * objects)
        return {
            **extra,
            "input_ids": self.input_ids[rows],  # (B, L)
            "attention_mask": self.attention_mask[rows],  # (B, L)
            "pixel_values": (pix - self.mean) / self.std,  # (B, V, 3, S, S)
            "state": state,
            "actions": actions,
            "action_mask": action_mask,
            "embodiment_id": torch.full((batch_size,), self.slot, dtype=torch.long),  # (B,)
        }


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
    """Training-only auxiliary head (``TrainConfig.goal_weight``): the backbone's last token
    (B, L, C) -> the goal position (B, 3), normalized. With left-padded prompts the last
    column is the last real token, which attends to the whole prompt and image."""

    def __init__(self, width: int, hidden: int = 256) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(width, hidden), torch.nn.GELU(),
                                       torch.nn.Linear(hidden, 3))

    def forward(self, features: torch.Tensor, image_mask: torch.Tensor) -> torch.Tensor:
        # image_mask is unused: every auxiliary head takes (features, image_mask).
        return self.net(features[:, -1].float())


class SceneHead(torch.nn.Module):
    """Training-only auxiliary head (``TrainConfig.scene_weight``): the backbone's tokens at
    the image positions, (B, tokens, C) flattened, so which token holds what stays known ->
    every object's position (B, outputs), normalized."""

    def __init__(self, width: int, tokens: int, outputs: int, hidden: int = 256) -> None:
        super().__init__()
        self.tokens = tokens
        self.net = torch.nn.Sequential(torch.nn.Linear(width * tokens, hidden), torch.nn.GELU(),
                                       torch.nn.Linear(hidden, outputs))

    def forward(self, features: torch.Tensor, image_mask: torch.Tensor) -> torch.Tensor:
        b, _, c = features.shape
        image = features[image_mask].reshape(b, self.tokens, c)  # (B, tokens, C)
        return self.net(image.reshape(b, -1).float())


def augment(pix: torch.Tensor, generator: torch.Generator, shift_px: int, jitter: float) -> torch.Tensor:
    """Random translation (edge-replicated, +-shift_px) and brightness/contrast jitter.

    pix: (B, V, 3, S, S) in [0, 1]; returns the same shape, clamped to [0, 1].
    """
    b, v, c, s, _ = pix.shape
    x = pix.reshape(b * v, c, s, s)  # (N, 3, S, S)
    if shift_px > 0:
        padded = F.pad(x, [shift_px] * 4, mode="replicate")  # (N, 3, S+2p, S+2p)
        offs = torch.randint(0, 2 * shift_px + 1, (b * v, 2), generator=generator)
        x = torch.stack([padded[i, :, dy : dy + s, dx : dx + s] for i, (dy, dx) in enumerate(offs.tolist())])
    if jitter > 0:
        scale = 1.0 + (torch.rand(b * v, 2, generator=generator) * 2.0 - 1.0) * jitter  # (N, 2)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (N, 1, 1, 1)
        x = (x - mean) * scale[:, 0].view(-1, 1, 1, 1) + mean  # contrast
        x = x * scale[:, 1].view(-1, 1, 1, 1)  # brightness
    return x.clamp(0.0, 1.0).reshape(b, v, c, s, s)


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warmup over ``warmup`` steps, then cosine decay to 0 at ``total``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


# ---------------------------------------------------------------------------------- training


@dataclass
class TrainResult:
    """What :func:`train` returns: per-step losses, the checkpoint directory, seconds per step."""

    losses: list[float]
    checkpoint: Path
    seconds_per_step: float


def save_loss_plot(losses: Sequence[float], path: Path, window: int = 50) -> None:
    """PNG of the per-step loss and its moving average (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y = np.asarray(losses, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(np.arange(1, len(y) + 1), y, lw=0.5, alpha=0.4, label="loss")
    w = max(1, min(window, len(y) // 5))
    if len(y) >= w:
        ma = np.convolve(y, np.ones(w) / w, mode="valid")
        ax.plot(np.arange(w, len(y) + 1), ma, lw=1.5, label=f"moving average ({w})")
    ax.set_xlabel("step")
    ax.set_ylabel("flow-matching loss")
    ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


TRAIN_STATE_FILE = "train_state.pt"
TRAIN_LOG_FILE = "train_log.json"


def _save(policy, out: Path, tokenizer, metadata, emb, preset, losses, cfg, info) -> None:
    from gr00t_policy.checkpoint import save_checkpoint

    save_checkpoint(policy, out, tokenizer=tokenizer, metadata=metadata,
                    embodiments=embodiment_entry(emb), preset=preset)
    save_loss_plot(losses, out / "loss.png")
    log = {"train_config": asdict(cfg), "losses": losses, **info}
    (out / TRAIN_LOG_FILE).write_text(json.dumps(log, indent=1))


def _save_train_state(out: Path, optim, rng: np.random.Generator, generator: torch.Generator,
                      heads: torch.nn.ModuleDict | None = None) -> None:
    """What an exact resume needs beyond the weights: optimizer moments, generator states
    (and the training-only auxiliary heads, which the checkpoint does not hold)."""
    state = {
        "heads": {} if heads is None else {k: h.state_dict() for k, h in heads.items()},
        "optimizer": optim.state_dict(),
        "numpy_rng": rng.bit_generator.state,
        "torch_generator": generator.get_state(),
        "torch_global": torch.get_rng_state(),
    }
    tmp = out / (TRAIN_STATE_FILE + ".tmp")
    torch.save(state, tmp)
    tmp.replace(out / TRAIN_STATE_FILE)


def _read_resume_log(out: Path, cfg: TrainConfig) -> dict[str, Any]:
    """The interrupted run's train_log.json, checked against ``cfg``; raises ValueError."""
    path = out / TRAIN_LOG_FILE
    if not path.is_file():
        raise ValueError(f"--resume: {path} not found; resume needs a checkpoint saved by gr00t-train")
    log = json.loads(path.read_text())
    saved = dict(log.get("train_config", {}))
    saved["betas"] = tuple(saved.get("betas", ()))
    want = asdict(cfg)
    # A setting added after the run was saved is absent from its log; the run used the
    # setting's default (each new setting's default keeps the old behaviour).
    default = asdict(TrainConfig())
    # How often to save or log may change on resume; what shapes the weights may not.
    free = {"save_every", "log_every"}
    differ = sorted(k for k in want if k not in free and saved.get(k, default[k]) != want[k])
    if differ:
        pairs = ", ".join(f"{k}: saved {saved.get(k, default[k])!r} vs now {want[k]!r}"
                          for k in differ)
        raise ValueError(f"--resume: {path} was trained with other settings ({pairs}); "
                         "pass the same options as the interrupted run")
    step = int(log.get("step", 0))
    if not 0 < step < cfg.steps or len(log.get("losses", [])) != step:
        raise ValueError(f"--resume: {path} is at step {step} of {cfg.steps} with "
                         f"{len(log.get('losses', []))} losses; nothing to resume")
    return log


def train(
    dataset_dir: str | Path,
    out_dir: str | Path,
    *,
    policy_config: PolicyConfig,
    embodiment: EmbodimentConfig,
    cfg: TrainConfig,
    preset: str | None = None,
    progress: bool = True,
    resume: bool = False,
    init_from: str | Path | None = None,
) -> TrainResult:
    """Train a randomly initialised policy on a dataset and save it as a checkpoint.

    Args:
        dataset_dir: a LeRobot v2 dataset recorded for ``embodiment``.
        out_dir: the checkpoint directory written (also loss.png, train_log.json).
        policy_config: model sizes (a preset or a custom config).
        embodiment: the robot (keys, normalization modes, slot, cameras, action_dt).
        cfg: optimisation settings.
        preset: preset name written into config.json (None for a custom config).
        progress: show a tqdm progress bar.
        resume: continue the run whose intermediate checkpoint is in ``out_dir`` (same
            dataset and settings; see the module docstring).
        init_from: a checkpoint (same model config) whose weights replace the random init
            (fine-tuning). On ``resume`` the weights come from ``out_dir`` instead, which
            already holds the fine-tuned weights.
    """
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    ds = LeRobotDataset(dataset_dir)
    if abs(ds.fps * embodiment.action_dt - 1.0) > 1e-6:
        raise ValueError(
            f"dataset fps {ds.fps} does not match embodiment action_dt {embodiment.action_dt} "
            f"(expected fps {1.0 / embodiment.action_dt:g})"
        )
    out = Path(out_dir)
    start, losses, resumed, log = 0, [], [], {}
    if resume:  # checked before the (slow) video decoding below
        log = _read_resume_log(out, cfg)
        start, losses, resumed = int(log["step"]), list(log["losses"]), list(log.get("resumed", []))
    tokenizer = build_nano_tokenizer(policy_config.backbone)
    prompt = PromptBuilder(tokenizer, policy_config.backbone)
    metadata = build_metadata(ds, embodiment)
    policy = GR00TPolicy(policy_config, image_context_id=prompt.image_context_id)
    if resume:
        _load_resume_weights(policy, out, metadata)
    elif init_from is not None:
        _load_init_weights(policy, Path(init_from))
    data = TrainingData(ds, embodiment, policy_config, prompt, metadata,
                        goals=cfg.goal_weight > 0, scene=cfg.scene_weight > 0)
    bb = policy_config.backbone
    heads = torch.nn.ModuleDict()  # training-only auxiliary heads, name -> head
    if cfg.goal_weight > 0:
        heads["goal"] = GoalHead(bb.output_dim)
    if cfg.scene_weight > 0:
        heads["scene"] = SceneHead(bb.output_dim, bb.image_tokens_per_view * bb.num_views,
                                   data.scene.shape[1])
    weights = {"goal": cfg.goal_weight, "scene": cfg.scene_weight}
    aux_losses = {name: list(log.get(f"{name}_losses", [])) for name in heads}
    policy.train()
    decay, no_decay = [], []
    named = list(policy.named_parameters()) + [
        (f"aux.{n}", p) for n, p in heads.named_parameters()]
    for name, p in named:
        (no_decay if p.ndim < 2 or name.endswith(".bias") else decay).append(p)
    optim = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, betas=cfg.betas,
    )
    if resume:
        exact = _restore_train_state(out, optim, rng, generator, heads)
        resumed.append({"step": start, "exact": exact})
        if not exact:
            rng = np.random.default_rng([cfg.seed, start])
            generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + start)
            logger.warning("resuming at step %d without %s: optimizer moments restart from zero and "
                           "the generators are re-seeded from (seed, step); the weights will differ "
                           "from an uninterrupted run's", start, TRAIN_STATE_FILE)
        else:
            logger.info("resuming at step %d from %s", start, out / TRAIN_STATE_FILE)
    warmup = int(cfg.warmup_ratio * cfg.steps)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: lr_factor(s + start, cfg.steps, warmup))
    info = {"dataset": str(Path(dataset_dir).resolve()), "episodes": ds.num_episodes,
            "frames": data.num_frames, "preset": preset, "threads": torch.get_num_threads()}
    if resumed:
        info["resumed"] = resumed
    if init_from is not None:
        info["init_from"] = str(Path(init_from).resolve())
    for name, values in aux_losses.items():
        info[f"{name}_losses"] = values  # the same lists, appended to below
    bar = tqdm(range(start, cfg.steps), desc="train", unit="step", disable=not progress,
               initial=start, total=cfg.steps)
    t0 = time.perf_counter()
    for step in bar:
        batch = data.sample(rng, cfg.batch_size, cfg, generator)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            features, mask = policy.encode(batch)  # (B, L, C), (B, L)
            loss = flow = policy.loss_from_features(features, mask, batch, generator=generator)
            image_mask = batch["input_ids"] == policy.backbone.image_context_id  # (B, L)
            aux = {name: F.mse_loss(head(features, image_mask), batch[name])
                   for name, head in heads.items()}
            for name, value in aux.items():
                loss = loss + weights[name] * value
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at step {step}; lower --lr")
        optim.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_([p for _, p in named], cfg.grad_clip)
        optim.step()
        sched.step()
        losses.append(float(flow.item()))  # the flow-matching part, comparable across runs
        for name, value in aux.items():
            aux_losses[name].append(float(value.item()))
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            recent = float(np.mean(losses[-cfg.log_every:]))
            bar.set_postfix(loss=f"{recent:.4f}", lr=f"{sched.get_last_lr()[0]:.2e}")
            logger.info("step %d loss %.4f%s", step + 1, recent, "".join(
                f" {name} loss {np.mean(values[-cfg.log_every:]):.4f}"
                for name, values in aux_losses.items()))
        if cfg.save_every and (step + 1) % cfg.save_every == 0 and step + 1 < cfg.steps:
            policy.eval()
            _save(policy, out, tokenizer, metadata, embodiment, preset, losses, cfg,
                  {**info, "step": step + 1})
            _save_train_state(out, optim, rng, generator, heads)
            policy.train()
    elapsed = time.perf_counter() - t0
    policy.eval()
    sps = elapsed / max(1, cfg.steps - start)
    _save(policy, out, tokenizer, metadata, embodiment, preset, losses, cfg,
          {**info, "step": cfg.steps, "seconds_per_step": sps})
    (out / TRAIN_STATE_FILE).unlink(missing_ok=True)
    return TrainResult(losses=losses, checkpoint=out, seconds_per_step=sps)


def _load_matching_checkpoint(policy: GR00TPolicy, path: Path, option: str):
    """The checkpoint at ``path``; raises ValueError naming the fields if its model config
    is not ``policy``'s."""
    from gr00t_policy.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    ours, theirs = policy.config.to_dict(), ckpt.config.to_dict()
    if theirs != ours:
        differ = sorted(f"{part}.{k}" for part in ours for k in ours[part]
                        if ours[part][k] != theirs.get(part, {}).get(k))
        raise ValueError(f"{option}: {path} holds another model config than --preset asks for "
                         f"(differs in {differ or 'its layout'}); pass the preset it was trained with")
    return ckpt


def _load_resume_weights(policy: GR00TPolicy, out: Path, metadata: dict[str, Any]) -> None:
    """Load the interrupted run's weights; its statistics must be this dataset's."""
    ckpt = _load_matching_checkpoint(policy, out, "--resume")
    if json.loads(json.dumps(metadata)) != ckpt.metadata:
        raise ValueError(f"--resume: the normalization statistics in {out} differ from this "
                         "dataset's; resume on the dataset the run was started on")
    policy.load_state_dict(ckpt.policy.state_dict())


def _load_init_weights(policy: GR00TPolicy, path: Path) -> None:
    """Start from a trained checkpoint's weights; its model config must be ``policy``'s."""
    policy.load_state_dict(_load_matching_checkpoint(policy, path, "--init-from").policy.state_dict())
    logger.info("weights initialised from %s", path)


def _restore_train_state(out: Path, optim, rng: np.random.Generator, generator: torch.Generator,
                         heads: torch.nn.ModuleDict | None = None) -> bool:
    """Restore optimizer, generators (and auxiliary heads) from train_state.pt; False if there
    is none."""
    path = out / TRAIN_STATE_FILE
    if not path.is_file():
        return False
    state = torch.load(path, weights_only=True)
    saved = state.get("heads")
    if saved is None:  # written before the scene head: a goal head or none
        saved = {} if state.get("goal_head") is None else {"goal": state["goal_head"]}
    for name, head in (heads or {}).items():
        head.load_state_dict(saved[name])
    optim.load_state_dict(state["optimizer"])
    rng.bit_generator.state = state["numpy_rng"]
    generator.set_state(state["torch_generator"])
    torch.set_rng_state(state["torch_global"])
    return True


# --------------------------------------------------------------------------------------- CLI


def _default_embodiment() -> Path:
    here = Path(DEFAULT_EMBODIMENT)
    if here.is_file():
        return here
    repo = Path(__file__).resolve().parents[3] / DEFAULT_EMBODIMENT
    return repo if repo.is_file() else here


def native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this x86 CPU computes bfloat16 natively (the avx512_bf16 or amx_bf16 flag).

    ``cpuinfo`` is /proc/cpuinfo's text (read when None); False where it cannot be read.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines()
                  if line.startswith("flags")), [])
    return "avx512_bf16" in flags or "amx_bf16" in flags


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gr00t-train",
        description="Train the policy (backbone + action head jointly, flow matching) on a "
        "LeRobot v2 dataset and write a gr00t_ros checkpoint.",
    )
    d = TrainConfig()
    p.add_argument("--dataset", required=True, help="LeRobot v2 dataset directory (gr00t-collect output)")
    p.add_argument("--out", required=True, help="checkpoint directory to write")
    p.add_argument("--preset", default="nano", help="policy size preset (default: nano)")
    p.add_argument("--embodiment", default=None,
                   help=f"embodiment YAML (default: {DEFAULT_EMBODIMENT})")
    p.add_argument("--steps", type=int, default=d.steps, help="optimizer steps")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="samples per step")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW weight decay")
    p.add_argument("--warmup-ratio", type=float, default=d.warmup_ratio, help="warmup fraction of steps")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (init, sampling, noise)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--start-prob", type=float, default=d.start_prob,
                   help="probability of a frame from an episode's first --start-frames frames "
                   f"(default {d.start_prob:g}: uniform)")
    p.add_argument("--start-frames", type=int, default=d.start_frames,
                   help="that window, in frames")
    p.add_argument("--goal-weight", type=float, default=d.goal_weight,
                   help="weight of the auxiliary goal-position loss that teaches the backbone "
                   "to find the named object (default 0: off; needs goal_position in the "
                   "dataset's episodes.jsonl, which gr00t-collect writes)")
    p.add_argument("--scene-weight", type=float, default=d.scene_weight,
                   help="weight of the auxiliary loss that keeps every object's position in "
                   "the image tokens (default 0: off; needs object_positions in episodes.jsonl, "
                   "which gr00t-collect writes)")
    p.add_argument("--stale-prob", type=float, default=d.stale_prob,
                   help="probability of an image older than the state")
    p.add_argument("--max-stale-frames", type=int, default=d.max_stale_frames,
                   help="how many frames older the image may be")
    p.add_argument("--no-augment", action="store_true", help="disable image shift / colour jitter")
    p.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto",
                   help="forward pass: bfloat16 autocast or plain float32 (default auto: bf16 "
                   "where the CPU has native bfloat16, avx512_bf16/amx_bf16; elsewhere it is "
                   "emulated and ~30x slower)")
    p.add_argument("--save-every", type=int, default=d.save_every,
                   help="steps between intermediate checkpoints (0: only at the end)")
    p.add_argument("--log-every", type=int, default=d.log_every, help="steps between loss logs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--resume", action="store_true",
                   help="continue the run whose intermediate checkpoint is in --out (same options)")
    p.add_argument("--init-from", default=None, metavar="CKPT",
                   help="fine-tune: start from this checkpoint's weights (same --preset); "
                   "optimizer and schedule start afresh, statistics are --dataset's")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    emb_path = Path(args.embodiment) if args.embodiment else _default_embodiment()
    if not emb_path.is_file():
        raise SystemExit(f"embodiment YAML {emb_path} not found; pass --embodiment PATH")
    cfg = TrainConfig(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        warmup_ratio=args.warmup_ratio, seed=args.seed, start_prob=args.start_prob,
        start_frames=args.start_frames, goal_weight=args.goal_weight,
        scene_weight=args.scene_weight, stale_prob=args.stale_prob,
        max_stale_frames=args.max_stale_frames, augment=not args.no_augment,
        bf16=native_bf16() if args.precision == "auto" else args.precision == "bf16",
        log_every=args.log_every, save_every=args.save_every,
    )
    logger.info("forward pass in %s (--precision %s)", "bfloat16" if cfg.bf16 else "float32",
                args.precision)
    result = train(
        args.dataset, args.out, policy_config=get_preset(args.preset),
        embodiment=load_embodiment(emb_path), cfg=cfg, preset=args.preset,
        progress=not args.no_progress, resume=args.resume, init_from=args.init_from,
    )
    print(f"checkpoint: {result.checkpoint}  final loss (mean of last {cfg.log_every}): "
          f"{np.mean(result.losses[-cfg.log_every:]):.4f}  {result.seconds_per_step:.3f} s/step")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
