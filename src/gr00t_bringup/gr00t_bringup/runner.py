"""Run a `Graph` without ROS launch: one OS process per node, supervised.

Each node gets a ROS 2 parameters file and is started as
``<prefix>/lib/<package>/<executable> --ros-args -r __node:=NAME [-r __ns:=NS]
--params-file FILE [-r from:=to ...]``, in a session of its own (so a signal reaches exactly
the process we mean). Its output lines are copied to our stdout prefixed with ``[name]``.

Lifecycle nodes (`NodeSpec.lifecycle`: System 1 and System 2) start unconfigured; `start`
configures and activates them once every process runs (`gr00t_bringup.lifecycle`), and
raises `TransitionError` naming the node and its last output when one fails to (the caller
then stops the graph: `run_graph` exits 1).

Stopping: SIGINT, SIGTERM or SIGHUP to the runner (or `duration` elapsing) first deactivates
the active lifecycle nodes (System 1 brakes, then stops commanding), then sends SIGINT to
every node, waits, then escalates to SIGTERM and SIGKILL. That is a clean stop (exit 0) when
every lifecycle node deactivated and exited with code 0; one that exits or refuses while
deactivating (not braked), or exits otherwise, is named and the exit is 1. Our console is
best effort: a closed terminal or a `| tee` ended by the same Ctrl-C leaves the stop and the
--log-dir files as they were. A node that exits on its own is a failure: the runner names it
with its exit code and last output lines, stops the others and returns non-zero.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from gr00t_bringup.graph import Graph, NodeSpec
from gr00t_bringup.lifecycle import (LifecycleDriver, Timeouts, TransitionError,
                                     refuse_namesakes)

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_NODE_FAILED = 1
EXIT_MISSING_EXECUTABLE = 3
TAIL_LINES = 30
DRAIN_S = 2.0  # the most an error message waits for an exited node's last lines
# What stops the graph the clean way (deactivate, then signal): Ctrl-C, a kill or a service
# manager's stop, and the hangup of a closed terminal or a dropped ssh session.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_MISSING_HINTS = {
    "gr00t_sim": "build the simulator package gr00t_sim (./scripts/setup.sh), or run "
                 "without --sim and publish /joint_states from your robot or bridge",
}


def exit_text(returncode: int | None) -> str:
    """'code 7', or for a signal 'code -9 (killed by SIGKILL ...)': a negative code is a
    signal, and SIGKILL is also how the kernel's out-of-memory killer ends a process."""
    text = f"code {returncode}"
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            return text
        text += f" (killed by {name}"
        if name == "SIGKILL":
            text += "; the kernel's out-of-memory killer sends it too: see `dmesg`"
        text += ")"
    return text


class ExecutableNotFound(RuntimeError):
    """A node's package or executable is not installed."""


def find_executable(package: str, executable: str) -> Path:
    """`<install prefix of package>/lib/<package>/<executable>`; ExecutableNotFound otherwise."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    hint = _MISSING_HINTS.get(package, "build the workspace (./scripts/setup.sh) and "
                                       "`source env.sh`")
    try:
        prefix = Path(get_package_prefix(package))
    except (PackageNotFoundError, ValueError) as exc:
        raise ExecutableNotFound(f"package {package!r} is not installed (not in "
                                 f"AMENT_PREFIX_PATH); {hint}") from exc
    path = prefix / "lib" / package / executable
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ExecutableNotFound(f"executable {executable!r} of package {package!r} not found "
                                 f"at {path}; {hint}")
    return path


def params_file_content(spec: NodeSpec) -> dict[str, Any]:
    """The ROS 2 parameters-file document for one node (wildcard node key, one node per file)."""
    for key, value in spec.parameters.items():
        if isinstance(value, (list, tuple)) and not value:
            raise ValueError(f"parameter {key!r} of node {spec.name!r} is an empty list; ROS 2 "
                             "parameter files cannot type an empty list, drop it instead")
    return {"/**": {"ros__parameters": {k: list(v) if isinstance(v, tuple) else v
                                        for k, v in spec.parameters.items()}}}


def node_command(spec: NodeSpec, executable: Path, params_file: Path) -> list[str]:
    """The argv that starts `spec`."""
    argv = [str(executable), "--ros-args", "-r", f"__node:={spec.name}"]
    if spec.namespace:
        argv += ["-r", f"__ns:={spec.namespace}"]
    argv += ["--params-file", str(params_file)]
    for src, dst in spec.remappings:
        argv += ["-r", f"{src}:={dst}"]
    return argv


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM if the runner dies without stopping it (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _child_setup(realtime_priority: int) -> Callable[[], None]:
    """preexec_fn for one node: die with the runner; ask for SCHED_FIFO if it wants it.

    Without the permission the node runs at normal priority; the runner checks and says so.
    """
    def setup() -> None:
        _die_with_parent()
        if realtime_priority > 0:
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(realtime_priority))
            except OSError:
                pass
    return setup


def scheduling(pid: int) -> str:
    """A process's scheduling as text: 'SCHED_FIFO 50', 'SCHED_OTHER', ..."""
    policy = os.sched_getscheduler(pid)
    names = {os.SCHED_OTHER: "SCHED_OTHER", os.SCHED_FIFO: "SCHED_FIFO", os.SCHED_RR: "SCHED_RR"}
    name = names.get(policy, f"policy {policy}")
    if policy in (os.SCHED_FIFO, os.SCHED_RR):
        name += f" {os.sched_getparam(pid).sched_priority}"
    return name


@dataclass
class _Child:
    spec: NodeSpec
    argv: list[str]
    proc: subprocess.Popen
    tail: collections.deque = field(default_factory=lambda: collections.deque(maxlen=TAIL_LINES))
    reader: threading.Thread | None = None
    exit_said: bool = False  # its exit code was said (by a `stop_all` before)

    def tail_text(self) -> str:
        """The last output lines, indented, for error messages.

        For a node that has exited, its reader is given DRAIN_S to take what is still in the
        pipe: on a busy machine the lines a node printed just before it died (its reason)
        arrive after its exit is seen."""
        if self.reader is not None and self.proc.poll() is not None:
            self.reader.join(DRAIN_S)
        return "\n".join(f"    {line}" for line in list(self.tail)) or "    (no output)"


class GraphRunner:
    """Start, supervise and stop the nodes of a `Graph`.

    `resolve` maps a NodeSpec to the program to run (default: the installed executable, see
    `find_executable`); `stop_timeout`/`term_timeout` are the waits after SIGINT and SIGTERM;
    `timeouts` bound the lifecycle transitions (`gr00t_bringup.lifecycle.Timeouts`).
    """

    def __init__(self, graph: Graph, *, work_dir: Path, log_dir: Path | None = None,
                 out: IO[str] | None = None, stop_timeout: float = 10.0,
                 term_timeout: float = 5.0,
                 resolve: Callable[[NodeSpec], Path] | None = None,
                 timeouts: Timeouts | None = None) -> None:
        self.graph = graph
        self.resolve = resolve or (lambda n: find_executable(n.package, n.executable))
        self.work_dir = Path(work_dir)
        self.log_dir = Path(log_dir) if log_dir else None
        self.out = out if out is not None else sys.stdout
        self.stop_timeout = stop_timeout
        self.term_timeout = term_timeout
        self.children: list[_Child] = []
        self._out_lock = threading.Lock()
        self._console_gone = False
        self._stop = threading.Event()
        self.stop_reason = ""
        self.timeouts = timeouts or Timeouts()
        self._lifecycle: LifecycleDriver | None = None
        self.stop_problems: list[str] = []  # what `stop_all` found unclean

    # -- output ------------------------------------------------------------------------
    def say(self, line: str) -> None:
        """Write one line of our own (prefixed [gr00t-bringup])."""
        self._emit("gr00t-bringup", line)

    def _emit(self, name: str, line: str) -> None:
        """Best effort: a console that went away (`| tee` ended by the Ctrl-C that stops us,
        a closed terminal) must not end the runner before it has deactivated its nodes."""
        with self._out_lock:
            if self._console_gone:
                return
            try:
                self.out.write(f"[{name}] {line}\n")
                self.out.flush()
            except OSError:  # BrokenPipeError, EIO: the log files (--log-dir) go on
                self._console_gone = True
                self._discard_console()

    def _discard_console(self) -> None:
        """Point the console's file descriptor at /dev/null: what is left in its buffer, flushed
        again at exit, would raise again (and make the exit status 120)."""
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self.out.fileno())
            finally:
                os.close(devnull)
        except (OSError, AttributeError, ValueError):  # not a file (io.StringIO, ...)
            pass

    def _pump(self, child: _Child) -> None:
        """Copy a node's output to the console and DIR/<node>.log until the node closes it.
        Nothing may end this loop early: a pipe no longer read fills up, and the node then
        blocks in its next write, its executor and control loop with it. A log file that
        fails (a full disk) is closed and reported once; the console copy goes on."""
        path = self.log_dir / f"{child.spec.name}.log" if self.log_dir else None
        logf = None
        if path is not None:
            try:
                logf = open(path, "w")
            except OSError as exc:
                self._log_lost(child, path, exc)
        try:
            for raw in iter(child.proc.stdout.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                child.tail.append(line)
                self._emit(child.spec.name, line)
                if logf is not None:
                    try:
                        logf.write(line + "\n")
                        logf.flush()
                    except OSError as exc:
                        self._log_lost(child, path, exc, logf)
                        logf = None
        finally:
            if logf is not None:
                try:
                    logf.close()
                except OSError as exc:
                    self._log_lost(child, path, exc)

    def _log_lost(self, child: _Child, path: Path, exc: OSError,
                  logf: IO[str] | None = None) -> None:
        """Say that `child`'s log file failed; close it (what it still buffers is lost)."""
        if logf is not None:
            try:
                logf.close()
            except OSError:  # flushing the same lines fails the same way: said below
                pass
        self.say(f"WARNING: cannot write {path}: {exc.strerror or exc}; {child.spec.name}'s "
                 "output goes on to this console only")

    # -- lifecycle ---------------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        """Ask the supervision loop to stop every node. From any thread, but not from a
        signal handler (it takes the stop event's lock; see `_SignalRelay`)."""
        if not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()

    def start(self) -> None:
        """Resolve every executable first (nothing starts if one is missing), start all, then
        configure and activate the lifecycle nodes. Raises ExecutableNotFound (nothing was
        started) or TransitionError (call `stop_all`); returns early on a stop request."""
        executables = [self.resolve(n) for n in self.graph.nodes]
        managed_names = [n.full_name for n in self.graph.nodes if n.lifecycle]
        if managed_names or self.graph.exclusive_topics or self.graph.exclusive_services:
            refuse_namesakes(managed_names, self._stop, self.timeouts.namesakes_s,
                             topics=self.graph.exclusive_topics,
                             services=self.graph.exclusive_services)
            if self._stop.is_set():  # asked to stop while listening: start nothing
                return
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "RCUTILS_LOGGING_BUFFERED_STREAM": "1"}
        for spec, exe in zip(self.graph.nodes, executables):
            params = self.work_dir / f"{spec.name}.params.yaml"
            params.write_text(yaml.safe_dump(params_file_content(spec), sort_keys=False))
            argv = node_command(spec, exe, params)
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, env={**env, **spec.env},
                                    start_new_session=True,
                                    preexec_fn=_child_setup(spec.realtime_priority))
            child = _Child(spec, argv, proc)
            child.reader = threading.Thread(target=self._pump, args=(child,), daemon=True,
                                            name=f"pump-{spec.name}")
            child.reader.start()
            self.children.append(child)
            self.say(f"started {spec.name} (pid {proc.pid}): {' '.join(argv)}")
            if spec.realtime_priority > 0:
                self._report_realtime(spec, proc.pid)
        managed = [c for c in self.children if c.spec.lifecycle]
        if managed:
            self._lifecycle = LifecycleDriver(managed, say=self.say, stop=self._stop,
                                              timeouts=self.timeouts)
            self._lifecycle.bring_up()

    def _report_realtime(self, spec: NodeSpec, pid: int) -> None:
        try:
            got = scheduling(pid)
        except OSError:  # already gone: supervise() reports that
            return
        if got == f"SCHED_FIFO {spec.realtime_priority}":
            self.say(f"{spec.name} runs real-time: {got}")
        else:
            self.say(f"WARNING: {spec.name} asked for SCHED_FIFO {spec.realtime_priority} but runs "
                     f"{got} (no permission). Its control loop will jitter on a busy CPU; allow "
                     "real-time priority (root, CAP_SYS_NICE, or an rtprio limit such as "
                     "'ulimit -r 99'; docker/compose.yaml sets one)")

    def supervise(self, duration: float | None = None, poll: float = 0.05) -> int:
        """Wait for a stop request, `duration` or a node's death; stop all; return exit code."""
        deadline = time.monotonic() + duration if duration is not None else None
        failed: _Child | None = None
        while not self._stop.is_set():
            for c in self.children:
                if c.proc.poll() is not None:
                    failed = c
                    break
            if failed:
                break
            if deadline is not None and time.monotonic() >= deadline:
                self.request_stop(f"--duration {duration:g} s elapsed")
                break
            self._stop.wait(poll)
        if failed is not None:
            if failed.reader:
                failed.reader.join(timeout=2.0)
            self.say(f"node {failed.spec.name!r} ({failed.spec.package}/"
                     f"{failed.spec.executable}) exited unexpectedly with "
                     f"{exit_text(failed.proc.returncode)}; its last output:\n{failed.tail_text()}")
            self.say("stopping the other nodes")
            self.stop_all()
            return EXIT_NODE_FAILED
        self.say(f"stopping all nodes ({self.stop_reason})")
        return EXIT_OK if self.stop_all() else EXIT_NODE_FAILED

    def stop_all(self) -> bool:
        """Deactivate the active lifecycle nodes, then SIGINT every running node, wait, then
        SIGTERM, then SIGKILL whatever is left. Safe to call more than once.

        True when the stop was clean: every lifecycle node that was active deactivated (or
        was at rest already) and exited with code 0. Otherwise it says what was not, which
        `stop_problems` keeps."""
        problems: list[str] = []
        # A node dead before the stop has been reported as the failure it is; what counts
        # here is how the running ones stop.
        stopping = {c.proc.pid for c in self.children if c.proc.poll() is None}
        if self._lifecycle is not None:
            try:
                problems += self._lifecycle.deactivate()
            finally:
                self._lifecycle.close()
                self._lifecycle = None
        for sig, timeout in ((signal.SIGINT, self.stop_timeout),
                             (signal.SIGTERM, self.term_timeout),
                             (signal.SIGKILL, 5.0)):
            running = [c for c in self.children if c.proc.poll() is None]
            if not running:
                break
            if sig != signal.SIGINT:
                self.say(f"{', '.join(c.spec.name for c in running)} still running: "
                         f"sending {sig.name}")
            for c in running:
                try:
                    os.killpg(c.proc.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + timeout
            for c in running:
                try:
                    c.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        for c in self.children:
            if c.reader:
                c.reader.join(timeout=2.0)
            if c.exit_said:
                continue
            c.exit_said = True
            self.say(f"{c.spec.name} exited with code {c.proc.returncode}")
            if (c.spec.lifecycle and c.proc.pid in stopping and c.proc.returncode != 0
                    and not any(p.startswith(f"{c.spec.name} ") for p in problems)):
                problems.append(f"{c.spec.name} exited with code {c.proc.returncode}")
        if problems:
            self.stop_problems += problems
            self.say(f"the stop was not clean: {'; '.join(problems)}")
        return not self.stop_problems


def run_graph(graph: Graph, *, work_dir: Path, duration: float | None = None,
              log_dir: Path | None = None, out: IO[str] | None = None,
              install_signal_handlers: bool = True,
              resolve: Callable[[NodeSpec], Path] | None = None,
              timeouts: Timeouts | None = None) -> int:
    """Run `graph` until SIGINT/SIGTERM/SIGHUP, `duration`, or a node's death. Returns the exit
    code; an exception out of here has stopped the graph first, deactivating as on a stop.

    EXIT_OK after a clean requested stop, EXIT_NODE_FAILED when a node died on its own, a
    lifecycle node failed to configure or activate, or did not stop cleanly (`stop_all`: it
    did not deactivate, or exited with a code other than 0), EXIT_MISSING_EXECUTABLE when a
    node's executable is not installed (nothing was started).
    """
    runner = GraphRunner(graph, work_dir=work_dir, log_dir=log_dir, out=out, resolve=resolve,
                         timeouts=timeouts)
    previous: dict[int, Any] = {}
    relay = _SignalRelay(runner) if install_signal_handlers else None
    try:
        if relay is not None:  # (off the main thread signal.signal raises: restored below)
            for s in STOP_SIGNALS:
                previous[s] = signal.signal(s, relay.handler)
        try:
            try:
                runner.start()
            except ExecutableNotFound as exc:
                runner.say(f"error: {exc}")
                runner.stop_all()
                return EXIT_MISSING_EXECUTABLE
            except TransitionError as exc:
                runner.say(f"error: {exc}")
                runner.say("stopping the other nodes")
                runner.stop_all()
                return EXIT_NODE_FAILED
            return runner.supervise(duration)
        except BaseException:
            # Whatever broke, the lifecycle nodes are deactivated (System 1 brakes) before
            # they are signalled; were we to die here, PDEATHSIG would stop them unbraked.
            runner.stop_all()
            raise
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        if relay is not None:
            relay.close()


class _SignalRelay:
    """STOP_SIGNALS -> `GraphRunner.request_stop`, outside the signal handler.

    Python runs a signal handler in the main thread between two bytecodes, which may be
    inside `threading.Event.wait` with the event's lock held (the supervision loop waits
    there all the time); `Event.set()` in the handler then waits for that lock forever, and
    the graph keeps running, System 1 commanding, until killed. So the handler only writes
    the signal's number to a pipe (no lock), and a thread of its own asks the runner to stop.
    """

    def __init__(self, runner: GraphRunner) -> None:
        self._read_fd, self._write_fd = os.pipe()
        self._thread = threading.Thread(target=self._relay, args=(runner,), daemon=True,
                                        name="signal-relay")
        self._thread.start()

    def handler(self, signum: int, _frame: Any) -> None:
        try:
            os.write(self._write_fd, bytes([signum]))
        except OSError:  # closed: run_graph is returning anyway
            pass

    def _relay(self, runner: GraphRunner) -> None:
        while data := os.read(self._read_fd, 1):
            runner.request_stop(f"received {signal.Signals(data[0]).name}")

    def close(self) -> None:
        os.close(self._write_fd)  # the relay thread reads end-of-file and returns
        self._thread.join(timeout=2.0)
        os.close(self._read_fd)


__all__ = ["EXIT_MISSING_EXECUTABLE", "EXIT_NODE_FAILED", "EXIT_OK", "ExecutableNotFound",
           "GraphRunner", "Timeouts", "TransitionError", "find_executable", "node_command",
           "params_file_content", "run_graph"]
