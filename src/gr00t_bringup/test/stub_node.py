"""A minimal real rclpy node the runner tests start in place of the heavy nodes.

It reads its parameters from the runner's params file, prints one `ready ...` line with its
fully qualified name and parameters, spins until SIGINT, and exits 0. Parameters:
`greeting` (string), `numbers` (double array), `exit_after_s` (> 0: exit with code 7 after
that many seconds, to play a crashing node) and `ignore_sigint` (to exercise escalation).
"""

import signal
import sys
import time

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

from gr00t_common.teardown import finish


def main() -> int:
    rclpy.init(args=sys.argv)
    node = Node("stub")
    greeting = node.declare_parameter("greeting", "").value
    numbers = node.declare_parameter("numbers", [0.0]).value
    exit_after = node.declare_parameter("exit_after_s", 0.0).value
    ignore = node.declare_parameter("ignore_sigint", False).value
    if ignore:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    start = time.monotonic()
    try:  # from the ready line on, SIGINT ends in "stopped cleanly"
        print(f"ready {node.get_fully_qualified_name()} greeting={greeting} "
              f"numbers={list(numbers)}", flush=True)
        while rclpy.ok():
            rclpy.spin_once(node, timeout_sec=0.05)
            if exit_after > 0 and time.monotonic() - start > exit_after:
                print("stub giving up on purpose", flush=True)
                return 7
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    print("stub stopped cleanly", flush=True)
    finish(None, node, 0)  # as the real nodes' mains end (gr00t_common.teardown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
