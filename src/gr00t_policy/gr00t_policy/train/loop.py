"""The training loop: joint flow-matching training of the whole policy (backbone + action
head) on a LeRobot v2 dataset, producing our checkpoint format.

The loss is ``GR00TPolicy.loss`` (masked flow-matching MSE through backbone and action head
jointly), plus each auxiliary loss the config turns on (:mod:`gr00t_policy.train.auxiliary`)
times its weight. AdamW, linear warmup then cosine decay to zero, bfloat16 autocast if
``TrainConfig.bf16``, gradient clipping. Deterministic for a given ``seed`` (one numpy
Generator for sampling, one torch Generator for augmentation, noise and flow times; no loader
workers). Saving and resuming: :mod:`gr00t_policy.train.state`.
"""

from __future__ import annotations

import functools
import logging
import math
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from gr00t_policy.embodiment import EmbodimentConfig
from gr00t_policy.policy import GR00TPolicy
from gr00t_policy.policy_config import PolicyConfig
from gr00t_policy.prompt import PromptBuilder, build_nano_tokenizer, load_tokenizer
from gr00t_policy.train.auxiliary import AuxLoss, active_losses, get_aux_loss
from gr00t_policy.train.config import TrainConfig
from gr00t_policy.train.data import TrainingData, build_metadata, open_dataset
from gr00t_policy.train.distributed import DataParallel
from gr00t_policy.train.mixture import MixtureData, MixtureEntry
from gr00t_policy.train.prefix import add_prefix_rows, with_prefix_rows
from gr00t_policy.train.stop import StopRequest
from gr00t_policy.train.state import (TRAIN_STATE_FILE, check_init_slots, check_out_dir,
                                      load_init_weights,
                                      load_resume_weights, read_resume_log,
                                      restore_train_state, resumed_init_from, save_run,
                                      train_state_dict)

logger = logging.getLogger(__name__)


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warmup over ``warmup`` steps, then cosine decay to 0 at ``total``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


@dataclass
class TrainResult:
    """What :func:`train` returns: per-step losses, the checkpoint directory, seconds per step,
    and where a stop request ended it."""

    losses: list[float]
    checkpoint: Path
    seconds_per_step: float
    stopped_at: int | None = None
    """The step a stop request (Ctrl-C, SIGTERM) ended the run at, saved for ``--resume``;
    None when it ran to the end."""
    stopped_by: str | None = None
    """The signal's name (``SIGINT``, ``SIGTERM``) on the rank that received it."""


def _with_cameras(policy_config: PolicyConfig, robots: list[EmbodimentConfig]) -> PolicyConfig:
    """The model config for the robots' cameras: the backbone reads one image per camera
    (a preset's one view becomes a front and a wrist camera's two). Every robot of a run
    must have as many cameras: the backbone takes one number of views."""
    counts = {emb.tag: len(emb.cameras) for emb in robots}
    if len(set(counts.values())) > 1:
        raise ValueError(f"the robots of this run have different numbers of cameras ({counts}); "
                         "the backbone reads one number of images per frame. Fix: list as many "
                         "cameras in each embodiment YAML (and record them), or train apart")
    views = next(iter(counts.values()))
    if views != policy_config.backbone.num_views:
        logger.info("%d camera(s): the backbone reads %d image(s) per frame (the preset: %d)",
                    views, views, policy_config.backbone.num_views)
    return policy_config.with_views(views)


def _tokenizer(config: PolicyConfig, weights_from: str | Path | None):
    """The tokenizer the starting weights read their prompts with: the one saved with them
    (``weights_from``: the --init-from checkpoint, or the run resumed), or a new nano one for
    a random init. Their embedding rows are indexed by its ids, so another tokenizer would
    feed them other words: a GR00T N1 conversion carries Eagle-2's, and a nano checkpoint the
    nano vocabulary of its day (a word added to NANO_WORDS shifts the ids of later words)."""
    if weights_from is None:
        return build_nano_tokenizer(config.backbone)
    return load_tokenizer(weights_from)


def _policy(config: PolicyConfig, prompt: PromptBuilder, metadata: dict[str, Any],
            robots: Mapping[str, Any], resume_from: Path | None,
            init_from: str | Path | None) -> GR00TPolicy:
    """A random init (torch's global generator), then the interrupted run's weights
    (``resume_from``: its robots must be ``robots``, tag -> checkpoint entry) or a trained
    checkpoint's (``init_from``), if any."""
    policy = GR00TPolicy(config)
    policy.backbone.bind_prompt(prompt)
    if resume_from is not None:
        load_resume_weights(policy, resume_from, metadata, robots)
    elif init_from is not None:
        load_init_weights(policy, Path(init_from))
    return policy


def _run_info(run: str, dataset_dir: str | Path, episodes: int, frames: int, preset: str | None,
              resumed: list[dict[str, Any]], init_from: str | Path | None,
              aux_losses: Mapping[str, list[float]]) -> dict[str, Any]:
    """What train_log.json records besides the settings and the flow-matching losses (``run``:
    the run's id, also recorded with the weights). The auxiliary losses are the loop's own
    lists, so each save writes them as they stand."""
    info: dict[str, Any] = {"run": run, "dataset": str(Path(dataset_dir).resolve()),
                            "episodes": episodes,
                            "frames": frames, "preset": preset, "threads": torch.get_num_threads()}
    if resumed:
        info["resumed"] = resumed
    if init_from is not None:
        info["init_from"] = str(Path(init_from).resolve())
    for name, values in aux_losses.items():
        info[f"{name}_losses"] = values
    return info


def _optimizer(policy: GR00TPolicy, heads: torch.nn.ModuleDict,
               cfg: TrainConfig) -> tuple[torch.optim.AdamW, list[torch.nn.Parameter]]:
    """AdamW over the policy's and the heads' parameters (no decay on biases and norms), and
    those parameters in the order gradient clipping sees them."""
    named = list(policy.named_parameters()) + [(f"aux.{n}", p) for n, p in heads.named_parameters()]
    decay, no_decay = [], []
    for name, p in named:
        (no_decay if p.ndim < 2 or name.endswith(".bias") else decay).append(p)
    optim = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, betas=cfg.betas,
    )
    return optim, [p for _, p in named]


def _resume_state(out: Path, optim, rng: np.random.Generator, generator: torch.Generator,
                  heads: torch.nn.ModuleDict, aux: list[AuxLoss], cfg: TrainConfig,
                  start: int) -> tuple[np.random.Generator, torch.Generator, bool]:
    """Restore train_state.pt; without one, generators re-seeded from (seed, step).
    Returns (rng, generator, exact)."""
    if restore_train_state(out, optim, rng, generator, heads, aux, step=start):
        logger.info("resuming at step %d from %s", start, out / TRAIN_STATE_FILE)
        return rng, generator, True
    logger.warning("resuming at step %d without %s: optimizer moments restart from zero and "
                   "the generators are re-seeded from (seed, step); the weights will differ "
                   "from an uninterrupted run's", start, TRAIN_STATE_FILE)
    return (np.random.default_rng([cfg.seed, start]),
            torch.Generator().manual_seed(cfg.seed * 1_000_003 + start), False)


class _Objective(torch.nn.Module):
    """The policy and the training-only heads as one module, whose forward is one batch's
    losses: what DistributedDataParallel wraps under torchrun."""

    def __init__(self, policy: GR00TPolicy, heads: torch.nn.ModuleDict,
                 weights: Mapping[str, float], bf16: bool) -> None:
        super().__init__()
        self.policy, self.heads, self.weights, self.bf16 = policy, heads, dict(weights), bf16

    def forward(self, batch: dict[str, torch.Tensor], flow_scale: float
                ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """(total, flow-matching, {aux name: loss}); the batch carries its flow noise and
        times, and the total weighs the flow-matching loss by `flow_scale`
        (:meth:`DataParallel.flow_scale`, 1.0 in one process)."""
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            features, mask = self.policy.encode(batch)  # (B, L, C), (B, L)
            flow = self.policy.loss_from_features(features, mask, batch)
            loss = flow * flow_scale
            image_mask = batch["input_ids"] == self.policy.backbone.image_context_id  # (B, L)
            aux = {name: F.mse_loss(head(features, image_mask), batch[name])
                   for name, head in self.heads.items()}
            for name, value in aux.items():
                loss = loss + self.weights[name] * value
        return loss, flow, aux


def _losses(objective: torch.nn.Module, policy: GR00TPolicy, group: DataParallel,
            batch: dict[str, torch.Tensor], generator: torch.Generator, step: int,
            cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """(total to back-propagate here, global flow-matching, {aux name: global loss}) of one
    global batch: its flow noise and times (and given prefix rows) are drawn for the whole
    batch, then this process computes its share (all of it in one process)."""
    batch["noise"], batch["t"] = policy.action_head.draw_noise_and_time(batch["actions"],
                                                                        generator)
    add_prefix_rows(batch, cfg, generator)
    local = group.shard(batch)
    scale = group.flow_scale(batch["action_mask"], local["action_mask"])
    loss, flow, aux = objective(local, scale)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"loss became {loss.item()} at step {step}; lower --lr")
    if group.world_size > 1:  # what one process would have logged
        flow = group.sum(flow.detach() * (scale / group.world_size))
        aux = {name: group.sum(value.detach()) / group.world_size for name, value in aux.items()}
    return loss, flow, aux


def _update(loss: torch.Tensor, optim, sched, params: list[torch.nn.Parameter],
            grad_clip: float) -> None:
    """One optimizer and learning-rate step on ``loss``."""
    optim.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    optim.step()
    sched.step()


def _check_finite(modules: Sequence[torch.nn.Module], step: int, out: Path) -> None:
    """FloatingPointError unless every weight is finite, before a save replaces the last
    checkpoint with them (the loss checked each step is the one before the update)."""
    broken = [name for module in modules for name, p in module.named_parameters()
              if not bool(torch.isfinite(p).all())]
    if broken:
        raise FloatingPointError(
            f"weights became NaN or inf at step {step} ({len(broken)} tensor(s), e.g. "
            f"{broken[:3]}); not saved: {out} keeps its last checkpoint; lower --lr")


def _report(bar, sched, losses: list[float], aux_losses: Mapping[str, list[float]], step: int,
            cfg: TrainConfig) -> None:
    """Every log_every steps (and at the end): the mean losses on the bar and in the log."""
    if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
        recent = float(np.mean(losses[-cfg.log_every:]))
        bar.set_postfix(loss=f"{recent:.4f}", lr=f"{sched.get_last_lr()[0]:.2e}")
        logger.info("step %d loss %.4f%s", step + 1, recent, "".join(
            f" {name} loss {np.mean(values[-cfg.log_every:]):.4f}"
            for name, values in aux_losses.items()))


def _mixture_info(entry: MixtureEntry, embodiment: str, ds: Any, src: TrainingData
                  ) -> dict[str, Any]:
    """What train_log.json records of one dataset of a mixture (and --resume compares)."""
    out: dict[str, Any] = {"dataset": str(Path(entry.dataset).resolve()),
                           "embodiment": embodiment, "weight": entry.weight,
                           "episodes": len(src.episode_index), "frames": src.num_frames}
    if entry.episodes is not None:
        out["selected"] = (entry.episodes if isinstance(entry.episodes, str)
                           else list(entry.episodes))
        out["of_episodes"] = ds.num_episodes
    if entry.episode_weights is not None:
        out["episode_weights"] = {str(k): w for k, w in sorted(entry.episode_weights.items())}
    return out


def train(
    dataset_dir: str | Path | None,
    out_dir: str | Path,
    *,
    policy_config: PolicyConfig,
    embodiment: EmbodimentConfig | None,
    cfg: TrainConfig,
    preset: str | None = None,
    progress: bool = True,
    resume: bool = False,
    init_from: str | Path | None = None,
    group: DataParallel | None = None,
    instructions: str | Path | None = None,
    mixture: Sequence[tuple[MixtureEntry, EmbodimentConfig]] | None = None,
    overwrite: bool = False,
    overwrite_slot: Sequence[str] = (),
) -> TrainResult:
    """Train a randomly initialised policy on a dataset and save it as a checkpoint.

    Args:
        dataset_dir: a LeRobot v2 dataset recorded for ``embodiment`` (None with ``mixture``).
        out_dir: the checkpoint directory written (also loss.png, train_log.json).
        policy_config: model sizes (a preset or a custom config).
        embodiment: the robot (keys, normalization modes, slot, cameras, action_dt).
        cfg: optimisation settings.
        preset: preset name written into config.json (None for a custom config).
        progress: show a tqdm progress bar.
        resume: continue the run whose intermediate checkpoint is in ``out_dir`` (same
            dataset and settings; see :mod:`gr00t_policy.train.state`).
        overwrite: replace the checkpoint or run in ``out_dir``; without it (or ``resume``)
            an ``out_dir`` that holds one is refused before any work (`check_out_dir`).
        init_from: a checkpoint (same model config) whose weights replace the random init
            (fine-tuning); its tokenizer is the run's (`_tokenizer`). On ``resume`` the weights come from ``out_dir`` instead, which
            already holds the fine-tuned weights; the run's record of it is kept, and
            another is refused. A robot of this run may not take the embodiment slot the
            checkpoint gives another robot (`check_init_slots`) unless ``overwrite_slot``
            names that robot (recorded in train_log.json's ``overwrite_slot``).
        overwrite_slot: tags of ``init_from``'s robots this run's robots replace in their slots.
        group: the processes training together under torchrun (default: from the
            environment; one process without torchrun). Each computes its share of every
            global batch of ``cfg.batch_size``; rank 0 alone writes ``out_dir``
            (:mod:`gr00t_policy.train.distributed`).
        instructions: a file of other phrasings per dataset task (`gr00t_policy.phrasings`),
            drawn beside the recorded instruction (in every dataset of a mixture).
        mixture: instead of ``dataset_dir`` and ``embodiment``, several datasets, each with
            its robot and weight (:mod:`gr00t_policy.train.mixture`); the checkpoint then
            holds every robot.
    """
    from tqdm import tqdm

    if (mixture is None) == (dataset_dir is None) or (mixture is None) == (embodiment is None):
        raise ValueError("train: pass dataset_dir and embodiment, or mixture")
    out = Path(out_dir)
    check_out_dir(out, resume=resume, overwrite=overwrite)  # before any slow work
    entries = list(mixture) if mixture is not None else [
        (MixtureEntry(str(dataset_dir), embodiment.source), embodiment)]
    robots: dict[str, Any] = {}  # tag -> the checkpoint entry of its embodiment
    slots: dict[int, str] = {}  # slot -> the tag that has it
    for (e, emb) in entries:
        entry = emb.checkpoint_entry()
        if robots.setdefault(emb.tag, entry) != entry:
            raise ValueError(f"--mixture: {e.dataset} gives embodiment tag {emb.tag!r} to "
                             "another robot (other slot or joints) than an earlier dataset; "
                             "one tag, one robot: rename the tag or use the same file")
        if slots.setdefault(emb.slot, emb.tag) != emb.tag:
            raise ValueError(f"--mixture: {e.dataset}'s robot {emb.tag!r} and "
                             f"{slots[emb.slot]!r} both take embodiment slot {emb.slot}; each "
                             "robot needs a slot of its own (its encoders and decoder)")
    replaced: dict[str, int] = {}  # the robots of init_from this run replaces, tag -> slot
    if init_from is not None and not resume:  # a resume's weights are already the fine-tune's
        replaced = check_init_slots(Path(init_from),
                                    {tag: slot for slot, tag in slots.items()}, overwrite_slot)
    weights = {a.name: w for a, w in active_losses(cfg)}  # unknown names fail here, early
    policy_config = with_prefix_rows(policy_config, cfg)
    policy_config = _with_cameras(policy_config, [emb for _, emb in entries])
    group = group or DataParallel.from_environment()
    group.check_batch_size(cfg.batch_size)
    if overwrite and group.is_main and (out / TRAIN_STATE_FILE).exists():
        # The replaced run's optimizer state: a --resume after this run's first save must not
        # take it for this run's (its step may well match).
        logger.warning("--overwrite: removing %s of the run being replaced",
                       out / TRAIN_STATE_FILE)
        (out / TRAIN_STATE_FILE).unlink()
    aux = [get_aux_loss(name) for name in weights]  # in registration order
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    datasets = [open_dataset(e.dataset, emb) for e, emb in entries]
    selections = [e.select(ds.num_episodes) for (e, _), ds in zip(entries, datasets)]
    phrasings = None
    if instructions is not None:  # read before the slow video decoding: a bad file fails at once
        from gr00t_policy.phrasings import read_phrasings

        tasks = sorted({ds.tasks[i] for ds in datasets for i in ds.tasks})
        phrasings = read_phrasings(instructions, tasks)
    encoder = None
    if policy_config.backbone.has_instruction_encoder:
        from gr00t_policy.language.instruction import load_instruction_encoder

        encoder = load_instruction_encoder(policy_config.backbone)
    log = read_resume_log(out, cfg) if resume else {}  # checked before the slow video decoding
    if resume:  # the weights in out come from the run's --init-from: it stays recorded
        init_from = resumed_init_from(out, log, init_from)
    start, losses = int(log.get("step", 0)), list(log.get("losses", []))
    resumed = list(log.get("resumed", []))
    tokenizer = _tokenizer(policy_config, out if resume else init_from)
    prompt = PromptBuilder(tokenizer, policy_config.backbone)
    metadata: dict[str, Any] = {}
    # One set of statistics per robot, over all of its datasets (a robot's recordings and,
    # say, pseudo-labelled video of it normalize alike).
    groups: dict[str, list[tuple[Any, EmbodimentConfig, list[int]]]] = {}
    for ds, (_, emb), (chosen, _) in zip(datasets, entries, selections):
        groups.setdefault(emb.tag, []).append((ds, emb, chosen))
    for (ds, emb, chosen), *rest in groups.values():
        metadata.update(build_metadata(ds, emb, chosen, [(d, c) for d, _, c in rest]))
    policy = _policy(policy_config, prompt, metadata, robots, out if resume else None, init_from)
    data = MixtureData([TrainingData(ds, emb, policy_config, prompt, metadata, aux=aux,
                                     phrasings=phrasings, instruction_encoder=encoder,
                                     episodes=chosen, episode_weights=w)
                        for ds, (_, emb), (chosen, w) in zip(datasets, entries, selections)],
                       [e.weight for e, _ in entries], prompt.pad_id)
    # Training-only heads, name -> head; built in registration order (their init draws from
    # torch's global generator).
    heads = torch.nn.ModuleDict({a.name: a.build_head(policy_config, data) for a in aux})
    aux_losses = {name: list(log.get(f"{name}_losses", [])) for name in heads}
    policy.train()
    objective = group.wrap(_Objective(policy, heads, weights, cfg.bf16))
    optim, params = _optimizer(policy, heads, cfg)
    if resume:
        rng, generator, exact = _resume_state(out, optim, rng, generator, heads, aux, cfg, start)
        resumed.append({"step": start, "exact": exact})
    warmup = int(cfg.warmup_ratio * cfg.steps)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: lr_factor(s + start, cfg.steps, warmup))
    # The run's id: a resume keeps it (one of an older log draws one), a fresh run draws one.
    run = log.get("run") or uuid.uuid4().hex
    info = _run_info(run, entries[0][0].dataset, sum(len(c) for c, _ in selections),
                     data.num_frames, preset, resumed, init_from, aux_losses)
    replaced = log.get("overwrite_slot", {}) if resume else replaced
    if replaced:
        info["overwrite_slot"] = replaced
    if mixture is not None:
        info["mixture"] = [_mixture_info(e, emb.name, ds, src)
                           for (e, emb), ds, src in zip(entries, datasets, data.sources)]
    if phrasings is not None:
        info["instructions"] = {"file": str(instructions), "phrasings": data.texts}
    then = log.get("instructions", {})
    if resume and then.get("phrasings") != info.get("instructions", {}).get("phrasings"):
        raise ValueError(f"--resume: {out} was trained with other --instructions (its phrasings "
                         f"came from {then.get('file', 'no file')!r}); pass the same file")
    if resume and log.get("mixture") != info.get("mixture"):
        raise ValueError(f"--resume: {out} was trained on another mixture of datasets; pass "
                         "the same --mixture (or --dataset) as the run it continues")
    save = functools.partial(save_run, policy, out, tokenizer, metadata,
                             [group[0][1] for group in groups.values()], preset, losses, cfg)
    bar = tqdm(range(start, cfg.steps), desc="train", unit="step",
               disable=not (progress and group.is_main),
               initial=start, total=cfg.steps)
    t0 = time.perf_counter()
    stopped_at = None
    with StopRequest(group) as stop:  # Ctrl-C/SIGTERM: save this step, then return
        for step in bar:
            batch = data.sample(rng, cfg.batch_size, cfg, generator)
            loss, flow, aux_values = _losses(objective, policy, group, batch, generator, step, cfg)
            _update(loss, optim, sched, params, cfg.grad_clip)
            losses.append(float(flow.item()))  # the flow-matching part, comparable across runs
            for name, value in aux_values.items():
                aux_losses[name].append(float(value.item()))
            if group.is_main:
                _report(bar, sched, losses, aux_losses, step, cfg)
            if step + 1 < cfg.steps and stop.requested():
                stopped_at = step + 1
            if stopped_at or (cfg.save_every and (step + 1) % cfg.save_every == 0
                              and step + 1 < cfg.steps):
                _check_finite([policy, heads], step + 1, out)  # on every rank: all stop
                if group.is_main:
                    policy.eval()
                    save({**info, "step": step + 1},
                         train_state_dict(optim, rng, generator, heads, step + 1))
                    policy.train()
            if stopped_at:
                break
        bar.update((stopped_at or cfg.steps) - bar.n)  # the step saved (tqdm skips the last)
        bar.close()
        elapsed = time.perf_counter() - t0
        policy.eval()
        sps = elapsed / max(1, (stopped_at or cfg.steps) - start)
        if stopped_at:
            if group.is_main:
                logger.warning("stopped (%s) at step %d of %d: saved to %s; the same command "
                               "with --resume goes on from there",
                               stop.signal_name or "on another rank", stopped_at, cfg.steps, out)
        else:
            _check_finite([policy, heads], cfg.steps, out)
            if group.is_main:
                save({**info, "step": cfg.steps, "seconds_per_step": sps})
                (out / TRAIN_STATE_FILE).unlink(missing_ok=True)
    group.barrier()  # the checkpoint is complete before any process returns
    return TrainResult(losses=losses, checkpoint=out, seconds_per_step=sps, stopped_at=stopped_at,
                       stopped_by=stop.signal_name if stopped_at else None)
