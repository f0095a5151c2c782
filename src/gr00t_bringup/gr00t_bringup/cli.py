"""``gr00t-bringup``: run the gr00t_ros graph, print it, or check embodiment files.

    gr00t-bringup run   [--embodiment NAME|PATH] [--checkpoint DIR] [--backend B] [--sim]
                        [--namespace NS] [--use-sim-time] [--remap FROM:=TO ...]
                        [--system1-param NAME:=VALUE ...] [--system2-param NAME:=VALUE ...]
                        [--duration S] [--log-dir DIR] [--services-timeout S]
                        [--configure-timeout S]

`run` starts every node as its own process, configures and activates the lifecycle nodes
(System 2, System 1), supervises them, and deactivates them before stopping them (Ctrl-C,
SIGTERM, SIGHUP). Its exit status: 0 after a clean stop; 1 when a node died, failed to
configure or activate, or did not brake at the stop (exited or refused while deactivating);
2 on bad arguments; 3 when a node's executable is not installed.
    gr00t-bringup graph [same graph options] [--json]
    gr00t-bringup check CONFIG.yaml|NAME [...] [--config-dir DIR]
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from gr00t_bringup.graph import (BACKENDS, DEFAULT_BACKEND, DEFAULT_EMBODIMENT, Graph,
                                 build_graph, default_config_dirs)
from gr00t_bringup.lifecycle import Timeouts
from gr00t_bringup.overrides import add_override_options

EXIT_BAD_CONFIG = 2


def _remap(text: str) -> tuple[str, str]:
    src, sep, dst = text.partition(":=")
    if not sep or not src or not dst:
        raise argparse.ArgumentTypeError(f"bad remapping {text!r}: write FROM:=TO, "
                                         "e.g. /joint_states:=/g1/joint_states")
    return src, dst


def _seconds(text: str) -> float:
    """argparse `type` of a timeout: a finite number of seconds > 0."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds > 0")
    return seconds


def _add_graph_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--embodiment", default=DEFAULT_EMBODIMENT,
                   help="embodiment name (config/<name>.yaml) or path to a YAML file "
                        f"(default {DEFAULT_EMBODIMENT})")
    p.add_argument("--checkpoint", default=None,
                   help="gr00t_ros checkpoint directory (default: checkpoints/nano)")
    p.add_argument("--backend", default=DEFAULT_BACKEND, choices=BACKENDS,
                   help=f"System 1 action head backend (default {DEFAULT_BACKEND})")
    p.add_argument("--sim", action="store_true", help="also start the MuJoCo simulator node")
    p.add_argument("--namespace", default="", help="ROS namespace for every node")
    p.add_argument("--use-sim-time", action=argparse.BooleanOptionalAction, default=False,
                   help="make System 1 and 2 follow the simulator's /clock (default off: the "
                        "simulator stamps with the wall clock, like a robot)")
    p.add_argument("--remap", action="append", type=_remap, default=[], metavar="FROM:=TO",
                   help="topic remapping applied to every node; repeatable (not __ns, "
                        "__node, __name: use --namespace)")
    add_override_options(p, "chunk_mode:=rtc, float32_matmul_precision:=high",
                         "device:=cuda, dtype:=bfloat16 (a GPU for a full-size backbone)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gr00t-bringup", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start every node as its own process and supervise them")
    _add_graph_options(run)
    run.add_argument("--duration", type=float, default=None, metavar="S",
                     help="stop everything after S seconds (default: run until Ctrl-C)")
    run.add_argument("--log-dir", type=Path, default=None,
                     help="also write each node's output to DIR/<node>.log, and keep the "
                          "parameter files there")
    run.add_argument("--services-timeout", type=_seconds, default=Timeouts.services_s,
                     metavar="S",
                     help="how long a lifecycle node's process may take from its start until it "
                          "offers its lifecycle services (imports, CUDA initialisation; default "
                          f"{Timeouts.services_s:g} s)")
    run.add_argument("--configure-timeout", type=_seconds, default=Timeouts.configure_s,
                     metavar="S",
                     help="how long a lifecycle node may take to configure (load and warm up "
                          f"its model; default {Timeouts.configure_s:g} s: a TensorRT engine "
                          "build of a full-size model takes minutes)")
    graph = sub.add_parser("graph", help="print the resolved node graph")
    _add_graph_options(graph)
    graph.add_argument("--json", action="store_true", help="print JSON")
    sub.add_parser("check", add_help=False,
                   help="validate embodiment YAML files (see `gr00t-bringup check --help`)")
    return p


def _build(args: argparse.Namespace) -> Graph:
    return build_graph(embodiment=args.embodiment, checkpoint=args.checkpoint,
                       backend=args.backend, sim=args.sim, namespace=args.namespace,
                       use_sim_time=args.use_sim_time, remappings=args.remap,
                       system1_parameters=dict(args.system1_param),
                       system2_parameters=dict(args.system2_param))


# The options of `run` that set a lifecycle timeout (Timeouts field -> option), named in the
# error when one runs out.
TIMEOUT_OPTIONS = {"services_s": "--services-timeout", "configure_s": "--configure-timeout"}


def run_timeouts(args: argparse.Namespace) -> Timeouts:
    """The lifecycle timeouts `run`'s options ask for (checked by the parser)."""
    return Timeouts(services_s=args.services_timeout, configure_s=args.configure_timeout,
                    options=TIMEOUT_OPTIONS)


def unwritable(directory: Path) -> str | None:
    """Why `directory` cannot take the log files (created when missing, then a byte written
    in a file there, removed again); None when it can."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory) as f:
            f.write(b"\n")
            f.flush()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def format_graph(graph: Graph) -> str:
    """Human-readable listing of the graph."""
    lines = [f"embodiment: {graph.embodiment_path}", f"checkpoint: {graph.checkpoint}"]
    for n in graph.nodes:
        kind = " (lifecycle)" if n.lifecycle else ""
        lines.append(f"node {n.namespace or ''}/{n.name}: {n.package}/{n.executable}{kind}")
        for k, v in n.parameters.items():
            lines.append(f"    {k}: {v}")
        for a, b in n.remappings:
            lines.append(f"    remap {a} -> {b}")
    return "\n".join(lines)


def check_command(argv: Sequence[str]) -> int:
    """`gr00t-bringup check`: gr00t_policy's checker, searching our config dirs for bare names."""
    from gr00t_policy.embodiment.check import check_main
    return check_main(argv, default_dirs=default_config_dirs())


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if argv and argv[0] == "check":
        return check_command(argv[1:])
    args = _parser().parse_args(argv)
    try:
        graph = _build(args)
    except ValueError as exc:  # EmbodimentConfigError, GraphError
        print(f"gr00t-bringup: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    if args.command == "graph":
        print(graph.to_json() if args.json else format_graph(graph))
        return 0
    from gr00t_bringup.runner import run_graph

    timeouts = run_timeouts(args)
    if args.log_dir is not None:
        why = unwritable(args.log_dir)
        if why:  # said now, not as a traceback once the graph is about to start
            print(f"gr00t-bringup: --log-dir {args.log_dir}: cannot create it or write in it "
                  f"({why})", file=sys.stderr)
            return EXIT_BAD_CONFIG
        return run_graph(graph, work_dir=args.log_dir, duration=args.duration,
                         log_dir=args.log_dir, timeouts=timeouts)
    with tempfile.TemporaryDirectory(prefix="gr00t-bringup-") as tmp:
        return run_graph(graph, work_dir=Path(tmp), duration=args.duration, timeouts=timeouts)


if __name__ == "__main__":
    sys.exit(main())
