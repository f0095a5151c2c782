"""ROS 2 node `gr00t_record`: an embodiment's topics into one rosbag2 MCAP bag per episode.

Records the topics the embodiment YAML names: /joint_states, every camera's image topic,
every controller's command topic (or `action_topic`, a teleoperation JointState topic),
the instruction topic, and `extra_topics`. Each topic is subscribed (serialized, raw=True:
nothing is deserialized) as soon as a publisher of it appears, with its publishers'
reliability, as `ros2 bag record` does; messages carry the node clock at reception as their
log time and the DDS source timestamp (when they were sent) as their publish time.

Episodes (one bag each, `<output_dir>/episode_NNNNNN/`):
- /gr00t_record/start (gr00t_msgs/srv/SetInstruction): opens the next episode's bag; the
  request's instruction (empty: the last one heard on the instruction topic) is the
  episode's, stored as metadata ("instruction") at once; the reply's instruction_id is the
  episode number;
- /gr00t_record/stop (std_srvs/srv/Trigger): closes it (metadata.yaml with the counts);
- /gr00t_record/discard (std_srvs/srv/Trigger): a failed demonstration is kept out of the
  data: the episode being recorded (closed first), else the last one closed, is moved to
  `<output_dir>/discarded/` (which `episode_*` does not match; nothing is deleted), and its
  number is used again by the next episode.
The recorder's `joint_prefix` (a driver that names the YAML's joints g1/<name>) is kept as
metadata ("joint_prefix"), where from-bag reads it, and so is `action_joint_prefix` where set
("action_joint_prefix": a leader arm's own driver's, for the action topic).
Between episodes nothing is written. Each camera's first frame in an episode is read with
the checks `gr00t-dataset from-bag` makes (encoding, size, byte count), and the joint states'
(and `action_topic`'s) first message's names against the YAML's joints with `joint_prefix`
(gr00t_record.joint_names): a stream it would refuse is still recorded, but the log says so
at once and the stop reply names it, so a day of episodes is not found unreadable (or in
need of another --joint-prefix) at conversion. A bag is written through to the OS
message by message (gr00t_record.bag_writer), so a recorder killed mid-episode leaves a bag
that reads up to its last complete message; SIGINT / SIGTERM close the open bag properly.
Messages that never reached the recorder (a best-effort link dropped them, or they
overflowed its `queue_depth` queue) are counted per topic from the publishers' sequence
numbers (gr00t_record.losses): logged as they happen, named in the stop reply and stored as
metadata ("lost_messages"). A state or command topic with several publishers (a stray
joint_state_publisher beside the driver, whose messages from-bag would take as the robot's)
is named in the start reply and the log; one that joins mid-episode is logged, and
metadata.yaml lists every publisher, where from-bag counts them. The recorder's clock set
back mid-episode (a bag from-bag cuts there, into two episodes) is logged at the step and
named in the stop reply (gr00t_record.clock_watch).
System 1's safety state (/gr00t/safety_state, gr00t_msgs/SafetyState: running, holding,
braking) is recorded too where a publisher of it exists, so that from-bag can leave out the
commands System 1 sent while holding or braking in a recording of its own runs; without one
(a teleoperation recording) nothing changes: it is named in no reply. System 1 publishes it
only at a change, reliable and transient local, so the recorder subscribes transient local
where System 1 offers it (the state in force reaches it however long ago it was published),
keeps the newest, and writes it first into each episode's bag while its publisher exists,
logged when the episode starts, its publish time when System 1 sent it and its header stamp
the tick the state began at (gr00t_record.in_force); then every change during the episode.
"""

from __future__ import annotations

import importlib
import re
import time
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from gr00t_common import plain_node
from gr00t_common.safety_topic import SAFETY_STATE_TOPIC
from gr00t_common.stats import Throttle
from gr00t_common.params import declare_and_read
from gr00t_common.teardown import run_process
from gr00t_policy.dataset.bag import LOST_MESSAGES_KEY, BagError
from gr00t_policy.dataset.bag_streams import check_frames
from gr00t_policy.embodiment.joint_prefix import ACTION_JOINT_PREFIX_KEY, JOINT_PREFIX_KEY
from gr00t_policy.runtime.safety_state import SAFETY_STATE_TYPE
from gr00t_msgs.srv import SetInstruction
from gr00t_record.bag_writer import BagWriter, qos_to_dict
from gr00t_record.clock_watch import ClockWatch
from gr00t_record.in_force import InForce
from gr00t_record.joint_names import names_problem
from gr00t_record.losses import LossCounter
from gr00t_record.msgdefs import MessageDefinitionError
from gr00t_record.params import SPECS
from gr00t_record.topics import embodiment_topics

START_SERVICE = "/gr00t_record/start"
STOP_SERVICE = "/gr00t_record/stop"
DISCARD_SERVICE = "/gr00t_record/discard"
DISCARDED_DIR = "discarded"
EPISODE_DIR = "episode_{:06d}"
_EPISODE_RE = re.compile(r"^episode_(\d{6})$")
DISCOVERY_PERIOD_S = 0.2
LOSS_LOG_S = 2.0  # at most one lost-messages warning per topic this often
LOST_FIX = ("never received: a best-effort link dropped them, or the recorder fell behind and "
            "its queue overflowed; raise queue_depth, give the recorder a core, or record "
            "cameras as JPEG")
# A start (same request) or stop that comes again this soon is a client's repeat of a
# request whose reply it lost; clients repeat after 2, 6, 14 and 30 s
# (gr00t_common.service_call), and gr00t-record's CLI gives up after --timeout (10 s).
REPEAT_S = 30.0


def _message_class(msgtype: str):
    package, kind, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


def _duration_ns(d) -> int | None:
    ns = getattr(d, "nanoseconds", None)
    return None if ns is None or ns >= 2**63 - 1 else int(ns)


def offered_qos(infos) -> list[dict]:
    """The publishers' QoS profiles as metadata.yaml version 9 lists them."""
    out = []
    for info in infos:
        q = info.qos_profile
        out.append(qos_to_dict(
            q.history.name.lower(), q.depth, q.reliability.name.lower(),
            q.durability.name.lower(), _duration_ns(q.deadline), _duration_ns(q.lifespan),
            q.liveliness.name.lower(), _duration_ns(q.liveliness_lease_duration),
            q.avoid_ros_namespace_conventions))
    return out


def next_episode(output_dir: Path) -> int:
    """One past the highest episode_NNNNNN under output_dir (0 when none)."""
    taken = [int(m.group(1)) for p in output_dir.glob("episode_*")
             if (m := _EPISODE_RE.match(p.name))]
    return max(taken, default=-1) + 1


class RecorderNode(Node):
    """See the module docstring."""

    def __init__(self) -> None:
        super().__init__("gr00t_record")
        p = declare_and_read(self, SPECS)  # parameters and their checks: gr00t_record/params.py
        from gr00t_policy.embodiment import load_embodiment

        self.embodiment = load_embodiment(p["embodiment"])
        self.output_dir = Path(p["output_dir"])
        self.instruction_topic = p["instruction_topic"]
        self.depth = p["queue_depth"]
        self.joint_prefix = p["joint_prefix"]
        # The action topic's (a leader arm's own driver); None: the robot's.
        self.action_joint_prefix = p["action_joint_prefix"]
        self.wanted = embodiment_topics(
            self.embodiment, joint_states=p["joint_states_topic"],
            instruction=self.instruction_topic, action_topic=p["action_topic"],
            extra=p["extra_topics"])
        # The topics a dataset row's state and action come from: a second publisher on one
        # (a stray joint_state_publisher) would have its messages taken as the robot's.
        self.paired = {p["joint_states_topic"], *([p["action_topic"]] if p["action_topic"]
                                                  else [c.topic for c in
                                                        self.embodiment.controllers])}
        # Recorded where a publisher exists, named in no reply where none does: System 1's
        # safety state (a teleoperation recording has no System 1).
        self.optional = {SAFETY_STATE_TOPIC: (SAFETY_STATE_TYPE,)}
        # Published at a change only: subscribed transient local, the newest carried into
        # each episode.
        self.in_force = InForce(SAFETY_STATE_TOPIC)
        # Topics whose second publisher is news at once: the rows' state and action, and
        # System 1's state (two System 1s' states would mix into which steps were holds).
        self.single = self.paired | {SAFETY_STATE_TOPIC}
        self.types: dict[str, str] = {}  # subscribed topic -> type
        self.cameras = {cam.topic for cam in self.embodiment.cameras}
        # JointState topic -> (the YAML joints it must name, what they are for, their prefix,
        # the recorder parameter that sets it)
        self.joint_topics = {p["joint_states_topic"]: (self.embodiment.state_joints, "state",
                                                       self.joint_prefix, "joint_prefix")}
        if p["action_topic"] == p["joint_states_topic"]:
            self.joint_topics[p["action_topic"]] = (tuple(dict.fromkeys(
                self.embodiment.state_joints + self.embodiment.action_joints)), "state and action",
                self.joint_prefix, "joint_prefix")
        elif p["action_topic"]:
            self.joint_topics[p["action_topic"]] = (
                self.embodiment.action_joints, "action",
                self.joint_prefix if self.action_joint_prefix is None
                else self.action_joint_prefix, "action_joint_prefix")
        self.first_checked: set[str] = set()  # topics whose first message this episode was read
        self.problems: dict[str, str] = {}  # camera / joint topic -> why from-bag would refuse it
        self.refused: set[str] = set()
        self.losses = LossCounter()  # this episode's (and each topic's publisher count)
        self.clock = ClockWatch()  # this episode's log times: a clock set back mid-episode
        self._loss_log = Throttle(LOSS_LOG_S)
        self._failure = ""  # why the open episode ended early, for the next stop's reply
        self.last_instruction = ""
        self.writer: BagWriter | None = None
        self.episode = -1
        # (when, request text, reply) of the last start that acted, and (..., success) of
        # the last stop
        self._last_start: tuple[float, str, str] | None = None
        self._last_stop: tuple[float, str, str, bool] | None = None
        self._last_discard: tuple[float, str, str, bool] | None = None
        self._last_closed: Path | None = None  # the episode discard takes when none is open
        self.create_service(SetInstruction, START_SERVICE, self._on_start)
        self.create_service(Trigger, STOP_SERVICE, self._on_stop)
        self.create_service(Trigger, DISCARD_SERVICE, self._on_discard)
        self.create_timer(DISCOVERY_PERIOD_S, self._discover)
        self._discover()
        self.get_logger().info(
            f"recording {self.embodiment.name!r} topics {sorted(self.wanted)} into "
            f"{self.output_dir}/episode_NNNNNN on {START_SERVICE} ... {STOP_SERVICE}"
            + (f"; joint names prefixed {self.joint_prefix!r}" if self.joint_prefix else ""))

    # -- topics --------------------------------------------------------------------------
    def _discover(self) -> None:
        for topic in self.types:  # lost messages are counted only with a single publisher
            publishers = self.count_publishers(topic)
            self.losses.confirm(topic, publishers)
            if self.writer is not None and self.writer.has_topic(topic) and (
                    publishers > len(self.writer.offered_qos(topic))):
                self._more_publishers(topic)
        for topic, expected in {**self.optional, **self.wanted}.items():
            if topic in self.types or topic in self.refused:
                continue
            infos = self.get_publishers_info_by_topic(topic)
            if not infos:
                continue
            msgtype = infos[0].topic_type
            if expected is not None and msgtype not in expected:
                self.refused.add(topic)
                self.get_logger().error(
                    f"{topic} carries {msgtype}, expected {' or '.join(expected)} for the "
                    "embodiment YAML; not recorded (fix the YAML's topic or the publisher)")
                continue
            try:
                msgclass = _message_class(msgtype)
            except (ImportError, AttributeError, ValueError) as exc:
                self.refused.add(topic)
                self.get_logger().error(
                    f"{topic} carries {msgtype}, which this process cannot load ({exc}); not "
                    f"recorded. Fix: source the workspace that builds {msgtype.split('/')[0]} "
                    "before starting gr00t-record")
                continue
            best_effort = any(i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
                              for i in infos)
            # Transient local where every publisher offers it (a volatile one would not match).
            latched = topic == self.in_force.topic and all(
                i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for i in infos)
            qos = QoSProfile(depth=self.depth, durability=DurabilityPolicy.TRANSIENT_LOCAL
                             if latched else DurabilityPolicy.VOLATILE,
                             reliability=ReliabilityPolicy.BEST_EFFORT if best_effort
                             else ReliabilityPolicy.RELIABLE)
            self.create_subscription(
                msgclass, topic,
                lambda data, info, topic=topic: self._on_message(topic, data, info), qos,
                raw=True)
            self.types[topic] = msgtype
            self.losses.confirm(topic, len(infos))
            self.get_logger().info(f"subscribed to {topic} ({msgtype})")
            if self.writer is not None:
                self._add_topic(topic)

    def _add_topic(self, topic: str) -> None:
        infos = self.get_publishers_info_by_topic(topic)
        digest = infos[0].topic_type_hash if infos else None
        try:
            self.writer.add_topic(topic, self.types[topic], offered_qos(infos),
                                  str(digest) if digest else None)
        except MessageDefinitionError as exc:  # its .msg file is not installed
            self.get_logger().error(
                f"{topic} ({self.types[topic]}) is not recorded in episode {self.episode}: "
                f"{exc}. Fix: install the package that defines it where gr00t-record runs")

    def _more_publishers(self, topic: str) -> None:
        """A publisher joined a recorded topic mid-episode: metadata.yaml lists it (from-bag
        counts a topic's publishers there), and on a state or command topic the log says so."""
        infos = self.get_publishers_info_by_topic(topic)
        self.writer.set_offered_qos(topic, offered_qos(infos))
        if topic in self.single:
            self.get_logger().warning(
                f"episode {self.episode}: {topic} now has {len(infos)} publishers: "
                f"{self._several(topic, len(infos))}")

    @staticmethod
    def _several(topic: str, n: int) -> str:
        if topic == SAFETY_STATE_TOPIC:
            return (f"{n} publishers on {topic}: two System 1 nodes on this ROS domain (another "
                    "graph, a node left running), whose states from-bag cannot tell apart when "
                    "it leaves out System 1's holds; stop the other one (ros2 topic info -v "
                    f"{topic})")
        return (f"{n} publishers on {topic}, whose messages from-bag takes as one stream (a "
                "stray joint_state_publisher's zeros would be states); stop the other one "
                f"(ros2 topic info -v {topic})")

    def _on_message(self, topic: str, data: bytes, info: dict) -> None:
        if topic == self.instruction_topic:
            self.last_instruction = deserialize_message(data, String).data
        if topic == self.in_force.topic:
            self.in_force.keep(data, info.get("source_timestamp"))
        if self.writer is None or not self.writer.has_topic(topic):
            return
        now = self.get_clock().now().nanoseconds
        try:
            self.writer.write(topic, data, now, info.get("source_timestamp") or now)
        except OSError as exc:  # the disk is full, or gone
            self._fail_episode(exc)
            return
        if (problem := self.clock.observe(topic, now)) is not None:
            self.get_logger().error(f"episode {self.episode}: {problem}")
        if self.losses.observe(topic, info.get("publication_sequence_number")):
            if self._loss_log.allow(topic, time.monotonic()):
                self.get_logger().warning(
                    f"episode {self.episode}: {self.losses.lost[topic]} message(s) on {topic} "
                    f"lost so far ({LOST_FIX})")
        if topic in self.cameras and topic not in self.first_checked:
            self._check_first_frame(topic, data)
        if topic in self.joint_topics and topic not in self.first_checked:
            self._check_joint_names(topic, data)

    def _check_joint_names(self, topic: str, data: bytes) -> None:
        """Read an episode's first message on a JointState topic for the YAML's joints, as
        from-bag will name them (joint_prefix + the YAML's names); it is recorded all the
        same, and a problem named at once."""
        self.first_checked.add(topic)
        needed, what, prefix, param = self.joint_topics[topic]
        names = deserialize_message(data, JointState).name
        problem = names_problem(topic, names, needed, prefix, what, param)
        if problem is not None:
            self.problems[topic] = problem
            self.get_logger().error(f"episode {self.episode}: {problem}")

    def _check_first_frame(self, topic: str, data: bytes) -> None:
        """Read an episode's first frame of a camera as from-bag will; a frame it would
        refuse is recorded all the same (the bag is the raw record) and named at once."""
        self.first_checked.add(topic)
        try:
            check_frames([deserialize_message(data, _message_class(self.types[topic]))], topic)
        except BagError as exc:
            problem = f"{exc} (gr00t-dataset from-bag will refuse this camera)"
        except Exception as exc:  # noqa: BLE001 - a frame no reader decodes is the same news
            problem = (f"{topic}: its first frame could not be read ({exc}); gr00t-dataset "
                       "from-bag will refuse this camera. Fix the camera driver's output")
        else:
            return
        self.problems[topic] = problem
        self.get_logger().error(f"episode {self.episode}: {problem}")

    def _fail_episode(self, exc: OSError) -> None:
        """Writing failed: close the bag with what it holds and say so on the next stop, so
        the recorder keeps answering and the episode before the failure is kept."""
        episode = self.episode
        _, text = self._close_or_give_up()
        self._failure = (f"episode {episode} stopped recording: writing failed ({exc}); "
                         f"kept: {text}. Fix: free space under {self.output_dir}, then start "
                         "the next episode")
        self.get_logger().error(self._failure)

    def _close_or_give_up(self) -> tuple[bool, str]:
        """Close the open bag: (True, what was recorded, in words); where closing fails (the
        disk filled) (False, why): the bag is left as written, which readers take up to its
        last complete message, and it is the episode a discard takes next, as a closed one
        would be."""
        episode, path = self.episode, self.writer.path
        try:
            return True, self.close_episode()
        except OSError as exc:
            self.writer.abandon()
            self.writer = None
            self._last_closed = path
            self._last_discard = None
            return False, (f"episode {episode}: {path} could not be closed ({exc}); readers "
                           "take it up to its last complete message")

    # -- episodes ------------------------------------------------------------------------
    def _on_start(self, request: SetInstruction.Request,
                  response: SetInstruction.Response) -> SetInstruction.Response:
        instruction = request.instruction.strip() or self.last_instruction.strip()
        if self.writer is not None and self._is_repeat(self._last_start, request.instruction):
            # A client asked again because it lost the reply (gr00t_common.service_call).
            response.accepted = True
            response.instruction_id = self.episode
            response.message = self._last_start[2]
        elif self.writer is not None:
            response.accepted = False
            response.message = (f"episode {self.episode} is recording ({self.writer.path}); "
                                f"call {STOP_SERVICE} first")
        elif not instruction:
            response.accepted = False
            response.message = (f"no instruction: pass one in the request, or publish it on "
                                f"{self.instruction_topic} first")
        else:
            # Publishers that appeared since the last discovery pass are recorded from the
            # episode's first message, not from the next pass.
            self._discover()
            self._failure = ""  # told in the log; this episode's stop answers for itself
            try:
                self.output_dir.mkdir(parents=True, exist_ok=True)
                episode = next_episode(self.output_dir)
                path = self.output_dir / EPISODE_DIR.format(episode)
                writer = BagWriter(path, {"instruction": instruction,
                                          "episode_index": str(episode),
                                          "embodiment": self.embodiment.name,
                                          **({JOINT_PREFIX_KEY: self.joint_prefix}
                                             if self.joint_prefix else {}),
                                          **({ACTION_JOINT_PREFIX_KEY: self.action_joint_prefix}
                                             if self.action_joint_prefix is not None else {})})
            except OSError as exc:  # a full or read-only disk: say so, keep answering
                response.accepted = False
                response.message = (f"cannot open a bag under {self.output_dir}: {exc}; free "
                                     "space there or pass another output_dir")
            else:
                self.episode, self.writer = episode, writer
                # A discard from now on is about this episode, never the repeat of one
                # about an episode before it.
                self._last_discard = None
                self.first_checked, self.problems = set(), {}
                self.losses.reset()
                self.clock.reset()
                for topic in self.types:
                    self._add_topic(topic)
                try:  # the state in force at the start, however long ago it was published;
                    # none once its publisher is gone (System 1 stopped: a teleoperation next)
                    if self.count_publishers(self.in_force.topic):
                        self.in_force.carry_into(writer, self.get_clock().now().nanoseconds)
                except OSError as exc:  # the disk is full: as for any message
                    self._fail_episode(exc)
                missing = sorted(set(self.wanted) - set(self.types))
                note = f"; no publisher yet on {missing}" if missing else ""
                for topic in sorted(self.single):
                    if (n := self.count_publishers(topic)) > 1:
                        note += f"; WARNING {self._several(topic, n)}"
                        self.get_logger().warning(f"episode {episode}: {self._several(topic, n)}")
                response.accepted = True
                response.instruction_id = self.episode
                response.message = f"recording episode {self.episode} to {path}{note}"
                self._last_start = (time.monotonic(), request.instruction, response.message)
        if response.accepted:
            self.get_logger().info(f"start: {response.message}")
        else:
            self.get_logger().error(f"start: {response.message}")
        return response

    def close_episode(self) -> str:
        """Close the open bag (if any); returns what was recorded, in words."""
        if self.writer is None:
            return ""
        lost = dict(sorted(self.losses.lost.items()))
        if lost:
            self.writer.note(LOST_MESSAGES_KEY, ", ".join(f"{t} {n}" for t, n in lost.items()))
        counts = self.writer.close()
        text = (f"episode {self.episode}: {sum(counts.values())} messages in "
                f"{self.writer.path} ({', '.join(f'{t} {n}' for t, n in counts.items())})")
        empty = sorted(set(self.wanted) - {t for t, n in counts.items() if n})
        if empty:
            text += f"; nothing on {empty}"
        for problem in self.problems.values():
            text += f"; {problem}"
        if self.clock.problem:
            text += f"; {self.clock.problem}"
        if lost:
            text += (f"; LOST {', '.join(f'{n} on {t}' for t, n in lost.items())} ({LOST_FIX})")
        if self.losses.uncounted:
            text += (f"; lost messages not counted on {sorted(self.losses.uncounted)} (several "
                     "publishers, or a middleware without sequence numbers)")
        self._last_closed = self.writer.path
        self._last_discard = None  # a discard after this is a new request, not a repeat
        self.writer = None
        return text

    def _on_stop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.writer is None and self._failure:
            response.success, response.message = False, self._failure
            self._failure = ""
            self._last_stop = (time.monotonic(), "", response.message, False)
            self.get_logger().error(f"stop: {response.message}")
            return response
        if self.writer is None and self._is_repeat(self._last_stop, ""):
            response.success, response.message = self._last_stop[3], self._last_stop[2]
            return response
        if self.writer is None:
            response.success, response.message = False, f"not recording; call {START_SERVICE}"
            self.get_logger().error(f"stop: {response.message}")
            return response
        closed, text = self._close_or_give_up()
        if not closed:  # the disk filled after the last message: answered, still serving
            text += f". Fix: free space under {self.output_dir}, then start the next episode"
        response.success, response.message = closed, text
        self._last_stop = (time.monotonic(), "", text, closed)
        if closed:  # (rclpy: one severity per logging call site)
            self.get_logger().info(f"stop: {text}")
        else:
            self.get_logger().error(f"stop: {text}")
        return response

    def _on_discard(self, request: Trigger.Request,
                    response: Trigger.Response) -> Trigger.Response:
        if self._is_repeat(self._last_discard, ""):  # a client that lost the reply
            response.success, response.message = self._last_discard[3], self._last_discard[2]
            return response
        if self.writer is not None:
            closed, text = self._close_or_give_up()  # moved all the same, as it is
            if not closed:
                self.get_logger().error(f"discard: {text}")
        path = self._last_closed
        if path is None or not path.is_dir():
            response.success = False
            response.message = "nothing to discard: no episode recorded since the recorder started"
        else:
            target = self.output_dir / DISCARDED_DIR / path.name
            n = 1
            while target.exists():  # a number used again, discarded again
                target = self.output_dir / DISCARDED_DIR / f"{path.name}.{n}"
                n += 1
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                path.rename(target)
            except OSError as exc:
                response.success = False
                response.message = f"could not move {path} to {target}: {exc}"
            else:
                self._last_closed = None
                response.success = True
                response.message = (f"discarded {path.name}: moved to {target} (out of the "
                                    "data; delete it there, or move it back to keep it)")
        self._last_discard = (time.monotonic(), "", response.message, response.success)
        if response.success:  # (rclpy: one severity per logging call site)
            self.get_logger().info(f"discard: {response.message}")
        else:
            self.get_logger().error(f"discard: {response.message}")
        return response

    @staticmethod
    def _is_repeat(last: tuple | None, text: str) -> bool:
        """Whether a request is the repeat of `last` (when, request text, reply) that a
        client sends when it lost the reply: the same request text within REPEAT_S. It is
        answered like the first, so `gr00t-record start` / `stop` may ask again without a
        refusal."""
        return last is not None and last[1] == text and time.monotonic() - last[0] < REPEAT_S


def main(args: list[str] | None = None) -> int:
    """Run the node until SIGINT/SIGTERM; the exit status (`gr00t_common.plain_node.run`: 0
    on a clean stop, non-zero with one fatal line when it cannot start)."""
    return plain_node.run(RecorderNode, close=_close_episode, args=args, name="gr00t_record")


def _close_episode(node: RecorderNode) -> None:
    if node.writer is None:
        return
    closed, text = node._close_or_give_up()
    if closed:
        node.get_logger().info(f"shutdown: closed {text}")
    else:
        node.get_logger().error(f"shutdown: {text}")


def run() -> None:
    """The process's entry point (`recorder_node`, `python -m`): `main`, then the exit with its
    status, bounded (`gr00t_common.teardown.run_process`)."""
    run_process(main)


if __name__ == "__main__":
    run()
