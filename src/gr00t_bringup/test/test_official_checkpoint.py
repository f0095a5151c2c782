"""An official GR00T N1 checkpoint end to end (issue 18): written in the official layout from
the independent fixture (gr00t_policy/testing/data/gr00t_n1_2b_layout.json, small sizes,
random weights, sharded safetensors + index, config.json, experiment_cfg/metadata.json, an
Eagle tokenizer directory), converted once with `gr00t-policy convert`, then System 2 and
System 1 started on it as the README says: System 2 publishes tokens from the camera, System 1
accepts them (its action chunks) and commands every controller.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from gr00t_policy.testing.official import (DEFAULT_TAG, embodiment_with_slot, write_eagle_dir,
                                           write_official_checkpoint)
from gr00t_testing import AUTOSTART, RELIABLE, NodeProcess, RosProbe, wait_until

REPO = Path(__file__).resolve().parents[3]
G1_YAML = REPO / "config" / "unitree_g1.yaml"
SLOT = 31  # Isaac-GR00T's action-head slot of the new_embodiment tag
START_TIMEOUT = 180.0
CHILD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, Path]:
    """(our checkpoint converted from an official directory, the embodiment YAML it needs)."""
    root = tmp_path_factory.mktemp("official")
    official = write_official_checkpoint(root / "official", shards=2)
    eagle = write_eagle_dir(root / "eagle2_hg_model")
    emb = embodiment_with_slot(G1_YAML, SLOT, tag=DEFAULT_TAG)
    yaml_path = root / "g1_new_embodiment.yaml"
    yaml_path.write_text(yaml.safe_dump(emb.to_dict()))
    done = subprocess.run(
        [sys.executable, "-m", "gr00t_policy.cli", "convert", str(official), str(root / "ours"),
         "--embodiment", str(yaml_path), "--eagle-dir", str(eagle)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "ours", yaml_path


def test_both_systems_run_on_a_converted_official_checkpoint(converted, ros_domain_id,
                                                              tmp_path) -> None:
    from gr00t_msgs.msg import ActionChunk, EmbeddingTokens
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import Float64MultiArray

    from gr00t_policy.embodiment import load_embodiment

    ckpt, yaml_path = converted
    emb = load_embodiment(yaml_path)
    system2 = NodeProcess.python_module("gr00t_system2.node", [
        "--ros-args", "-p", f"checkpoint:={ckpt}", "-p", f"camera_topics:=[{emb.cameras[0].topic}]",
        "-p", "torch_threads:=1", "-p", "default_instruction:=pick up the apple",
        "-p", AUTOSTART], tmp_path / "system2.log", env=CHILD_ENV)
    system1 = NodeProcess.python_module("gr00t_system1.node", [
        "--ros-args", "-p", f"checkpoint:={ckpt}", "-p", f"embodiment:={yaml_path}",
        "-p", "backend:=torch", "-p", "start_enabled:=true", "-p", "token_staleness_s:=2.0",
        "-p", "state_staleness_s:=0.5", "-p", AUTOSTART], tmp_path / "system1.log",
        env=CHILD_ENV)
    stop = threading.Event()
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            tokens = probe.collect(EmbeddingTokens, "/gr00t/embedding_tokens")
            chunks = probe.collect(ActionChunk, "/gr00t/action_chunk")
            commands = {c.topic: probe.collect(Float64MultiArray, c.topic, RELIABLE)
                        for c in emb.controllers}
            js_pub = probe.publisher(JointState, "/joint_states")
            img_pub = probe.publisher(Image, emb.cameras[0].topic)
            names = list(emb.monitored_joints)
            positions = [float(np.mean(emb.limits_of(n))) for n in names]
            pixels = np.random.default_rng(0).integers(0, 256, (64, 80, 3), dtype=np.uint8)

            def robot() -> None:
                clock = probe.node.get_clock()
                i = 0
                while not stop.wait(0.01):
                    stamp = clock.now().to_msg()
                    msg = JointState(name=names, position=positions)
                    msg.header.stamp = stamp
                    js_pub.publish(msg)
                    if i % 7 == 0:
                        img = Image(height=64, width=80, encoding="rgb8", step=80 * 3,
                                    data=pixels.tobytes())
                        img.header.stamp = stamp
                        img_pub.publish(img)
                    i += 1

            threading.Thread(target=robot, daemon=True).start()

            def alive() -> bool:
                for node in (system1, system2):
                    if not node.alive():
                        raise AssertionError(f"{node.argv[2]} exited:\n{node.output()[-3000:]}")
                return True

            wait_until(lambda: alive() and len(chunks) >= 3, START_TIMEOUT,
                       "action chunks planned on System 2's tokens")
            wait_until(lambda: alive() and all(len(m) >= 20 for m in commands.values()), 30,
                       "commands on every controller")
            stop.set()
            assert tokens, "no tokens from System 2"
            t = tokens[-1]
            assert t.num_tokens > 0 and t.backbone_id  # the converted backbone's identity
            import json

            horizon = json.loads((ckpt / "config.json").read_text())["action_head"]["action_horizon"]
            assert chunks[-1].horizon == horizon and len(chunks[-1].joint_names) == emb.action_dim
            for c in emb.controllers:
                data = np.array([m.data for m in commands[c.topic]])
                assert np.isfinite(data).all() and data.shape[1] == len(c.joints)
        assert "tokens refused" not in system1.output(), system1.output()[-3000:]
    finally:
        stop.set()
        for node in (system1, system2):
            node.stop()
        time.sleep(0.1)
