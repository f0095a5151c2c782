"""A second process for the interface round-trip test.

Echoes every EmbeddingTokens from /rt/tokens_in to /rt/tokens_out unchanged, and serves
/rt/set_instruction, answering with fields derived from the request so the test can check
both directions of the service.
"""

import rclpy
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
        self.get_logger().info("echo peer ready")

    def _on_set(self, request: SetInstruction.Request, response: SetInstruction.Response):
        response.accepted = bool(request.instruction.strip())
        response.message = "echo: " + request.instruction
        response.instruction_id = len(request.instruction.encode("utf-8"))
        return response


def main() -> None:
    rclpy.init()
    node = EchoPeer()
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
