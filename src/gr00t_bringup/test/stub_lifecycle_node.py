"""A minimal real rclpy lifecycle node the runner tests start in place of System 1/2.

It prints one line per transition (`configured`, `activated`, `deactivated`) and spins until
SIGINT, then exits 0. Parameters: `configure_s` and `activate_s` (seconds configure and
activate take), `fail_configure`
(configure fails, logging why), `exit_in_configure` (the process exits with code 7 while
configuring, as a crash while loading would), `fail_deactivate` (deactivate fails: the node
stays active) and `exit_in_deactivate` (the process exits with code 9 while deactivating, as
a crash while braking would).
"""

import os
import sys
import time

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn

from gr00t_common.teardown import finish


class Stub(LifecycleNode):
    def __init__(self) -> None:
        super().__init__("stub")
        self.configure_s = self.declare_parameter("configure_s", 0.0).value
        self.activate_s = self.declare_parameter("activate_s", 0.0).value
        self.fail = self.declare_parameter("fail_configure", False).value
        self.crash = self.declare_parameter("exit_in_configure", False).value
        self.fail_deactivate = self.declare_parameter("fail_deactivate", False).value
        self.crash_deactivating = self.declare_parameter("exit_in_deactivate", False).value

    def on_configure(self, state):
        time.sleep(self.configure_s)
        if self.crash:
            print("stub crashing while configuring", flush=True)
            os._exit(7)
        if self.fail:
            print("stub cannot configure: the checkpoint is missing", flush=True)
            return TransitionCallbackReturn.FAILURE
        print("configured", flush=True)
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state):
        time.sleep(self.activate_s)
        print("activated", flush=True)
        return super().on_activate(state)

    def on_deactivate(self, state):
        if self.crash_deactivating:
            print("stub crashing while deactivating", flush=True)
            os._exit(9)
        if self.fail_deactivate:
            print("stub cannot deactivate", flush=True)
            return TransitionCallbackReturn.FAILURE
        print("deactivated", flush=True)
        return super().on_deactivate(state)


def main() -> int:
    rclpy.init(args=sys.argv)
    node = Stub()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:  # from the up line on, SIGINT ends in "stopped cleanly"
        print(f"up {node.get_fully_qualified_name()}", flush=True)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    print("stub stopped cleanly", flush=True)
    finish(None, node, 0)  # as the real nodes' mains end (gr00t_common.teardown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
