"""``gr00t-eval``: closed-loop evaluation of a checkpoint in the MuJoCo tabletop (G1 or
Apollo, `--embodiment`) through the real graph.

    gr00t-eval --episodes 8 --seed 100000 [--checkpoint DIR] [--embodiment unitree_g1]
               [--episode-s 6] [--tasks all|touch|raise] [--instructions FILE]
               [--json] [--video out.mp4] [--record DIR]
               [--chunk-mode crossfade|latest|ensemble|rtc] [--inference-delay-ms D]
               [--system1-param NAME:=VALUE ...] [--system2-param NAME:=VALUE ...]

The graph is the one `gr00t-bringup run --sim` starts (`build_graph(sim=True)`, one process per
node, supervised by `runner.GraphRunner`). This process is only a client on the ROS graph:
per episode k it uses seed = --seed + k, picks the task from the seed (`task_for_seed`),
disables System 1 (/gr00t/enable false), resets the simulator with that seed and task
(/gr00t_sim/reset, gr00t_msgs/ResetSim: new cube positions, arms at the rest pose), waits
--settle-s, sends the instruction through /gr00t/set_instruction, waits until
/gr00t/embedding_tokens carries the instruction's id, enables System 1 and lets the policy act
for --episode-s seconds.

--instructions FILE (YAML, or JSON by its .json suffix; `phrasings`) maps each task's
instruction to the phrasings System 2 reads instead, e.g. the held-out set
config/instructions/heldout_phrasings.yaml. The simulator still judges the task; the episode
with seed s reads phrasing (s // n) % k of its task (n tasks, k phrasings of that task:
`schedule.phrasing_for_seed`), and the report adds the success per phrasing, with the words
the checkpoint's tokenizer does not know (the nano one reads each as [UNK]).

Success is the simulator's criterion (gr00t_sim.tasks): touch = the named palm within
`TOUCH_RADIUS` of the named cube's centre, raise = the named palm at least `RAISE_HEIGHT` above
that side's shoulder pitch joint. The simulator evaluates it on every state it publishes
(/gr00t_sim/state, gr00t_msgs/SimState, 25 Hz). Two rates, the strict one first: "at end"
(success_rate_at_end) = the criterion held at the episode's last sample, i.e. the hand is
still there; "any time" (success_rate_any_time, also under its older name success_rate) =
it held at ANY sample of the episode. An episode in which System 1 latched a safety fault
(a tracking fault, say) is scored alike and marked (`system1_faults`, and the count
`system1_fault_episodes`): the disable before the next episode clears the fault. So is one in
which System 1 held (a stale input, no plan in time; /gr00t/safety_state): `system1_held_s`,
seconds per hold state, and the count `system1_hold_episodes`.

System 1's chunk mode and an inference delay (gr00t_system1 parameters chunk_mode,
inference_delay_ms; docs/DESIGN.md "Chunk execution modes") are set by --chunk-mode and
--inference-delay-ms; a delay also raises state_staleness_s by as much, since every plan then
starts from a state that much older. Smoothness figures per arm joint (RMS jerk, the largest
acceleration at chunk switches, direction reversals per second) come from the commands
recorded while System 1 was enabled (`smoothness`).

Rates and latencies are measured while System 1 is enabled: System 1 commands (messages on the
first controller topic), replans (/gr00t/action_chunk), System 2 tokens, the inference latencies
both nodes put in their messages, and the token age at planning (the chunk's joint-state stamp
minus the camera stamp of the newest tokens, both in the simulator's time base).

--record DIR keeps each episode as a rosbag2 MCAP bag (DIR/episode_NNNNNN/, numbered on from
the bags already there; the result names each episode's): the graph gains the recorder
(gr00t-record's node), which records what it records on a robot (the joint states, the
controller commands, the camera, the instruction, System 1's safety state) and
`RECORD_TOPICS` (System 1's chunks, the simulator's judged state, the diagnostics), from
System 1's enable to the disable that ends the episode: what a failure did, joint by joint,
for `bench/episode_arms.py` or `gr00t-dataset from-bag`. About 30 MB per 6-s episode, most of
it the camera.

Seeds: training data uses seeds < 100000 (gr00t_sim.collect), so evaluation starts at 100000.
Exit status: 0 when the episodes were measured (whatever the success rate), 1 when the graph
failed (a node died or failed to configure or activate, a service or topic never came), 2 on
bad arguments or a missing checkpoint, 3 when a node's executable is not installed. Where
the graph failed (or Ctrl-C came) after some episodes, those are reported and written to
--json-out all the same, marked ``"complete": false`` (with ``episodes_planned``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from gr00t_bringup.graph import BACKENDS, DEFAULT_BACKEND, DEFAULT_EMBODIMENT, build_graph
from gr00t_bringup.overrides import add_override_options
from gr00t_bringup.runner import ExecutableNotFound, GraphRunner, Timeouts, TransitionError
from gr00t_common.probe import RosProbe
from gr00t_common.service_call import timeout_arg
from gr00t_policy.runtime.execution import CHUNK_MODES, DEFAULT_CHUNK_MODE
from gr00t_sim.evaluation.client import Evaluation, GraphFailed
from gr00t_sim.evaluation.phrasings import load_phrasings
from gr00t_sim.evaluation.report import format_report
from gr00t_sim.evaluation.schedule import (DEFAULT_SEED, EVAL_SEED_START, TASK_SETS,
                                           coverage_period, task_list)
from gr00t_sim.evaluation.scoring import (EpisodeResult, per_phrasing, per_task, rates,
                                          success_definition)
from gr00t_sim.evaluation.video import VideoRecorder

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_GRAPH_FAILED = 1
EXIT_BAD_ARGS = 2
EXIT_MISSING_EXECUTABLE = 3
# What --record keeps beside the recorder's own topics: each plan, the simulator's judged
# state (palms, cubes, success; 25 Hz) and the nodes' diagnostics (System 1's faults).
RECORD_TOPICS = ("/gr00t/action_chunk", "/gr00t_sim/state", "/diagnostics")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gr00t-eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=8, help="number of episodes (default 8)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help=f"seed of episode 0; episode k uses seed + k (default {DEFAULT_SEED}; "
                        "training uses seeds < 100000)")
    p.add_argument("--checkpoint", default=None,
                   help="gr00t_ros checkpoint directory (default: checkpoints/nano)")
    p.add_argument("--embodiment", default=DEFAULT_EMBODIMENT,
                   help=f"embodiment name or YAML path (default {DEFAULT_EMBODIMENT})")
    p.add_argument("--backend", default=DEFAULT_BACKEND, choices=BACKENDS,
                   help=f"System 1 backend (default {DEFAULT_BACKEND})")
    p.add_argument("--episode-s", type=float, default=6.0,
                   help="seconds System 1 acts per episode (default 6)")
    p.add_argument("--settle-s", type=float, default=0.5,
                   help="seconds between the reset and the instruction (default 0.5)")
    p.add_argument("--tasks", default="all", choices=TASK_SETS,
                   help="which tasks to cycle through (default all eight; either: the three "
                        "touches that name no hand)")
    p.add_argument("--instructions", type=Path, default=None, metavar="FILE",
                   help="YAML (or .json) mapping each evaluated task's instruction to one or "
                        "more phrasings System 2 reads instead (success is still judged on "
                        "the task), e.g. config/instructions/heldout_phrasings.yaml; the "
                        "report adds the success per phrasing")
    p.add_argument("--chunk-mode", default=None, choices=CHUNK_MODES,
                   help=f"System 1's chunk_mode (default: System 1's, {DEFAULT_CHUNK_MODE}); "
                        "rtc's guidance and prefix methods need their own graph (all three "
                        "backends; onnxruntime exports it on first use), its blend method "
                        "(--system1-param rtc_method:=blend) samples plainly")
    p.add_argument("--inference-delay-ms", type=float, default=0.0, metavar="D",
                   help="System 1 holds every plan back D ms before using it, like a slower "
                        "action head (default 0); raises state_staleness_s by D ms")
    add_override_options(p, "ensemble_decay_per_s:=13.0, rtc_guidance_clip:=5.0",
                         "backend:=torch, torch_threads:=1")
    p.add_argument("--use-sim-time", action=argparse.BooleanOptionalAction, default=False,
                   help="System 1 and 2 run on the simulator's /clock (default off: the "
                        "simulator stamps with the wall clock like a robot; episodes are "
                        "timed in simulated seconds either way)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--json-out", type=Path, default=None, metavar="PATH",
                   help="also write the JSON object to PATH")
    p.add_argument("--video", type=Path, default=None, metavar="PATH",
                   help="save the head camera with the instruction overlaid as an mp4")
    p.add_argument("--record", type=Path, default=None, metavar="DIR",
                   help="keep each episode as a rosbag2 MCAP bag under DIR (the recorder's "
                        "topics plus System 1's chunks, the simulator's state and the "
                        "diagnostics; ~30 MB per 6-s episode)")
    p.add_argument("--log-dir", type=Path, default=None,
                   help="keep the nodes' output and parameter files in DIR (default: a "
                        "temporary directory, removed afterwards)")
    p.add_argument("--startup-timeout", type=timeout_arg, default=240.0,
                   help="seconds to wait for the nodes to come up (default 240)")
    p.add_argument("--timeout", type=timeout_arg, default=60.0,
                   help="seconds to wait for a service reply or the episode's tokens "
                        "(default 60)")
    return p


def system1_parameters(args: argparse.Namespace, emb: Any) -> dict[str, Any]:
    """The System 1 parameters the arguments set (on top of build_graph's)."""
    params: dict[str, Any] = dict(args.system1_param)
    if args.chunk_mode is not None:
        params["chunk_mode"] = args.chunk_mode
    if args.inference_delay_ms > 0:
        params["inference_delay_ms"] = float(args.inference_delay_ms)
        # Every plan now starts from a state D older: the plan would be stale on arrival.
        params.setdefault("state_staleness_s",
                          float(emb.staleness.state_s) + args.inference_delay_ms / 1e3)
    return params


def _check_args(args: argparse.Namespace) -> None:
    if args.episodes < 1:
        raise ValueError(f"--episodes {args.episodes}: run at least 1 episode")
    if args.seed < 0:
        raise ValueError(f"--seed {args.seed} must be >= 0 (evaluation uses >= 100000)")
    if args.seed < EVAL_SEED_START:
        log.warning("--seed %d: seeds below %d are the training demonstrations' scenes "
                    "(gr00t-collect); a success rate on them is not a held-out figure",
                    args.seed, EVAL_SEED_START)
    if not (math.isfinite(args.episode_s) and args.episode_s > 0):
        raise ValueError(f"--episode-s {args.episode_s} must be a number > 0")
    if not (math.isfinite(args.settle_s) and args.settle_s >= 0):
        raise ValueError(f"--settle-s {args.settle_s} must be >= 0")
    if not (math.isfinite(args.inference_delay_ms) and 0 <= args.inference_delay_ms <= 10000):
        raise ValueError(f"--inference-delay-ms {args.inference_delay_ms} must be in [0, 10000]")
    if args.video is not None and args.video.suffix.lower() != ".mp4":
        raise ValueError(f"--video {args.video}: the file name must end in .mp4")


def phrasings_for(args: argparse.Namespace) -> dict[str, tuple[str, ...]] | None:
    """{task: phrasings} from --instructions for the evaluated tasks (None without the flag);
    warns when --episodes would cover the phrasings unevenly. Raises PhrasingFileError."""
    if args.instructions is None:
        return None
    tasks = task_list(args.tasks)
    phrasings = load_phrasings(args.instructions, tasks)
    period = coverage_period(tasks, phrasings)
    if args.episodes % period:
        log.warning("--episodes %d is not a multiple of %d: some phrasings in %s get one "
                    "episode more than others of the same task (every %d consecutive seeds "
                    "cover each phrasing equally often)", args.episodes, period,
                    args.instructions, period)
    return phrasings


def unknown_words(checkpoint: str, phrasings: Mapping[str, Sequence[str]]
                  ) -> dict[str, list[str]] | None:
    """{phrasing: the words the checkpoint's tokenizer reads as its unknown token} (none for a
    checkpoint whose instruction encoder reads every word); None (and a warning) when the
    tokenizer cannot be read: the evaluation does not need it."""
    from gr00t_policy.checkpoint import read_checkpoint_config
    from gr00t_policy.policy_config import PolicyConfig
    from gr00t_policy.prompt import PromptBuilder, load_tokenizer

    try:
        config = PolicyConfig.from_dict(read_checkpoint_config(checkpoint)).backbone
        builder = PromptBuilder(load_tokenizer(checkpoint), config)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("cannot read the tokenizer of %s (%s); the report will not say which "
                    "words of a phrasing it does not know", checkpoint, exc)
        return None
    found = {said: builder.unknown_words(said) for p in phrasings.values() for said in p}
    for said, words in found.items():
        if words:
            log.info("phrasing %r: the checkpoint's tokenizer does not know %s (read as %s)",
                     said, ", ".join(repr(w) for w in words), builder.tokenizer.unk_token)
    return found


def build_eval_graph(args: argparse.Namespace) -> Any:
    """build_graph(sim=True) with the System 1 and System 2 parameters the arguments set;
    GraphError (a bad checkpoint, embodiment or parameter name) says what to change."""
    record = ({} if args.record is None else
              {"record_dir": args.record, "record_topics": RECORD_TOPICS})
    graph = build_graph(embodiment=args.embodiment, checkpoint=args.checkpoint,
                        backend=args.backend, sim=True, use_sim_time=args.use_sim_time,
                        **record)
    extra = system1_parameters(args, graph.embodiment)
    if not extra and not args.system2_param:
        return graph
    return build_graph(embodiment=args.embodiment, checkpoint=args.checkpoint,
                       backend=args.backend, sim=True, use_sim_time=args.use_sim_time,
                       system1_parameters=extra, system2_parameters=dict(args.system2_param),
                       **record)


def evaluate(args: argparse.Namespace, graph: Any, work_dir: Path, out: TextIO,
             phrasings: Mapping[str, Sequence[str]] | None = None) -> dict:
    """Start the graph, run the episodes, stop the graph; returns the result dict.

    `phrasings` ({task: phrasings}, `phrasings_for`): what System 2 reads instead of each
    task's instruction.

    Raises GraphFailed (the graph failed), runner.TransitionError (a lifecycle node did not
    configure or activate) or runner.ExecutableNotFound.
    """
    t_start = time.monotonic()
    vocabulary = unknown_words(graph.checkpoint, phrasings) if phrasings else None
    # The start-up timeout also bounds configuring the lifecycle nodes (runner.start()).
    runner = GraphRunner(graph, work_dir=work_dir, log_dir=args.log_dir, out=out,
                         timeouts=Timeouts(configure_s=args.startup_timeout,
                                           options={"configure_s": "--startup-timeout"}))
    probe = video = ev = None
    episodes: list[EpisodeResult] = []
    startup_s = 0.0
    try:
        runner.start()
        probe = RosProbe(name="gr00t_eval")
        if args.video is not None:
            video = VideoRecorder(args.video)
        ev = Evaluation(graph, runner, probe, tasks=task_list(args.tasks),
                        episode_s=args.episode_s, settle_s=args.settle_s,
                        timeout_s=args.timeout, video=video, phrasings=phrasings)
        ev.wait_ready(args.startup_timeout)
        startup_s = time.monotonic() - t_start
        log.info("graph ready after %.1f s", startup_s)
        for k in range(args.episodes):
            result = ev.run_episode(k, args.seed + k)
            said = (f" read as {result.phrasing!r}" if result.phrasing != result.instruction
                    else "")
            log.info("episode %d (seed %d) %r%s: %s at the end, %s at any time%s", k,
                     result.seed, result.instruction, said,
                     "success" if result.success_at_end else "no success",
                     "success" if result.success else "no success",
                     "".join(f"; System 1 fault: {f}" for f in result.system1_faults)
                     + "".join(f"; System 1 held {s:.2f} s ({state})"
                               for state, s in result.system1_held_s.items()))
            episodes.append(result)
        measured = ev.measurements()
    except (GraphFailed, KeyboardInterrupt) as exc:
        # The episodes run before it are kept (`main` writes them, marked incomplete): a
        # node dying in episode 90 of 96 used to lose the 89 before it.
        if episodes:
            try:
                exc.partial_result = _result(args, graph, ev, episodes, ev.measurements(),
                                             startup_s, t_start, None, vocabulary)
            except Exception as also:  # noqa: BLE001 - the failure itself is what to report
                log.error("the %d episode(s) before the failure could not be kept: %s",
                          len(episodes), also)
        raise
    finally:
        video_info = video.close() if video is not None else None
        if probe is not None:
            probe.close()
        runner.stop_all()
    return _result(args, graph, ev, episodes, measured, startup_s, t_start, video_info,
                   vocabulary)


def _result(args: argparse.Namespace, graph: Any, ev: Evaluation,
            episodes: Sequence[EpisodeResult], measured: Mapping[str, Any], startup_s: float,
            t_start: float, video_info: Any, vocabulary: dict[str, list[str]] | None) -> dict:
    """The result dict of the episodes run (``complete``: all --episodes of them)."""
    overall = rates(episodes)
    s1 = graph.node("gr00t_system1").parameters
    return {
        "checkpoint": graph.checkpoint,
        "embodiment": graph.embodiment.name,
        "backend": args.backend,
        "chunk_mode": s1.get("chunk_mode", DEFAULT_CHUNK_MODE),
        "inference_delay_ms": float(s1.get("inference_delay_ms", 0.0)),
        "system1_parameters": system1_parameters(args, graph.embodiment),
        "system2_parameters": dict(args.system2_param),
        "episodes": overall["episodes"],
        # False where the graph failed (or Ctrl-C) after some episodes: these are the ones
        # before it, not a run of --episodes.
        "complete": overall["episodes"] == args.episodes,
        "episodes_planned": args.episodes,
        "seed": args.seed,
        "episode_s": args.episode_s,
        "tasks": ev.tasks,
        "success_definition": success_definition(),
        # Strict first: the hand is still there when the episode ends.
        "success_rate_at_end": overall["success_rate_at_end"],
        "success_rate_any_time": overall["success_rate_any_time"],
        "success_rate": overall["success_rate"],  # = any time (the name used before)
        "overall": overall,
        "per_task": per_task(episodes, ev.tasks),
        # What System 2 read for each task; without --instructions, the task's instruction.
        "instructions_file": None if args.instructions is None else str(args.instructions),
        "phrasings": ev.phrasings,
        "per_phrasing": _with_vocabulary(per_phrasing(episodes, ev.phrasings), vocabulary),
        "episodes_detail": [asdict(e) for e in episodes],
        **measured,
        "startup_s": round(startup_s, 2),
        "wall_s": round(time.monotonic() - t_start, 2),
        "video": video_info,
    }


def _with_vocabulary(table: dict[str, dict[str, dict]],
                     vocabulary: dict[str, list[str]] | None) -> dict[str, dict[str, dict]]:
    """Each per-phrasing row with its `unknown_words` (None when not looked up)."""
    return {t: {said: {**row, "unknown_words": None if vocabulary is None
                       else vocabulary.get(said)}
                for said, row in rows.items()}
            for t, rows in table.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `gr00t-eval`; returns the exit status (see the module docstring)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="[gr00t-eval] %(levelname)s %(message)s")
    try:
        _check_args(args)
        phrasings = phrasings_for(args)
        graph = build_eval_graph(args)
    except ValueError as exc:  # GraphError, EmbodimentConfigError, PhrasingFileError, bad args
        print(f"gr00t-eval: {exc}", file=sys.stderr)
        return EXIT_BAD_ARGS
    with tempfile.TemporaryDirectory(prefix="gr00t-eval-") as tmp:
        work_dir = args.log_dir or Path(tmp)
        work_dir.mkdir(parents=True, exist_ok=True)
        node_log = work_dir / "nodes.log"
        with open(node_log, "w") as out:
            try:
                result = evaluate(args, graph, work_dir, out, phrasings)
            except ExecutableNotFound as exc:
                print(f"gr00t-eval: {exc}", file=sys.stderr)
                return EXIT_MISSING_EXECUTABLE
            except (GraphFailed, TransitionError) as exc:
                out.flush()
                print(f"gr00t-eval: the graph failed: {exc}\n(the nodes' output: "
                      f"{node_log if args.log_dir else 'pass --log-dir DIR to keep it'})",
                      file=sys.stderr)
                _report(args, getattr(exc, "partial_result", None))
                return EXIT_GRAPH_FAILED
            except KeyboardInterrupt as exc:
                print("gr00t-eval: interrupted; the nodes were stopped", file=sys.stderr)
                _report(args, getattr(exc, "partial_result", None))
                return 130
    _report(args, result)
    return EXIT_OK


def _report(args: argparse.Namespace, result: dict | None) -> None:
    """Write ``result`` to --json-out and print it (the report, or --json); a run cut short
    says so on stderr (its JSON: ``complete`` false)."""
    if result is None:
        return
    if not result["complete"]:
        print(f"gr00t-eval: the {result['episodes']} episode(s) run before it "
              f"(of {result['episodes_planned']}) are kept"
              + (f" in {args.json_out}" if args.json_out is not None else "")
              + ", marked incomplete (\"complete\": false)", file=sys.stderr)
    text = json.dumps(result, indent=2)
    if args.json_out is not None:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text + "\n")
    print(text if args.json else format_report(result))


if __name__ == "__main__":
    sys.exit(main())
