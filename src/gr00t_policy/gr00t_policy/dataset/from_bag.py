"""rosbag2 MCAP bags -> a LeRobot v2 dataset for one embodiment. CLI: ``gr00t-dataset from-bag``.

Each bag is one recording (``gr00t-record`` writes one bag per episode, its instruction in the
bag's metadata). Its joint states, commands and camera frames (:mod:`.bag_streams`) are put
on the dataset's grid (1 / action_dt) by the pairing rules of :mod:`.resample`: the same row
gr00t-collect writes (state observed at ``t``, the targets commanded right after it, the
newest camera frame at or before it). Runs of valid steps become episodes, written through
:class:`LeRobotWriter` (parquet, mp4, info, episodes, tasks, modality.json, stats.json).

A bag whose recorder's clock went back mid-recording (NTP / chrony stepping it) is cut at
each step (`Bag.parts`: the messages written before it and those after it, each part on its
own timeline), and each part converted as a bag of its own would be: its runs are episodes
whose metadata names the bag and the part (``source_part`` of ``source_parts``), a part that
fails its own checks is refused (``--skip-bad``: left out alone), one too short to hold every
stream is dropped; the report says where the bag was cut and why.

The returned :class:`BagReport` per bag says what was kept, repaired (actions repeated over
short gaps, joint states with NaN or beyond the joints' limits skipped) and dropped (steps before the first camera frame,
stale inputs, long gaps, a cut-off file, and, in a recording of System 1's own runs, the steps
it commanded while holding or braking: :mod:`.system1_holds`), and why.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gr00t_policy.dataset import system1_holds
from gr00t_policy.dataset.bag import (INSTRUCTION_KEY, LOST_MESSAGES_KEY, Bag, BagError,
                                      ClockStep, read_bag)
from gr00t_policy.dataset.bag_streams import BagTopics, Streams, extract, image_rgb
from gr00t_policy.dataset.resample import ResampleConfig, align, merge_commands
from gr00t_policy.dataset.writer import (LeRobotWriter, check_appendable, check_root,
                                         check_task, gr00t_modality)
from gr00t_policy.embodiment import EmbodimentConfig

logger = logging.getLogger(__name__)


@dataclass
class BagReport:
    """What one bag became."""

    path: Path
    task: str = ""
    episodes: list[tuple[int, int]] = field(default_factory=list)  # (episode index, steps)
    complete: bool = True
    dropped: dict[str, int] = field(default_factory=dict)  # steps, by reason
    held: int = 0  # steps repeating the previous action (short command gaps)
    nan_states: int = 0  # joint-state messages skipped (NaN, or without the state joints)
    bad_commands: dict[str, int] = field(default_factory=dict)  # topic -> messages skipped
    early_commands: int = 0  # updates left out: some controller had not spoken yet
    log_time_topics: list[str] = field(default_factory=list)  # timed by reception, not sending
    # topic -> (messages skipped beyond limits + plausibility.position_margin, an example)
    implausible: dict[str, tuple[int, str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    refused: str = ""  # why the bag was left out (convert_bags(..., skip_bad=True))
    # episodes of the dataset appended to that hold this bag (or a run of it) already: not
    # written again
    already: list[int] = field(default_factory=list)
    # A bag whose recorder's clock went back mid-recording is cut there (`Bag.parts`): where
    # and why, in words, and what became of each part
    cuts: list[str] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    parts_left_out: list[str] = field(default_factory=list)  # why, per part (skip_bad)
    # System 1 state -> steps it commanded while not running (system1_holds): left out,
    # or kept where `holds_kept`
    system1_holds: dict[str, int] = field(default_factory=dict)
    holds_kept: bool = False

    @property
    def steps(self) -> int:
        return sum(n for _, n in self.episodes)

    def lines(self) -> list[str]:
        if self.refused:
            return [f"{self.path}: left out: {self.refused}"]
        already = (f"already in the dataset as episode(s) "
                   f"{', '.join(f'#{i}' for i in self.already)}: not converted again")
        if self.already and not self.episodes:
            return [f"{self.path}: {already}"]
        eps = ", ".join(f"#{i} ({n} steps)" for i, n in self.episodes) or "none"
        out = [f"{self.path}: {self.task!r} -> episodes {eps}"]
        if self.already:
            out.append(f"  {already}")
        out += [f"  cut: {c}" for c in self.cuts]
        out += [f"  {p}" for p in self.parts]
        out += [f"  warning: {w}" for w in self.warnings]
        if self.held:
            out.append(f"  repaired: {self.held} steps repeat the previous action (command gap)")
        if self.nan_states:
            out.append(f"  repaired: skipped {self.nan_states} joint states with NaN or "
                       "without the state joints (the step takes the one before)")
        out += [f"  skipped {n} commands on {t} (NaN, wrong size, or not naming every "
                "joint of the controller)"
                for t, n in self.bad_commands.items() if n]
        out += [f"  skipped {n} messages on {t} with a position beyond its joint's limits by "
                f"more than plausibility.position_margin (e.g. {what}): check the encoders "
                "and the units" for t, (n, what) in self.implausible.items()]
        if self.log_time_topics:
            out.append(f"  times: reception (log) times on {self.log_time_topics} (their "
                       "publish times are not on the recorder's clock)")
        if self.early_commands:
            out.append(f"  skipped {self.early_commands} command updates before every "
                       "controller had spoken")
        out += [f"  dropped {n} steps: {why}" for why, n in self.dropped.items() if n]
        if self.system1_holds:
            out.append("  " + system1_holds.report_line(self.system1_holds, self.holds_kept))
        return out


def _episode_arrays(bag: Bag, streams: Streams, run: dict, update_a: np.ndarray,
                    cameras: Sequence[str], topics: dict[str, str]):
    states = streams.state[run["state"]].astype(np.float32)  # (T, S)
    actions = update_a[run["action"]].astype(np.float32)  # (T, A)
    frames = {cam: DecodedFrames(streams.frames[cam][1], [int(i) for i in run["frames"][cam]],
                                 topics[cam], streams.image_shapes[cam],
                                 functools.partial(bag.with_data, topics[cam]))
              for cam in cameras}
    return states, actions, frames


class DecodedFrames:
    """One camera's frames for an episode's steps, decoded from the bag's messages while
    they are iterated (the writer hands them to the video encoder one by one), so an
    episode's decoded frames are never all in memory; nor are the messages' pixels, where
    the bag was read with them left in the file (`read_bag`'s ``data_later``, as
    `convert_bags` reads): they are read back in the same pass. Array-like: `shape`
    (T, H, W, 3), `dtype` uint8, `len`, iteration over (H, W, 3) frames, `np.asarray`
    (all at once).

    Args:
        msgs: the camera's messages in time order.
        index: (T,) the message of each step, non-decreasing (a frame repeats on consecutive
            steps only: each is decoded once).
        topic: for errors.
        size: (height, width) of the camera's frames, as the bag's check found them
            (`bag_streams.check_frames`, `Streams.image_shapes`); a frame of another size is
            a BagError as it is decoded.
        with_data: the messages given with their bytes (`Bag.with_data` for the topic);
            by default they hold them.
    """

    dtype = np.dtype(np.uint8)

    def __init__(self, msgs: Sequence[Any], index: Sequence[int], topic: str,
                 size: tuple[int, int],
                 with_data: Callable[[list[Any]], Iterable[Any]] = iter) -> None:
        self._msgs, self._index, self._topic = msgs, list(index), topic
        self._with_data = with_data
        self.shape = (len(self._index), int(size[0]), int(size[1]), 3)

    def __len__(self) -> int:
        return self.shape[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        steps = self._index
        each = [i for k, i in enumerate(steps) if k == 0 or i != steps[k - 1]]
        loaded = iter(self._with_data([self._msgs[i] for i in each]))
        last, rgb = -1, None
        for i in steps:
            if i != last:
                rgb, last = image_rgb(next(loaded), self._topic), i
                if rgb.shape != self.shape[1:]:
                    raise BagError(f"{self._topic}: frames change size within the recording "
                                   f"({sorted({rgb.shape, self.shape[1:]})}); record one "
                                   "resolution per camera")
            yield rgb

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if copy is False:
            raise ValueError("DecodedFrames decodes its frames: an array of them is a copy")
        out = np.empty(self.shape, np.uint8)
        for row, rgb in enumerate(self):
            out[row] = rgb
        return out if dtype is None else out.astype(dtype)


@dataclass
class Part:
    """One timeline of a bag (`Bag.parts`: the whole bag unless its recorder's clock went
    back) and what it gave: its signals, or why it gives none."""

    bag: Bag
    streams: Streams | None = None
    failed: str = ""  # its own checks failed (the BagError's words)
    empty: str = ""  # it lacks a stream the others carry: too short to be an episode

    @property
    def name(self) -> str:
        k, n = self.bag.part
        return f"part {k + 1} of {n}"


def cut_words(step: ClockStep, count: int) -> str:
    """Where and why a bag was cut, for the report (``count``: its parts)."""
    cuts = f" (one of {count - 1} cuts)" if count > 2 else ""
    return (f"the recorder's clock went back {step.back_s:.3f} s, {step.into_s:.2f} s into "
            f"the recording (at a message on {step.topic}): cut there{cuts}, the messages "
            "written before the step and those after it converted as separate episodes, each "
            "on its own timeline (keep the robot's clock from stepping while recording: "
            "chrony's `makestep 1 3` steps it only at boot, then slews)")


def _needed(emb: EmbodimentConfig, topics: BagTopics) -> list[str]:
    """The topics every episode needs a message on: joint states, commands, cameras."""
    commands = [topics.action_topic] if topics.action_topic else [c.topic for c in emb.controllers]
    return [topics.joint_states, *commands, *(c.topic for c in emb.cameras)]


def _said(bag: Bag, topic: str) -> list[str]:
    return [m.data.strip() for _, m in bag.messages.get(topic, []) if m.data.strip()]


def extract_parts(bag: Bag, emb: EmbodimentConfig, topics: BagTopics,
                  task: str | None = None) -> list[Part]:
    """Each of ``bag``'s parts (`Bag.parts`) with its signals (`extract`). A bag in one part
    raises BagError as `extract` does. A part of a cut bag that fails its own checks keeps
    the error's words (``failed``); one without a message on a stream the bag carries (a
    few milliseconds before or after the step) is ``empty``; BagError where no part has
    signals. A part without an instruction of its own (no metadata, none published in it)
    takes the one published last before it, else the first after it."""
    parts = bag.parts()
    if len(parts) == 1:
        return [Part(bag, extract(bag, emb, topics, task))]
    out = []
    said = [_said(part, topics.instruction) for part in parts]
    needed = _needed(emb, topics)
    for k, part in enumerate(parts):
        missing = [t for t in needed if not part.messages.get(t) and bag.messages.get(t)]
        if missing:
            times = [t for msgs in part.messages.values() for t, _ in msgs]
            span = (max(times) - min(times)) / 1e9 if times else 0.0
            out.append(Part(part, empty=f"no message on {', '.join(missing)} in its "
                                        f"{span:.2f} s"))
            continue
        if not task and not part.custom_data.get(INSTRUCTION_KEY, "").strip() and not said[k]:
            before = [text for words in said[:k] for text in words]
            after = [text for words in said[k + 1:] for text in words]
            if before or after:
                part.custom_data[INSTRUCTION_KEY] = before[-1] if before else after[0]
        try:
            out.append(Part(part, extract(part, emb, topics, task)))
        except BagError as exc:
            out.append(Part(part, failed=str(exc)))
    if not any(p.streams for p in out):
        raise BagError(f"bag {bag.path}: cut into {len(parts)} parts where the recorder's clock "
                       "went back, none converts: " + "; ".join(
                           f"{p.name}: {p.failed or p.empty}" for p in out))
    return out


def _part_error(bag: Bag, part: Part) -> BagError:
    """The BagError of a part of a cut bag that fails its own checks."""
    step = bag.clock_steps[max(0, part.bag.part[0] - 1)]
    return BagError(f"{part.failed} (in {part.name} of the bag, which was cut where the "
                    f"recorder's clock went back {step.back_s:.3f} s; --skip-bad leaves out "
                    "this part alone)")


def _check_parts(bag: Bag, parts: list[Part], sizes: dict[str, tuple[int, int]] | None,
                 emb: EmbodimentConfig, appended_to: Path | None,
                 skip_bad: bool) -> dict[str, tuple[int, int]] | None:
    """BagError for a part that fails its checks (unless ``skip_bad``), or whose cameras'
    sizes are not ``sizes`` (the dataset's); returns the sizes, the first part's if none."""
    for part in parts:
        if part.failed and not skip_bad:
            raise _part_error(bag, part)
        if part.streams is not None:
            sizes = sizes or part.streams.image_shapes
            _check_shapes(bag.path, part.streams.image_shapes, sizes, emb, appended_to)
    return sizes


def convert_bag(bag: Bag, emb: EmbodimentConfig, writer_factory, *, topics: BagTopics,
                cfg: ResampleConfig, task: str | None = None,
                parts: list[Part] | None = None,
                listed: Mapping[int, int] | None = None,
                skip_bad: bool = False,
                keep_system1_holds: bool = False) -> BagReport:
    """Convert one read bag; ``writer_factory(image_shapes)`` (camera -> (height, width))
    gives the (shared) writer;
    ``parts``: the bag's `extract_parts`, when the caller has them already; ``listed``:
    start time (ns) -> episode index of the episodes the dataset appended to holds: a run
    that starts at one of them is that episode (the same bag, moved), not written again.

    A bag whose recorder's clock went back mid-recording is converted part by part, each
    part's runs episodes of their own, whose metadata names the bag (``source_bag``) and
    the part (``source_part``, 1-based, of ``source_parts``); a part that fails its own
    checks raises BagError, or with ``skip_bad`` is left out and named in the report.
    ``keep_system1_holds``: keep the steps System 1 commanded while not running
    (:mod:`.system1_holds`; left out by default)."""
    report = BagReport(path=bag.path, complete=bag.complete, warnings=list(bag.warnings))
    if parts is None:
        parts = extract_parts(bag, emb, topics, task)
    report.cuts = [cut_words(step, len(parts)) for step in bag.clock_steps]
    report.holds_kept = keep_system1_holds
    if bag.custom_data.get(LOST_MESSAGES_KEY):
        report.warnings.append(
            f"the recorder lost messages while recording ({bag.custom_data[LOST_MESSAGES_KEY]}):"
            " a lost command's step repeats the action before it (counted as repaired, up to "
            "a gap where the recording is split), a lost joint state or frame is stood in for "
            "by the one before it")
    for part in parts:
        if part.failed:
            error = _part_error(bag, part)
            if not skip_bad:
                raise error
            report.parts_left_out.append(f"{part.name}: {error}")
            report.parts.append(f"{part.name}: left out: {part.failed}")
            continue
        if part.empty:
            report.parts.append(f"{part.name}: nothing to convert ({part.empty}): dropped")
            continue
        first = len(report.episodes)
        _convert_part(report, part, emb, writer_factory, cfg, listed, topics,
                      keep_system1_holds)
        if len(parts) > 1:
            eps = ", ".join(f"#{i}" for i, _ in report.episodes[first:]) or "none"
            report.parts.append(f"{part.name}: episodes {eps}")
    return report


def _add_counts(into: dict[str, int], counts: Mapping[str, int]) -> None:
    """Add ``counts`` (a part's, by key) into ``into`` (the bag's)."""
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


def _convert_part(report: BagReport, part: Part, emb: EmbodimentConfig, writer_factory,
                  cfg: ResampleConfig, listed: Mapping[int, int] | None, topics: BagTopics,
                  keep_system1_holds: bool) -> None:
    """One timeline's runs into episodes, its counts added to ``report``; the steps System 1
    commanded while not running left out unless ``keep_system1_holds``."""
    bag, streams = part.bag, part.streams
    report.task = report.task or streams.task
    report.nan_states += streams.nan_states
    _add_counts(report.bad_commands, streams.bad_commands)
    report.log_time_topics += [t for t in streams.log_time_topics
                               if t not in report.log_time_topics]
    for topic, (n, what) in streams.implausible.items():
        had = report.implausible.get(topic)
        report.implausible[topic] = (n + had[0], had[1]) if had else (n, what)
    cut = bag.part[1] > 1
    in_part = f"{part.name}: " if cut else ""
    report.warnings += [in_part + w for w in (
        streams.publisher_warnings + streams.clock_warnings + streams.stamp_warnings
        + streams.task_warnings)]
    update_t, update_a, early = merge_commands(
        streams.commands, len(emb.action_joints), cfg.group)
    report.early_commands += early
    holds = system1_holds.for_updates(bag, emb, topics, streams.t0_ns, update_t,
                                      report.warnings)
    steps = align(update_t, streams.state_t,
                  {cam: t for cam, (t, _) in streams.frames.items()}, cfg,
                  withheld=None if keep_system1_holds else holds)
    _add_counts(report.dropped, steps.dropped)
    report.held += steps.held
    _add_counts(report.system1_holds, system1_holds.in_runs(holds, steps.runs)
                if keep_system1_holds and holds is not None else steps.withheld)
    cameras = [c.name for c in emb.cameras]
    cam_topics = {c.name: c.topic for c in emb.cameras}
    where = {"source_part": bag.part[0] + 1, "source_parts": bag.part[1]} if cut else {}
    for run in steps.runs:
        start_ns = streams.t0_ns + int(round(run["tau"][0] * 1e9))
        if listed and start_ns in listed:
            report.already.append(listed[start_ns])
            continue
        states, actions, frames = _episode_arrays(bag, streams, run, update_a, cameras,
                                                  cam_topics)
        shapes = {cam: tuple(int(n) for n in frames[cam].shape[1:3]) for cam in cameras}
        writer = writer_factory(shapes)
        _check_shapes(bag.path, shapes, writer.image_shapes, emb)
        index = writer.add_episode(states, actions, frames, streams.task,
                                   extra={"source_bag": str(Path(bag.path).resolve()),
                                          "start_time_ns": start_ns, **where})
        report.episodes.append((index, len(states)))
    if not steps.runs:
        report.warnings.append(f"{in_part}no step could be paired: nothing written from this "
                               + ("part" if cut else "bag"))


def _check_shapes(path: Path, shapes: dict[str, tuple[int, int]],
                  theirs: dict[str, tuple[int, int]], emb: EmbodimentConfig,
                  appended_to: Path | None = None) -> None:
    """BagError unless a bag's cameras' (height, width) are the dataset's (``theirs``; those
    of the dataset at ``appended_to``, when it is one being appended to): a camera's
    episodes share one video size."""
    if shapes == theirs:
        return
    topics = [c.topic for c in emb.cameras if shapes.get(c.name) != theirs.get(c.name)]
    if appended_to is not None:
        raise BagError(f"bag {path}: cannot append to {appended_to}: the dataset's frames are "
                       f"{theirs} (height, width), this bag's {shapes} (on {', '.join(topics)}). "
                       "Fix: convert this bag into a new dataset, or leave it out")
    raise BagError(f"bag {path}: its camera frames are {shapes} (height, width) but the "
                   f"dataset's are {theirs} (on {', '.join(topics)}); each camera must keep one "
                   "resolution across the bags of a dataset. Fix: convert this bag into a "
                   "dataset of its own, or leave it out")


@dataclass
class _Appended:
    """What convert_bags needs of the dataset an append continues."""

    shapes: dict[str, tuple[int, int]] | None  # camera -> (height, width); None: not ours
    by_path: dict[Path, list[int]]  # resolved source_bag -> its episodes
    by_start: dict[int, int]  # start_time_ns -> episode


def _appended(out: Path, emb: EmbodimentConfig) -> _Appended | None:
    """The dataset at ``out`` that an append continues (None when there is none): its
    cameras' sizes (None when its cameras are not the embodiment's: the writer refuses it,
    naming both) and the bags its episodes came from. DatasetError for a dataset the writer
    cannot continue (`check_appendable`), before any bag is read."""
    if not (out / "meta" / "info.json").is_file():
        return None
    ds = check_appendable(out, gr00t_modality(
        [(k.key, list(k.joints)) for k in emb.state_keys],
        [(k.key, list(k.joints)) for k in emb.action_keys], [c.name for c in emb.cameras]))
    cameras = [c.name for c in emb.cameras]
    found = _Appended({cam: ds.image_shape(cam) for cam in cameras}
                      if ds.cameras == cameras else None, {}, {})
    for index, episode in enumerate(ds.episodes):
        if isinstance(episode.get("source_bag"), str):
            found.by_path.setdefault(Path(episode["source_bag"]).resolve(), []).append(index)
        if isinstance(episode.get("start_time_ns"), int):
            found.by_start[episode["start_time_ns"]] = index
    return found


def convert_bags(
    bags: Sequence[str | Path],
    emb: EmbodimentConfig,
    out: str | Path,
    *,
    topics: BagTopics | None = None,
    cfg: ResampleConfig | None = None,
    task: str | None = None,
    codec: str = "h264-lossless",
    overwrite: bool = False,
    append: bool = False,
    skip_bad: bool = False,
    keep_system1_holds: bool = False,
) -> list[BagReport]:
    """Convert ``bags`` (each a rosbag2 MCAP directory or .mcap file) into one dataset at ``out``.

    ``cfg`` defaults to dt = action_dt and max_state_age = the embodiment's staleness.state_s.
    ``task`` overrides every bag's instruction. Raises BagError (naming the bag, the topic,
    what is missing and the fix) before anything is written when a bag cannot be converted
    (its cameras' sizes not those of the first good bag, or of the dataset appended to,
    included; of a bag cut where its recorder's clock went back, a part that fails its own
    checks); with ``skip_bad`` such a bag (or part) is left out instead (its report's
    ``refused``, or ``parts_left_out``, says why) and the others are converted. What fails
    only while it is written (a damaged frame found as it is encoded) raises too, leaving
    ``out`` as it was. A blank ``task`` or an ``out`` where no dataset can be written raise
    DatasetError before any bag is read.
    With ``append``, a bag the dataset holds already (an episode's ``source_bag`` is its
    path, or an episode starts when one of its runs does: the bag moved) is not converted
    again; its report's ``already`` names those episodes. The steps System 1 commanded
    while holding or braking (a bag with its safety state) are left out unless
    ``keep_system1_holds`` (:mod:`.system1_holds`).
    """
    if not bags:
        raise BagError("no bag given; pass one or more bag directories")
    if task is not None:
        check_task(task, "task (--task)", "pass the instruction's words, or leave --task out "
                   "to take each bag's own")
    check_root(Path(out), append=append, overwrite=overwrite)
    topics = topics or BagTopics()
    cfg = cfg or ResampleConfig(dt=emb.action_dt, max_state_age=emb.staleness.state_s)
    if abs(cfg.dt - emb.action_dt) > 1e-9:
        raise BagError(f"ResampleConfig.dt={cfg.dt} must be the embodiment's action_dt "
                       f"{emb.action_dt}")
    wanted = topics.all(emb) | {system1_holds.SAFETY_STATE_TOPIC}
    pixels = {c.topic for c in emb.cameras}  # left in the file until encoded (Bag.with_data)
    # Every bag is checked before anything is written, then read again to be converted: one
    # bag's messages (without their pixels) in memory at a time (a day of recordings does
    # not fit); a single bag is read and extracted once. The check decides the cameras'
    # sizes too (a camera's videos share one): the appended dataset's, else the first good
    # bag's.
    kept = None  # (bag, its streams) of a single bag
    refused: dict[int, str] = {}  # bag index -> why (skip_bad)
    old = _appended(Path(out), emb) if append else None
    sizes = old.shapes if old else None  # camera -> (h, w)
    appended_to = Path(out) if sizes else None
    # A bag the dataset holds already (the README's `bags/episode_*` again the next day) is
    # not converted again: named in its report, not read.
    already = {k: old.by_path[Path(p).resolve()] for k, p in enumerate(bags)
               if old and Path(p).resolve() in old.by_path}
    for k, path in enumerate(bags):
        if k in already:
            continue
        try:
            bag = read_bag(path, wanted, pixels)
            parts = extract_parts(bag, emb, topics, task)
            sizes = _check_parts(bag, parts, sizes, emb, appended_to, skip_bad)
        except BagError as exc:
            if not skip_bad:
                raise
            refused[k] = str(exc)
            continue
        kept = (bag, parts) if len(bags) == 1 else None
        del bag, parts
    writer: LeRobotWriter | None = None

    def factory(shapes) -> LeRobotWriter:
        nonlocal writer
        if writer is None:
            writer = LeRobotWriter(
                out, fps=1.0 / emb.action_dt,
                state_keys=[(k.key, list(k.joints)) for k in emb.state_keys],
                action_keys=[(k.key, list(k.joints)) for k in emb.action_keys],
                cameras=[c.name for c in emb.cameras], image_shape=shapes,
                robot_type=emb.name, codec=codec, overwrite=overwrite, append=append)
        return writer

    reports = []
    try:
        for k, path in enumerate(bags):
            if k in refused:
                reports.append(BagReport(path=Path(path), refused=refused[k]))
                logger.warning("%s: left out: %s", path, refused[k])
                continue
            if k in already:
                reports.append(BagReport(path=Path(path), already=already[k]))
                logger.info("%s", reports[-1].lines()[0])
                continue
            bag, parts = kept if kept is not None else (read_bag(path, wanted, pixels), None)
            kept = None
            report = convert_bag(bag, emb, factory, topics=topics, cfg=cfg, task=task,
                                 parts=parts, listed=old.by_start if old else None,
                                 skip_bad=skip_bad, keep_system1_holds=keep_system1_holds)
            del bag, parts  # freed before the next bag is read
            for line in report.lines():
                logger.info("%s", line)
            reports.append(report)
        if writer is None and any(r.already for r in reports):
            return reports  # nothing new: the dataset holds the bags already, untouched
        if writer is None or writer.num_episodes == 0:
            raise BagError("no episode could be made from the bags: " + "; ".join(
                f"{r.path}: {r.refused or r.dropped}"
                + (f" ({system1_holds.report_line(r.system1_holds, r.holds_kept)})"
                   if r.system1_holds else "") for r in reports))
        writer.finalize()
    except BaseException:
        if writer is not None:
            # What fails while writing (a damaged frame found as it is encoded) leaves
            # ``out`` as it was: a new dataset removed, an old one (appended to or
            # overwritten) intact.
            writer.discard()
        raise
    return reports
