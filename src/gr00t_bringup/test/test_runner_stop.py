"""How a graph stops: whatever ends the runner's run (a signal, a console that went away, an
error), its lifecycle nodes are deactivated (System 1 brakes) before they are signalled, and
a stop that did not brake is reported and is no clean exit. Stub nodes (conftest.py) stand in
for System 1/2; stub_lifecycle_node.py prints `deactivated` when it is deactivated."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gr00t_bringup.graph import Graph
from gr00t_bringup.lifecycle import Timeouts
from gr00t_bringup.runner import EXIT_NODE_FAILED, EXIT_OK, GraphRunner, run_graph
from gr00t_testing import RosProbe, change_state
from gr00t_testing.runner_stubs import Output, managed




def braked(log: Path) -> bool:
    """The node's log says it was deactivated before it stopped."""
    lines = log.read_text().splitlines() if log.is_file() else []
    return ("deactivated" in lines and "stub stopped cleanly" in lines
            and lines.index("deactivated") < lines.index("stub stopped cleanly"))


# `gr00t-bringup run` in a process of its own, its console our pipe: real signals, a real
# stdout that can break.
_RUN = r'''
import sys
from pathlib import Path
from gr00t_bringup.graph import Graph, NodeSpec
from gr00t_bringup.runner import run_graph

exe, work = Path(sys.argv[1]), Path(sys.argv[2])
node = NodeSpec(package="stub_lifecycle", executable="stub_lifecycle_node", name="arm",
                namespace="/bench", lifecycle=True)
sys.exit(run_graph(Graph(nodes=[node]), work_dir=work, log_dir=work / "logs",
                   resolve=lambda spec: exe))
'''


class _Run:
    """run.py as a process, read up to its lifecycle node's activation; killed after
    `limit_s` whatever happens (a runner that hangs fails the test, not the session)."""

    def __init__(self, tmp_path: Path, lifecycle_exe: Path, limit_s: float = 120.0) -> None:
        script = tmp_path / "run.py"
        script.write_text(_RUN)
        self.log = tmp_path / "w" / "logs" / "arm.log"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(lifecycle_exe), str(tmp_path / "w")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._watchdog = threading.Timer(limit_s, self.proc.kill)
        self._watchdog.start()
        # Read here, not in a thread: closing our end (below) must not wait for a reader.
        self.lines = []
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("[gr00t-bringup] arm is active"):
                break
        else:
            raise AssertionError("the runner ended before its node was active:\n"
                                 + "\n".join(self.lines) + self.proc.stderr.read())

    def finish(self) -> tuple[int, str]:
        """Wait for the runner's exit; its exit code and stderr (and the rest of stdout into
        `lines`, unless closed)."""
        if not self.proc.stdout.closed:
            self.lines += self.proc.stdout.read().splitlines()
        stderr = self.proc.stderr.read()
        code = self.proc.wait()
        self._watchdog.cancel()
        return code, stderr


def test_a_hangup_deactivates_before_stopping(ros_domain_id, lifecycle_exe: Path,
                                              tmp_path: Path) -> None:
    """The terminal closed or the ssh session dropped: SIGHUP. The runner died of it at once,
    and its nodes, through PDEATHSIG, got SIGTERM unbraked."""
    run = _Run(tmp_path, lifecycle_exe)
    run.proc.send_signal(signal.SIGHUP)
    code, stderr = run.finish()
    assert code == 0, stderr
    assert "[gr00t-bringup] stopping all nodes (received SIGHUP)" in run.lines, run.lines
    assert braked(run.log)


def test_a_console_that_went_away_does_not_stop_the_braking(ros_domain_id, lifecycle_exe: Path,
                                                            tmp_path: Path) -> None:
    """`gr00t-bringup run | tee run.log`, then Ctrl-C: tee dies first, and the runner's next
    line ("stopping all nodes") raised BrokenPipeError, ending it before any deactivation."""
    run = _Run(tmp_path, lifecycle_exe)
    run.proc.stdout.close()  # the reader (tee) is gone: the runner's writes get EPIPE
    run.proc.send_signal(signal.SIGINT)
    code, stderr = run.finish()
    assert code == 0, stderr
    assert "Traceback" not in stderr, stderr
    assert braked(run.log)  # the log files are still written


def test_the_nodes_are_stopped_whatever_supervision_raises(
        ros_domain_id, lifecycle_exe: Path, tmp_path: Path, monkeypatch) -> None:
    def broken(self, duration=None, poll=0.05):
        raise RuntimeError("supervision broke")

    monkeypatch.setattr(GraphRunner, "supervise", broken)
    out = Output()
    with pytest.raises(RuntimeError, match="supervision broke"):
        run_graph(Graph(nodes=[managed("arm")]), work_dir=tmp_path / "w", out=out,
                  install_signal_handlers=False, resolve=lambda spec: lifecycle_exe)
    lines = out.lines()
    assert "[gr00t-bringup] arm deactivated" in lines, out.getvalue()
    assert lines.index("[arm] deactivated") < lines.index("[arm] stub stopped cleanly")
    assert "[gr00t-bringup] arm exited with code 0" in lines


def _run_and_stop(graph: Graph, exe: Path, tmp_path: Path, between=None,
                  timeouts: Timeouts | None = None) -> tuple[int, Output, float]:
    """Start `graph`, run `between()`, stop it as Ctrl-C would: (exit code, output, seconds
    the stop took)."""
    out = Output()
    runner = GraphRunner(graph, work_dir=tmp_path / "w", out=out, resolve=lambda spec: exe,
                         timeouts=timeouts)
    try:
        runner.start()
        if between is not None:
            between()
        t0 = time.monotonic()
        runner.request_stop("test over")
        code = runner.supervise()
        return code, out, time.monotonic() - t0
    finally:
        runner.stop_all()


@pytest.mark.parametrize("fault,says", [
    ("exit_in_deactivate", "WARNING: arm exited while deactivating (code 9): not braked"),
    ("fail_deactivate", "WARNING: arm did not deactivate (refused); stopping it anyway"),
])
def test_a_node_that_does_not_brake_is_reported_and_the_exit_is_not_clean(
        ros_domain_id, lifecycle_exe: Path, tmp_path: Path, fault: str, says: str) -> None:
    """A crash while braking went unreported: the runner waited out the deactivate timeout
    for the dead node, skipped it without a word, and exited 0."""
    code, out, took = _run_and_stop(Graph(nodes=[managed("arm", **{fault: True})]),
                                    lifecycle_exe, tmp_path, timeouts=Timeouts(deactivate_s=20.0))
    lines = out.lines()
    assert f"[gr00t-bringup] {says}" in lines, out.getvalue()
    assert code == EXIT_NODE_FAILED, out.getvalue()
    assert took < 15.0  # no wait for an answer that cannot come
    assert lines[-1].startswith("[gr00t-bringup] the stop was not clean: arm"), lines[-1]


def test_a_node_deactivated_by_another_client_is_said_to_be_at_rest(
        ros_domain_id, lifecycle_exe: Path, tmp_path: Path) -> None:
    """`ros2 lifecycle set /gr00t_system1 deactivate` mid-run: our deactivate is refused at the
    stop, and the runner said 'did not deactivate (refused); stopping it anyway', as if the
    arm had been stopped unbraked."""
    def deactivate_by_hand() -> None:
        with RosProbe(name="operator", domain_id=ros_domain_id) as probe:
            assert change_state(probe, "/bench/arm", "deactivate", timeout=30.0)

    code, out, _ = _run_and_stop(Graph(nodes=[managed("arm")]), lifecycle_exe, tmp_path,
                                 between=deactivate_by_hand)
    assert code == EXIT_OK, out.getvalue()
    assert "[gr00t-bringup] arm was inactive already (deactivated by another client)" \
        in out.lines(), out.getvalue()
    assert "WARNING" not in out.getvalue()
