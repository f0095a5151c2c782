"""gr00t-dataset from-bag: bags written by another library (rosbags) -> our LeRobot dataset.

The synthetic recordings have known times, so every pairing rule is checked against a brute
force: each row's action is one command (none skipped, none repeated), its state the newest
joint state at or before that command, its frame the newest frame at or before it.
"""

from __future__ import annotations

import functools
import re
import shutil

import numpy as np
import pytest

from gr00t_policy.dataset import LeRobotDataset
from gr00t_policy.dataset.bag import BagError, ClockBackWatch, read_bag
from gr00t_policy.dataset.layout import DatasetError
from gr00t_policy.dataset.bag_streams import CONTROLLER_MESSAGES, BagTopics, check_frames
from gr00t_policy.dataset.cli import main as dataset_main
from gr00t_policy.dataset.from_bag import convert_bags
from gr00t_policy.dataset.resample import (ACTION_GAP, NO_FRAME, ResampleConfig, align,
                                           merge_commands)
from gr00t_policy.embodiment import parse_embodiment
from gr00t_policy.embodiment.decoder_types import BUILTIN_DECODER_TYPES
from gr00t_policy.testing.bags import (Recording, delay_reception, frame_value,
                                         step_host_clock, write_bag)

ARM = ["j0", "j1", "j2"]
HAND = ["h0"]
DT = 0.05
TASK = "touch the red cube with your left hand"
CAMERA = "/camera/head/image_raw"


WRIST = "/camera/wrist/image_raw"


def embodiment(controllers=None, cameras=None):
    # Limits beyond the synthetic commands' range (up to +-4 rad, ticks / 10).
    joint = {"position": [-5.0, 5.0], "velocity": 5.0}
    return parse_embodiment({
        "name": "tiny", "tag": "tiny_bot", "slot": 1, "action_dt": DT,
        "joint_groups": {"arm": {"joints": [{"name": n, **joint} for n in ARM]},
                         "hand": {"joints": [{"name": n, **joint} for n in HAND]}},
        "state_keys": [{"key": "arm", "normalization": "min_max"},
                       {"key": "hand", "normalization": "min_max"}],
        "action_keys": [{"key": "arm", "normalization": "min_max"},
                        {"key": "hand", "normalization": "min_max"}],
        "cameras": cameras or [{"name": "head", "topic": CAMERA}],
        "controllers": controllers or [
            {"name": "arm_controller", "type": "forward_command", "topic": "/arm/commands",
             "joints": ARM},
            {"name": "hand_controller", "type": "forward_command", "topic": "/hand/commands",
             "joints": HAND}],
        "staleness": {"state_s": 0.1, "tokens_s": 0.5},
        "on_stale": "hold_last_command",
    })


def state_of(t):
    t = np.asarray(t)[:, None]
    return np.concatenate([np.sin(t), np.cos(t), 0.1 * t, -0.1 * t], axis=1)  # (N, 4)


def recording(n_cmd=30, seed=0, cam_start=0.0, late=0.012, drop=()):
    """Commands at 20 Hz from 0.5 s (each tick late by up to ``late``), joint states at
    125 Hz from 0, frames at 30 Hz from ``cam_start``; ``drop``: command ticks left out."""
    rng = np.random.default_rng(seed)
    ticks = np.array([k for k in range(n_cmd) if k not in drop])
    t_cmd = 0.5 + ticks * DT + rng.uniform(0, late, len(ticks))
    cmd = np.stack([np.sin(ticks), np.cos(ticks), ticks / 10, -ticks / 10], axis=1)
    end = t_cmd[-1] + 0.2
    t_state = np.arange(0.0, end, 0.008) + rng.uniform(0, 0.001)
    t_frames = np.arange(cam_start, end, 1 / 30)
    return Recording(
        state=(t_state, ARM + HAND + ["other"], np.c_[state_of(t_state), np.zeros(len(t_state))]),
        commands={"/arm/commands": (t_cmd, cmd[:, :3]),
                  "/hand/commands": (t_cmd + 0.0002, cmd[:, 3:])},
        frames={CAMERA: t_frames},
        custom_data={"instruction": TASK}), t_cmd, cmd, t_state, t_frames


def expected(t_cmd, t_state, t_frames):
    s = np.searchsorted(t_state, t_cmd, side="right") - 1
    f = np.searchsorted(t_frames, t_cmd, side="right") - 1
    return state_of(t_state[s]), f


def test_pairing_rules_against_brute_force(tmp_path):
    rec, t_cmd, cmd, t_state, t_frames = recording()
    bag = write_bag(tmp_path / "bag", rec)
    reports = convert_bags([bag], embodiment(), tmp_path / "ds")
    assert [r.steps for r in reports] == [len(t_cmd)] and reports[0].complete
    assert reports[0].held == 0 and not any(reports[0].dropped.values())
    ds = LeRobotDataset(tmp_path / "ds")
    ep = ds.episode(0)
    want_state, want_frame = expected(t_cmd, t_state, t_frames)
    np.testing.assert_allclose(ep.actions, cmd, atol=1e-6)  # every command once, in order
    np.testing.assert_allclose(ep.states, want_state, atol=1e-6)
    assert list(ep.frames["head"][:, 0, 0, 0]) == [frame_value(i) for i in want_frame]
    assert ep.task == TASK and ds.fps == 20
    assert ds.episodes[0]["source_bag"] == str(bag)
    stats = ds.stats["observation.state"]
    assert np.allclose(stats["max"], ep.states.max(0), atol=1e-6)


def test_recorder_kept_waiting_pairs_on_send_times(tmp_path):
    # The recorder got no CPU from 0.9 s to 1.1 s: what was sent meanwhile reached it in one
    # burst at 1.1 s (a gap, then ticks microseconds apart, by log time). Paired on the send
    # times, every command is still used once and every state is the newest sent before it.
    rec, t_cmd, cmd, t_state, t_frames = recording(n_cmd=40)
    bag = write_bag(tmp_path / "bag", rec)
    delay_reception(bag, lambda topic, t: 1.1 - t + 1e-5 * t if 0.9 <= t < 1.1 else 0.001)
    stalled = read_bag(bag)
    log_cmd = np.array([t for t, _ in stalled.messages["/arm/commands"]]) / 1e9
    assert np.diff(log_cmd).max() > 0.15 and np.diff(log_cmd).min() < 0.001  # gap and burst
    [report] = convert_bags([bag], embodiment(), tmp_path / "ds")
    assert report.steps == len(t_cmd) and report.held == 0 and not report.log_time_topics
    ep = LeRobotDataset(tmp_path / "ds").episode(0)
    want_state, want_frame = expected(t_cmd, t_state, t_frames)
    np.testing.assert_allclose(ep.actions, cmd, atol=1e-6)
    np.testing.assert_allclose(ep.states, want_state, atol=1e-6)
    assert list(ep.frames["head"][:, 0, 0, 0]) == [frame_value(i) for i in want_frame]
    # A publisher whose clock runs ahead of the recorder's (publish time after reception):
    # its topic is timed by reception, and the report says so.
    rec, *_ = recording(n_cmd=20)
    bag = write_bag(tmp_path / "bag2", rec)
    delay_reception(bag, lambda topic, t: -0.002 if topic == CAMERA else 0.001)
    [report] = convert_bags([bag], embodiment(), tmp_path / "ds2")
    assert report.log_time_topics == [CAMERA] and report.steps == 20
    assert any("reception (log) times" in line and CAMERA in line for line in report.lines())
    # One whose clock runs 60 ms behind: its messages would pass for sent 60 ms earlier than
    # they were, more than a step's worth of misalignment at 20 Hz; timed by reception too.
    rec, *_ = recording(n_cmd=20)
    bag = write_bag(tmp_path / "bag3", rec)
    delay_reception(bag, lambda topic, t: 0.0605 if topic == "/arm/commands" else 0.0005)
    [report] = convert_bags([bag], embodiment(), tmp_path / "ds3")
    assert report.log_time_topics == ["/arm/commands"] and report.steps == 20
    # A recorder behind by 50-70 ms all episode (every topic late): send times still hold.
    rec, *_ = recording(n_cmd=20)
    bag = write_bag(tmp_path / "bag4", rec)
    delay_reception(bag, lambda topic, t: 0.05 + 0.02 * ((t * 37) % 1))
    [report] = convert_bags([bag], embodiment(), tmp_path / "ds4")
    assert report.log_time_topics == [] and report.steps == 20


def test_late_camera_nan_states_and_gaps_are_reported(tmp_path):
    rec, t_cmd, cmd, t_state, _ = recording(n_cmd=40, cam_start=0.62, drop=(20, 21, 22, 23))
    names, pos = rec.state[1], rec.state[2].copy()
    pos[::25, 1] = np.nan  # every 25th joint state has a NaN joint
    rec.state = (t_state, names, pos)
    bag = write_bag(tmp_path / "bag", rec)
    [report] = convert_bags([bag], embodiment(), tmp_path / "ds",
                            cfg=ResampleConfig(dt=DT, max_gap_steps=2))
    # Commands start at 0.5 s, frames at 0.62 s: the first steps have no frame.
    assert report.dropped[NO_FRAME] == 3, report.lines()
    # Ticks 20-23 missing (4 steps): longer than max_gap_steps -> split into two episodes.
    assert report.dropped[ACTION_GAP] == 4
    assert [n for _, n in report.episodes] == [20 - 3, 40 - 24]
    assert report.nan_states == int(np.ceil(len(t_state) / 25))
    text = "\n".join(report.lines())
    assert "no camera frame yet" in text and "NaN" in text and "episodes #0" in text
    ds = LeRobotDataset(tmp_path / "ds")
    assert ds.num_episodes == 2 and np.isfinite(ds.episode(0, load_video=False).states).all()
    # A short gap (1 tick) repeats the previous action instead.
    rec, *_ = recording(n_cmd=20, drop=(10,))
    [report] = convert_bags([write_bag(tmp_path / "bag2", rec)], embodiment(), tmp_path / "ds2")
    assert report.held == 1 and [n for _, n in report.episodes] == [20]
    acts = LeRobotDataset(tmp_path / "ds2").episode(0, load_video=False).actions
    np.testing.assert_array_equal(acts[10], acts[9])


def test_positions_beyond_the_limits_are_left_out_and_reported(tmp_path):
    rec, t_cmd, cmd, t_state, _ = recording(n_cmd=20)
    names, pos = rec.state[1], rec.state[2].copy()
    pos[40, 1] = 1e6  # an encoder glitch; the joint's limits are [-5, 5], the margin 0.1
    pos[41, 2] = 5.05  # past the limit, within the margin: kept
    rec.state = (t_state, names, pos)
    t, values = rec.commands["/arm/commands"]
    values = values.copy()
    values[5, 0] = 180.0  # a command in degrees
    rec.commands["/arm/commands"] = (t, values)
    [report] = convert_bags([write_bag(tmp_path / "bag", rec)], embodiment(), tmp_path / "ds")
    # One state left out: the one at 5.05 is within the margin, and kept.
    assert report.implausible["/joint_states"] == (1, "j1 = 1e+06 (limits [-5, 5])")
    assert report.implausible["/arm/commands"][0] == 1
    text = "\n".join(report.lines())
    assert "skipped 1 messages on /joint_states" in text and "position_margin" in text
    ds = LeRobotDataset(tmp_path / "ds")
    states = np.concatenate([ds.episode(i, load_video=False).states
                             for i in range(ds.num_episodes)])
    actions = np.concatenate([ds.episode(i, load_video=False).actions
                              for i in range(ds.num_episodes)])
    assert np.abs(states).max() < 5.2 and np.abs(actions).max() < 5.2


def test_a_state_stream_wholly_beyond_the_limits_is_named(tmp_path):
    rec, *_ = recording(n_cmd=10)
    t, names, pos = rec.state
    rec.state = (t, names, np.degrees(pos) + 400.0)  # a driver in degrees, offset
    with pytest.raises(BagError, match=r"every joint state on /joint_states is beyond .*units"):
        convert_bags([write_bag(tmp_path / "bag", rec)], embodiment(), tmp_path / "ds")


def test_header_stamps_system1_would_refuse_are_reported(tmp_path):
    rec, *_ = recording(n_cmd=10)
    [report] = convert_bags([write_bag(tmp_path / "ok", rec)], embodiment(), tmp_path / "ds")
    assert not any("header stamps" in w for w in report.warnings)
    rec.stamp_offset_s = -5.0  # a driver's clock 5 s behind
    [report] = convert_bags([write_bag(tmp_path / "late", rec)], embodiment(), tmp_path / "ds2")
    [state, camera] = [w for w in report.warnings if "header stamps" in w]
    assert state.startswith("/joint_states: ") and "5.000 s behind" in state
    assert CAMERA in camera and "synchronise the clocks" in camera
    assert report.steps == 10  # converted all the same: times come from the bag


def test_joint_name_mismatch_names_topic_joints_and_fix(tmp_path):
    rec, *_ = recording(n_cmd=10)
    t, _, pos = rec.state
    rec.state = (t, ["j0", "j1", "wrist", "h0", "other"], pos)
    bag = write_bag(tmp_path / "bag", rec)
    with pytest.raises(BagError) as err:
        convert_bags([bag], embodiment(), tmp_path / "ds")
    msg = str(err.value)
    assert "/joint_states" in msg and "['j2']" in msg and "wrist" in msg
    assert "Fix:" in msg and "joint_groups" in msg
    assert not (tmp_path / "ds").exists()  # nothing written


def test_a_bad_camera_stream_in_a_later_bag_leaves_the_old_dataset_as_it_was(tmp_path):
    rec, *_ = recording(n_cmd=10)
    convert_bags([write_bag(tmp_path / "old", rec)], embodiment(), tmp_path / "ds")
    before = LeRobotDataset(tmp_path / "ds").episode(0, load_video=False).states
    good, *_ = recording(n_cmd=12, seed=1)
    yuv, *_ = recording(n_cmd=12, seed=2)
    yuv.encoding = "yuv422_yuy2"  # what many USB camera drivers publish
    bags = [write_bag(tmp_path / "good", good), write_bag(tmp_path / "yuv", yuv)]
    with pytest.raises(BagError, match=r"image_raw: image encoding 'yuv422_yuy2' .*rgb8"):
        convert_bags(bags, embodiment(), tmp_path / "ds", overwrite=True)
    ds = LeRobotDataset(tmp_path / "ds")
    assert ds.num_episodes == 1
    np.testing.assert_array_equal(ds.episode(0, load_video=False).states, before)
    # A frame shorter than its size says (a damaged recording) is caught before writing too.
    frames = [m for _, m in read_bag(bags[0]).messages[CAMERA]]
    frames[3].data = frames[3].data[:-5]  # 16 x 16 rgb8: 768 bytes
    with pytest.raises(BagError, match="message 3 holds 763 bytes, too few for 16x16 rgb8"):
        check_frames(frames, CAMERA)


def test_a_joint_that_never_has_a_position_is_named(tmp_path):
    rec, *_ = recording(n_cmd=10)
    t, names, pos = rec.state
    pos = pos.copy()
    pos[:, 1] = np.nan  # j1 never reports (e.g. its driver is off)
    rec.state = (t, names, pos)
    with pytest.raises(BagError, match=r"no.* usable position .* j1 \(\d+ messages\)"):
        convert_bags([write_bag(tmp_path / "bag", rec)], embodiment(), tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_joints_split_over_two_publishers_are_named_as_such(tmp_path):
    rec, *_ = recording(n_cmd=10)
    rec.state_split = 3  # the arm driver publishes j0-j2, the hand driver h0 and "other"
    with pytest.raises(BagError, match=r"no message on /joint_states names all 4 state joints"
                                       r".*separate messages.*merged"):
        convert_bags([write_bag(tmp_path / "bag", rec)], embodiment(), tmp_path / "ds")


def test_every_builtin_controller_type_has_a_bag_reader():
    # gr00t-record checks controller topics against the same table, so a decoder added
    # without a reader would record bags from-bag then refuses.
    assert set(CONTROLLER_MESSAGES) == set(BUILTIN_DECODER_TYPES)


HZ = 120.0  # System 1's control rate


def path_of(t):
    """The commanded path (N, 4): j2 and h0 are linear in time, so a row tells its time."""
    t = np.asarray(t)[..., None]
    return np.concatenate([np.sin(2 * t), np.cos(2 * t), 0.5 * t, -0.3 * t], axis=-1)


def trajectory_recording(every, hand_forward, reverse):
    """System 1's JointTrajectoryDecoder for the arm (every ``every``-th tick at HZ, the next
    ticks' commands a period apart, the first a period ahead; joint names reversed if
    ``reverse``), the hand's commands at every tick (forward_command) or as a trajectory."""
    ticks = 0.5 + np.arange(int(3.0 * HZ)) / HZ
    sent = ticks[::every]
    due = np.arange(1, every + 14) / HZ  # (P,) up to the next message and beyond
    points = path_of(sent[:, None] + due[None, :])  # (M, P, 4)
    names, arm = (ARM[::-1], points[..., 2::-1]) if reverse else (ARM, points[..., :3])
    trajectories = {"/arm/joint_trajectory": (sent, names, due, np.ascontiguousarray(arm))}
    commands = {}
    if hand_forward:
        commands["/hand/commands"] = (ticks + 0.0002, path_of(ticks)[:, 3:])
    else:
        trajectories["/hand/joint_trajectory"] = (sent + 0.0002, HAND, due, points[..., 3:])
    t_state = np.arange(0.0, ticks[-1] + 0.2, 0.008)
    rec = Recording(state=(t_state, ARM + HAND, path_of(t_state)), commands=commands,
                    trajectories=trajectories, frames={CAMERA: np.arange(0.0, ticks[-1], 1 / 30)},
                    custom_data={"instruction": TASK})
    hand = ({"type": "forward_command", "topic": "/hand/commands"} if hand_forward else
            {"type": "joint_trajectory", "topic": "/hand/joint_trajectory",
             "params": {"every_n_ticks": every}})
    emb = embodiment(controllers=[
        {"name": "arm_controller", "type": "joint_trajectory", "topic": "/arm/joint_trajectory",
         "joints": ARM, "params": {"every_n_ticks": every}},
        {"name": "hand_controller", "joints": HAND, **hand}])
    return rec, emb


@pytest.mark.parametrize("every, hand_forward, reverse",
                         [(12, False, False), (60, False, False), (30, True, True)])
def test_trajectory_commands_are_the_path_the_controller_ran(tmp_path, every, hand_forward,
                                                            reverse):
    # Sent every 12th tick (10 Hz), System 1's trajectory covers the rows between its
    # messages: each row's action is the path at the row's time, not the last message's
    # first point held (a staircase, or an arm command 0.25 s older than the hand's beside
    # it); at every 60th tick the recording is not cut into gaps.
    rec, emb = trajectory_recording(every, hand_forward, reverse)
    [report] = convert_bags([write_bag(tmp_path / "bag", rec)], emb, tmp_path / "ds")
    ep = LeRobotDataset(tmp_path / "ds").episode(0)
    assert report.held == 0 and len(report.episodes) == 1 and ep.length > 50, report.lines()
    arm_t, hand_t = ep.actions[:, 2] / 0.5, ep.actions[:, 3] / -0.3  # (T,) each
    np.testing.assert_allclose(ep.actions[:, :3], path_of(arm_t)[:, :3], atol=1e-5)  # joint order
    # (the grid's first window ends where the updates' mean phase puts it: rows 0 and 1 may
    # lie less than a step apart, as with forward commands at 120 Hz)
    assert np.abs(np.diff(arm_t[1:]) - DT).max() <= 1 / HZ + 1e-4, np.diff(arm_t).round(3)
    # (past the hand's last command the arm's controller runs its last path to its end and
    # the hand holds: the robot's own motion)
    both = arm_t <= hand_t.max() + 1 / HZ  # (T,)
    assert np.abs(hand_t - arm_t)[both].max() <= 1 / HZ + 1e-4, (hand_t - arm_t).round(3)


def test_stamped_trajectories_are_timed_by_their_stamp_not_their_sending(tmp_path):
    # System 1's default (header_stamp: tick): each message stamped with its tick, the
    # tick's command at 0, sent some milliseconds later. Timed from the sending, every point
    # came that much late, and a row between a tick and the message's sending took the
    # point of the tick before: the arm's action a period behind the hand's beside it.
    rec, emb = trajectory_recording(1, True, False)
    sent, names, due, points = rec.trajectories["/arm/joint_trajectory"]
    ticks = sent.copy()
    rec.trajectories["/arm/joint_trajectory"] = (
        ticks + 0.004, names, np.r_[0.0, due], np.concatenate(
            [path_of(ticks)[:, None, :3], points], axis=1), ticks)
    [report] = convert_bags([write_bag(tmp_path / "bag", rec)], emb, tmp_path / "ds")
    ep = LeRobotDataset(tmp_path / "ds").episode(0)
    assert len(report.episodes) == 1 and ep.length > 50, report.lines()
    assert not [w for w in report.warnings if "header stamps" in w], report.lines()
    arm_t, hand_t = ep.actions[:, 2] / 0.5, ep.actions[:, 3] / -0.3  # (T,) each
    both = arm_t <= hand_t.max()
    assert np.abs(hand_t - arm_t)[both].max() <= 1e-3, (hand_t - arm_t).round(4)


@pytest.mark.parametrize("split, match", [
    (False, r"/arm/joint_trajectory: its messages never name \['j2'\] of controller "
            r"arm_controller's joints"),
    (True, r"/arm/joint_trajectory: no message names all 3 joints of controller "
           r"arm_controller at once \(partial goals")])
def test_trajectories_without_every_controller_joint_are_named(tmp_path, split, match):
    # joint_trajectory_controller takes goals naming some of its joints
    # (allow_partial_joints_goal): the refusal names the topic and the joints.
    rec, emb = trajectory_recording(6, True, False)
    sent, names, due, points = rec.trajectories["/arm/joint_trajectory"]
    rec.trajectories["/arm/joint_trajectory"] = (sent, names[:2], due,
                                                 np.ascontiguousarray(points[..., :2]))
    if split:  # j2 in messages of its own, between
        rec.trajectories["/arm/joint_trajectory"] = [
            rec.trajectories["/arm/joint_trajectory"],
            (sent + DT / 2, names[2:], due, np.ascontiguousarray(points[..., 2:]))]
    with pytest.raises(BagError, match=match + r".*Fix: set controllers\[\]\.joints"):
        convert_bags([write_bag(tmp_path / "bag", rec)], emb, tmp_path / "ds")


def test_partial_goals_between_whole_ones_are_refused_not_turned_into_stale_rows(tmp_path):
    # A teleoperation that leaves j2 out of every other message (allow_partial_joints_goal):
    # those messages were skipped, "skipped N commands" in the report, and every other row
    # repeated the arm's previous command: actions that step and lag the robot's motion.
    rec, emb = trajectory_recording(6, True, False)
    sent, names, due, points = rec.trajectories["/arm/joint_trajectory"]
    rec.trajectories["/arm/joint_trajectory"] = [
        (sent, names, due, points),
        (sent + DT / 2, names[:2], due, np.ascontiguousarray(points[..., :2]))]
    with pytest.raises(BagError, match=r"/arm/joint_trajectory: \d+ of \d+ messages name only "
                                       r"some of controller arm_controller's 3 joints \(partial "
                                       r"goals, e\.g\. \['j0', 'j1'\]\).*Fix: a sender of "
                                       r"partial goals must name every joint"):
        convert_bags([write_bag(tmp_path / "bag", rec)], emb, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_forward_commands_of_another_size_name_the_topic_and_the_sizes(tmp_path):
    # A gripper teleoperation sending both fingers' positions to a controller the YAML lists
    # one finger of: every command was skipped and the refusal said only "no usable joint
    # state or command (all were NaN, of the wrong size, ...)", naming no topic.
    rec, t_cmd, cmd, *_ = recording(n_cmd=10)
    rec.commands["/hand/commands"] = (t_cmd + 0.0002, np.c_[cmd[:, 3:], cmd[:, 3:]])
    with pytest.raises(BagError, match=r"/hand/commands: none of its 10 messages is a command "
                                       r"for controller hand_controller's 1 joints \['h0'\] "
                                       r"\(10 with 2 values\)\. Fix: list in "
                                       r"controllers\[\]\.joints exactly"):
        convert_bags([write_bag(tmp_path / "bag", rec)], embodiment(), tmp_path / "ds")


def test_a_controller_topic_of_another_type_names_the_yaml_type_to_set(tmp_path):
    # The bag's topic is there (recorded): the YAML names another controller type than the
    # robot runs, so "record it" would send the team to record it again, to the same end.
    rec, *_ = recording(n_cmd=10)
    emb = embodiment(controllers=[
        {"name": "arm_controller", "type": "joint_trajectory", "topic": "/arm/commands",
         "joints": ARM},
        {"name": "hand_controller", "type": "forward_command", "topic": "/hand/commands",
         "joints": HAND}])
    with pytest.raises(BagError, match=r"/arm/commands .*has type std_msgs/msg/Float64Multi"
                                       r"Array.*Fix: .*controllers\[arm_controller\]\.type "
                                       r"to 'forward_command'") as err:
        convert_bags([write_bag(tmp_path / "bag", rec)], emb, tmp_path / "ds")
    assert "record it" not in str(err.value)


def test_bag_without_camera_names_topic_and_fix(tmp_path):
    rec, *_ = recording(n_cmd=10)
    rec.frames = {"/camera/wrist/image_raw": rec.frames[CAMERA]}
    bag = write_bag(tmp_path / "bag", rec)
    with pytest.raises(BagError) as err:
        convert_bags([bag], embodiment(), tmp_path / "ds")
    msg = str(err.value)
    assert CAMERA in msg and "camera 'head'" in msg and "/camera/wrist/image_raw" in msg
    assert "Fix:" in msg and "cameras[].topic" in msg


def test_cut_off_bag_converts_up_to_last_complete_message(tmp_path):
    rec, t_cmd, *_ = recording(n_cmd=60)
    rec.image_size = 96  # several 1 MiB chunks: the cut loses only the last one
    bag = write_bag(tmp_path / "bag", rec)
    full = read_bag(bag)
    assert full.complete and full.counts["/arm/commands"] == 60
    mcap = next(bag.glob("*.mcap"))
    data = mcap.read_bytes()
    (bag / "metadata.yaml").unlink()
    mcap.write_bytes(data[: int(len(data) * 0.8)])  # cut inside a record
    cut = read_bag(bag)
    assert not cut.complete and any("cut off" in w for w in cut.warnings)
    assert any("no metadata.yaml" in w for w in cut.warnings)
    assert 0 < cut.counts["/arm/commands"] < 60
    assert cut.custom_data == {}  # rosbags keeps custom_data in metadata.yaml only
    [report] = convert_bags([bag], embodiment(), tmp_path / "ds", task=TASK)
    assert 0 < report.steps <= cut.counts["/arm/commands"] and not report.complete
    assert any("cut off" in line for line in report.lines())


@pytest.mark.parametrize("text", ["just a string", "- a\n- list\n", "key: [unclosed"])
def test_a_metadata_yaml_that_is_not_rosbag2_metadata_is_named(tmp_path, text):
    rec, *_ = recording(n_cmd=5)
    bag = write_bag(tmp_path / "bag", rec)
    (bag / "metadata.yaml").write_text(text)
    with pytest.raises(BagError, match="metadata.yaml: (no 'rosbag2_bagfile_information'|not "
                                       "valid YAML)"):
        read_bag(bag)


def test_instruction_from_topic_and_override(tmp_path):
    rec, *_ = recording(n_cmd=10)
    rec.custom_data = {}
    rec.instruction = [(0.1, "raise your left hand"), (5.0, "later")]
    bag = write_bag(tmp_path / "bag", rec)
    [report] = convert_bags([bag], embodiment(), tmp_path / "ds")
    assert report.task == "raise your left hand"
    shutil.rmtree(tmp_path / "ds")
    [report] = convert_bags([bag], embodiment(), tmp_path / "ds", task="x")
    assert report.task == "x"
    rec.instruction = []
    bag = write_bag(tmp_path / "bag3", rec)
    with pytest.raises(BagError, match="--task"):
        convert_bags([bag], embodiment(), tmp_path / "ds3")


def test_teleop_action_topic_and_cli(tmp_path, capsys):
    rec, t_cmd, cmd, *_ = recording(n_cmd=12)
    bag = write_bag(tmp_path / "bag", rec)
    emb_yaml = tmp_path / "tiny.yaml"
    import yaml

    emb_yaml.write_text(yaml.safe_dump(embodiment().to_dict()))
    rc = dataset_main(["from-bag", str(bag), "--embodiment", str(emb_yaml),
                       "--out", str(tmp_path / "ds")])
    out = capsys.readouterr().out
    assert rc == 0 and "wrote 1 episodes (12 steps at 20 fps)" in out
    # Joint states standing for the commands (a teleoperation leader): --action-topic.
    topics = BagTopics(action_topic="/joint_states")
    [report] = convert_bags([bag], embodiment(), tmp_path / "ds2", topics=topics)
    assert report.steps > 12  # the 125 Hz stream is sampled at 20 Hz over the whole bag


def _embodiment_yaml(tmp_path):
    import yaml

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(embodiment().to_dict()))
    return path


@pytest.mark.parametrize("argv, flag", [
    (["--max-state-age", "0"], "--max-state-age"),  # not "the YAML's": a limit of 0 s
    (["--max-state-age", "inf"], "--max-state-age"),
    (["--max-state-age", "nan"], "--max-state-age"),
    (["--max-frame-age", "inf"], "--max-frame-age"),
    (["--max-gap-steps", "-1"], "--max-gap-steps"),
    (["--min-steps", "0"], "--min-steps"),
])
def test_a_bad_pairing_tolerance_is_refused_naming_its_flag(tmp_path, capsys, argv, flag):
    with pytest.raises(SystemExit) as exit_info:
        dataset_main(["from-bag", str(tmp_path / "bag"), "--embodiment",
                      str(_embodiment_yaml(tmp_path)), "--out", str(tmp_path / "ds"), *argv])
    assert exit_info.value.code == 2  # the usage error, before any bag is read
    assert f"error: argument {flag}: ResampleConfig." in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


def test_the_state_age_is_the_flags_where_given_else_the_yamls(tmp_path, monkeypatch):
    import gr00t_policy.dataset.from_bag as from_bag

    given = []
    monkeypatch.setattr(from_bag, "convert_bags", lambda *a, cfg, **kw: given.append(cfg) or [])
    argv = ["from-bag", "bag", "--embodiment", str(_embodiment_yaml(tmp_path)), "--out", "ds"]
    dataset_main(argv)
    dataset_main([*argv, "--max-state-age", "0.03"])
    assert [cfg.max_state_age for cfg in given] == [0.1, 0.03]  # staleness.state_s, the flag


def test_task_and_out_are_checked_before_any_bag_is_read(tmp_path, monkeypatch):
    import gr00t_policy.dataset.from_bag as from_bag

    bag = write_bag(tmp_path / "bag", recording(n_cmd=12)[0])
    convert_bags([bag], embodiment(), tmp_path / "old")
    (tmp_path / "afile").write_text("")
    emb_yaml = _embodiment_yaml(tmp_path)
    before = sorted(tmp_path.rglob("*"))

    def no_read(*args, **kwargs):
        raise AssertionError("a bag was read")

    monkeypatch.setattr(from_bag, "read_bag", no_read)
    for argv, match in [
        (["--out", str(tmp_path / "afile")], r"afile is a file, not a directory\. Fix: "),
        (["--out", str(tmp_path / "afile" / "ds")], r"afile is a file, not a directory"),
        (["--out", str(tmp_path / "old")], r"old already holds a dataset; pass append"),
        (["--out", str(tmp_path / "ds"), "--task", "  "],
         r"task \(--task\) must be an instruction \(text, not blank\), got '  '\. Fix: .*"
         r"leave --task out"),
        (["--out", str(tmp_path / "ds"), "--task", ""], r"task \(--task\) must be an instr"),
    ]:
        with pytest.raises(SystemExit, match="^gr00t-dataset from-bag: .*" + match):
            dataset_main(["from-bag", str(bag), "--embodiment", str(emb_yaml), *argv])
    assert sorted(tmp_path.rglob("*")) == before  # no --out directory made


def test_an_append_to_a_v30_dataset_is_refused_before_any_bag_is_read(tmp_path, monkeypatch):
    # It used to fail at finalize, after every bag was encoded, with a FileNotFoundError
    # for a v2.0 episode path that a v3.0 dataset does not have.
    import json

    import gr00t_policy.dataset.from_bag as from_bag
    from gr00t_policy.dataset.writer import gr00t_modality
    from gr00t_policy.testing.lerobot import write_v30

    emb = embodiment()
    rng = np.random.default_rng(0)
    root = write_v30(tmp_path / "v30", [
        (rng.uniform(-1, 1, (10, 4)).astype(np.float32),
         rng.uniform(-1, 1, (10, 4)).astype(np.float32), np.zeros((10, 16, 16, 3), np.uint8),
         TASK) for _ in range(3)], state_names=ARM + HAND, action_names=ARM + HAND)
    (root / "meta" / "modality.json").write_text(json.dumps(gr00t_modality(
        [("arm", ARM), ("hand", HAND)], [("arm", ARM), ("hand", HAND)], ["head"])))
    before = files_of(root)

    def no_read(*args, **kwargs):
        raise AssertionError("a bag was read")

    monkeypatch.setattr(from_bag, "read_bag", no_read)
    with pytest.raises(DatasetError, match=r"cannot append to .*v30: it is a LeRobot v3.0 "
                                           r"dataset.*Fix: "):
        convert_bags([tmp_path / "bag"], emb, root, append=True, skip_bad=True)
    assert files_of(root) == before


def test_bags_already_in_the_dataset_are_not_appended_again(tmp_path, capsys, monkeypatch):
    """The README's `from-bag bags/episode_* --append` run again the next day: the bags
    converted before are named and left out (they were appended a second time, silently),
    the new ones appended; a bag moved since is known by its episodes' start times."""
    emb_yaml = _embodiment_yaml(tmp_path)
    bags = [write_bag(tmp_path / "bags" / f"episode_{k:06d}", recording(n_cmd=12, seed=k)[0])
            for k in range(3)]
    out = tmp_path / "ds"
    monkeypatch.chdir(tmp_path)  # relative paths, as typed: the same bags all the same
    assert dataset_main(["from-bag", "bags/episode_000000", "--embodiment", str(emb_yaml),
                         "--out", str(out)]) == 0
    capsys.readouterr()
    assert dataset_main(["from-bag", *map(str, bags[:2]), "--embodiment", str(emb_yaml),
                         "--out", str(out), "--append"]) == 0
    printed = capsys.readouterr().out
    assert f"{bags[0]}: already in the dataset as episode(s) #0: not converted again" in printed
    assert "wrote 1 episodes (12 steps at 20 fps) from 1 bags" in printed
    assert "1 bags were in it already" in printed
    ds = LeRobotDataset(out)
    assert [e["source_bag"] for e in ds.episodes] == [str(b) for b in bags[:2]]
    # Nothing new: nothing written, not an error.
    before = files_of(out)
    reports = convert_bags(bags[:2], embodiment(), out, append=True)
    assert [r.already for r in reports] == [[0], [1]] and files_of(out) == before
    # A bag moved since it was converted, beside a new one.
    moved = shutil.copytree(bags[1], tmp_path / "elsewhere" / "episode_000001")
    reports = convert_bags([moved, bags[2]], embodiment(), out, append=True)
    assert [r.already for r in reports] == [[1], []] and reports[1].episodes == [(2, 12)]
    assert "already in the dataset as episode(s) #1" in reports[0].lines()[0]
    assert LeRobotDataset(out).num_episodes == 3


def test_a_state_topic_recorded_from_two_publishers_is_named(tmp_path):
    """A joint_state_publisher left running beside the robot's driver: both name the same
    joints, and the conversion takes the stray one's zeros as states. The bag's metadata
    lists one offered QoS profile per publisher; the report says so, naming the topic."""
    import yaml

    bag = write_bag(tmp_path / "bag", recording(n_cmd=12)[0])
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())
    qos = {"history": "keep_last", "depth": 10, "reliability": "reliable",
           "durability": "volatile"}
    for entry in meta["rosbag2_bagfile_information"]["topics_with_message_count"]:
        if entry["topic_metadata"]["name"] in ("/joint_states", "/arm/commands"):
            entry["topic_metadata"]["offered_qos_profiles"] = [qos]  # one: nothing to say
        if entry["topic_metadata"]["name"] == "/joint_states":
            entry["topic_metadata"]["offered_qos_profiles"] = [qos, qos]
    (bag / "metadata.yaml").write_text(yaml.safe_dump(meta))
    assert read_bag(bag).publishers == {"/joint_states": 2, "/arm/commands": 1}
    [report] = convert_bags([bag], embodiment(), tmp_path / "ds")
    [warning] = [w for w in report.warnings if "publishers" in w]
    assert warning.startswith("/joint_states: recorded from 2 publishers")
    assert "ros2 topic info -v /joint_states" in warning
    assert any(line == f"  warning: {warning}" for line in report.lines())


def expected_in_parts(t_cmd, t_state, t_frames, cuts):
    """`expected` where the recording is cut at the instants ``cuts`` (s, on the unstepped
    clock): a command's state and frame are the newest at or before it in its own part."""
    part = functools.partial(np.searchsorted, cuts, side="right")
    states, frames = [], []
    for t in t_cmd:
        s = [i for i in range(len(t_state)) if t_state[i] <= t and part(t_state[i]) == part(t)]
        f = [i for i in range(len(t_frames)) if t_frames[i] <= t and part(t_frames[i]) == part(t)]
        states.append(t_state[s[-1]])
        frames.append(f[-1])
    return state_of(np.array(states)), np.array(frames)


def test_a_clock_set_back_mid_recording_is_cut_there_into_two_episodes(tmp_path, capsys):
    """NTP steps the recorder's clock back 1 s, 1.0 s into the episode (a robot without a
    real-time clock, at boot). Sorted by time, the messages after the step would fall among
    those before it (rows pairing a state with a command up to 1 s apart); the bag was
    refused whole, and the episode lost. The file keeps the messages in the order they
    came: the part written before the step and the part after it are each on one timeline,
    and become an episode each, every command once, paired within its own part."""
    rec, t_cmd, cmd, t_state, t_frames = recording(n_cmd=30)
    rec.clock_step = (1.0, -1.0)
    bag = write_bag(tmp_path / "bags" / "episode_000000", rec)
    read = read_bag(bag)
    [step] = read.clock_steps
    assert abs(step.back_s - 1.0) < 0.01 and abs(step.into_s - 1.0) < 0.01
    assert [len(p.messages["/arm/commands"]) for p in read.parts()] == [10, 20]
    [report] = convert_bags([bag], embodiment(), tmp_path / "ds")
    assert report.episodes == [(0, 10), (1, 20)] and not report.refused
    assert report.held == 0 and not any(report.dropped.values())
    lines = report.lines()
    assert any(re.fullmatch(r"  cut: the recorder's clock went back 0\.9\d\d s, 0\.99 s into "
                            r"the recording \(at a message on /\S+\): cut there, the messages "
                            r"written before the step and those after it converted as "
                            r"separate episodes, .*makestep.*", line) for line in lines), lines
    assert "  part 1 of 2: episodes #0" in lines and "  part 2 of 2: episodes #1" in lines
    ds = LeRobotDataset(tmp_path / "ds")
    want_state, want_frame = expected_in_parts(t_cmd, t_state, t_frames, [1.0])
    eps = [ds.episode(0), ds.episode(1)]
    np.testing.assert_allclose(np.concatenate([e.actions for e in eps]), cmd, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([e.states for e in eps]), want_state, atol=1e-6)
    assert list(np.concatenate([e.frames["head"][:, 0, 0, 0] for e in eps])) == [
        frame_value(i) for i in want_frame]
    assert [e.task for e in eps] == [TASK, TASK]
    # Each part's episodes name the bag, and which part of it they are.
    assert [(e["source_bag"], e["source_part"], e["source_parts"]) for e in ds.episodes] == [
        (str(bag), 1, 2), (str(bag), 2, 2)]
    # The same bags again with --append (the next day's run): nothing is added; nor when
    # the bag was moved (known by its parts' start times).
    before = files_of(tmp_path / "ds")
    assert dataset_main(["from-bag", str(bag), "--embodiment", str(_embodiment_yaml(tmp_path)),
                         "--out", str(tmp_path / "ds"), "--append"]) == 0
    assert "already in the dataset as episode(s) #0, #1" in capsys.readouterr().out
    moved = shutil.copytree(bag, tmp_path / "elsewhere" / "episode_000000")
    [again] = convert_bags([moved], embodiment(), tmp_path / "ds", append=True)
    assert again.already == [0, 1] and not again.episodes
    assert files_of(tmp_path / "ds") == before
    # A few milliseconds back (a recorder's threads reordering two messages) is not a step.
    rec.clock_step = (1.0, -0.005)
    jitter = write_bag(tmp_path / "jitter", rec)
    assert not read_bag(jitter).clock_steps
    [report] = convert_bags([jitter], embodiment(), tmp_path / "ds2")
    assert len(report.episodes) == 1 and not report.cuts


def test_a_clock_set_back_twice_is_cut_at_each_step(tmp_path):
    rec, t_cmd, cmd, t_state, t_frames = recording(n_cmd=40)
    rec.clock_step = [(1.0, -1.0), (1.6, -0.5)]
    bag = write_bag(tmp_path / "bag", rec)
    [report] = convert_bags([bag], embodiment(), tmp_path / "ds")
    assert [n for _, n in report.episodes] == [10, 12, 18]
    assert re.match(r"the recorder's clock went back 0\.9\d\d s, 0\.99 s into the recording "
                    r".*cut there \(one of 2 cuts\)", report.cuts[0])
    assert re.match(r"the recorder's clock went back 0\.[45]\d\d s, 1\.[56]\d s into the "
                    r"recording", report.cuts[1])  # the time recorded, not the clock's
    ds = LeRobotDataset(tmp_path / "ds")
    want_state, _ = expected_in_parts(t_cmd, t_state, t_frames, [1.0, 1.6])
    np.testing.assert_allclose(np.concatenate([ds.episode(i).actions for i in range(3)]), cmd,
                               atol=1e-6)
    np.testing.assert_allclose(np.concatenate([ds.episode(i).states for i in range(3)]),
                               want_state, atol=1e-6)
    assert [e["source_part"] for e in ds.episodes] == [1, 2, 3]


def test_a_part_too_short_to_be_an_episode_is_dropped_and_named(tmp_path):
    """The clock steps back 0.3 s into the recording, before the first command (0.5 s): the
    part before it has joint states and frames, no command. It is dropped, saying so; the
    part after it is the episode. Its instruction, published before the step (a bag from
    `ros2 bag record`, no metadata), is still its own."""
    rec, t_cmd, cmd, *_ = recording(n_cmd=20)
    rec.custom_data = {}
    rec.instruction = [(0.1, TASK)]
    rec.clock_step = (0.3, -2.0)
    [report] = convert_bags([write_bag(tmp_path / "bag", rec)], embodiment(), tmp_path / "ds")
    assert report.episodes == [(0, 20)] and report.task == TASK
    assert any(line.startswith("  part 1 of 2: nothing to convert (no message on "
                               "/arm/commands, /hand/commands in its 0.30 s): dropped") for line in
               report.lines()), report.lines()
    assert LeRobotDataset(tmp_path / "ds").episode(0).task == TASK


def test_a_part_that_fails_its_own_checks_is_named_as_such(tmp_path, capsys):
    """After the step the joint states read 10 rad (beyond the joints' limits: a driver
    restarted in degrees, say): that part is refused as a bag would be, naming the part;
    --skip-bad leaves out that part alone and converts the other."""
    rec, *_ = recording(n_cmd=30)
    t, names, pos = rec.state
    pos = pos.copy()
    pos[t >= 1.0, :4] = 10.0
    rec.state = (t, names, pos)
    rec.clock_step = (1.0, -1.0)
    bag = write_bag(tmp_path / "bag", rec)
    with pytest.raises(BagError, match=r"every joint state on /joint_states is beyond its "
                                       r"joints' limits.*\(in part 2 of 2 of the bag, which "
                                       r"was cut where the recorder's clock went back "
                                       r"0\.9\d\d s; --skip-bad leaves out this part alone\)"):
        convert_bags([bag], embodiment(), tmp_path / "ds")
    assert not (tmp_path / "ds").exists()
    assert dataset_main(["from-bag", str(bag), "--embodiment", str(_embodiment_yaml(tmp_path)),
                         "--out", str(tmp_path / "ds"), "--skip-bad"]) == 1
    printed = capsys.readouterr().out
    assert "  part 1 of 2: episodes #0" in printed
    assert "  part 2 of 2: left out: bag " in printed and "every joint state" in printed
    assert "left out 1 parts of bags cut where the clock went back" in printed
    assert LeRobotDataset(tmp_path / "ds").num_episodes == 1


def test_a_clock_stepped_forward_on_one_host_pairs_no_row_across_the_step(tmp_path):
    """The recorder's host clock steps 0.3 s forward 1.0 s in, while the joint states come
    from the robot's own computer, whose clock did not step. Their publish times (the
    conversion's times) stayed on the old timeline while the commands and frames, sent on
    the recorder's host, moved on: 19 of the 29 rows paired a command with the state sent
    0.3 s after it, silently. The joint states' transit moved by 0.3 s: every topic is now
    timed by its reception, on the recorder's clock alone, and the step is a gap there."""
    rec, t_cmd, cmd, t_state, t_frames = recording(n_cmd=30)
    bag = write_bag(tmp_path / "bag", rec)
    step_host_clock(bag, 1.0, 0.3, remote={"/joint_states"})
    assert list(read_bag(bag).transit_moved) == ["/joint_states"]
    [report] = convert_bags([bag], embodiment(), tmp_path / "ds")
    assert report.episodes == [(0, 10), (1, 20)]  # the 0.3 s gap ends the first
    [warning] = [w for w in report.warnings if "stepped apart" in w]
    assert warning.startswith("/joint_states: from 1.00 s into the recording its messages "
                              "reached the recorder 0.300 s later than before")
    assert set(report.log_time_topics) == {"/joint_states", CAMERA, "/arm/commands",
                                           "/hand/commands"}
    ds = LeRobotDataset(tmp_path / "ds")
    want_state, want_frame = expected(t_cmd, t_state, t_frames)
    eps = [ds.episode(0), ds.episode(1)]
    np.testing.assert_allclose(np.concatenate([e.actions for e in eps]), cmd, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([e.states for e in eps]), want_state, atol=1e-6)
    assert list(np.concatenate([e.frames["head"][:, 0, 0, 0] for e in eps])) == [
        frame_value(i) for i in want_frame]
    # Every topic on the recorder's host: their publish times moved together, and are kept.
    rec.clock_step = (1.0, 0.3)
    [report] = convert_bags([write_bag(tmp_path / "one_host", rec)], embodiment(),
                            tmp_path / "ds2")
    assert report.episodes == [(0, 10), (1, 20)] and not report.log_time_topics
    assert not [w for w in report.warnings if "stepped apart" in w]
    ds = LeRobotDataset(tmp_path / "ds2")
    np.testing.assert_allclose(np.concatenate([ds.episode(0).states, ds.episode(1).states]),
                               want_state, atol=1e-6)


def test_a_recorder_kept_waiting_is_not_a_clock_step(tmp_path):
    """What was sent while the recorder waited (0.6 s) came late; what was sent after the
    wait came quickly again: the transit did not move, the publish times are kept."""
    rec, *_ = recording(n_cmd=45)
    bag = write_bag(tmp_path / "bag", rec)
    delay_reception(bag, lambda topic, t: 1.6 - t if 1.0 <= t < 1.6 else 0.0005)
    read = read_bag(bag)
    assert not read.transit_moved
    [report] = convert_bags([bag], embodiment(), tmp_path / "ds")
    assert not report.log_time_topics and report.steps == 45


def test_the_clock_watch_cuts_at_each_step_and_keeps_a_late_written_message_in_its_part():
    """Log times in file order, in ms; CLOCK_BACK_S is 100 ms."""
    watch = ClockBackWatch()
    ms = 1_000_000
    seen = [watch.observe("/a", t * ms) for t in (0, 100, 200, 150, 300)]  # 150: reordered
    assert seen == [0] * 5 and not watch.steps
    assert watch.observe("/b", 50 * ms) == 1  # written after 300 ms, logged 250 ms before
    assert watch.observe("/a", 301 * ms) == 0  # taken before the step, written after it
    assert [watch.observe("/a", t * ms) for t in (80, 120)] == [1, 1]
    assert watch.observe("/a", 500 * ms) == 1  # far ahead of both timelines: a gap
    [step] = watch.steps
    assert (step.topic, step.at, step.latest, step.into_ns) == ("/b", 50 * ms, 300 * ms, 300 * ms)
    assert watch.observe("/a", 350 * ms) == 2  # back again
    assert watch.steps[1].into_ns == (300 + 450) * ms  # recorded time: each part's span


def test_joint_states_are_held_in_little_memory(tmp_path):
    """A G1's 43-joint JointState decoded to ~10 KB of Python lists and strings: 9 GB held
    through the conversion of a 30-minute 500 Hz episode. Kept as arrays with one shared
    tuple of names, the same values take about a quarter of that."""
    import tracemalloc

    names = [f"joint_{i:02d}" for i in range(43)]
    t = np.arange(2000) * 0.002
    positions = np.random.default_rng(0).uniform(-1, 1, (len(t), len(names)))
    bag = write_bag(tmp_path / "bag", Recording(state=(t, names, positions), commands={},
                                                frames={}))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        read = read_bag(bag, {"/joint_states"})
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    msgs = [m for _, m in read.messages["/joint_states"]]
    assert len(msgs) == len(t) and held / len(msgs) < 2500, held / len(msgs)  # bytes each (5.4 KB before)
    np.testing.assert_array_equal(np.stack([m.position for m in msgs]), positions)
    assert list(msgs[0].name) == names and all(m.name is msgs[0].name for m in msgs)


def test_merge_and_align_units():
    t1 = np.array([0.0, 0.05, 0.1])
    times, actions, early = merge_commands(
        [(t1, np.arange(6.0).reshape(3, 2), np.array([0, 1])),
         (t1 + 0.001, 10 * np.arange(3.0)[:, None], np.array([2]))], 3, 0.0125)
    np.testing.assert_array_equal(times, t1)
    np.testing.assert_array_equal(actions, [[0, 1, 0], [2, 3, 10], [4, 5, 20]])
    assert early == 0  # every tick complete: nothing left out
    # The first controller's first tick came alone (the other was not publishing yet): that
    # update is left out and counted. Two ticks 1 ms apart stay two updates.
    t2 = np.array([0.0, 0.05, 0.051, 0.1])
    times, actions, early = merge_commands(
        [(np.r_[-0.05, t2], np.arange(10.0).reshape(5, 2), np.array([0, 1])),
         (t2 + 0.0002, 10 * np.arange(4.0)[:, None], np.array([2]))], 3, 0.0125)
    np.testing.assert_array_equal(times, t2)
    np.testing.assert_array_equal(actions[:, 2], [0, 10, 20, 30])
    np.testing.assert_array_equal(actions[:, 0], [2, 4, 6, 8])
    assert early == 1
    # A tick whose publisher was preempted after its first controller (the rest 30 ms later,
    # more than group_s) is one update, at its first message: never half of one tick with
    # half of the one before.
    times, actions, early = merge_commands(
        [(t1, np.arange(6.0).reshape(3, 2), np.array([0, 1])),
         (t1 + np.r_[0.001, 0.03, 0.001], 10 * np.arange(3.0)[:, None], np.array([2]))],
        3, 0.0125)
    np.testing.assert_array_equal(times, t1)
    np.testing.assert_array_equal(actions, [[0, 1, 0], [2, 3, 10], [4, 5, 20]])
    # A controller that speaks only now and then (not in every tick) is its own update when
    # it comes later than group_s after a tick.
    times, actions, early = merge_commands(
        [(t1, np.arange(6.0).reshape(3, 2), np.array([0, 1])),
         (np.r_[0.001, 0.07], np.array([[0.0], [7.0]]), np.array([2]))], 3, 0.0125)
    np.testing.assert_array_equal(times, [0.0, 0.05, 0.07, 0.1])
    np.testing.assert_array_equal(actions[:, 2], [0, 0, 7, 7])
    # 20 Hz: a tick 45 ms late (the next on time, in the same window) is its own step; a
    # tick that slipped a period (the controller skipped one) repeats the previous action.
    cfg = ResampleConfig(dt=DT)
    states, frames = np.arange(-0.1, 1.0, 0.008), {"c": np.arange(-0.1, 1.0, 0.03)}
    late = np.r_[0.0, 0.05, 0.1 + 0.045, 0.15, 0.2, 0.25]
    steps = align(late, states, frames, cfg)
    assert list(steps.runs[0]["action"]) == [0, 1, 2, 3, 4, 5] and steps.held == 0
    slipped = np.r_[0.0, 0.05, 0.16, 0.2, 0.25]
    steps = align(slipped, states, frames, cfg)
    assert list(steps.runs[0]["action"]) == [0, 1, 1, 2, 3, 4] and steps.held == 1
    # The very first tick late too: no row lost either.
    steps = align(late[2:], states, frames, cfg)
    assert list(steps.runs[0]["action"]) == [0, 1, 2, 3] and steps.held == 0
    # Commands at 100 Hz, dataset at 20 Hz: every 5th, none repeated.
    u = 1.0 + np.arange(100) * 0.01
    steps = align(u, np.arange(0.9, 2.2, 0.008), {"c": np.arange(0.9, 2.2, 0.03)},
                  ResampleConfig(dt=DT))
    assert list(steps.runs[0]["action"][:4]) == [0, 5, 10, 15] and steps.held == 0
    with pytest.raises(ValueError, match="max_frame_age"):
        ResampleConfig(dt=DT, max_frame_age=0.0)


def test_publish_times_of_zero_are_not_taken_as_times(tmp_path):
    """A writer that fills only the log time leaves publish times at 0: every topic then
    keeps its log times (were 0 a time, the earliest topics' messages all sat at t = 0)."""
    from pathlib import Path

    from gr00t_policy.dataset.bag import Bag
    from gr00t_policy.dataset.bag_streams import timed_messages

    logged = {"/a": [(1_000_000_000 + k * 10_000_000, k) for k in range(5)],
              "/b": [(1_003_000_000 + k * 10_000_000, k) for k in range(5)]}
    bag = Bag(path=Path(tmp_path), files=[], messages=logged,
              publish_times={t: [0] * 5 for t in logged})
    for topic in logged:
        assert timed_messages(bag, topic) == logged[topic]
    real = Bag(path=Path(tmp_path), files=[], messages=logged,  # publish times 1 ms earlier
               publish_times={t: [ns - 1_000_000 for ns, _ in m] for t, m in logged.items()})
    assert timed_messages(real, "/a")[0][0] == 999_000_000


def test_a_damaged_jpeg_frame_is_a_bag_error_naming_the_topic():
    import types

    import imageio.v3 as iio

    from gr00t_policy.dataset.bag_streams import image_rgb

    good = iio.imwrite("<bytes>", np.full((24, 32, 3), 90, np.uint8), extension=".jpg")
    frame = types.SimpleNamespace(format="jpeg", data=good)
    assert image_rgb(frame, "/cam/head").shape == (24, 32, 3)
    frame.data = good[: len(good) // 2]  # cut short, as a USB camera's MJPEG frame can be
    with pytest.raises(BagError, match=r"/cam/head: a 'jpeg' frame does not decode.*damaged"):
        image_rgb(frame, "/cam/head")


def test_bags_are_held_in_memory_one_at_a_time(tmp_path, monkeypatch):
    """Every bag is checked before writing, then converted: no earlier bag's messages are
    still in memory when the next is read (a day of recordings does not fit)."""
    import weakref

    import gr00t_policy.dataset.from_bag as from_bag

    alive: list[weakref.ref] = []
    most = []
    real = from_bag.read_bag

    def spy(path, wanted=None, data_later=()):
        most.append(sum(ref() is not None for ref in alive))
        bag = real(path, wanted, data_later)
        alive.append(weakref.ref(bag))
        return bag

    monkeypatch.setattr(from_bag, "read_bag", spy)
    paths = [write_bag(tmp_path / f"bag{k}", recording(n_cmd=12)[0]) for k in range(3)]
    reports = convert_bags(paths, embodiment(), tmp_path / "ds")
    assert [r.steps for r in reports] == [12, 12, 12]
    assert len(most) == 6 and max(most) == 0  # read twice each, never two at once
    assert LeRobotDataset(tmp_path / "ds").num_episodes == 3


def test_an_instruction_changed_mid_episode_is_named_in_the_report(tmp_path):
    rec, *_ = recording(n_cmd=20)
    rec.instruction = [(0.2, TASK), (1.0, "raise your left hand")]  # commands from 0.5 s
    [report] = convert_bags([write_bag(tmp_path / "bag", rec)], embodiment(), tmp_path / "ds")
    assert report.task == TASK
    [warning] = [w for w in report.warnings if "changed to" in w]
    assert "changed to 'raise your left hand' 0.4" in warning and "labelled" in warning
    # The same words again, or --task: nothing to say.
    rec.instruction = [(0.2, TASK), (1.0, TASK)]
    [report] = convert_bags([write_bag(tmp_path / "bag2", rec)], embodiment(), tmp_path / "ds2")
    assert not [w for w in report.warnings if "changed to" in w]


def test_skip_bad_leaves_out_the_bags_it_cannot_convert_and_says_why(tmp_path, capsys):
    import yaml

    good, *_ = recording(n_cmd=12, seed=1)
    yuv, *_ = recording(n_cmd=12, seed=2)
    yuv.encoding = "yuv422_yuy2"
    bags = [write_bag(tmp_path / "good", good), write_bag(tmp_path / "yuv", yuv)]
    reports = convert_bags(bags, embodiment(), tmp_path / "ds", skip_bad=True)
    assert [r.steps for r in reports] == [12, 0]
    assert "image encoding 'yuv422_yuy2'" in reports[1].refused
    assert reports[1].lines()[0].startswith(f"{bags[1]}: left out: ")
    assert LeRobotDataset(tmp_path / "ds").num_episodes == 1
    # The CLI: the same, exit status 1 (something was left out).
    emb_yaml = tmp_path / "tiny.yaml"
    emb_yaml.write_text(yaml.safe_dump(embodiment().to_dict()))
    rc = dataset_main(["from-bag", *map(str, bags), "--embodiment", str(emb_yaml),
                       "--out", str(tmp_path / "ds2"), "--skip-bad"])
    assert rc == 1
    assert "left out 1 bags" in capsys.readouterr().out
    with pytest.raises(BagError, match="yuv422_yuy2"):  # without it: refused, nothing written
        convert_bags(bags, embodiment(), tmp_path / "ds3")
    assert not (tmp_path / "ds3" / "meta").exists()


def test_a_single_bag_is_extracted_once(tmp_path, monkeypatch):
    import gr00t_policy.dataset.from_bag as from_bag

    calls = []
    real = from_bag.extract

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(from_bag, "extract", spy)
    [report] = convert_bags([write_bag(tmp_path / "bag", recording(n_cmd=12)[0])],
                            embodiment(), tmp_path / "ds")
    assert report.steps == 12 and len(calls) == 1  # checked, then converted from the same


def test_messages_the_recorder_lost_are_reported_at_conversion(tmp_path):
    rec, *_ = recording(n_cmd=10)
    [report] = convert_bags([write_bag(tmp_path / "ok", rec)], embodiment(), tmp_path / "ds")
    assert not any("lost messages" in w for w in report.warnings)
    rec.custom_data = {**rec.custom_data, "lost_messages": f"{CAMERA} 7"}
    [report] = convert_bags([write_bag(tmp_path / "lossy", rec)], embodiment(), tmp_path / "ds2")
    [warning] = [w for w in report.warnings if "lost messages" in w]
    assert f"({CAMERA} 7)" in warning and report.steps == 10


def test_cameras_of_different_resolutions_keep_their_own(tmp_path):
    """A head camera and a wrist camera of another size (and aspect) convert, each at its
    own resolution; a later bag whose wrist camera changed size is refused, naming both."""
    emb = embodiment(cameras=[{"name": "head", "topic": CAMERA}, {"name": "wrist", "topic": WRIST}])
    rec, t_cmd, _, _, t_frames = recording(n_cmd=10)
    rec.frames[WRIST] = t_frames
    rec.image_size = {CAMERA: (12, 16), WRIST: (8, 6)}
    [report] = convert_bags([write_bag(tmp_path / "bag", rec)], emb, tmp_path / "ds")
    assert report.steps == len(t_cmd)
    ds = LeRobotDataset(tmp_path / "ds")
    assert ds.image_shape("head") == (12, 16) and ds.image_shape("wrist") == (8, 6)
    ep = ds.episode(0)
    assert ep.frames["head"].shape[1:] == (12, 16, 3) and ep.frames["wrist"].shape[1:] == (8, 6, 3)
    rec.image_size = {CAMERA: (12, 16), WRIST: (6, 8)}
    turned = write_bag(tmp_path / "bag2", rec)
    with pytest.raises(BagError, match=r"'wrist': \(6, 8\).*'wrist': \(8, 6\)"):
        convert_bags([tmp_path / "bag", turned], emb, tmp_path / "ds2")
    with pytest.raises(DatasetError, match=r"cannot append .*'wrist': \(8, 6\).*'wrist': \(6, 8\)"):
        convert_bags([turned], emb, tmp_path / "ds", append=True)
    assert LeRobotDataset(tmp_path / "ds").num_episodes == 1  # left as it was


def files_of(root):
    """Every file (with its bytes) and folder under ``root``: what a failed run must leave
    as it found."""
    return {p.relative_to(root): p.read_bytes() if p.is_file() else None
            for p in sorted(root.rglob("*"))}


def test_a_later_bag_at_another_resolution_is_refused_before_anything_is_written(tmp_path):
    """The check pass decides each bag's camera sizes: the second bag's 24x24 frames are
    refused against the first's 16x16 before the first is converted, so --out is never
    begun (it was left holding episode 0's files without meta/)."""
    import yaml

    rec, *_ = recording(n_cmd=12)
    big, *_ = recording(n_cmd=12, seed=1)
    big.image_size = 24
    bags = [write_bag(tmp_path / "bag0", rec), write_bag(tmp_path / "bag_big", big)]
    emb_yaml = tmp_path / "tiny.yaml"
    emb_yaml.write_text(yaml.safe_dump(embodiment().to_dict()))
    with pytest.raises(SystemExit, match=rf"bag {bags[1]}: its camera frames are "
                                         r"\{'head': \(24, 24\)\}.*\{'head': \(16, 16\)\}"
                                         rf".*{CAMERA}"):
        dataset_main(["from-bag", *map(str, bags), "--embodiment", str(emb_yaml),
                      "--out", str(tmp_path / "ds2")])
    assert not (tmp_path / "ds2").exists()


def test_an_append_with_a_bag_at_another_resolution_leaves_the_dataset_as_it_was(tmp_path):
    """Appended bags are checked against the dataset's sizes before any is written: no
    episode files that meta/ does not list are left in the user's dataset."""
    rec, *_ = recording(n_cmd=12)
    convert_bags([write_bag(tmp_path / "bag0", rec)], embodiment(), tmp_path / "ds")
    before = files_of(tmp_path / "ds")
    good, *_ = recording(n_cmd=12, seed=1)
    big, *_ = recording(n_cmd=12, seed=2)
    big.image_size = 24
    bags = [write_bag(tmp_path / "bag1", good), write_bag(tmp_path / "bag_big", big)]
    with pytest.raises(BagError, match=rf"bag {bags[1]}: cannot append to .*\{{'head': "
                                       r"\(16, 16\)\}.*this bag's \{'head': \(24, 24\)\}"):
        convert_bags(bags, embodiment(), tmp_path / "ds", append=True)
    assert files_of(tmp_path / "ds") == before


def test_skip_bad_leaves_out_a_bag_at_another_resolution(tmp_path):
    """The first good bag sets the cameras' sizes; a bag at another is left out and named
    like any other refused bag, and the rest are converted."""
    rec, *_ = recording(n_cmd=12)
    big, *_ = recording(n_cmd=12, seed=1)
    big.image_size = 24
    later, *_ = recording(n_cmd=10, seed=2)
    bags = [write_bag(tmp_path / "bag0", rec), write_bag(tmp_path / "bag_big", big),
            write_bag(tmp_path / "bag1", later)]
    reports = convert_bags(bags, embodiment(), tmp_path / "ds", skip_bad=True)
    assert [r.steps for r in reports] == [12, 0, 10]
    assert "{'head': (24, 24)}" in reports[1].refused and CAMERA in reports[1].refused
    assert reports[1].lines()[0].startswith(f"{bags[1]}: left out: ")
    ds = LeRobotDataset(tmp_path / "ds")
    assert ds.num_episodes == 2 and ds.image_shape("head") == (16, 16)
    # Appending, the dataset's sizes decide: the 24x24 bag is left out again.
    more, *_ = recording(n_cmd=8, seed=3)
    reports = convert_bags([bags[1], write_bag(tmp_path / "bag2", more)], embodiment(),
                           tmp_path / "ds", append=True, skip_bad=True)
    assert [r.steps for r in reports] == [0, 8] and "cannot append" in reports[0].refused
    assert LeRobotDataset(tmp_path / "ds").num_episodes == 3


def damaged_jpeg_bag(path):
    """A CompressedImage bag with a frame in the middle of its episode that does not decode:
    the check pass decodes a compressed stream's first and last frames only, so the damage
    is found while the episode's video is encoded, with files already written."""
    rec, t_cmd, _, t_state, t_frames = recording(n_cmd=12, seed=3)
    rec.encoding = "jpeg"
    bag = write_bag(path, rec)
    _, used = expected(t_cmd, t_state, t_frames)
    frame = int(used[len(used) // 2])
    payload = bytes(read_bag(bag).messages[CAMERA][frame][1].data)
    mcap = next(bag.glob("*.mcap"))
    data = mcap.read_bytes()
    assert data.count(payload) == 1  # the chunks are not compressed: found as it is
    mcap.write_bytes(data.replace(payload, bytes(len(payload))))
    return bag


@pytest.mark.parametrize("mode", ["new", "append", "overwrite"])
def test_a_frame_that_fails_while_encoding_leaves_the_output_as_it_was(tmp_path, mode):
    """A failure after episodes were written: a new dataset is removed, an appended one
    loses the episodes its meta/ does not list, an overwritten one is not touched."""
    out = tmp_path / "ds"
    if mode != "new":
        rec, *_ = recording(n_cmd=10)
        convert_bags([write_bag(tmp_path / "old", rec)], embodiment(), out)
    before = files_of(out) if out.exists() else None
    good, *_ = recording(n_cmd=12, seed=1)
    bags = [write_bag(tmp_path / "good", good), damaged_jpeg_bag(tmp_path / "damaged")]
    with pytest.raises(BagError, match=rf"{CAMERA}: a 'jpeg' frame does not decode"):
        convert_bags(bags, embodiment(), out, append=mode == "append",
                     overwrite=mode == "overwrite")
    if before is None:
        assert not out.exists()
    else:
        assert files_of(out) == before


def test_frames_are_decoded_as_they_are_encoded_never_all_at_once(tmp_path, monkeypatch):
    """A long episode's decoded frames would not fit in memory (bench/from_bag_memory.py):
    the conversion streams them from the bag's messages into the video, each decoded once."""
    from gr00t_policy.dataset import bag_streams, from_bag

    def whole(self, *args, **kwargs):
        raise AssertionError("an episode's frames were gathered into one array")

    monkeypatch.setattr(from_bag.DecodedFrames, "__array__", whole)
    decoded = []
    real = bag_streams.image_rgb

    def counting(msg, topic):
        decoded.append(1)
        return real(msg, topic)

    monkeypatch.setattr(from_bag, "image_rgb", counting)
    rec, t_cmd, cmd, t_state, t_frames = recording()
    [report] = convert_bags([write_bag(tmp_path / "bag", rec)], embodiment(), tmp_path / "ds")
    ep = LeRobotDataset(tmp_path / "ds").episode(0)
    _, want_frame = expected(t_cmd, t_state, t_frames)
    assert list(ep.frames["head"][:, 0, 0, 0]) == [frame_value(i) for i in want_frame]
    # Each once: the size comes from the bag's check (it was decoded once more for it).
    assert len(decoded) == len(set(want_frame.tolist()))


def test_pixels_left_in_the_bag_are_read_back_the_same(tmp_path):
    """convert_bags keeps a camera's messages without their pixels (a raw camera is 1.6 GB a
    minute) and reads the bytes back as it encodes; they are the bytes a full read gives,
    in any order asked, across the files of a split bag."""
    import yaml

    from gr00t_policy.dataset.bag import PayloadRef

    first, *_ = recording(n_cmd=8, seed=0)
    later, *_ = recording(n_cmd=8, seed=1)
    later.t0_ns = first.t0_ns + 10**9 * 60  # recorded after the first file
    bag = write_bag(tmp_path / "bag", first)
    other = write_bag(tmp_path / "other", later)
    [name] = [p.name for p in bag.glob("*.mcap")]
    shutil.copy(next(other.glob("*.mcap")), bag / "second.mcap")
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())
    meta["rosbag2_bagfile_information"]["relative_file_paths"] = [name, "second.mcap"]
    (bag / "metadata.yaml").write_text(yaml.safe_dump(meta))

    full = [m for _, m in read_bag(bag).messages[CAMERA]]
    lean = read_bag(bag, data_later={CAMERA})
    msgs = [m for _, m in lean.messages[CAMERA]]
    assert len(msgs) == len(full) and {r.data.file for r in msgs} == {0, 1}
    assert all(isinstance(m.data, PayloadRef) and len(m.data) == 16 * 16 * 3 for m in msgs)
    assert [bytes(m.data) for m in lean.with_data(CAMERA, msgs)] == [bytes(m.data) for m in full]
    backwards = list(lean.with_data(CAMERA, msgs[::-1]))  # each step back starts over
    assert [bytes(m.data) for m in backwards] == [bytes(m.data) for m in full[::-1]]
    assert all(isinstance(m.data, PayloadRef) for m in msgs)  # copies were given, not these
    assert next(lean.with_data(CAMERA, full[:1])) is full[0]  # bytes already there: as is
    # Other topics keep their data.
    assert not any(isinstance(getattr(m, "data", None), PayloadRef)
                   for topic, items in lean.messages.items() if topic != CAMERA
                   for _, m in items)


def test_a_bag_changed_under_the_conversion_is_named(tmp_path):
    rec, *_ = recording(n_cmd=8)
    bag = write_bag(tmp_path / "bag", rec)
    lean = read_bag(bag, data_later={CAMERA})
    msgs = [m for _, m in lean.messages[CAMERA]]
    rec.image_size = 8
    write_bag(tmp_path / "bag2", rec)
    mcap = next(bag.glob("*.mcap"))
    mcap.write_bytes(next((tmp_path / "bag2").glob("*.mcap")).read_bytes())
    with pytest.raises(BagError, match="now holds 192 bytes, not 768; was the bag changed"):
        list(lean.with_data(CAMERA, msgs))


def prefixed_recording(prefix):
    """trajectory_recording's bag from a driver whose joint names carry ``prefix`` (a
    ros2_control description's prefix argument): joint states and trajectories alike."""
    rec, emb = trajectory_recording(12, True, False)
    t, names, pos = rec.state
    rec.state = (t, [prefix + n for n in names] + ["other"], np.c_[pos, np.zeros(len(t))])
    sent, names, due, points = rec.trajectories["/arm/joint_trajectory"]
    rec.trajectories["/arm/joint_trajectory"] = (sent, [prefix + n for n in names], due, points)
    return rec, emb


def test_a_prefixed_robots_bag_converts_under_the_yamls_names(tmp_path):
    plain, emb = prefixed_recording("")
    convert_bags([write_bag(tmp_path / "plain", plain)], emb, tmp_path / "ds_plain")
    want = LeRobotDataset(tmp_path / "ds_plain", embodiment=emb).episode(0)
    rec, _ = prefixed_recording("g1/")
    bag = write_bag(tmp_path / "bag", rec)
    # Without the prefix: refused, naming the flag and the prefix every joint is there with.
    with pytest.raises(BagError, match=r"/joint_states lacks 4 of the 4 state joints: .*"
                                       r"Fix: no joint prefix is set, but every joint .*"
                                       r"'g1/j0'.*--joint-prefix g1/$"):
        convert_bags([bag], emb, tmp_path / "ds")
    convert_bags([bag], emb, tmp_path / "ds", topics=BagTopics(joint_prefix="g1/"))
    got = LeRobotDataset(tmp_path / "ds", embodiment=emb).episode(0)  # read by the YAML's names
    np.testing.assert_array_equal(got.states, want.states)
    np.testing.assert_array_equal(got.actions, want.actions)
    # gr00t-record keeps its joint_prefix in the bag: taken without the flag.
    rec.custom_data["joint_prefix"] = "g1/"
    convert_bags([write_bag(tmp_path / "kept", rec)], emb, tmp_path / "ds_kept")
    got = LeRobotDataset(tmp_path / "ds_kept", embodiment=emb).episode(0)
    np.testing.assert_array_equal(got.actions, want.actions)


def test_a_leader_arm_under_its_own_prefix_converts_with_the_action_joint_prefix(tmp_path):
    """The robot's driver names its joints g1/<name>, the teleoperation leader's own driver
    none: one prefix for both topics could not read both (the refusal offered
    --joint-prefix '', which would then lose the states). The action topic's prefix is its
    own: --action-joint-prefix, or gr00t-record's action_joint_prefix in the metadata."""
    rec, t_cmd, cmd, *_ = recording(n_cmd=12)
    t, names, pos = rec.state
    rec.state = (t, ["g1/" + n for n in names], pos)
    leader_t = t_cmd
    rec.joint_topics = {"/leader/joint_states": (leader_t, ARM + HAND, cmd)}
    bag = write_bag(tmp_path / "bag", rec)
    topics = dict(action_topic="/leader/joint_states", joint_prefix="g1/")
    with pytest.raises(BagError, match=r"/leader/joint_states lacks 4 of the 4 action joints.*"
                                       r"--action-joint-prefix ''$"):
        convert_bags([bag], embodiment(), tmp_path / "ds0", topics=BagTopics(**topics))
    [report] = convert_bags([bag], embodiment(), tmp_path / "ds",
                            topics=BagTopics(**topics, action_joint_prefix=""))
    got = LeRobotDataset(tmp_path / "ds", embodiment=embodiment()).episode(0)
    assert report.steps >= 10
    # every action row is a leader command (the leader's positions, not the robot's states)
    assert all(np.isclose(cmd, row).all(axis=1).any() for row in got.actions)
    # gr00t-record kept both prefixes: no flag needed
    rec.custom_data.update({"joint_prefix": "g1/", "action_joint_prefix": ""})
    [kept] = convert_bags([write_bag(tmp_path / "kept", rec)], embodiment(), tmp_path / "ds2",
                          topics=BagTopics(action_topic="/leader/joint_states"))
    assert kept.steps == report.steps


def test_a_trajectory_topic_without_the_prefix_names_the_flag(tmp_path):
    # The states carry the prefix given, the trajectories another one.
    rec, emb = prefixed_recording("g1/")
    sent, names, due, points = rec.trajectories["/arm/joint_trajectory"]
    rec.trajectories["/arm/joint_trajectory"] = (sent, ["g2/" + n[3:] for n in names], due,
                                                 points)
    with pytest.raises(BagError, match=r"/arm/joint_trajectory: its messages never name "
                                       r"\['g1/j0', 'g1/j1', 'g1/j2'\] .*--joint-prefix 'g1/'.*"
                                       r"Fix: the joint prefix is 'g1/', but .* with the prefix "
                                       r"'g2/' .*--joint-prefix g2/$"):
        convert_bags([write_bag(tmp_path / "bag", rec)], emb, tmp_path / "ds",
                     topics=BagTopics(joint_prefix="g1/"))


@pytest.mark.parametrize("bad", ["g1 /", "g1-"])
def test_a_bad_joint_prefix_flag_is_refused_naming_it(tmp_path, capsys, bad):
    with pytest.raises(SystemExit) as exit_:
        dataset_main(["from-bag", str(tmp_path / "bag"), "--embodiment",
                      str(_embodiment_yaml(tmp_path)), "--out", str(tmp_path / "ds"),
                      "--joint-prefix", bad])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--joint-prefix" in err and "letters, digits" in err, err
