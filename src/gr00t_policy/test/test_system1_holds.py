"""gr00t-dataset from-bag on recordings of System 1's own runs: the steps it commanded while
holding or braking (its /gr00t/safety_state) are left out, the recording split there, and the
report names them; --keep-system1-holds keeps them; a bag without the topic is unchanged."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import yaml

from gr00t_policy.dataset import LeRobotDataset
from gr00t_policy.dataset.bag_streams import BagTopics
from gr00t_policy.dataset.cli import main as dataset_main
from gr00t_policy.dataset.from_bag import convert_bags
from gr00t_policy.testing.bags import Recording, write_bag
sys.path.insert(0, str(Path(__file__).resolve().parent))  # test_from_bag.py's tiny robot
from test_from_bag import (ARM, CAMERA, DT, HAND, TASK, embodiment, recording,  # noqa: E402
                           state_of)

HOLD, BRAKE = "hold_stale_state", "deactivating"


def system1_run(n_cmd=48):
    """48 ticks: running, a hold on stale joint states over ticks 20-29, running again,
    deactivating from tick 40; each state published just before its tick's commands."""
    rec, t_cmd, cmd, *_ = recording(n_cmd=n_cmd)
    rec.safety_states = [(0.1, "running"), (t_cmd[20] - 5e-4, HOLD),
                         (t_cmd[30] - 5e-4, "running"), (t_cmd[40] - 5e-4, BRAKE)]
    return rec, t_cmd, cmd


def test_steps_commanded_while_holding_or_braking_are_left_out_and_named(tmp_path):
    rec, t_cmd, cmd = system1_run()
    [report] = convert_bags([write_bag(tmp_path / "bag", rec)], embodiment(), tmp_path / "ds")
    # Split at the hold: rows stay evenly spaced, each episode the policy's own commands.
    assert [n for _, n in report.episodes] == [20, 10], report.lines()
    assert report.system1_holds == {HOLD: 10, BRAKE: 8} and not any(report.dropped.values())
    text = "\n".join(report.lines())
    assert ("left out: 18 steps commanded by System 1 holding or braking (hold_stale_state 10, "
            "deactivating 8; from /gr00t/safety_state)") in text, text
    assert "--keep-system1-holds keeps them" in text
    ds = LeRobotDataset(tmp_path / "ds")
    np.testing.assert_allclose(ds.episode(0, load_video=False).actions, cmd[:20], atol=1e-6)
    np.testing.assert_allclose(ds.episode(1, load_video=False).actions, cmd[30:40], atol=1e-6)


def test_keep_system1_holds_keeps_them_and_says_so(tmp_path, capsys):
    rec, t_cmd, cmd = system1_run()
    bag = write_bag(tmp_path / "bag", rec)
    emb_yaml = tmp_path / "tiny.yaml"
    emb_yaml.write_text(yaml.safe_dump(embodiment().to_dict()))
    rc = dataset_main(["from-bag", str(bag), "--embodiment", str(emb_yaml), "--out",
                       str(tmp_path / "ds"), "--keep-system1-holds"])
    out = capsys.readouterr().out
    assert rc == 0 and "wrote 1 episodes (48 steps at 20 fps)" in out, out
    assert "kept (--keep-system1-holds): 18 steps commanded by System 1" in out, out
    np.testing.assert_allclose(LeRobotDataset(tmp_path / "ds").episode(0, load_video=False)
                               .actions, cmd, atol=1e-6)


def test_without_the_topic_nothing_changes(tmp_path):
    rec, t_cmd, cmd, *_ = recording(n_cmd=48)
    [report] = convert_bags([write_bag(tmp_path / "bag", rec)], embodiment(), tmp_path / "ds")
    assert [n for _, n in report.episodes] == [48] and not report.system1_holds
    assert "System 1" not in "\n".join(report.lines())


def test_stamped_commands_pair_with_the_state_by_header_stamp(tmp_path):
    # JointState commands stamped with System 1's tick; the state messages stamped with the
    # tick they began at but logged 30 ms late (after that tick's commands): the stamps say
    # which commands were the hold's, the log times would give it the tick after.
    rng = np.random.default_rng(1)
    ticks = np.arange(40)
    t_cmd = 0.5 + ticks * DT + rng.uniform(0, 0.012, len(ticks))
    cmd = np.stack([np.sin(ticks), np.cos(ticks), ticks / 10, -ticks / 10], axis=1)
    t_state = np.arange(0.0, t_cmd[-1] + 0.2, 0.008)
    rec = Recording(
        state=(t_state, ARM + HAND, state_of(t_state)), commands={},
        joint_topics={"/commands": (t_cmd, ARM + HAND, cmd)},
        frames={CAMERA: np.arange(0.0, t_cmd[-1] + 0.2, 1 / 30)},
        custom_data={"instruction": TASK},
        safety_states=[(0.1, "running"), (t_cmd[10] + 0.03, "hold_no_plan", t_cmd[10]),
                       (t_cmd[25] + 0.03, "running", t_cmd[25])])
    emb = embodiment(controllers=[{"name": "all", "type": "joint_state", "topic": "/commands",
                                   "joints": ARM + HAND}])
    [report] = convert_bags([write_bag(tmp_path / "bag", rec)], emb, tmp_path / "ds")
    assert report.system1_holds == {"hold_no_plan": 15}, report.lines()
    assert [n for _, n in report.episodes] == [10, 15]
    ds = LeRobotDataset(tmp_path / "ds")
    np.testing.assert_allclose(ds.episode(1, load_video=False).actions, cmd[25:], atol=1e-6)


def test_a_teleoperation_action_topic_is_not_system1s(tmp_path):
    # System 1 disabled the whole time, a leader arm's joint states the actions: none is
    # left out, and the report says why the state was not applied.
    rec, *_ = recording(n_cmd=20)
    rec.safety_states = [(0.1, "disabled")]
    [report] = convert_bags([write_bag(tmp_path / "bag", rec)], embodiment(), tmp_path / "ds",
                            topics=BagTopics(action_topic="/joint_states"))
    assert report.steps > 20 and not report.system1_holds
    assert any("--action-topic" in w and "/gr00t/safety_state" in w for w in report.warnings)


def test_before_the_first_state_message_its_previous_is_in_force():
    # A recorder that heard only the changes (no transient local): the first one's `previous`
    # was in force until it; "" (System 1 just activated) says nothing about what came before.
    from types import SimpleNamespace as NS

    from gr00t_policy.dataset.bag import Bag
    from gr00t_policy.dataset.system1_holds import SAFETY_STATE_TOPIC, commanded_states

    def change(ns, state, previous):
        stamp = NS(sec=ns // 10**9, nanosec=ns % 10**9)
        return NS(header=NS(stamp=stamp), state=state, previous=previous)

    sent = [10**9 + k * 50_000_000 for k in range(4)]  # Float64MultiArray: no header
    for previous, before in (("hold_no_plan", "hold_no_plan"), ("", "")):
        bag = Bag(path=Path("bag"), files=[],
                  messages={"/c": [(t, NS(data=[0.0])) for t in sent],
                            SAFETY_STATE_TOPIC: [(sent[2] - 1000, change(
                                sent[2] - 1000, "running", previous))]},
                  publish_times={"/c": sent, SAFETY_STATE_TOPIC: [sent[2] - 1000]})
        states = commanded_states(bag, ["/c"], sent[0], (np.array(sent) - sent[0]) / 1e9)
        assert list(states) == [before, before, "running", "running"]


def test_a_second_system1s_states_are_named_in_the_report(tmp_path):
    # Another System 1 on the domain (a second graph, a node left running) says "running"
    # in the middle of this one's hold: its message follows none of this one's, so the
    # steps left out for the hold may be the wrong ones; the report says so and why.
    rec, t_cmd, cmd = system1_run()
    rec.safety_states.insert(2, (t_cmd[25] - 5e-4, "running", None, "disabled"))
    [report] = convert_bags([write_bag(tmp_path / "bag", rec)], embodiment(), tmp_path / "ds")
    text = "\n".join(report.lines())
    assert ("1 of System 1's state messages on /gr00t/safety_state do not follow the one "
            "before them") in text, text
    assert "record with one System 1 on the domain" in text


def test_one_system1_reactivated_is_one_chain(tmp_path):
    # Deactivated and activated again: the first state after an activation follows nothing
    # ("" previous); no warning.
    rec, t_cmd, cmd = system1_run()
    rec.safety_states.append((t_cmd[45] - 5e-4, "running", None, ""))
    [report] = convert_bags([write_bag(tmp_path / "bag", rec)], embodiment(), tmp_path / "ds")
    assert "do not follow" not in "\n".join(report.lines())


def test_a_hold_of_a_tick_or_two_at_120_hz_does_not_split_the_recording():
    # System 1 commands at 120 Hz, the dataset takes one command per 50-ms step: a hold of
    # one or two ticks on a loaded robot computer used to leave out the step whose command
    # it was and split the episode there. The window's next running command is the step's.
    from gr00t_policy.dataset.resample import ResampleConfig, align

    u = 1.0 + np.arange(240) / 120.0  # (240,) 2 s of ticks
    states, frames = np.arange(0.9, 3.3, 0.008), {"c": np.arange(0.9, 3.3, 0.03)}
    cfg = ResampleConfig(dt=DT)
    picked = align(u, states, frames, cfg).runs[0]["action"]
    withheld = np.full(len(u), "", dtype=object)
    withheld[picked[10]] = HOLD  # one tick
    withheld[picked[20]:picked[20] + 2] = HOLD  # two
    steps = align(u, states, frames, cfg, withheld)
    [run] = steps.runs
    assert len(run["action"]) == len(picked) and not steps.withheld
    assert run["action"][10] == picked[10] + 1 and run["action"][20] == picked[20] + 2
    assert not withheld[run["action"]].any()
    # A hold over a whole window still leaves that step out, and splits there.
    withheld[picked[30]:picked[31]] = HOLD
    steps = align(u, states, frames, cfg, withheld)
    assert len(steps.runs) == 2 and steps.withheld == {HOLD: 1}
