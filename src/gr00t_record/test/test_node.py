"""The recorder node over real DDS: episodes by service, bags another reader opens, SIGKILL.

A probe publishes a tiny robot's topics (joint states 125 Hz, a camera 30 Hz, two command
topics 20 Hz, an extra topic); the recorder records two episodes. The first is stopped with
`gr00t-record stop` and read with the independent `rosbags` reader; one is discarded while
recording; the second is cut short by SIGKILL and still converts, up to its last message,
with a warning.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
import yaml

from gr00t_msgs.srv import SetInstruction
from gr00t_policy.dataset import LeRobotDataset
from gr00t_policy.dataset.bag import read_bag
from gr00t_policy.dataset.from_bag import convert_bags
from gr00t_policy.embodiment import parse_embodiment
from gr00t_record import cli as record_cli
from gr00t_testing import NodeProcess, RosProbe
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger

ARM, HAND = ["j0", "j1", "j2"], ["h0"]
TOPICS = ["/joint_states", "/camera/head/image_raw", "/arm/commands", "/hand/commands",
          "/gr00t/instruction", "/extra"]


def embodiment_dict():
    joint = {"position": [-3.0, 3.0], "velocity": 5.0}
    return {
        "name": "tiny", "tag": "tiny_bot", "slot": 1, "action_dt": 0.05,
        "joint_groups": {"arm": {"joints": [{"name": n, **joint} for n in ARM]},
                         "hand": {"joints": [{"name": n, **joint} for n in HAND]}},
        "state_keys": [{"key": "arm", "normalization": "min_max"},
                       {"key": "hand", "normalization": "min_max"}],
        "action_keys": [{"key": "arm", "normalization": "min_max"},
                        {"key": "hand", "normalization": "min_max"}],
        "cameras": [{"name": "head", "topic": "/camera/head/image_raw"}],
        "controllers": [
            {"name": "arm", "type": "forward_command", "topic": "/arm/commands", "joints": ARM},
            {"name": "hand", "type": "forward_command", "topic": "/hand/commands",
             "joints": HAND}],
        "staleness": {"state_s": 0.1, "tokens_s": 0.5}, "on_stale": "hold_last_command",
    }


def tiny_embodiment_yaml(tmp_path: Path) -> Path:
    """`embodiment_dict` written as tmp_path/tiny.yaml."""
    emb_yaml = tmp_path / "tiny.yaml"
    emb_yaml.write_text(yaml.safe_dump(embodiment_dict()))
    return emb_yaml


def start_recorder(tmp_path: Path, *params: str) -> tuple[NodeProcess, Path]:
    """The recorder node for the tiny embodiment, writing to tmp_path/bags (returned), with
    more `-p` params; its log tmp_path/rec.log."""
    out = tmp_path / "bags"
    recorder = NodeProcess(
        [sys.executable, "-m", "gr00t_record.node", "--ros-args",
         "-p", f"embodiment:={tiny_embodiment_yaml(tmp_path)}", "-p", f"output_dir:={out}",
         *[x for p in params for x in ("-p", p)]], tmp_path / "rec.log")
    return recorder, out


class Robot:
    """Publishes the tiny robot's topics from a thread (one loop at 250 Hz, each topic at
    its own rate), its joints named `prefix` + the YAML's names; counts what it sent."""

    def __init__(self, probe: RosProbe, prefix: str = "") -> None:
        self.names = [prefix + n for n in ARM + HAND + ["other"]]
        self.pubs = {
            "/joint_states": probe.publisher(JointState, "/joint_states"),
            "/camera/head/image_raw": probe.publisher(Image, "/camera/head/image_raw"),
            "/arm/commands": probe.publisher(Float64MultiArray, "/arm/commands"),
            "/hand/commands": probe.publisher(Float64MultiArray, "/hand/commands"),
            "/extra": probe.publisher(String, "/extra"),
        }
        self.instruction = probe.publisher(String, "/gr00t/instruction")
        self.sent = {t: 0 for t in self.pubs}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        period = {"/joint_states": 0.008, "/camera/head/image_raw": 1 / 30,
                  "/arm/commands": 0.05, "/hand/commands": 0.05, "/extra": 0.1}
        due = {t: time.monotonic() for t in period}
        image = Image(height=8, width=8, encoding="rgb8", step=24, data=bytes(range(192)))
        while not self._stop.is_set():
            now = time.monotonic()
            for topic, p in period.items():
                if now < due[topic]:
                    continue
                due[topic] += p
                x = np.sin(now)
                msg = {"/joint_states": lambda: JointState(name=self.names,
                                                           position=[x, -x, 0.1, 0.2, 0.0]),
                       "/camera/head/image_raw": lambda: image,
                       "/arm/commands": lambda: Float64MultiArray(data=[x, x, x]),
                       "/hand/commands": lambda: Float64MultiArray(data=[0.5]),
                       "/extra": lambda: String(data="extra")}[topic]()
                self.pubs[topic].publish(msg)
                self.sent[topic] += 1
            time.sleep(0.004)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


def test_recorder_episodes_independent_reader_and_sigkill(ros_domain_id, tmp_path):
    from rosbags.rosbag2 import Reader

    recorder, out = start_recorder(tmp_path, "extra_topics:=[/extra]")
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            robot = Robot(probe)
            try:
                for topic, pub in robot.pubs.items():
                    probe.wait_for_subscribers(pub, timeout=60)
                probe.wait_for_subscribers(robot.instruction, timeout=30)
                stop = probe.call(Trigger, "/gr00t_record/stop", Trigger.Request())
                assert not stop.success and "not recording" in stop.message
                nothing = probe.call(Trigger, "/gr00t_record/discard", Trigger.Request())
                assert not nothing.success and "nothing to discard" in nothing.message
                # Episode 0: started by service, stopped by the CLI.
                reply = probe.call(SetInstruction, "/gr00t_record/start",
                                   SetInstruction.Request(instruction="touch the red cube"))
                assert reply.accepted and reply.instruction_id == 0, reply.message
                again = probe.call(SetInstruction, "/gr00t_record/start",
                                   SetInstruction.Request(instruction="x"))
                assert not again.accepted and "call /gr00t_record/stop" in again.message
                # The same start again soon (a client that lost the reply asks again): the
                # first answer, and no new episode.
                repeat = probe.call(SetInstruction, "/gr00t_record/start",
                                    SetInstruction.Request(instruction="touch the red cube"))
                assert repeat.accepted and repeat.instruction_id == 0
                assert repeat.message == reply.message
                time.sleep(1.5)
                cli = subprocess.run([sys.executable, "-m", "gr00t_record.cli", "stop"],
                                     capture_output=True, text=True, timeout=60)
                assert cli.returncode == 0, cli.stderr
                assert "episode 0:" in cli.stdout and "episode_000000" in cli.stdout
                repeat = probe.call(Trigger, "/gr00t_record/stop", Trigger.Request())
                assert repeat.success and repeat.message == cli.stdout.strip()
                # A failed demonstration, discarded while recording: moved out of the data,
                # and its number used again.
                reply = probe.call(SetInstruction, "/gr00t_record/start",
                                   SetInstruction.Request(instruction="wave"))
                assert reply.accepted and reply.instruction_id == 1, reply.message
                time.sleep(0.3)
                cli = subprocess.run([sys.executable, "-m", "gr00t_record.cli", "discard"],
                                     capture_output=True, text=True, timeout=60)
                assert cli.returncode == 0, cli.stderr
                assert "discarded episode_000001" in cli.stdout, cli.stdout
                repeat = probe.call(Trigger, "/gr00t_record/discard", Trigger.Request())
                assert repeat.success and repeat.message == cli.stdout.strip()  # lost reply
                # Episode 1: the instruction is the last one heard on /gr00t/instruction.
                robot.instruction.publish(String(data="raise your left hand"))
                time.sleep(0.5)
                reply = probe.call(SetInstruction, "/gr00t_record/start",
                                   SetInstruction.Request(instruction=""))
                assert reply.accepted and reply.instruction_id == 1, reply.message
                time.sleep(1.5)
                recorder.stop(signal.SIGKILL)
                killed_at = time.time_ns()
            finally:
                robot.close()
    finally:
        recorder.stop()

    discarded = out / "discarded" / "episode_000001"
    assert read_bag(discarded).custom_data["instruction"] == "wave"
    assert (discarded / "metadata.yaml").is_file()  # closed before it was moved

    # Episode 0 with another library: every topic, with its count.
    bag0 = out / "episode_000000"
    with Reader(bag0) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        types = {c.topic: c.msgtype for c in reader.connections}
        seconds = reader.duration / 1e9
    assert sorted(counts) == sorted(TOPICS), counts
    assert types["/camera/head/image_raw"] == "sensor_msgs/msg/Image"
    assert seconds >= 1.4 and counts["/gr00t/instruction"] == 0, (seconds, counts)
    for topic, hz in (("/joint_states", 125), ("/camera/head/image_raw", 30),
                      ("/arm/commands", 20), ("/extra", 10)):  # nothing lost, nothing twice
        assert 0.75 * hz <= counts[topic] / seconds <= 1.1 * hz, (topic, counts, seconds)
    emb = parse_embodiment(embodiment_dict())
    [report] = convert_bags([bag0], emb, tmp_path / "ds0")
    assert report.complete and report.task == "touch the red cube"
    assert 20 <= report.steps <= counts["/arm/commands"], report.lines()

    # Episode 1, killed: readable up to its last message, nothing before it lost.
    bag1 = out / "episode_000001"
    assert not (bag1 / "metadata.yaml").exists()
    got = read_bag(bag1)
    assert not got.complete and got.custom_data["instruction"] == "raise your left hand"
    states = [t for t, _ in got.messages["/joint_states"]]
    span = (states[-1] - states[0]) / 1e9
    assert 1.0 <= span <= 2.5 and len(states) >= 0.8 * 125 * span, (span, len(states))
    assert killed_at - states[-1] < 0.5e9  # written up to (about) the kill
    assert np.all(np.diff(states) > 0)
    [report] = convert_bags([bag1], emb, tmp_path / "ds1")
    assert not report.complete and report.task == "raise your left hand"
    assert any("cut off" in w for w in report.warnings) and report.steps >= 15
    assert LeRobotDataset(tmp_path / "ds1").episode(0).task == "raise your left hand"


def test_a_prefixed_robots_episode_converts_under_the_yamls_names(ros_domain_id, tmp_path):
    """The robot's driver names the YAML's joints g1/<name>: the recorder keeps its
    joint_prefix in the bag, and from-bag takes it from there without being told."""
    emb_yaml = tiny_embodiment_yaml(tmp_path)
    out = tmp_path / "bags"
    recorder = NodeProcess(
        [sys.executable, "-m", "gr00t_record.cli", "run", "--embodiment", str(emb_yaml),
         "--out", str(out), "--joint-prefix", "g1/"], tmp_path / "rec.log")
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            robot = Robot(probe, prefix="g1/")
            try:
                for topic, pub in robot.pubs.items():
                    if topic != "/extra":  # not recorded here
                        probe.wait_for_subscribers(pub, timeout=60)
                reply = probe.call(SetInstruction, "/gr00t_record/start",
                                   SetInstruction.Request(instruction="wave"))
                assert reply.accepted, reply.message
                time.sleep(1.5)
                assert probe.call(Trigger, "/gr00t_record/stop", Trigger.Request()).success
            finally:
                robot.close()
    finally:
        recorder.stop()
    bag = out / "episode_000000"
    got = read_bag(bag)
    assert got.custom_data["joint_prefix"] == "g1/"
    assert list(got.messages["/joint_states"][0][1].name)[:2] == ["g1/j0", "g1/j1"]  # as sent
    emb = parse_embodiment(embodiment_dict())
    [report] = convert_bags([bag], emb, tmp_path / "ds")
    assert report.steps >= 20, report.lines()
    assert LeRobotDataset(tmp_path / "ds", embodiment=emb).episode(0).length == report.steps


def _bad_position(emb: dict) -> None:
    emb["joint_groups"]["arm"]["joints"][0]["position"] = [1, 2, 3]


@pytest.mark.parametrize("spoil,args,says", [
    (_bad_position, [], "tiny.yaml: 1 problem in embodiment config:\n  joint_groups.arm.joints[0]"
                        ".position (line"),
    (None, ["--ros-args", "-p", "queue_depth:=0"],
     "parameter queue_depth is out of range"),
    (None, ["--ros-args", "-p", "extra_topics:=[/a, b c]"],
     "parameter extra_topics holds 'b c', not a valid topic name"),
    (None, ["--ros-args", "-p", "joint_prefix:=g1-"],
     "parameter joint_prefix='g1-' is not allowed: it must be letters, digits, _ and /"),
], ids=["embodiment", "queue_depth", "extra_topics", "joint_prefix"])
def test_run_that_cannot_start_says_why_in_one_line_and_exits_1(ros_domain_id, tmp_path, capfd,
                                                                spoil, args, says):
    # These used to end in a 24-36 line traceback (and exit status 0 from gr00t-record run).
    emb = embodiment_dict()
    if spoil is not None:
        spoil(emb)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(emb))
    code = record_cli.main(["run", "--embodiment", str(tmp_path / "tiny.yaml"), "--out",
                            str(tmp_path / "bags"), *args])
    err = capfd.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err and "[gr00t_record]: cannot start: " in err, err
    assert says in err, err


@pytest.mark.parametrize("argv,flag", [
    (["run", "--embodiment", "x.yaml", "--extra-topic", "not a topic"], "--extra-topic"),
    (["run", "--embodiment", "x.yaml", "--action-topic", "/a//b"], "--action-topic"),
    (["run", "--embodiment", "x.yaml", "--joint-prefix", "g1 /"], "--joint-prefix"),
    (["run", "--embodiment", "x.yaml", "--joint-states-topic", "/a b"], "--joint-states-topic"),
    (["stop", "--timeout", "nan"], "--timeout"),
    (["start", "wave", "--timeout", "0"], "--timeout"),
    (["discard", "--timeout", "-1"], "--timeout"),
])
def test_a_bad_flag_is_refused_at_parsing_naming_it(capsys, argv, flag):
    # A --timeout <= 0 or nan gave up at once and said the recorder did not answer, while
    # the episode went on recording; a bad topic name failed in rclpy naming no flag.
    with pytest.raises(SystemExit) as info:
        record_cli.main(argv)
    assert info.value.code == 2
    assert f"error: argument {flag}: " in capsys.readouterr().err


def test_run_passes_the_topics_it_is_given_to_the_node(monkeypatch):
    """The recorder's joint_states_topic and instruction_topic were settable only with
    --ros-args -p (not in gr00t-record --help); the flags are from-bag's names for them."""
    import gr00t_record.node

    got = []
    monkeypatch.setattr(gr00t_record.node, "main", lambda argv: got.append(argv) or 0)
    assert record_cli.main(["run", "--embodiment", "x.yaml", "--joint-states-topic",
                            "/robot/joint_states", "--instruction-topic", "/say"]) == 0
    argv = got[0]
    assert 'joint_states_topic:="/robot/joint_states"' in argv
    assert 'instruction_topic:="/say"' in argv
    got.clear()
    record_cli.main(["run", "--embodiment", "x.yaml"])
    assert not any("_topic:=" in a for a in got[0])  # the node's defaults


def test_run_passes_values_that_look_like_numbers_as_strings(ros_domain_id, tmp_path,
                                                              monkeypatch):
    """`--out 1207` or `--joint-prefix 007` reached the node unquoted, which ROS reads as an
    integer: the recorder refused to start, naming a -p the user never typed."""
    import gr00t_record.node

    emb_yaml = tiny_embodiment_yaml(tmp_path)
    monkeypatch.chdir(tmp_path)
    got = {}

    def build_and_stop(argv):
        rclpy.init(args=argv)
        try:
            node = gr00t_record.node.RecorderNode()
            got.update(out=node.output_dir, prefix=node.joint_prefix,
                       extra=node.get_parameter("extra_topics").value)
            node.destroy_node()
        finally:
            rclpy.shutdown()
        return 0

    monkeypatch.setattr(gr00t_record.node, "main", build_and_stop)
    assert record_cli.main(["run", "--embodiment", str(emb_yaml), "--out", "1207",
                            "--joint-prefix", "007", "--extra-topic", "/a"]) == 0
    assert got == {"out": Path("1207"), "prefix": "007", "extra": ["/a"]}
