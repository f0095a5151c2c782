"""A second process for the interface round-trip test.

Echoes every EmbeddingTokens from /rt/tokens_in to /rt/tokens_out unchanged, and serves
/rt/set_instruction, answering with fields derived from the request so the test can check
both directions of the service. /rt/set_instruction_lossy answers the same way, except that
its first reply is never sent: what a client sees when DDS drops a reply.
"""

import threading

import rclpy
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from gr00t_msgs.msg import ActionChunk, EmbeddingTokens
from gr00t_msgs.srv import SetInstruction


class EchoPeer(Node):
    def __init__(self) -> None:
        super().__init__("gr00t_msgs_echo_peer")
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self._tokens_out = self.create_publisher(EmbeddingTokens, "/rt/tokens_out", qos)
        self._chunk_out = self.create_publisher(ActionChunk, "/rt/chunk_out", qos)
        self.create_subscription(EmbeddingTokens, "/rt/tokens_in", self._tokens_out.publish, qos)
        self.create_subscription(ActionChunk, "/rt/chunk_in", self._chunk_out.publish, qos)
        self.create_service(SetInstruction, "/rt/set_instruction", self._on_set)
        self._lossy_calls = 0
        self._lossy_lock = threading.Lock()
        self.closing = threading.Event()
        # Reentrant: the second call is answered while the first one's callback still waits.
        self.create_service(SetInstruction, "/rt/set_instruction_lossy", self._on_set_lossy,
                            callback_group=ReentrantCallbackGroup())
        self.get_logger().info("echo peer ready")

    def _on_set(self, request: SetInstruction.Request, response: SetInstruction.Response):
        response.accepted = bool(request.instruction.strip())
        response.message = "echo: " + request.instruction
        response.instruction_id = len(request.instruction.encode("utf-8"))
        return response

    def _on_set_lossy(self, request: SetInstruction.Request,
                      response: SetInstruction.Response):
        with self._lossy_lock:
            self._lossy_calls += 1
            call = self._lossy_calls
        if call == 1:
            self.closing.wait()  # holds this reply back until the peer stops
        response = self._on_set(request, response)
        response.message += f" (call {call})"
        return response


def main() -> None:
    rclpy.init()
    node = EchoPeer()
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(node)
    try:
        executor.spin()
    except KeyboardInterrupt:
        pass
    finally:
        node.closing.set()
        executor.shutdown(timeout_sec=2.0)
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
