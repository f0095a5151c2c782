"""Training data: every episode in memory as the policy sees it, and random batches of it.

One training sample is a random (episode, frame t) of the dataset:

- the camera image(s) at frame ``t - k``: with probability ``stale_prob`` ``k`` is drawn from
  1..``max_stale_frames`` (System 2's tokens are older than the state at run time), else
  ``k = 0``; clamped at the episode start;
- the instruction, as a left-padded ChatML prompt: the episode's recorded one or, with
  phrasings (``gr00t-train --instructions FILE``), one drawn uniformly from it and its
  phrasings; with an instruction encoder, also the encoder's states at the prompt's text
  slots (computed once per phrasing, before the first step: the encoder is frozen);
- the state at ``t``, normalized with the dataset statistics (per key, the embodiment's
  normalization mode) and zero-padded to ``max_state_dim`` (through
  :class:`gr00t_policy.processor.Processor`, the path run time takes too);
- the action chunk: the ``H`` joint set-points commanded at frames ``t .. t+H-1`` (row 0 is
  commanded right after observing state ``t`` and held for one action_dt; row k at
  ``t + k*dt``: `gr00t_policy.runtime.chunk` plays them back on the same timeline),
  normalized, zero-padded to ``max_action_dim``; rows past the episode end repeat the last
  row and are masked out of the loss;
- the embodiment slot of the embodiment config;
- for each auxiliary loss (:mod:`gr00t_policy.train.auxiliary`), its episode's target.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from gr00t_policy.dataset import ACTION, STATE, LeRobotDataset
from gr00t_policy.dataset.reader import check_joint_names
from gr00t_policy.embodiment import EmbodimentConfig
from gr00t_policy.embodiment.plausibility import PositionCheck
from gr00t_policy.image_crop import center_crop
from gr00t_policy.normalization import compute_statistics, metadata_entry
from gr00t_policy.policy_config import PolicyConfig
from gr00t_policy.phrasings import task_key
from gr00t_policy.processor import Processor
from gr00t_policy.prompt import PromptBuilder
from gr00t_policy.train.auxiliary import AuxLoss
from gr00t_policy.train.config import TrainConfig

logger = logging.getLogger(__name__)


def open_dataset(path: str | Path, emb: EmbodimentConfig) -> LeRobotDataset:
    """The dataset at ``path`` (LeRobot v2.0, v2.1 or v3.0; without meta/modality.json the
    embodiment gives the key layout); raises ValueError unless it was recorded at the
    embodiment's rate (one frame per action_dt)."""
    ds = LeRobotDataset(path, embodiment=emb)
    if abs(ds.fps * emb.action_dt - 1.0) > 1e-6:
        raise ValueError(
            f"dataset {ds.root} is recorded at {ds.fps:g} fps, but embodiment {emb.name!r} has "
            f"action_dt {emb.action_dt:g} ({1.0 / emb.action_dt:.6g} actions per second). Fix: "
            f"if the robot acts at the dataset's rate, set action_dt: {1.0 / ds.fps!r} (to full "
            "precision); otherwise resample the dataset to the robot's rate"
        )
    return ds


def _check_layout(ds: LeRobotDataset, emb: EmbodimentConfig) -> None:
    """The dataset's keys (as read: opened with the embodiment, its keys taken by name),
    joints and cameras must be the embodiment's."""
    for modality, keys, names in (
        ("state", emb.state_keys, ds.state_names),
        ("action", emb.action_keys, ds.action_names),
    ):
        ds_keys = [(k, e - s) for k, s, e in ds.key_ranges(modality)]
        emb_keys = [(k.key, len(k.joints)) for k in keys]
        if ds_keys != emb_keys:
            robot = ds.info.get("robot_type")
            raise ValueError(
                f"dataset {ds.root} {modality} keys {ds_keys} differ from embodiment "
                f"{emb.name!r} keys {emb_keys}. Fix: open the dataset with the embodiment "
                "(open_dataset, or LeRobotDataset(..., embodiment=...)) to read its keys by "
                "name; pass the embodiment YAML the dataset was recorded with (--embodiment"
                + (f"; its info.json names robot_type {robot!r}" if robot else "")
                + "), or record the dataset with this embodiment"
            )
        check_joint_names(ds.root, STATE if modality == "state" else ACTION, modality, names,
                          emb.name, [j for k in keys for j in k.joints])
    cams = [c.name for c in emb.cameras]
    missing = [c for c in cams if c not in ds.cameras]
    if missing:
        raise ValueError(
            f"embodiment {emb.name!r} cameras {missing} are not in dataset {ds.root} "
            f"(it has {ds.cameras})"
        )


# A dataset with more of its frames than this beyond the embodiment's limits (+ the
# plausibility margin) is in other units or of another robot; fewer are glitches, named.
MAX_IMPLAUSIBLE_SHARE = 0.1


def check_plausible(ds: LeRobotDataset, emb: EmbodimentConfig, states: np.ndarray,
                    actions: np.ndarray, episodes: Sequence[int], lengths: Sequence[int]) -> None:
    """States (N, S) and actions (N, A) of `episodes` (their `lengths` rows each, in turn)
    against the embodiment's limits widened by `plausibility.position_margin`: ValueError
    when more than MAX_IMPLAUSIBLE_SHARE of the frames lie beyond (degrees or LeRobot's
    -100..100 read as radians, another robot's joints), naming the episode, row, joint,
    value and limits; a warning for a few. Any NaN or inf is a ValueError naming its
    episodes, row and column: unlike a glitch it cannot be trained on as recorded (the
    statistics and then the loss would be NaN)."""
    starts = np.cumsum([0, *lengths])  # (E + 1,)
    for what, joints, values in (("observation.state", emb.state_joints, states),
                                 ("action", emb.action_joints, actions)):
        rows, cols = np.nonzero(~np.isfinite(values))
        if rows.size:
            at = np.searchsorted(starts, rows, side="right") - 1  # episode positions
            hit = sorted({int(episodes[k]) for k in at})
            raise ValueError(
                f"dataset {ds.root}: {what} holds {rows.size} NaN or infinite value(s) in "
                f"episode(s) {hit[:10]}{' ...' if len(hit) > 10 else ''}, e.g. episode "
                f"{episodes[at[0]]} row {rows[0] - starts[at[0]]} column {cols[0]} "
                f"({joints[cols[0]]}) = {values[rows[0], cols[0]]}; the normalization "
                "statistics and then the loss would be NaN. Fix: repair or re-record those "
                "episodes (a dropped sensor reading or a failed conversion), or leave them out "
                "(a mixture file's `episodes:`)")
        check = PositionCheck.of(emb, joints)
        bad = check.implausible(values)  # (N,)
        if not bad.any():
            continue
        first = int(np.flatnonzero(bad)[0])
        k = int(np.searchsorted(starts, first, side="right")) - 1  # its episode's position
        text = (f"dataset {ds.root}: {what} of {int(bad.sum())} of {len(bad)} frames lies "
                f"beyond embodiment {emb.name!r}'s limits (+ plausibility.position_margin "
                f"{emb.plausibility.position_margin:g}), e.g. episode {episodes[k]} row "
                f"{first - starts[k]}: {check.describe(values[first])}")
        if bad.mean() > MAX_IMPLAUSIBLE_SHARE:
            raise ValueError(
                f"{text}. Fix: the values must be in radians (or metres), as the YAML's limits; "
                "a dataset recorded in degrees, or as LeRobot's -100..100 motor range, must be "
                "converted first; otherwise the YAML is another robot's")
        logger.warning("%s; trained on as recorded", text)


def build_metadata(ds: LeRobotDataset, emb: EmbodimentConfig,
                   episodes: Sequence[int] | None = None,
                   others: Sequence[tuple[LeRobotDataset, Sequence[int] | None]] = ()
                   ) -> dict[str, Any]:
    """Isaac-GR00T ``experiment_cfg/metadata.json`` for the embodiment, from the dataset.

    Per state / action key: min, max, mean, std, q01, q99 over all frames of `episodes`
    (default: every episode), and of `others` (more datasets of the same robot, with their
    episodes), recomputed from the episode files, so meta/stats.json need not be current.
    """
    states, actions = [], []
    for d, chosen in [(ds, episodes), *others]:
        _check_layout(d, emb)
        mine_s, mine_a, indices = [], [], list(range(d.num_episodes) if chosen is None else chosen)
        for i in indices:
            ep = d.episode(i, load_video=False)
            mine_s.append(ep.states)
            mine_a.append(ep.actions)
        if indices:
            check_plausible(d, emb, np.concatenate(mine_s), np.concatenate(mine_a),
                            indices, [len(s) for s in mine_s])
        states += mine_s
        actions += mine_a
    states, actions = np.concatenate(states), np.concatenate(actions)
    state_stats = compute_statistics({k: states[:, s:e] for k, s, e in ds.key_ranges("state")})
    action_stats = compute_statistics({k: actions[:, s:e] for k, s, e in ds.key_ranges("action")})
    return {emb.tag: metadata_entry(emb.tag, state_stats, action_stats)}




def resize_frames(frames: np.ndarray, size: int, crop: float = 1.0) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> uint8 (T, 3, size, size): the centre ``crop`` of each side (the
    backbone's ``image_crop``), then bilinear with anti-aliasing.

    The same crop and resampling as ``backbone.preprocess_images`` (then rounded to uint8).
    """
    frames = center_crop(frames, crop)  # (T, h, w, 3)
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()  # (T, 3, H, W)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)  # (T, 3, S, S)


def refuse_indistinct_tasks(texts: Sequence[str], row_tasks: Sequence[str], ids: np.ndarray,
                            states: torch.Tensor | None, prompt: PromptBuilder) -> None:
    """ValueError when two prompt rows of different tasks reach the model as the same input
    (ids (K, L), with an instruction encoder also its states (K, L, D)).

    The nano tokenizer reads every word outside its small vocabulary as one [UNK], so a
    dataset's "pick up the banana" and "pick up the apple" are one prompt to it: the policy
    would be trained to do both on the same input and could do neither. Texts that differ
    only in case, spacing or final punctuation (`task_key`) say the same and may collide.
    """
    first: dict[bytes, int] = {}
    for row, text in enumerate(texts):
        key = ids[row].tobytes() + (b"" if states is None else states[row].numpy().tobytes())
        other = first.setdefault(key, row)
        if row_tasks[other] == row_tasks[row] or task_key(texts[other]) == task_key(text):
            continue
        unknown = list(dict.fromkeys(prompt.unknown_words(texts[other])
                                     + prompt.unknown_words(text)))
        why = (f": the tokenizer reads {', '.join(repr(w) for w in unknown)} as "
               f"{prompt.tokenizer.unk_token}" if unknown else "")

        def said(r: int) -> str:
            t = texts[r]
            return repr(t) if t == row_tasks[r] else f"{t!r} (a phrasing of {row_tasks[r]!r})"

        raise ValueError(
            f"tasks {said(other)} and {said(row)} reach the model as the same prompt{why}; "
            "the policy could not tell them apart. Fix: phrase them with words the tokenizer "
            "knows (the nano vocabulary: gr00t_policy.prompt.NANO_WORDS), or train a preset "
            "whose language model reads every word (--preset nano-smollm2)")


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
        aux: Sequence[AuxLoss] = (),
        phrasings: Mapping[str, Sequence[str]] | None = None,
        instruction_encoder=None,
        episodes: Sequence[int] | None = None,
        episode_weights: Sequence[float] | None = None,
    ) -> None:
        """Load and preprocess the episodes of ``ds`` (``episodes``, default all); raises
        ValueError on a layout mismatch, and when two tasks (or their phrasings) reach the
        model as the same prompt (`refuse_indistinct_tasks`).

        ``aux``: auxiliary losses whose per-episode targets to load (before the slow video
        decoding, so a dataset without them fails at once); batches then carry each loss's
        targets under its name, (B, D).
        ``phrasings``: {dataset task text: other phrasings of it} (`gr00t_policy.phrasings`).
        ``instruction_encoder``: the config's `InstructionEncoder`, required when the backbone
        config has one.
        ``episodes``: the dataset's episode indices to load (default: all); batch indices
        count these. ``episode_weights``: one weight >= 0 per loaded episode, multiplying the
        chance of drawing each of its frames (default: all frames alike).
        """
        _check_layout(ds, emb)
        bb, ah = config.backbone, config.action_head
        if len(emb.cameras) != bb.num_views:
            raise ValueError(
                f"embodiment {emb.name!r} has {len(emb.cameras)} camera(s) but the backbone "
                f"takes num_views={bb.num_views}; the model config must be made for the "
                "robot's cameras (PolicyConfig.with_views, as gr00t-train does)"
            )
        if not 0 <= emb.slot < ah.num_embodiments:
            raise ValueError(
                f"embodiment {emb.name!r}: slot {emb.slot} is out of range [0, "
                f"{ah.num_embodiments}) of this model's action head (num_embodiments). Fix: "
                f"set `slot` in {emb.source} to one in 0.."
                f"{ah.num_embodiments - 1} that no other robot of the checkpoint uses "
                "(`gr00t-policy info --checkpoint` lists them); slot 31 is the official "
                "GR00T-N1-2B's new_embodiment, not the nano presets'"
            )
        chosen = list(range(ds.num_episodes) if episodes is None else episodes)
        self.episode_index = chosen  # loaded episode k is dataset episode chosen[k]
        # name -> (N, D), row k for loaded episode k
        self.targets = {loss.name: loss.targets(ds)[torch.as_tensor(chosen, dtype=torch.long)]
                        for loss in aux}
        self.horizon = ah.action_horizon
        self.slot = emb.slot
        self.cameras = [c.name for c in emb.cameras]
        proc = Processor.from_metadata(
            metadata, emb.tag,
            state_keys=[(k.key, k.mode) for k in emb.state_keys],
            action_keys=[(k.key, k.mode) for k in emb.action_keys],
            max_state_dim=ah.max_state_dim, max_action_dim=ah.max_action_dim,
        )
        if bb.has_instruction_encoder and instruction_encoder is None:
            raise ValueError(f"the backbone reads instructions through {bb.instruction_encoder!r}: "
                             "pass its InstructionEncoder")
        task_ids = sorted(ds.tasks)
        texts: list[str] = []  # one prompt row per (task, phrasing), a task's rows adjacent
        row_tasks: list[str] = []  # the task of each row
        first_row, num_rows = [], []
        for i in task_ids:
            said = [ds.tasks[i]] + [p for p in (phrasings or {}).get(ds.tasks[i], ())
                                    if task_key(p) != task_key(ds.tasks[i])]
            first_row.append(len(texts))
            num_rows.append(len(said))
            texts.extend(said)
            row_tasks.extend([ds.tasks[i]] * len(said))
        self._task_row = {t: r for r, t in enumerate(task_ids)}
        self._first_row, self._num_rows = np.asarray(first_row), np.asarray(num_rows)
        states = None
        if bb.has_instruction_encoder:
            from gr00t_policy.backbone import aligned_states

            per_text = [s for k in range(0, len(texts), 32)
                        for s in instruction_encoder.states_of(texts[k:k + 32])]  # (n_i, D)
            encoded = [prompt.encode(t, num_images=bb.num_views, text_slots=s.shape[0])
                       for t, s in zip(texts, per_text)]
            states = torch.stack([aligned_states(e.input_ids, prompt.text_context_id, s)
                                  for e, s in zip(encoded, per_text)])  # (K, max_tokens, D)
        else:
            encoded = [prompt.encode(t, num_images=bb.num_views) for t in texts]
        ids = np.stack([e.input_ids for e in encoded])  # (K, max_tokens)
        real = np.stack([e.attention_mask for e in encoded])  # (K, max_tokens)
        refuse_indistinct_tasks(texts, row_tasks, ids, states, prompt)
        # Prompts are left-padded to max_tokens (64) and ours are <= 40 tokens: drop the
        # columns that are padding in every prompt. The language model's positions count real
        # tokens only (backbone: cumsum of the mask) and the action head masks padding out of
        # its cross-attention, so the policy computes the same function as on max_tokens
        # columns at run time, and a training step runs faster (docs/BENCHMARKS.md, "Figures
        # behind defaults").
        first = int(np.argmax(real.any(axis=0)))
        self.input_ids = torch.from_numpy(ids[:, first:])  # (K, L)
        self.attention_mask = torch.from_numpy(real[:, first:])  # (K, L)
        self.instruction_states = None if states is None else states[:, first:]  # (K, L, D)
        self.texts = texts
        if len(texts) > len(task_ids):
            logger.info("instructions: %d tasks, %d phrasings in all (%d to %d per task)",
                        len(task_ids), len(texts), min(num_rows), max(num_rows))

        self.images: list[torch.Tensor] = []  # per episode (T, V, 3, S, S) uint8
        self.states: list[torch.Tensor] = []  # per episode (T, S_max) float32
        self.actions: list[torch.Tensor] = []  # per episode (T + H - 1, A_max) float32
        self.lengths: list[int] = []
        self.task_rows: list[int] = []
        for i in chosen:
            ep = ds.episode(i, load_video=False)
            views = [resize_frames(ds.frames(i, cam), bb.image_size, bb.image_crop)
                     for cam in self.cameras]
            self.images.append(torch.stack(views, dim=1))  # (T, V, 3, S, S)
            state = proc.state(ep.states)  # (T, S_max)
            act = proc.actions(ep.actions)  # (T, A_max)
            act = np.concatenate([act, np.repeat(act[-1:], self.horizon - 1, axis=0)])  # (T+H-1, A_max)
            self.states.append(torch.from_numpy(state))
            self.actions.append(torch.from_numpy(act))
            self.lengths.append(ep.length)
            self.task_rows.append(self._task_row[ep.task_index])
        self.action_dim = emb.action_dim
        self.max_action_dim = ah.max_action_dim
        self.mean = torch.tensor(bb.image_mean).view(1, 1, 3, 1, 1)
        self.std = torch.tensor(bb.image_std).view(1, 1, 3, 1, 1)
        self._episode_of = np.concatenate(
            [np.full(n, i, dtype=np.int64) for i, n in enumerate(self.lengths)]
        )
        self._frame_of = np.concatenate([np.arange(n, dtype=np.int64) for n in self.lengths])
        self._frame_p = self._episode_p = None  # None: uniform, drawn as before weights existed
        if episode_weights is not None:
            w = np.asarray(episode_weights, dtype=np.float64)
            if w.shape != (len(chosen),) or not (np.isfinite(w).all() and (w >= 0).all()
                                                 and w.sum() > 0):
                raise ValueError(f"episode_weights: expected {len(chosen)} weights >= 0, not "
                                 f"all 0 (one per loaded episode), got {w.tolist()[:10]}...")
            if not (w == 1.0).all():
                self._episode_p = w / w.sum()
                frame_w = w[self._episode_of]
                self._frame_p = frame_w / frame_w.sum()
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
        ``cfg.start_frames`` frames; with episode weights, both draws follow them."""
        if self._frame_p is None:
            flat = rng.integers(0, self.num_frames, size=batch_size)
        else:
            flat = rng.choice(self.num_frames, size=batch_size, p=self._frame_p)
        eps, ts = self._episode_of[flat], self._frame_of[flat]
        if cfg.start_prob > 0:  # no extra draws otherwise: runs before this option repeat
            early = rng.random(batch_size) < cfg.start_prob
            if self._episode_p is None:
                start_eps = rng.integers(0, len(self.lengths), size=batch_size)
            else:
                start_eps = rng.choice(len(self.lengths), size=batch_size, p=self._episode_p)
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
        task = np.asarray([self.task_rows[e] for e in eps])  # (B,)
        rows = self._first_row[task]
        if self._num_rows.max() > 1:  # no extra draw without phrasings: earlier runs repeat
            rows = rows + (rng.random(batch_size) * self._num_rows[task]).astype(np.int64)
        rows = torch.from_numpy(rows)  # (B,)
        extra = {} if self.instruction_states is None else {
            "instruction_states": self.instruction_states[rows]}  # (B, L, D)
        return {
            **extra,
            **{name: t[torch.from_numpy(eps)] for name, t in self.targets.items()},  # (B, D)
            "input_ids": self.input_ids[rows],  # (B, L)
            "attention_mask": self.attention_mask[rows],  # (B, L)
            "pixel_values": (pix - self.mean) / self.std,  # (B, V, 3, S, S)
            "state": state,
            "actions": actions,
            "action_mask": action_mask,
            "embodiment_id": torch.full((batch_size,), self.slot, dtype=torch.long),  # (B,)
        }




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


