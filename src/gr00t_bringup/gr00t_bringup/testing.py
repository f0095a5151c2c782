"""Helpers for tests that drive real nodes over real DDS.

A `RosProbe` is an rclpy node in its own context (so its domain id comes from the test,
not from whoever called `rclpy.init` first), spun by a background thread. Tests publish,
subscribe and call services through it and wait on conditions with a timeout.
`NodeProcess` starts a node as a separate OS process and stops it cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, HistoryPolicy, DurabilityPolicy

RELIABLE = QoSProfile(
    depth=50,
    reliability=ReliabilityPolicy.RELIABLE,
    history=HistoryPolicy.KEEP_LAST,
    durability=DurabilityPolicy.VOLATILE,
)


class RosProbe:
    """A test-side node with its own context and spinning thread."""

    def __init__(self, name: str = "gr00t_test_probe", domain_id: int | None = None) -> None:
        if domain_id is None:
            domain_id = int(os.environ.get("ROS_DOMAIN_ID", "0"))
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node: Node = rclpy.create_node(name, context=self.context)
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set() and self.context.ok():
            self._executor.spin_once(timeout_sec=0.02)

    # -- topics ------------------------------------------------------------------------
    def collect(self, msg_type: Any, topic: str, qos: QoSProfile = RELIABLE) -> list[Any]:
        """Subscribe to `topic`; the returned list fills as messages arrive."""
        received: list[Any] = []

        def on_msg(msg: Any) -> None:
            with self._lock:
                received.append(msg)

        self.node.create_subscription(msg_type, topic, on_msg, qos)
        return received

    def publisher(self, msg_type: Any, topic: str, qos: QoSProfile = RELIABLE) -> Any:
        return self.node.create_publisher(msg_type, topic, qos)

    def wait_for_subscribers(self, publisher: Any, count: int = 1, timeout: float = 20.0) -> None:
        wait_until(lambda: publisher.get_subscription_count() >= count, timeout,
                   f"a subscriber on {publisher.topic_name}")

    # -- services ----------------------------------------------------------------------
    def call(self, srv_type: Any, name: str, request: Any, timeout: float = 20.0) -> Any:
        client = self.node.create_client(srv_type, name)
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                raise TimeoutError(f"service {name} did not appear within {timeout} s")
            future = client.call_async(request)
            wait_until(future.done, timeout, f"a reply from {name}")
            return future.result()
        finally:
            self.node.destroy_client(client)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self._executor.shutdown()
        self.node.destroy_node()
        if self.context.ok():
            rclpy.shutdown(context=self.context)

    def __enter__(self) -> "RosProbe":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `predicate` until it holds; raise TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


class NodeProcess:
    """A node (or any command) in its own OS process, with output captured to a file."""

    def __init__(self, argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.argv = list(argv)
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )

    @classmethod
    def python_module(cls, module: str, args: Sequence[str], log_path: Path,
                      env: dict[str, str] | None = None) -> "NodeProcess":
        return cls([sys.executable, "-m", module, *args], log_path, env)

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> int:
        """Signal the process group and wait; kill it if it does not exit in time."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5.0)
        self._log.close()
        return self.proc.returncode


# -- checkpoints and commands for bringup tests -----------------------------------------------

def checkpoint_entry(embodiment_yaml: str | Path) -> tuple[str, dict[str, Any]]:
    """(tag, the `embodiments` entry `make_random_checkpoint` needs) for one embodiment YAML.

    Slot, action_dt, dims and the per-key widths come from the YAML, so the checkpoint matches
    it exactly.
    """
    from gr00t_policy.embodiment import load_embodiment

    emb = load_embodiment(embodiment_yaml)
    return emb.tag, emb.checkpoint_entry()


def make_checkpoint_for(out_dir: Path, embodiment_yamls: Sequence[str | Path], seed: int = 0
                        ) -> Path:
    """A random nano checkpoint with one entry per embodiment YAML."""
    from gr00t_policy.checkpoint import make_random_checkpoint

    entries = dict(checkpoint_entry(p) for p in embodiment_yamls)
    return make_random_checkpoint(out_dir, preset="nano", seed=seed, embodiments=entries)


def bringup_command(*args: str) -> list[str]:
    """argv for the `gr00t-bringup` CLI (the installed script, else `python -m` of the same)."""
    import shutil

    exe = shutil.which("gr00t-bringup")
    return [exe, *args] if exe else [sys.executable, "-m", "gr00t_bringup.cli", *args]


def instruct_command(*args: str) -> list[str]:
    """argv for the `gr00t-instruct` CLI (the installed script, else `python -m`)."""
    import shutil

    exe = shutil.which("gr00t-instruct")
    return [exe, *args] if exe else [sys.executable, "-m", "gr00t_bringup.instruct", *args]
