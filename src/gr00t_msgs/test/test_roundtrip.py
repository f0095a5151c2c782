"""gr00t_msgs over real DDS: two processes exchange every message and call the service."""

from pathlib import Path

import numpy as np
import pytest

from gr00t_testing import NodeProcess, RosProbe, wait_until
from gr00t_msgs.msg import ActionChunk, EmbeddingTokens
from gr00t_msgs.srv import SetInstruction

PEER = Path(__file__).with_name("echo_peer.py")


@pytest.fixture
def peer(ros_domain_id, tmp_path):
    proc = NodeProcess([__import__("sys").executable, str(PEER)], tmp_path / "peer.log")
    yield proc
    proc.stop()


def make_tokens() -> EmbeddingTokens:
    rng = np.random.default_rng(7)
    tokens = rng.standard_normal((64, 128)).astype(np.float16)
    msg = EmbeddingTokens()
    msg.header.stamp.sec = 1_700_000_000
    msg.header.stamp.nanosec = 123_456_789
    msg.header.frame_id = "head_camera"
    msg.instruction_id = 42
    msg.instruction = "touch the red cube with your right hand ✋"
    msg.num_tokens = 64
    msg.dim = 128
    msg.dtype = EmbeddingTokens.DTYPE_FLOAT16
    msg.data = tokens.tobytes()
    msg.attention_mask = bytes([0] * 10 + [1] * 54)
    msg.backbone_id = "0123456789abcdef"
    msg.inference_latency = 0.0123
    return msg


def test_embedding_tokens_and_action_chunk_round_trip(peer, ros_domain_id):
    with RosProbe(domain_id=ros_domain_id) as probe:
        tokens_back = probe.collect(EmbeddingTokens, "/rt/tokens_out")
        chunks_back = probe.collect(ActionChunk, "/rt/chunk_out")
        tokens_pub = probe.publisher(EmbeddingTokens, "/rt/tokens_in")
        chunk_pub = probe.publisher(ActionChunk, "/rt/chunk_in")
        probe.wait_for_subscribers(tokens_pub)
        probe.wait_for_subscribers(chunk_pub)
        # Wait until the peer's publishers are matched to our subscriptions as well.
        wait_until(lambda: probe.node.count_publishers("/rt/tokens_out") >= 1, 20, "peer publisher")

        sent = make_tokens()
        chunk = ActionChunk()
        chunk.header.stamp.sec = 5
        chunk.header.stamp.nanosec = 6
        chunk.joint_names = ["waist_yaw_joint", "left_elbow_joint"]
        chunk.horizon = 16
        chunk.action_dt = 0.05
        chunk.positions = np.linspace(-1.0, 1.0, 32).tolist()
        chunk.instruction_id = 3
        chunk.inference_latency = 0.004

        def deliver() -> bool:
            if not tokens_back:
                tokens_pub.publish(sent)
            if not chunks_back:
                chunk_pub.publish(chunk)
            return bool(tokens_back and chunks_back)

        wait_until(deliver, 20, "echoed messages")
        got = tokens_back[0]
        for field in ("instruction_id", "instruction", "num_tokens", "dim", "dtype",
                      "backbone_id"):
            assert getattr(got, field) == getattr(sent, field), field
        assert got.header.stamp.sec == sent.header.stamp.sec
        assert got.header.stamp.nanosec == sent.header.stamp.nanosec
        assert got.header.frame_id == sent.header.frame_id
        assert bytes(got.data) == bytes(sent.data)
        assert bytes(got.attention_mask) == bytes(sent.attention_mask)
        assert got.inference_latency == pytest.approx(sent.inference_latency)
        decoded = np.frombuffer(bytes(got.data), dtype="<f2").reshape(got.num_tokens, got.dim)
        assert np.array_equal(decoded, np.frombuffer(bytes(sent.data), dtype="<f2").reshape(64, 128))

        got_chunk = chunks_back[0]
        assert list(got_chunk.joint_names) == chunk.joint_names
        assert got_chunk.horizon == 16 and got_chunk.action_dt == 0.05
        assert list(got_chunk.positions) == list(chunk.positions)
        assert got_chunk.instruction_id == 3
        assert (got_chunk.header.stamp.sec, got_chunk.header.stamp.nanosec) == (5, 6)


def test_set_instruction_service_round_trip(peer, ros_domain_id):
    with RosProbe(domain_id=ros_domain_id) as probe:
        request = SetInstruction.Request()
        request.instruction = "raise your left hand"
        reply = probe.call(SetInstruction, "/rt/set_instruction", request)
        assert reply.accepted is True
        assert reply.message == "echo: raise your left hand"
        assert reply.instruction_id == len("raise your left hand")

        request.instruction = "   "
        reply = probe.call(SetInstruction, "/rt/set_instruction", request)
        assert reply.accepted is False
        assert reply.instruction_id == 3


def test_a_lost_service_reply_is_asked_again(peer, ros_domain_id):
    # The peer never answers the first request to this service, as when the server has not
    # yet discovered a fresh client's reply reader; the probe repeats it and gets the second.
    with RosProbe(domain_id=ros_domain_id) as probe:
        request = SetInstruction.Request(instruction="raise your left hand")
        reply = probe.call(SetInstruction, "/rt/set_instruction_lossy", request, timeout=20.0)
        assert reply.accepted is True
        assert reply.message == "echo: raise your left hand (call 2)"
