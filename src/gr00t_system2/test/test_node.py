"""The System 2 node as an OS process over real DDS, with a random-init nano checkpoint.

Two cameras (/cam/left, /cam/right) on a two-view variant of the nano preset. Frames are
published by a probe node; the tests assert on what reaches /gr00t/embedding_tokens and
/diagnostics, and on the node's log.
"""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import String

from gr00t_common.stamps import nanoseconds_to_stamp, stamp_to_seconds
from gr00t_common.tokens import TokenDecoder
from gr00t_msgs.msg import EmbeddingTokens
from gr00t_msgs.srv import SetInstruction
from gr00t_testing import (AUTOSTART, NodeProcess, RosProbe, activate, change_state,
                           lifecycle_state, wait_until)

LEFT, RIGHT = "/cam/left", "/cam/right"
DEFAULT_INSTRUCTION = "hold your position"


def make_checkpoint(out_dir: Path, num_views: int) -> Path:
    """A random-init nano checkpoint whose backbone takes ``num_views`` camera views.

    The nano preset is single-view. The backbone's weights do not depend on the number of
    views (only the prompt does), so the two-view variant is the nano checkpoint's weights
    saved again under a config with ``backbone.num_views`` changed (new backbone_id).
    """
    from gr00t_policy.checkpoint import load_checkpoint, make_random_checkpoint, save_checkpoint
    from gr00t_policy.policy import build_policy

    base = make_random_checkpoint(out_dir.with_name(out_dir.name + "_1view"), preset="nano")
    if num_views == 1:
        return Path(base)
    ckpt = load_checkpoint(base)
    config = dataclasses.replace(
        ckpt.config, backbone=dataclasses.replace(ckpt.config.backbone, num_views=num_views))
    policy = build_policy(config, "cpu")
    policy.load_state_dict(ckpt.policy.state_dict())
    return Path(save_checkpoint(policy, out_dir, tokenizer=ckpt.tokenizer, metadata=ckpt.metadata,
                                embodiments=ckpt.embodiments, preset=None))


@pytest.fixture(scope="module")
def ckpt2(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt2") / "nano2", num_views=2)


def start_node(ckpt: Path, log: Path, *extra: str, rate_hz: float = 10.0,
               autostart: bool = True, default: str | None = DEFAULT_INSTRUCTION) -> NodeProcess:
    """The node as a process; with `autostart` it configures and activates itself, without
    it waits unconfigured for lifecycle requests. `default`: its default_instruction (None:
    the shipped default, none)."""
    return NodeProcess.python_module("gr00t_system2.node", [
        "--ros-args",
        *(["-p", AUTOSTART] if autostart else []),
        "-p", f"checkpoint:={ckpt}",
        "-p", f"camera_topics:=[{LEFT},{RIGHT}]",
        "-p", f"rate_hz:={float(rate_hz)}",
        "-p", "stale_image_s:=30.0",
        "-p", "torch_threads:=1",
        *(["-p", f"default_instruction:={default}"] if default is not None else []),
        *extra,
    ], log)


def scene(seed: int, h: int = 96, w: int = 128) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def image_msg(rgb: np.ndarray, encoding: str, stamp: float, frame_id: str) -> Image:
    pixels = {"rgb8": rgb, "bgr8": rgb[..., ::-1]}[encoding]
    msg = Image()
    msg.header.stamp = nanoseconds_to_stamp(round(stamp * 1e9))
    msg.header.frame_id = frame_id
    msg.height, msg.width = rgb.shape[:2]
    msg.encoding = encoding
    msg.step = rgb.shape[1] * 3
    msg.data = np.ascontiguousarray(pixels).tobytes()
    return msg


def stamp_of(msg) -> float:
    return stamp_to_seconds(msg.header.stamp)


def decode(msg: EmbeddingTokens) -> tuple[np.ndarray, np.ndarray]:
    return TokenDecoder(msg.backbone_id, msg.num_tokens, msg.dim).decode(msg)


class Rig:
    """Probe-side publishers/collectors for one test."""

    def __init__(self, probe: RosProbe, node: NodeProcess) -> None:
        self.probe, self.node = probe, node
        self.tokens = probe.collect(EmbeddingTokens, "/gr00t/embedding_tokens")
        self.diag = probe.collect(DiagnosticArray, "/diagnostics")
        self.cams = {t: probe.publisher(Image, t, qos_profile_sensor_data) for t in (LEFT, RIGHT)}
        self.instr_pub = probe.publisher(String, "/gr00t/instruction")
        for pub in self.cams.values():
            probe.wait_for_subscribers(pub, timeout=90.0)

    def publish_until(self, frames, predicate, what: str, timeout: float = 30.0,
                      period: float = 0.1) -> None:
        """Publish ``frames`` (a dict topic -> Image, or a callable returning one) every
        ``period`` s until ``predicate()`` holds."""
        def step() -> bool:
            if predicate():
                return True
            if not self.node.alive():
                raise RuntimeError(f"node exited:\n{self.node.output()}")
            for topic, msg in (frames() if callable(frames) else frames).items():
                self.cams[topic].publish(msg)
            time.sleep(period)
            return predicate()

        wait_until(step, timeout, what)

    def tokens_with(self, **fields) -> list[EmbeddingTokens]:
        out = []
        for m in list(self.tokens):
            if all((stamp_of(m) if k == "stamp" else getattr(m, k)) == v for k, v in fields.items()):
                out.append(m)
        return out

    def last_status(self) -> DiagnosticStatus | None:
        for arr in reversed(list(self.diag)):
            for st in arr.status:
                if st.name == "gr00t_system2":
                    return st
        return None


def values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def backbone_id_of(ckpt: Path) -> str:
    return json.loads((ckpt / "config.json").read_text())["backbone_id"]


def test_two_cameras_instructions_and_publish_rules(ros_domain_id, ckpt2, tmp_path):
    node = start_node(ckpt2, tmp_path / "node.log")
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            rig = Rig(probe, node)
            left, right = scene(1), scene(2)

            # Only the left camera usable (the right one's driver sends yuv422, every frame
            # refused): nothing published, diagnostics name the right one and say why.
            yuv = image_msg(right, "rgb8", 100.5, "right_optical")
            yuv.encoding, yuv.step = "yuv422", right.shape[1] * 2
            yuv.data = bytes(right.shape[0] * right.shape[1] * 2)

            def right_reported_missing() -> bool:
                st = rig.last_status()
                return (st is not None and values(st)["missing_cameras"] == RIGHT
                        and int(values(st)[f"frames_received {RIGHT}"]) >= 3)
            rig.publish_until({LEFT: image_msg(left, "rgb8", 100.5, "left_optical"), RIGHT: yuv},
                              right_reported_missing, "diagnostics naming the missing camera", 90)
            st = rig.last_status()
            assert st.level == DiagnosticStatus.ERROR and RIGHT in st.message
            assert values(st)["image_age_ms " + RIGHT] == "n/a"
            assert values(st)["image_age_ms " + LEFT] != "n/a"
            # (frames_received is read a moment after the reason: it may be one ahead)
            assert re.fullmatch(r"all \d+ frames rejected \(encoding\)",
                                values(st)["missing " + RIGHT]), values(st)
            assert not rig.tokens

            # Both cameras: tokens with the checkpoint's shape, stamped with the older frame.
            frames = {LEFT: image_msg(left, "rgb8", 100.5, "left_optical"),
                      RIGHT: image_msg(right, "rgb8", 100.25, "right_optical")}
            rig.publish_until(frames, lambda: bool(rig.tokens), "first tokens")
            cfg = json.loads((ckpt2 / "config.json").read_text())
            first = rig.tokens[0]
            assert first.num_tokens == cfg["backbone"]["max_tokens"] == 64
            assert first.dim == cfg["backbone"]["output_dim"] == 128
            assert first.dtype == EmbeddingTokens.DTYPE_FLOAT16
            assert len(first.data) == first.num_tokens * first.dim * 2
            assert len(first.attention_mask) == first.num_tokens
            assert stamp_of(first) == pytest.approx(100.25)
            assert first.header.frame_id == "left_optical"
            assert first.backbone_id == backbone_id_of(ckpt2)
            assert (first.instruction_id, first.instruction) == (0, DEFAULT_INSTRUCTION)
            assert 0.0 < first.inference_latency < 5.0
            tok0, mask0 = decode(first)
            assert np.isfinite(tok0).all()
            assert mask0[-1] and not mask0[0]  # left-padded: real tokens at the end
            assert 40 < mask0.sum() < 64

            # No new frame, same instruction: nothing is republished.
            time.sleep(0.5)
            settled = len(rig.tokens)
            time.sleep(1.5)
            assert len(rig.tokens) == settled

            # A new instruction through the service: recomputed with the same frames.
            req = SetInstruction.Request(instruction="  raise your left hand ")
            reply = probe.call(SetInstruction, "/gr00t/set_instruction", req)
            assert reply.accepted and reply.instruction_id == 1, reply.message
            wait_until(lambda: rig.tokens_with(instruction_id=1), 20, "tokens for instruction 1")
            t1 = rig.tokens_with(instruction_id=1)[0]
            assert t1.instruction == "raise your left hand"
            assert stamp_of(t1) == pytest.approx(100.25)
            assert not np.array_equal(decode(t1)[0], tok0)

            # An empty instruction is refused and the old one stays in force.
            reply = probe.call(SetInstruction, "/gr00t/set_instruction",
                               SetInstruction.Request(instruction=" \t "))
            assert not reply.accepted and reply.instruction_id == 1
            assert "empty" in reply.message
            reply = probe.call(SetInstruction, "/gr00t/set_instruction",
                               SetInstruction.Request(instruction="touch the red cube " * 5))
            assert not reply.accepted and reply.instruction_id == 1
            assert "room for at most" in reply.message and "(max_tokens 64" in reply.message
            frames = {LEFT: image_msg(left, "rgb8", 101.5, "left_optical"),
                      RIGHT: image_msg(right, "rgb8", 101.75, "right_optical")}
            rig.publish_until(frames, lambda: rig.tokens_with(stamp=101.5), "tokens of new frames")
            after = rig.tokens_with(stamp=101.5)[0]
            assert (after.instruction_id, after.instruction) == (1, "raise your left hand")
            assert not rig.tokens_with(instruction_id=2)

            # The instruction topic works too and advances the id. A word the nano tokenizer
            # does not know ("twice") is no error: it reaches the model as [UNK].
            wait_until(lambda: probe.node.count_subscribers("/gr00t/instruction") >= 1, 20,
                       "the node's instruction subscription")
            rig.instr_pub.publish(String(data="wave your right hand twice"))
            wait_until(lambda: rig.tokens_with(instruction_id=2), 20, "tokens for instruction 2")
            assert rig.tokens_with(instruction_id=2)[0].instruction == "wave your right hand twice"

            wait_until(lambda: values(rig.last_status())["instruction_id"] == "2", 5,
                       "diagnostics with instruction 2")
            v = values(rig.last_status())
            assert v["missing_cameras"] == "none"
            assert v["instruction"] == "wave your right hand twice"
            assert float(v["inference_latency_median_ms"]) > 0
            # More ticks with the same instruction (new frames): the unknown word is not
            # reported again (checked in the log below).
            for k, stamp in enumerate((102.5, 103.5)):
                frames = {LEFT: image_msg(left, "rgb8", stamp, "left_optical"),
                          RIGHT: image_msg(right, "rgb8", stamp + 0.25, "right_optical")}
                rig.publish_until(frames, lambda s=stamp: rig.tokens_with(stamp=s),
                                  f"tokens of frames {k + 3}")
            assert rig.tokens_with(stamp=103.5)[0].instruction_id == 2

            # The same text again on the topic (`ros2 topic pub` repeats it every second) is
            # no new instruction: System 1 would drop its plan and chunk history each time.
            for text in ("wave your right hand twice", " wave your right hand twice \n") * 2:
                rig.instr_pub.publish(String(data=text))
                time.sleep(0.1)
            frames = {LEFT: image_msg(left, "rgb8", 104.5, "left_optical"),
                      RIGHT: image_msg(right, "rgb8", 104.75, "right_optical")}
            rig.publish_until(frames, lambda: rig.tokens_with(stamp=104.5), "tokens of frames 5")
            time.sleep(0.5)
            assert {m.instruction_id for m in rig.tokens_with(stamp=104.5)} == {2}
            assert not rig.tokens_with(instruction_id=3)
            # The service restarts it, explicitly.
            reply = probe.call(SetInstruction, "/gr00t/set_instruction",
                               SetInstruction.Request(instruction="wave your right hand twice"))
            assert reply.accepted and reply.instruction_id == 3, reply.message
    finally:
        code = node.stop(signal.SIGINT)
    out = node.log_path.read_text(errors="replace")
    assert code == 0, out
    assert "Traceback" not in out, out
    # Unknown words are named once per instruction, as a warning, not on every tick (nor
    # on the topic's repeats): for instruction 2 and for its restart as 3.
    noted = [line for line in out.splitlines() if "not in the tokenizer's vocabulary" in line]
    assert len(noted) == 2 and "instruction 2 from" in noted[0], out
    assert "instruction 3 from service" in noted[1], out
    assert "WARN" in noted[0] and "'twice'" in noted[0] and "[UNK]" in noted[0], noted
    repeats = [line for line in out.splitlines() if "repeats instruction 2" in line]
    assert len(repeats) == 1 and "/gr00t/instruction" in repeats[0], out


def test_bad_frames_rejected_and_bgr_equals_rgb(ros_domain_id, ckpt2, tmp_path):
    node = start_node(ckpt2, tmp_path / "node.log")
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            rig = Rig(probe, node)
            left, right = scene(3, 60, 80), scene(4, 112, 112)
            rig.publish_until({LEFT: image_msg(left, "rgb8", 10.0, "l"),
                               RIGHT: image_msg(right, "rgb8", 10.0, "r")},
                              lambda: rig.tokens_with(stamp=10.0), "tokens from rgb8 frames", 90)
            rgb_tokens = decode(rig.tokens_with(stamp=10.0)[0])[0]

            # Bad frames on the left camera: rejected, no publish, no crash.
            bad_encoding = image_msg(left, "rgb8", 11.0, "l")
            bad_encoding.encoding = "16UC1"
            bad_step = image_msg(left, "rgb8", 11.0, "l")
            bad_step.step = left.shape[1] * 3 - 1
            truncated = image_msg(left, "rgb8", 11.0, "l")
            truncated.data = bytes(truncated.data)[:-10]
            blank = image_msg(np.zeros_like(left), "rgb8", 11.0, "l")  # a lens cap
            negative = image_msg(left, "rgb8", 11.0, "l")
            negative.header.stamp.sec = -5  # the tokens could not carry it
            time.sleep(0.3)
            before = len(rig.tokens)
            for _ in range(8):
                for bad in (bad_encoding, bad_step, truncated, blank, negative):
                    # The node keeps only the newest frame (depth 1): space them out.
                    rig.cams[LEFT].publish(bad)
                    time.sleep(0.04)

            def all_reasons_counted() -> bool:
                st = rig.last_status()
                return st is not None and all(
                    f"rejected_frames {LEFT} {r}" in values(st)
                    for r in ("encoding", "step", "data_length", "blank", "stamp"))
            wait_until(all_reasons_counted, 10, "rejection counts in diagnostics")
            time.sleep(0.5)
            assert len(rig.tokens) == before
            assert node.alive()
            log = node.output()
            for needle in ("'16UC1' is not supported", "step=", "data length", "blank frame",
                           "header stamp is negative"):
                lines = [ln for ln in log.splitlines() if needle in ln]
                assert lines, f"no log line with {needle!r}:\n{log}"
                assert LEFT in lines[0]
            # Rate-limited: 8 bad frames per reason, at most a couple of lines per reason.
            assert sum("'16UC1' is not supported" in ln for ln in log.splitlines()) <= 2
            # Stamps of 10-12 s are ~1.7e9 s behind the node's (wall) clock, as a camera
            # stamping in time since boot would be: each camera is named, its frames counted.
            st = rig.last_status()
            for cam in (LEFT, RIGHT):
                assert int(values(st)[f"frames_stamp_off_clock {cam}"]) > 0
                assert any(cam in ln and "behind this node's clock" in ln
                           for ln in log.splitlines()), log

            # The same scenes as bgr8 give the same tokens (both new frames used: stamp 12).
            rig.publish_until({LEFT: image_msg(left, "bgr8", 12.0, "l"),
                               RIGHT: image_msg(right, "bgr8", 12.5, "r")},
                              lambda: rig.tokens_with(stamp=12.0), "tokens from bgr8 frames")
            bgr_tokens = decode(rig.tokens_with(stamp=12.0)[0])[0]
            np.testing.assert_array_equal(bgr_tokens, rgb_tokens)

            # The left driver switches from 80x60 to 160x90 mid-stream: still used, but named.
            rig.publish_until({LEFT: image_msg(scene(5, 90, 160), "rgb8", 13.0, "l")},
                              lambda: (st := rig.last_status()) is not None
                              and values(st).get(f"frame_size {LEFT}") == "160x90",
                              "the new resolution in diagnostics")
            kv = values(rig.last_status())
            assert kv[f"frame_size_changes {LEFT}"] == "1" and kv[f"frame_size {RIGHT}"] == "112x112"
            assert any(LEFT in ln and "changed from 80x60 to 160x90" in ln
                       for ln in node.output().splitlines())
    finally:
        code = node.stop(signal.SIGTERM)
    out = node.log_path.read_text(errors="replace")
    assert code == 0, out
    assert "Traceback" not in out, out


def test_a_camera_later_than_system1_takes_tokens_is_named(ros_domain_id, ckpt2, tmp_path):
    """The left camera's frames arrive stamped 0.7 s behind the clock: within 1 s, but past
    the 0.5 s System 1 allows the tokens, which carry the oldest camera's stamp. System 1
    refuses every token and only System 2 can say which camera is to blame."""
    node = start_node(ckpt2, tmp_path / "node.log", "-p", "token_staleness_s:=0.5")
    left, right = scene(11), scene(12)

    def frames() -> dict[str, Image]:
        now = time.time()
        return {LEFT: image_msg(left, "rgb8", now - 0.7, "l"),
                RIGHT: image_msg(right, "rgb8", now, "r")}

    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            rig = Rig(probe, node)

            def named() -> bool:
                st = rig.last_status()
                return st is not None and f"frames_stamp_off_clock {LEFT}" in values(st)
            rig.publish_until(frames, named, "diagnostics naming the late camera", 90, 1 / 30)
            st = rig.last_status()
            kv = values(st)
            assert st.level == DiagnosticStatus.WARN and LEFT in st.message, st.message
            assert RIGHT not in st.message and f"frames_stamp_off_clock {RIGHT}" not in kv
            assert 650 < float(kv[f"stamp_lag_ms {LEFT}"]) < 1000, kv
            assert float(kv[f"stamp_lag_ms {RIGHT}"]) < 300, kv
            log = node.output()
            lines = [ln for ln in log.splitlines() if f"camera {LEFT}: header stamp" in ln]
            assert lines and "token_staleness_s=0.5" in lines[0], log
    finally:
        code = node.stop(signal.SIGINT)
    assert code == 0, node.log_path.read_text(errors="replace")


def test_inference_slower_than_period_runs_back_to_back_on_newest_frames(ros_domain_id, ckpt2, tmp_path):
    # A 2 ms period that no backbone run meets: the node must keep publishing from the
    # newest frames (stamps only move forward, no backlog) and diagnostics must say so.
    node = start_node(ckpt2, tmp_path / "node.log", rate_hz=500.0)
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            rig = Rig(probe, node)
            left, right = scene(5), scene(6)
            stamp = [1000.0]

            def fresh_frames() -> dict[str, Image]:
                stamp[0] += 0.05
                return {LEFT: image_msg(left, "rgb8", stamp[0], "l"),
                        RIGHT: image_msg(right, "rgb8", stamp[0], "r")}

            def behind_reported() -> bool:
                st = rig.last_status()
                return (st is not None and values(st)["inference_keeps_up"] == "False"
                        and len(rig.tokens) >= 15)

            rig.publish_until(fresh_frames, behind_reported, "diagnostics: inference behind",
                              timeout=60, period=1 / 30)
            st = rig.last_status()
            assert st.level == DiagnosticStatus.WARN and "slower than" in st.message
            assert float(values(st)["achieved_rate_hz"]) > 2.0
            stamps = [stamp_of(m) for m in list(rig.tokens)]
            # The stamp is the older of the two newest frames: when only one camera has a new
            # frame, the tokens are new but the stamp may repeat. It never goes back.
            assert all(b >= a for a, b in zip(stamps, stamps[1:])), stamps
            assert stamps[-1] > stamps[0], stamps
    finally:
        code = node.stop(signal.SIGINT)
    out = node.log_path.read_text(errors="replace")
    assert code == 0, out


def test_bad_parameters_exit_nonzero_naming_the_parameter(ros_domain_id, ckpt2, tmp_path):
    cases = [
        (["-p", "checkpoint:=/nonexistent/ckpt"], "checkpoint='/nonexistent/ckpt'"),
        (["-p", f"checkpoint:={ckpt2}", "-p", "rate_hz:=-1.0"], "rate_hz=-1.0"),
        (["-p", f"checkpoint:={ckpt2}", "-p", "rate_hz:=true"],
         "parameter rate_hz has the wrong type"),
        (["-p", f"checkpoint:={ckpt2}", "-p", "camera_topics:=[/only/one]"],
         "expects 2 view(s)"),
        (["-p", f"checkpoint:={ckpt2}", "-p", f"camera_topics:=[{LEFT},{RIGHT}]",
          "-p", "max_instruction_length:=5", "-p", f"default_instruction:={DEFAULT_INSTRUCTION}"],
         "default_instruction='hold your position' is refused"),
        (["-p", f"checkpoint:={ckpt2}", "-p", f"camera_topics:=[{LEFT},{RIGHT}]",
          "-p", "default_instruction:=" + "touch the red cube " * 5], "max_tokens"),
    ]
    # The device is refused by name before any weights load: a name torch has no device
    # for, and (on a machine without CUDA) a GPU.
    cases.append((["-p", f"checkpoint:={ckpt2}", "-p", "device:=gpu"],
                  "parameter device='gpu' is not allowed: it must be cpu, cuda or cuda:N"))
    if not torch.cuda.is_available():
        cases.append((["-p", f"checkpoint:={ckpt2}", "-p", f"camera_topics:=[{LEFT},{RIGHT}]",
                       "-p", "device:=cuda:0", "-p", "backend:=torch"],
                      "parameter device='cuda:0' asks for CUDA, but"))
    # The backbone's export cache (auto: onnxruntime for this nano backbone) that cannot be
    # created: a bare "[Errno 2] ... '/proc/gr00t_cache'" under parameter checkpoint's name.
    cases.append((["-p", f"checkpoint:={ckpt2}", "-p", f"camera_topics:=[{LEFT},{RIGHT}]",
                   "-p", "cache_dir:=/proc/gr00t_cache"],
                  "parameter cache_dir='/proc/gr00t_cache': the export cache directory "
                  "/proc/gr00t_cache cannot be created"))
    cases = [(args, needle, 1) for args, needle in cases]
    # rcl itself refuses a parameter value it cannot parse: exit 2, no traceback.
    cases.append((["-p", "default_instruction:=wave\u0007"], "invalid command-line arguments", 2))
    for i, (args, needle, expected_code) in enumerate(cases):
        proc = NodeProcess.python_module("gr00t_system2.node",
                                         ["--ros-args", "-p", AUTOSTART, *args],
                                         tmp_path / f"bad{i}.log")
        try:
            proc.proc.wait(timeout=120)
        finally:
            proc.stop()  # a node that started after all does not outlive the test
        out = proc.log_path.read_text(errors="replace")
        assert proc.proc.returncode == expected_code, out
        assert needle in out, out
        assert "Traceback" not in out, out


def frame_source(left_seed: int, right_seed: int, stamp: float):
    """A callable giving both cameras' next frames: the same scenes, stamps 0.1 s on each."""
    left, right = scene(left_seed), scene(right_seed)
    stamps = [stamp]

    def fresh_frames() -> dict[str, Image]:
        stamps[0] += 0.1
        return {LEFT: image_msg(left, "rgb8", stamps[0], "l"),
                RIGHT: image_msg(right, "rgb8", stamps[0], "r")}

    return fresh_frames


def test_deactivated_publishes_no_tokens_and_keeps_taking_instructions(ros_domain_id, ckpt2,
                                                                        tmp_path):
    node = start_node(ckpt2, tmp_path / "node.log", autostart=False)
    fresh_frames = frame_source(7, 8, 200.0)

    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            assert lifecycle_state(probe, "/gr00t_system2", 90) == "unconfigured"
            activate(probe, "/gr00t_system2")
            rig = Rig(probe, node)
            rig.publish_until(fresh_frames, lambda: len(rig.tokens) >= 3, "tokens while active",
                              90)

            assert change_state(probe, "/gr00t_system2", "deactivate")
            t_reply = time.monotonic()
            count = len(rig.tokens)
            # A token already on the wire may still land; nothing is computed afterwards.
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                for topic, msg in fresh_frames().items():
                    rig.cams[topic].publish(msg)
                time.sleep(0.1)
            assert len(rig.tokens) <= count + 1, (len(rig.tokens), count)
            assert lifecycle_state(probe, "/gr00t_system2") == "inactive"
            # Instructions are still taken while inactive, and used once active again.
            reply = probe.call(SetInstruction, "/gr00t/set_instruction",
                               SetInstruction.Request(instruction="raise your left hand"))
            assert reply.accepted and reply.instruction_id == 1, reply.message
            assert "System 2 is inactive: no tokens for it until it is activated" in reply.message
            assert not rig.tokens_with(instruction_id=1)

            assert change_state(probe, "/gr00t_system2", "activate")
            rig.publish_until(fresh_frames, lambda: rig.tokens_with(instruction_id=1),
                              "tokens for instruction 1 after activating again")
            assert time.monotonic() - t_reply > 2.0
    finally:
        code = node.stop(signal.SIGINT)
    out = node.log_path.read_text(errors="replace")
    assert code == 0, out
    assert "deactivated: no tokens are published" in out and "Traceback" not in out, out


def test_without_an_instruction_no_tokens_until_one_is_set(ros_domain_id, ckpt2, tmp_path):
    """The shipped default: no instruction, so no tokens (System 1 does not move), with
    fresh frames coming in, until one is set; then tokens for instruction 1."""
    node = start_node(ckpt2, tmp_path / "node.log", default=None)
    fresh_frames = frame_source(3, 4, 300.0)

    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            rig = Rig(probe, node)

            def waiting() -> bool:  # (its message: the stamps, far from the clock, first)
                st = rig.last_status()
                values = {} if st is None else {kv.key: kv.value for kv in st.values}
                return values.get("instruction_id") == "none" and values.get(
                    f"frames_received {LEFT}", "0") != "0"

            rig.publish_until(fresh_frames, waiting, "diagnostics: frames, no instruction", 90)
            t0 = time.monotonic()
            rig.publish_until(fresh_frames, lambda: time.monotonic() - t0 > 1.5, "1.5 s")
            assert not rig.tokens, "tokens without an instruction"
            reply = probe.call(SetInstruction, "/gr00t/set_instruction",
                               SetInstruction.Request(instruction="   "))
            assert not reply.accepted and "no instruction is in force yet" in reply.message
            reply = probe.call(SetInstruction, "/gr00t/set_instruction",
                               SetInstruction.Request(instruction="wave"))
            assert reply.accepted and reply.instruction_id == 1, reply.message
            rig.publish_until(fresh_frames, lambda: rig.tokens_with(instruction_id=1),
                              "tokens for instruction 1")
            assert {m.instruction_id for m in rig.tokens} == {1}
    finally:
        code = node.stop(signal.SIGINT)
    out = node.log_path.read_text(errors="replace")
    assert code == 0, out
    assert "no instruction yet: no tokens (and no motion) until one is set" in out, out


def test_activate_waits_for_an_inference_thread_that_outlived_deactivate():
    """An inference longer than the join timeout outlives deactivate; activating again
    before it ends would clear its stop flag and run two loops, both publishing."""
    import threading

    from gr00t_system2.node import System2Node

    node = System2Node.__new__(System2Node)  # the guard alone: no ROS node, no model
    release = threading.Event()
    node._lingering = threading.Thread(target=release.wait, daemon=True)
    node._lingering.start()
    with pytest.raises(RuntimeError, match="still running"):
        System2Node._activate(node)
    release.set()
    node._lingering.join()
