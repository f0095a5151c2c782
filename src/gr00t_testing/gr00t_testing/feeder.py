"""Joint states and embedding tokens published from a thread, for System 1 tests and benchmarks."""

from __future__ import annotations

import threading
import time

import numpy as np


class InputFeeder:
    """Publishes /joint_states (`state_hz`) and tokens (`token_hz`) from a thread, each pausable.

    Joint states carry the embodiment's joints shuffled, plus extra joints; `measured` maps
    joint name -> position (change it while running to move the "robot"). Every
    `nan_every`-th state message has a NaN in a needed joint. `state_stamp_offset_s` and
    `token_stamp_offset_s` shift the header stamps from the probe's clock (stale or future
    stamps); `scale_tokens(k)` multiplies the published token values.
    """

    def __init__(self, probe, state_joints, measured: dict[str, float], *, backbone_id: str,
                 num_tokens: int = 64, dim: int = 128, nan_every: int = 0, seed: int = 0,
                 state_hz: float = 150.0, token_hz: float = 10.0) -> None:
        from gr00t_msgs.msg import EmbeddingTokens
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import JointState

        self._JointState, self._Tokens = JointState, EmbeddingTokens
        self.probe = probe
        rng = np.random.default_rng(seed)
        names = list(state_joints) + ["extra_head_joint", "extra_gripper_joint"]
        rng.shuffle(names)
        self.names = names
        self.measured = measured
        self.nan_every = nan_every
        self.state_period, self.token_period = 1.0 / state_hz, 1.0 / token_hz
        self.state_pub = probe.publisher(JointState, "/joint_states")
        self.token_pub = probe.publisher(
            EmbeddingTokens, "/gr00t/embedding_tokens",
            QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        tokens = rng.standard_normal((num_tokens, dim)).astype("<f2")
        self.token_msg = EmbeddingTokens(num_tokens=num_tokens, dim=dim,
                                         dtype=EmbeddingTokens.DTYPE_FLOAT16,
                                         data=tokens.tobytes(), backbone_id=backbone_id,
                                         attention_mask=bytes([0] * 8 + [1] * (num_tokens - 8)),
                                         instruction_id=1, instruction="wave")
        self.send_states = threading.Event()
        self.send_tokens = threading.Event()
        self.send_states.set()
        self.send_tokens.set()
        self.state_stamp_offset_s = self.token_stamp_offset_s = 0.0
        self._tokens = tokens
        self.last_state = self.last_tokens = 0.0  # monotonic time of the last publish
        self.states_sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def scale_tokens(self, factor: float) -> None:
        """Publish the tokens multiplied by `factor` from now on (1 restores them)."""
        self.token_msg.data = (self._tokens.astype(np.float32) * factor).astype("<f2").tobytes()

    def _stamp(self, clock, offset_s: float):
        from rclpy.time import Time

        return Time(nanoseconds=clock.now().nanoseconds + int(offset_s * 1e9)).to_msg()

    def start(self) -> "InputFeeder":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def _run(self) -> None:
        clock = self.probe.node.get_clock()
        next_tokens = next_state = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if self.send_states.is_set():
                msg = self._JointState()
                msg.header.stamp = self._stamp(clock, self.state_stamp_offset_s)
                msg.name = self.names
                pos = [self.measured.get(n, 0.25) for n in self.names]
                self.states_sent += 1
                if self.nan_every and self.states_sent % self.nan_every == 0:
                    pos[self.names.index(next(iter(self.measured)))] = float("nan")
                msg.position = pos
                self.state_pub.publish(msg)
                self.last_state = time.monotonic()
            if self.send_tokens.is_set() and now >= next_tokens:
                self.token_msg.header.stamp = self._stamp(clock, self.token_stamp_offset_s)
                self.token_pub.publish(self.token_msg)
                self.last_tokens = time.monotonic()
                next_tokens = max(next_tokens + self.token_period, now)
            next_state = max(next_state + self.state_period, now - self.state_period)
            time.sleep(max(0.0, next_state - time.monotonic()))
