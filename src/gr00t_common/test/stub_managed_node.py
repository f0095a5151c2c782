"""A small ManagedNode run by `run_managed` for test_stop_signals.py: what a signal does to a
managed node's process, without a checkpoint.

Active, it publishes "tick" on /stub_managed/out at 50 Hz. Stopping its activity stands for
System 1's braking: with the ROS context up it publishes "braking" every 20 ms for
`stop_s` seconds (parameter, default 0.3), then "stopped"; with the context down it can
publish nothing and prints so. With `hang_deactivate_s` > 0 its deactivate transition sleeps
that long after the stop, as rclpy's step after a node's own stop once never returned. After
the teardown it prints the DDS threads still alive (Linux: /proc/self/task).
"""

import os
import sys
import time
from pathlib import Path

from std_msgs.msg import String

from gr00t_common.lifecycle import ManagedNode, run_managed


class Stub(ManagedNode):
    def __init__(self) -> None:
        super().__init__("stub_managed")
        self.stop_s = self.declare_parameter("stop_s", 0.3).value
        self.hang_deactivate_s = self.declare_parameter("hang_deactivate_s", 0.0).value
        self.timer = None

    def _say(self, text: str) -> None:
        self.pub.publish(String(data=text))

    def _configure(self) -> None:
        self.pub = self.create_lifecycle_publisher(String, "/stub_managed/out", 100)

    def _activate(self) -> None:
        self.timer = self.create_timer(0.02, lambda: self._say("tick"))

    def on_deactivate(self, state):
        result = super().on_deactivate(state)
        time.sleep(self.hang_deactivate_s)
        return result

    def _stop_activity(self) -> None:
        if self.timer is None:
            return
        if not self.context.ok():
            print("stub: the context is down, nothing can be published", flush=True)
        else:
            end = time.monotonic() + self.stop_s
            while time.monotonic() < end:
                self._say("braking")
                time.sleep(0.02)
            self._say("stopped")
        self.destroy_timer(self.timer)
        self.timer = None


def dds_participant_threads() -> list[str]:
    """The names of this process's DDS threads that belong to a participant (Fast DDS names
    them dds.*; its shared-memory watchdog, dds.shm.wdog, is one per process)."""
    names = []
    for t in os.listdir("/proc/self/task"):
        try:
            names.append(Path(f"/proc/self/task/{t}/comm").read_text().strip())
        except OSError:  # a thread that ended meanwhile (the teardown's watchdogs)
            continue
    return sorted(n for n in names if n.startswith("dds.") and n != "dds.shm.wdog")


if __name__ == "__main__":
    status = run_managed(Stub, "stub_managed")
    print(f"stub: dds participant threads after the teardown: {dds_participant_threads()}",
          flush=True)
    sys.exit(status)
