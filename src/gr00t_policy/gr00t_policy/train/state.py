"""What a training run leaves on disk and reads back: the checkpoint with its ``loss.png``
and ``train_log.json``, the ``train_state.pt`` an exact resume needs, and the checked loading
of a checkpoint's weights for ``--resume`` and ``--init-from``.

Resuming (``--resume``): every intermediate save also writes ``train_state.pt`` (optimizer
moments, the random generators' states and the auxiliary heads) beside the weights; a run
cut off after a save continues from it with the same command plus ``--resume`` and gives the
same weights as an uninterrupted run; other settings, another model config, embodiment (each
robot's config.json entry) or statistics are refused, naming what differs. Ctrl-C and SIGTERM make such a save at the step reached
(:mod:`gr00t_policy.train.stop`). A checkpoint without ``train_state.pt`` (one from
before it existed) can be resumed too: its weights and losses carry on, the optimizer moments
start from zero and the generators are re-seeded from (seed, step); ``train_log.json``
records that in ``resumed``. The final save removes ``train_state.pt``.

A save replaces its files one after the other (`save_run`), so a kill in the middle leaves
some at the new step and some at the old. The weights record which run and step they are of
(`RUN_RECORD`, `STEP_RECORD`, in their safetensors metadata) and a resume goes on from
their step: train_log.json is written before the weights, and one ahead of them is cut back
to their step (its losses are the same run's); train_state.pt, renamed in last, is used only
when it is of their step; a kill between the weights and that rename leaves the new state,
written and synced before the weights, under its pending name, which the resume takes where
it is of their step (else the resume is inexact, and says so). Weights ahead of the log, or
of another run than it, are refused: going on would mix two.

Fine-tuning (``--init-from CKPT``): the weights start from a trained checkpoint of the same
model config instead of a random init; the optimizer, learning-rate schedule (warmup, cosine)
and step count start afresh, and the normalization statistics are the new dataset's (as when
Isaac-GR00T fine-tunes on a dataset). ``train_log.json`` names the checkpoint in
``init_from``; ``--resume`` keeps that record and refuses another ``--init-from``. A robot of
the run may not take the slot the checkpoint gives another robot (`check_init_slots`) unless
``--overwrite-slot`` names that robot; ``train_log.json`` then records it in ``overwrite_slot``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch

from gr00t_policy.atomic_write import fsync_path, write_text_atomically
from gr00t_policy.embodiment import EmbodimentConfig
from gr00t_policy.policy import GR00TPolicy
from gr00t_policy.train.auxiliary import AuxLoss
from gr00t_policy.train.config import TrainConfig

logger = logging.getLogger(__name__)

TRAIN_STATE_FILE = "train_state.pt"
# train_state.pt of the save under way, written (and synced) before the weights and renamed
# into TRAIN_STATE_FILE after them: a save killed between the two leaves it for the resume.
PENDING_TRAIN_STATE_FILE = f".{TRAIN_STATE_FILE}.next"
TRAIN_LOG_FILE = "train_log.json"
# What a save records with the weights (`save_checkpoint`'s records): the training step they
# are of, and the run, an id drawn when a run starts (train_log.json's "run"; --resume keeps
# it), so that the old weights of a run --overwrite replaces are not taken for its own.
STEP_RECORD, RUN_RECORD = "train_step", "train_run"


def embodiment_entries(embodiments: Sequence[EmbodimentConfig]) -> dict[str, dict[str, Any]]:
    """config.json "embodiments": {tag: EmbodimentConfig.checkpoint_entry()} per robot."""
    return {emb.tag: emb.checkpoint_entry() for emb in embodiments}


def check_out_dir(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to start a fresh run in a directory that holds a checkpoint or a run's state:
    its first save would replace them (save_checkpoint writes over a checkpoint), losing a
    trained model, or the state a --resume needs, without a word. ``resume`` continues the
    run there; ``overwrite`` replaces it on purpose. Raises ValueError naming the directory,
    what is there and both ways on."""
    from gr00t_policy.checkpoint import CONFIG_FILE, INDEX_FILE, WEIGHTS_FILE

    if resume and overwrite:
        raise ValueError("--resume continues the run in --out and --overwrite replaces it: "
                         "pass one of them")
    if resume or overwrite:
        return
    found = [name for name in (CONFIG_FILE, WEIGHTS_FILE, INDEX_FILE, TRAIN_LOG_FILE,
                               TRAIN_STATE_FILE) if (out / name).exists()]
    if found:
        raise ValueError(
            f"--out {out} already holds a checkpoint or training run ({', '.join(found)}); a new "
            "run would replace it at its first save. Pass --resume to continue the run saved "
            "there (same options), or --overwrite to replace it; or choose another --out")


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


class SaveError(OSError):
    """A save that could not write its files (most often a full disk); the files of the save
    before are left as they were (each is replaced whole)."""


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not (path.exists() and os.path.ismount(path)) and path != path.parent:
        path = path.parent
    return path


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """An error while writing ``path`` as one `SaveError` naming it, the error and the space
    left: the libraries' own say little (torch.save's is "basic_ios::clear: iostream error")
    and come with a traceback that buries them."""
    from safetensors import SafetensorError

    try:
        yield
    except (RuntimeError, SafetensorError, OSError) as exc:
        mount = _mount_point(path)
        free = shutil.disk_usage(mount).free // 2**20
        raise SaveError(f"could not write {path}: {exc}; free space on {mount}: {free} MB "
                        "(disk full?)") from exc


def save_run(policy: GR00TPolicy, out: Path, tokenizer, metadata: dict[str, Any],
             embodiments: Sequence[EmbodimentConfig], preset: str | None, losses: list[float],
             cfg: TrainConfig, info: dict[str, Any],
             train_state: dict[str, Any] | None = None) -> None:
    """The checkpoint of step ``info["step"]`` of run ``info["run"]`` (both recorded with its
    weights), loss.png, train_log.json (settings, flow-matching losses, ``info``) and, given
    ``train_state`` (`train_state_dict`), train_state.pt.

    The order makes a save killed anywhere resumable without mixing two steps: the slow
    writes first (train_state.pt under a temporary name, loss.png), then train_log.json
    (it may run ahead of the weights, never behind: `read_resume_log` cuts it back), the
    checkpoint (config.json last), and train_state.pt renamed in last. Raises `SaveError`
    when a file cannot be written."""
    from gr00t_policy.checkpoint import save_checkpoint

    with _writing(out):
        out.mkdir(parents=True, exist_ok=True)
    pending = out / PENDING_TRAIN_STATE_FILE
    try:
        if train_state is not None:
            with _writing(out / TRAIN_STATE_FILE):
                torch.save(train_state, pending)
                fsync_path(pending)
        with _writing(out / "loss.png"):
            save_loss_plot(losses, out / "loss.png")
        log = {"train_config": cfg.to_dict(), "losses": losses, **info}
        with _writing(out / TRAIN_LOG_FILE):
            write_text_atomically(out / TRAIN_LOG_FILE, json.dumps(log, indent=1))
        with _writing(out):
            save_checkpoint(policy, out, tokenizer=tokenizer, metadata=metadata,
                            embodiments=embodiment_entries(embodiments), preset=preset,
                            records={STEP_RECORD: str(int(info["step"])),
                                     RUN_RECORD: info["run"]})
        if train_state is not None:
            with _writing(out / TRAIN_STATE_FILE):
                os.replace(pending, out / TRAIN_STATE_FILE)
                fsync_path(out)
    except Exception:
        # A failed save (SaveError, ...): no half-written state left behind. A kill leaves
        # it, complete once the weights are being written (`restore_train_state` takes it).
        pending.unlink(missing_ok=True)
        raise


def train_state_dict(optim, rng: np.random.Generator, generator: torch.Generator,
                     heads: Mapping[str, torch.nn.Module], step: int) -> dict[str, Any]:
    """What an exact resume needs beyond the weights: optimizer moments, generator states
    and the training-only auxiliary heads (the checkpoint does not hold them), for the
    weights of `step` (a resume checks it against the weights')."""
    return {
        "step": int(step),
        "heads": {k: h.state_dict() for k, h in heads.items()},
        "optimizer": optim.state_dict(),
        "numpy_rng": rng.bit_generator.state,
        "torch_generator": generator.get_state(),
        "torch_global": torch.get_rng_state(),
    }


def restore_train_state(out: Path, optim, rng: np.random.Generator, generator: torch.Generator,
                        heads: Mapping[str, torch.nn.Module], aux: Sequence[AuxLoss] = (),
                        step: int | None = None) -> bool:
    """Restore optimizer, generators and auxiliary heads (``aux``: their losses, for the
    keys older files kept heads under) from train_state.pt; False if there is none of
    ``step``. Where train_state.pt is missing or of another step (a save killed between the
    weights and its rename), the save's pending state is taken when it is of ``step`` (and
    renamed into place). Files from before the step was recorded are taken as they are."""
    path, pending = out / TRAIN_STATE_FILE, out / PENDING_TRAIN_STATE_FILE
    state = torch.load(path, weights_only=True) if path.is_file() else None
    if step is not None and (state is None or int(state.get("step", step)) != step):
        waiting = _pending_state(pending, step)
        if waiting is not None:
            os.replace(pending, path)  # the files as that save would have left them
            fsync_path(out)
            state = waiting
        elif state is not None:
            logger.warning("--resume: %s was saved at step %d, the weights at step %d (a "
                           "save killed between them); not using it", path,
                           int(state["step"]), step)
            return False
    if state is None:
        return False
    saved = state.get("heads")
    if saved is None:  # written before heads were saved by name: a head under its old key or none
        saved = {loss.name: state[loss.legacy_state_key] for loss in aux
                 if loss.legacy_state_key and state.get(loss.legacy_state_key) is not None}
    for name, head in heads.items():
        if name not in saved:
            raise ValueError(f"--resume: {path} holds no {name!r} auxiliary head (it holds "
                             f"{sorted(saved)}); resume with the interrupted run's weights")
        head.load_state_dict(saved[name])
    optim.load_state_dict(state["optimizer"])
    rng.bit_generator.state = state["numpy_rng"]
    generator.set_state(state["torch_generator"])
    torch.set_rng_state(state["torch_global"])
    return True


def _pending_state(path: Path, step: int) -> dict[str, Any] | None:
    """The pending train state a killed save left at ``path`` when it is complete and of
    ``step``, else None (none, cut off mid-write, or of another save)."""
    if not path.is_file():
        return None
    try:
        state = torch.load(path, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - cut off while written: the save never got further
        logger.info("--resume: not using %s (%s)", path, exc)
        return None
    return state if isinstance(state, dict) and state.get("step") == step else None


def read_resume_log(out: Path, cfg: TrainConfig) -> dict[str, Any]:
    """The interrupted run's train_log.json at the step of the weights in ``out``, checked
    against ``cfg``; raises ValueError."""
    path = out / TRAIN_LOG_FILE
    if not path.is_file():
        raise ValueError(f"--resume: {path} not found; resume needs a checkpoint saved by gr00t-train")
    log = json.loads(path.read_text())
    differ = cfg.resume_differences(log.get("train_config", {}))
    if differ:
        pairs = ", ".join(_setting_difference(*d) for d in differ)
        raise ValueError(f"--resume: {path} was trained with other settings ({pairs}); "
                         "pass the same options as the interrupted run")
    log = _at_weights_step(out, log)
    step = int(log.get("step", 0))
    if not 0 < step < cfg.steps or len(log.get("losses", [])) != step:
        raise ValueError(f"--resume: {path} is at step {step} of {cfg.steps} with "
                         f"{len(log.get('losses', []))} losses; nothing to resume")
    return log


def _setting_difference(key: str, then: Any, now: Any) -> str:
    """One setting a resume differs in, as read_resume_log names it: ``bf16`` by the flag
    that sets it (--precision)."""
    if key == "bf16":
        name = {True: "bf16", False: "fp32"}
        return (f"--precision: saved {name[then]} vs now {name[now]} (auto follows the CPU; "
                f"pass --precision {name[then]})")
    return f"{key}: saved {then!r} vs now {now!r}"


def resumed_init_from(out: Path, log: Mapping[str, Any],
                      init_from: str | Path | None) -> str | None:
    """The checkpoint a resumed run was fine-tuned from (its train_log.json's "init_from",
    None for a run from a random init), which the log goes on recording; ValueError when
    ``init_from`` is given and is another."""
    saved = log.get("init_from")
    if init_from is not None and str(Path(init_from).resolve()) != saved:
        started = f"started from {saved}" if saved else "started without --init-from"
        raise ValueError(f"--resume: {out} was {started}; its weights come from there. Pass "
                         "the same --init-from as the run it continues, or none")
    return saved


def _at_weights_step(out: Path, log: dict[str, Any]) -> dict[str, Any]:
    """``log`` cut back to the step recorded with the weights in ``out`` where it is ahead of
    them (`save_run` writes it first); as it is where neither records a run (both saved
    before runs were recorded). ValueError naming both when the weights are of another run
    or ahead of the log."""
    from gr00t_policy.checkpoint import INDEX_FILE, WEIGHTS_FILE, weights_metadata

    path, step = out / TRAIN_LOG_FILE, int(log.get("step", 0))
    if not ((out / WEIGHTS_FILE).is_file() or (out / INDEX_FILE).is_file()):
        raise ValueError(f"--resume: {out} holds {TRAIN_LOG_FILE} but no weights (the run's "
                         "first save was killed before them): nothing to resume; train again "
                         "with --overwrite")
    records = weights_metadata(out)
    run, weights = records.get(RUN_RECORD), records.get(STEP_RECORD, "")
    if run is None and log.get("run") is None:
        return log
    fix = ("Fix: use the checkpoint as it is (its train_log.json may lack the last losses), "
           "or train again with --overwrite")
    if run != log.get("run") or not weights.isdigit():
        raise ValueError(
            f"--resume: the weights in {out} are not of the run {path} records (run "
            f"{run or 'unrecorded'} at step {weights or 'unrecorded'}, the log's run "
            f"{log.get('run') or 'unrecorded'} at step {step}): a save killed between the two "
            "left the weights of the run --overwrite replaced, or of a save before runs were "
            f"recorded; going on would train them as this run's. {fix}")
    if int(weights) > step:
        raise ValueError(
            f"--resume: the weights in {out} are of step {weights} but {path} of step {step} "
            f"(files of two saves mixed): going on would train the step-{weights} weights as "
            f"if at step {step}. {fix}")
    if int(weights) < step:
        logger.warning("--resume: %s is of step %d, the weights of step %s (a save killed "
                       "between the two); going on from the weights' step", path, step, weights)
        log = {k: v[:int(weights)] if k == "losses" or k.endswith("_losses") else v
               for k, v in log.items() if k != "seconds_per_step"}
        log["step"] = int(weights)
    return log


def _differences(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """``part.field`` names where two PolicyConfig dicts differ (either side may lack one)."""
    return sorted(f"{part}.{k}" for part in ours for k in set(ours[part]) | set(theirs.get(part, {}))
                  if ours[part].get(k) != theirs.get(part, {}).get(k))


# Model config fields that record how a run trained or fed its images rather than the
# weights' shapes: a fine-tune (--init-from) may change them (a GR00T N1 conversion made
# before image_crop existed fine-tunes with the preset's 0.95 crop).
TRAINING_CHOICES = ("action_head.prefix_rows", "backbone.image_crop")
# What a camera count changes in the model config (`PolicyConfig.with_views`): no weight.
VIEW_FIELDS = ("backbone.num_views", "backbone.max_tokens")


def load_matching_checkpoint(policy: GR00TPolicy, path: Path, option: str,
                             *, allow_new_instruction_encoder: bool = False):
    """The checkpoint at ``path``; raises ValueError naming the fields if its model config
    is not ``policy``'s. ``allow_new_instruction_encoder``: the policy may add an instruction
    encoder to the checkpoint's config (and differ in nothing else)."""
    from gr00t_policy.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    ours, theirs = policy.config.to_dict(), ckpt.config.to_dict()
    differ = _differences(ours, theirs)
    if option == "--init-from":  # how the weights were trained, not their shapes
        differ = [d for d in differ if d not in TRAINING_CHOICES]
        if "backbone.num_views" in differ:  # the same weights read another number of images
            differ = [d for d in differ if d not in VIEW_FIELDS]
            logger.info("--init-from: %s reads %d camera image(s) per frame, this run %d; the "
                        "fine-tune learns to read the others", path, ckpt.config.backbone.num_views,
                        policy.config.backbone.num_views)
        if not differ:
            return ckpt
    if (allow_new_instruction_encoder and differ and policy.config.backbone.has_instruction_encoder
            and not ckpt.config.backbone.has_instruction_encoder
            and all(d.startswith("backbone.instruction_") for d in differ)):
        return ckpt
    if theirs != ours:
        raise ValueError(f"{option}: {path} holds another model config than --preset asks for "
                         f"(differs in {differ or 'its layout'}); pass the preset it was trained with")
    return ckpt


def load_resume_weights(policy: GR00TPolicy, out: Path, metadata: dict[str, Any],
                        robots: Mapping[str, Mapping[str, Any]]) -> None:
    """Load the interrupted run's weights; its robots (``robots``: tag -> the
    `EmbodimentConfig.checkpoint_entry` config.json records) and statistics must be this
    run's."""
    ckpt = load_matching_checkpoint(policy, out, "--resume")
    differ = _embodiment_differences(ckpt.embodiments, json.loads(json.dumps(dict(robots))))
    if differ:
        raise ValueError(f"--resume: {out} was trained for another embodiment ({'; '.join(differ)}); "
                         "pass the embodiment YAML (or --mixture) the run was started with")
    if json.loads(json.dumps(metadata)) != ckpt.metadata:
        raise ValueError(f"--resume: the normalization statistics in {out} differ from this "
                         "dataset's; resume on the dataset the run was started on")
    policy.load_state_dict(ckpt.policy.state_dict())


def _embodiment_differences(saved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """``tag.field: saved .. vs now ..`` for each field a checkpoint's config.json
    "embodiments" (``saved``) records otherwise than ``now``, and each robot only one of them
    has. A field the checkpoint lacks is not compared, nor are robots where it records none
    (saved before the field, or the entries, were recorded)."""
    if not saved:
        return []
    out = [f"robot {tag}: not in the checkpoint" for tag in now if tag not in saved]
    out += [f"robot {tag}: in the checkpoint, not in this run" for tag in saved if tag not in now]
    for tag in (t for t in now if t in saved):
        then, want = saved[tag], now[tag]
        out += [f"{tag}.{k}: saved {then[k]!r} vs now {want.get(k)!r}"
                for k in sorted(then) if then[k] != want.get(k)]
    return out


def check_init_slots(path: Path, slots: Mapping[str, int],
                     overwrite: Sequence[str] = ()) -> dict[str, int]:
    """The robots of the ``--init-from`` checkpoint at ``path`` that this run's robots
    (``slots``: tag -> embodiment slot) replace, tag -> slot: those named in ``overwrite``
    (``--overwrite-slot``). Another robot's slot taken unasked raises ValueError naming both
    robots, the slot and the free slots: the fine-tune would train over that robot's encoders
    and decoder, and the checkpoint written would no longer list it. A checkpoint that records
    no robots (saved before config.json did) is not checked."""
    from gr00t_policy.checkpoint import read_checkpoint_config

    config = read_checkpoint_config(path)
    held = {int(e["slot"]): tag for tag, e in config.get("embodiments", {}).items()}
    taken = {slot: (tag, held[slot]) for tag, slot in slots.items()
             if slot in held and held[slot] != tag}
    named = {other for _, other in taken.values()}
    unknown = [t for t in overwrite if t not in named]
    if unknown:
        robots = {tag: slot for slot, tag in sorted(held.items())}
        raise ValueError(f"--overwrite-slot {' '.join(unknown)}: {path} has no such robot in a "
                         f"slot this run takes (its robots, tag: slot: {robots}); pass only "
                         "the robots this run's embodiment slots replace")
    refused = {slot: pair for slot, pair in taken.items() if pair[1] not in overwrite}
    if refused:
        count = config["action_head"]["num_embodiments"]
        free = [s for s in range(count) if s not in held and s not in slots.values()]
        clashes = "; ".join(f"this run's robot {tag!r} takes embodiment slot {slot}, which "
                            f"{path} gives to robot {other!r}"
                            for slot, (tag, other) in sorted(refused.items()))
        others = " ".join(sorted({other for _, other in refused.values()}))
        raise ValueError(f"--init-from: {clashes}: the fine-tune would train over that robot's "
                         "encoders and decoder, and the checkpoint written would no longer "
                         f"list it. Fix: give the robot a free slot (`slot:` in its embodiment "
                         f"YAML; free: {free or 'none'}), or pass --overwrite-slot {others} "
                         "to replace it")
    replaced = {other: slot for slot, (tag, other) in sorted(taken.items())}
    for other, slot in replaced.items():
        logger.warning("--overwrite-slot: robot %r of %s (embodiment slot %d) is replaced by "
                       "this run's %r; the checkpoint written no longer lists it", other, path,
                       slot, taken[slot][0])
    return replaced


def load_init_weights(policy: GR00TPolicy, path: Path) -> None:
    """Start from a trained checkpoint's weights; its model config must be ``policy``'s, or
    the same without an instruction encoder (then the projection of the encoder's states,
    ``backbone.instruction_proj``, keeps its random init: a fine-tune that gives a trained
    policy a pretrained language model)."""
    ckpt = load_matching_checkpoint(policy, path, "--init-from", allow_new_instruction_encoder=True)
    missing, unexpected = policy.load_state_dict(ckpt.policy.state_dict(), strict=False)
    new = [k for k in missing if not k.startswith("backbone.instruction_proj.")]
    if new or unexpected:
        raise ValueError(f"--init-from: {path} lacks {new} and has unexpected {unexpected}; "
                         "pass a checkpoint of the same preset")
    if missing:
        logger.info("weights initialised from %s; new, randomly initialised: %s", path, missing)
    else:
        logger.info("weights initialised from %s", path)


