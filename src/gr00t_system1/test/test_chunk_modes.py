"""System 1 runs in every chunk mode (issue 21): the node as a process over real DDS, fed
joint states and tokens, its commands recorded on every controller topic and checked with
`gr00t_testing.assert_commands_safe` (finite, inside the limits, within the velocity and
acceleration limits of the commands before them).

rtc runs on the torch backend (guided sampling without an ONNX export; the exported guided
graph is gr00t_policy's test_guidance.py) and with a 60 ms inference delay, so that it has
more than one frozen row and its plans arrive like a slower action head's. rtc_prefix is rtc
by prefix conditioning on onnxruntime (its prefix graph exported on first use), with the
test checkpoint's config saying it was trained with given rows (the weights are random
either way: this is about wiring and safety, not quality). rtc_blend is rtc by a plain
sample blended with the previous chunk (onnxruntime, no second graph).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from gr00t_common.stamps import stamp_to_seconds
from gr00t_policy.embodiment import load_embodiment
from gr00t_testing import (AUTOSTART, CommandRecorder, InputFeeder, NodeProcess, RosProbe,
                           assert_commands_safe, backbone_id, static_robot_yaml,
                           wait_until)

REPO = Path(__file__).resolve().parents[3]
G1_YAML = REPO / "config" / "unitree_g1.yaml"
START_TIMEOUT = 150.0
DELAY_MS = 60.0
REPLAN_MS = 100.0

MODES = {
    "crossfade": (),
    "latest": (),
    "latest_spaced": (f"replan_period_ms:={REPLAN_MS}",),  # plans at most every 100 ms
    "ensemble": ("ensemble_decay_per_s:=13.0",),
    "rtc": ("backend:=torch", f"inference_delay_ms:={DELAY_MS}"),
    "rtc_prefix": ("rtc_method:=prefix", f"inference_delay_ms:={DELAY_MS}"),
    "rtc_blend": ("rtc_method:=blend", f"inference_delay_ms:={DELAY_MS}"),
}


@pytest.fixture(scope="module")
def prefix_checkpoint(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test checkpoint, rigged as if its head was trained with 4 given rows."""
    from gr00t_policy.testing.checkpoints import rig_action_head_config

    out = tmp_path_factory.mktemp("prefix_ckpt") / "nano"
    shutil.copytree(checkpoint, out)
    rig_action_head_config(out, prefix_rows=4)
    return out


@pytest.mark.parametrize("mode", list(MODES))
def test_system1_runs_in_each_chunk_mode_and_every_command_is_safe(
        mode, request, onnx_cache, ros_domain_id, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray
    from gr00t_msgs.msg import ActionChunk

    checkpoint = request.getfixturevalue("prefix_checkpoint" if mode == "rtc_prefix"
                                         else "checkpoint")
    chunk_mode, _, variant = mode.partition("_")
    emb = load_embodiment(G1_YAML)
    rng = np.random.default_rng(1)
    lim = np.array([emb.limits_of(n) for n in emb.monitored_joints])  # (n, 2)
    measured = dict(zip(emb.monitored_joints,
                        (lim[:, 0] + (lim[:, 1] - lim[:, 0]) * rng.uniform(0.3, 0.7, len(lim)))
                        .tolist()))
    for h in emb.held_joints:
        measured[h.name] = h.position  # the legs stand where the YAML holds them
    static = static_robot_yaml(G1_YAML, tmp_path)  # the feeder's joint states do not follow
    params = [f"checkpoint:={checkpoint}", f"embodiment:={static}", "start_enabled:=true",
              f"cache_dir:={onnx_cache}", f"chunk_mode:={chunk_mode}",
              # A loaded 2-core machine: a feeder hiccup must not read as a stale state.
              "state_staleness_s:=1.0", "token_staleness_s:=2.0", *MODES[mode], AUTOSTART]
    args = ["--ros-args", *[x for p in params for x in ("-p", p)]]
    node = NodeProcess.python_module("gr00t_system1.node", args, tmp_path / f"{mode}.log")
    period = 1.0 / emb.rates.system1_hz
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            rec = CommandRecorder(probe, [c.topic for c in emb.controllers])
            chunks = probe.collect(ActionChunk, "/gr00t/action_chunk")
            diags = probe.collect(DiagnosticArray, "/diagnostics")
            feeder = InputFeeder(probe, emb.monitored_joints, measured,
                                 backbone_id=backbone_id(checkpoint)).start()
            try:
                wait_until(lambda: all(len(v) >= 360 for v in rec.snapshot().values()),
                           START_TIMEOUT, f"360 commands per controller in chunk_mode {mode}")
            finally:
                feeder.stop()
            counts = assert_commands_safe(emb, rec.snapshot(), period)
            assert counts >= 360 * len(emb.controllers)
            for topic, got in rec.snapshot().items():
                labels = {m.layout.dim[0].label for _, m in got}
                assert labels == {"running"}, (topic, labels)
            assert len(chunks) >= 5
            wait_until(lambda: diags and any(kv.key == "chunk_mode" for kv in
                                             diags[-1].status[0].values), 5, "diagnostics")
            values = {kv.key: kv.value for kv in diags[-1].status[0].values}
            assert values["chunk_mode"] == chunk_mode
            if variant == "spaced":
                # Each plan anchors at the state it read; those states are ~100 ms apart
                # (with replanning on every state, 8 ms).
                stamps = np.array([stamp_to_seconds(c.header.stamp) for c in list(chunks)])
                assert np.median(np.diff(stamps)) >= 0.8 * REPLAN_MS / 1e3, np.diff(stamps)
                assert values["replan_period_ms"] == f"{REPLAN_MS:g}"
            if chunk_mode == "rtc":
                # Plans are held back 60 ms: more than one row (50 ms) lies in the past
                # when each arrives, and rtc freezes them.
                assert min(c.inference_latency for c in chunks) >= DELAY_MS / 1e3
                assert int(values["rtc_frozen_rows"]) >= 2
                assert float(values["plan_latency_estimate_ms"]) >= DELAY_MS
                assert values["rtc_method"] == (variant or "guidance")
        out = node.output()
        assert "Traceback" not in out, out[-3000:]
    finally:
        rc = node.stop()
        assert rc == 0, node.log_path.read_text(errors="replace")[-3000:]
