"""The CLIs as processes: gr00t-bringup graph/check/run argument errors, gr00t-instruct with no
service (and its bad flags, in this process). (Runs without the System 1/2 nodes;
test_bringup_system.py runs them.)"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from gr00t_testing import bringup_command, instruct_command

REPO = Path(__file__).resolve().parents[3]


def run(argv: list[str], cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def fake_checkpoint(tmp_path: Path) -> Path:
    """Just the config.json that build_graph checks (the nodes are not started here)."""
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(json.dumps({
        "action_head": {"num_embodiments": 2, "max_state_dim": 64, "max_action_dim": 32},
        "embodiments": {"unitree_g1": {"slot": 0, "state_dim": 31, "action_dim": 31}}}))
    return ckpt


def test_check_accepts_the_shipped_configs_by_name_from_anywhere(tmp_path: Path) -> None:
    done = run(bringup_command("check", "unitree_g1", "fourier_gr1"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("OK ") == 2


def test_check_help_names_the_folders_it_searches(tmp_path: Path) -> None:
    done = run(bringup_command("check", "--help"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # the repository's config/ (argparse may wrap the path), not ./config
    assert str(REPO / "config") in "".join(done.stdout.split()), done.stdout
    assert "./config" not in done.stdout


def test_check_rejects_a_broken_config(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO / "config" / "unitree_g1.yaml").read_text())
    data["controllers"][0]["type"] = "forward_comand"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data))
    done = run(bringup_command("check", str(broken), str(REPO / "config" / "fourier_gr1.yaml")))
    assert done.returncode == 1
    assert "forward_comand" in done.stderr and "forward_command" in done.stderr
    assert done.stdout.count("OK ") == 1


def test_graph_json(tmp_path: Path) -> None:
    ckpt = fake_checkpoint(tmp_path)
    done = run(bringup_command("graph", "--json", "--checkpoint", str(ckpt), "--namespace", "g1",
                               "--remap", "/joint_states:=/g1/joint_states"))
    assert done.returncode == 0, done.stderr
    graph = json.loads(done.stdout)
    assert [n["name"] for n in graph["nodes"]] == ["gr00t_system2", "gr00t_system1"]
    assert graph["nodes"][1]["parameters"]["embodiment"].endswith("unitree_g1.yaml")
    assert all(n["namespace"] == "/g1" for n in graph["nodes"])
    assert graph["nodes"][0]["remappings"] == [["/joint_states", "/g1/joint_states"]]


def test_node_parameters_from_the_command_line(tmp_path: Path) -> None:
    ckpt = fake_checkpoint(tmp_path)
    done = run(bringup_command("graph", "--json", "--checkpoint", str(ckpt),
                               "--system2-param", "device:=cuda",
                               "--system1-param", "ensemble_decay_per_s:=6.0"))
    assert done.returncode == 0, done.stderr
    nodes = {n["name"]: n["parameters"] for n in json.loads(done.stdout)["nodes"]}
    assert nodes["gr00t_system2"]["device"] == "cuda"
    assert nodes["gr00t_system1"]["ensemble_decay_per_s"] == 6.0
    done = run(bringup_command("run", "--checkpoint", str(ckpt),
                               "--system2-param", "dtpye:=bfloat16"))
    assert done.returncode == 2
    assert "dtpye (did you mean dtype?)" in done.stderr


def test_run_with_bad_arguments_explains_and_exits_2(tmp_path: Path) -> None:
    done = run(bringup_command("run", "--checkpoint", str(tmp_path / "missing")))
    assert done.returncode == 2
    assert "make-random-checkpoint" in done.stderr
    ckpt = fake_checkpoint(tmp_path)
    done = run(bringup_command("run", "--checkpoint", str(ckpt), "--embodiment", "g1"))
    assert done.returncode == 2
    assert "unitree_g1" in done.stderr and "fourier_gr1" in done.stderr


def test_run_refuses_a_namespace_remapping_pointing_to_namespace(ros_domain_id,
                                                                 tmp_path: Path) -> None:
    """Before, the nodes started (hence a domain of its own) and the runner waited 120 s for
    lifecycle services under names the remapping had moved."""
    ckpt = fake_checkpoint(tmp_path)
    done = run(bringup_command("run", "--checkpoint", str(ckpt), "--remap", "__ns:=/robot_a"),
               timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--remap __ns:=/robot_a" in done.stderr and "--namespace" in done.stderr
    assert "Traceback" not in done.stderr and "started" not in done.stdout


def test_run_with_a_log_dir_it_cannot_write_says_so_in_one_line(ros_domain_id,
                                                                 tmp_path: Path) -> None:
    """Before, a traceback out of mkdir, after the 2-s listen for another graph."""
    ckpt = fake_checkpoint(tmp_path)
    (tmp_path / "a_file").write_text("")
    bad = tmp_path / "a_file" / "logs"
    done = run(bringup_command("run", "--checkpoint", str(ckpt), "--log-dir", str(bad)),
               timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == f"gr00t-bringup: --log-dir {bad}: cannot create it or write " \
                                  "in it (Not a directory)", done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("option", ["--services-timeout", "--configure-timeout"])
@pytest.mark.parametrize("value", ["0", "nan", "soon"])
def test_run_refuses_a_timeout_that_is_no_number_of_seconds(capsys, option, value) -> None:
    from gr00t_bringup.cli import main

    with pytest.raises(SystemExit) as info:
        main(["run", option, value])
    assert info.value.code == 2
    assert f"argument {option}: {value!r} is not a number of seconds > 0" \
        in capsys.readouterr().err


@pytest.mark.parametrize("args,says", [
    # rclpy's InvalidServiceNameException traceback, naming no flag, before.
    (["--service", "bad name"], "argument --service: 'bad name' is not a valid ROS service name"),
    # nan passed the `<= 0` check and gave up at once.
    (["--timeout", "nan"], "argument --timeout: 'nan' is not a number of seconds > 0"),
    (["--timeout", "0"], "argument --timeout: '0' is not a number of seconds > 0"),
])
def test_instruct_refuses_a_bad_flag_at_parsing_naming_it(capsys, args, says) -> None:
    from gr00t_bringup.instruct import main

    with pytest.raises(SystemExit) as info:
        main(["wave", *args])
    assert info.value.code == 2
    assert says in capsys.readouterr().err


def test_instruct_without_a_service_exits_2(ros_domain_id) -> None:
    done = run(instruct_command("wave", "--service", "/nobody/set_instruction", "--timeout", "1"),
               timeout=60)
    assert done.returncode == 2
    assert "/nobody/set_instruction" in done.stderr and "ROS_DOMAIN_ID" in done.stderr


def test_instruct_wait_says_when_system1_plans_on_it_and_exits_3_when_it_does_not(
        ros_domain_id) -> None:
    """A probe plays System 2's service (accepting with ids 1, 2, ...) and, for the second
    instruction only, System 1: an ActionChunk with its id and a diagnostics status."""
    import threading

    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
    from gr00t_msgs.msg import ActionChunk
    from gr00t_msgs.srv import SetInstruction
    from gr00t_testing import RosProbe

    with RosProbe(domain_id=ros_domain_id) as probe:
        ids, served = [0], [0.0]

        def serve(request, response):
            ids[0] += 1
            served[0] = time.monotonic()
            response.accepted, response.instruction_id = True, ids[0]
            response.message = f"accepted as instruction {ids[0]}"
            return response

        probe.node.create_service(SetInstruction, "/gr00t/set_instruction", serve)
        done = run(instruct_command("wave", "--wait", "--timeout", "2"), timeout=60)
        assert done.returncode == 3, done.stdout + done.stderr
        assert "accepted as instruction 1" in done.stdout
        assert "System 1 published no plan for instruction 1 within 2 s" in done.stdout
        assert "no System 1 diagnostics either" in done.stdout

        chunks = probe.publisher(ActionChunk, "/gr00t/action_chunk")
        diags = probe.publisher(DiagnosticArray, "/diagnostics")
        stop = threading.Event()

        def system1() -> None:  # plans for the newest instruction 0.5 s after it, 50 Hz
            while not stop.wait(0.02):
                late = time.monotonic() - served[0] < 0.5
                chunks.publish(ActionChunk(instruction_id=ids[0] - late, horizon=1))
                status = DiagnosticStatus(name="gr00t_system1: control loop",
                                          message="disabled: /gr00t/enable is false")
                diags.publish(DiagnosticArray(status=[status]))

        thread = threading.Thread(target=system1, daemon=True)
        thread.start()
        try:
            done = run(instruct_command("wave", "--wait", "--timeout", "10"), timeout=60)
        finally:
            stop.set()
            thread.join(5)
        assert done.returncode == 0, done.stdout + done.stderr
        m = re.search(r"System 1 plans on instruction 2 \(first plan (\d+\.\d+) s after",
                      done.stdout)
        assert m and float(m.group(1)) >= 0.4, done.stdout  # not instruction 1's plans
        assert "System 1: disabled: /gr00t/enable is false" in done.stdout, done.stdout


def test_instruct_wait_without_a_plan_says_what_system2_reports(ros_domain_id) -> None:
    """An instruction set while System 2 has no camera frames (a camera topic renamed) and
    System 1 is disabled: System 1's reason alone ('disabled') hides that no tokens come, so
    the reply names System 2's status too."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
    from gr00t_msgs.srv import SetInstruction
    from gr00t_testing import RosProbe

    with RosProbe(domain_id=ros_domain_id) as probe:
        def serve(request, response):
            response.accepted, response.instruction_id = True, 1
            response.message = "accepted as instruction 1"
            return response

        probe.node.create_service(SetInstruction, "/gr00t/set_instruction", serve)
        diags = probe.publisher(DiagnosticArray, "/diagnostics")
        missing = ("camera(s) missing, no tokens: /camera/head/image_raw (no publisher yet "
                   "(camera_transport=auto waits for one))")
        timer = probe.node.create_timer(0.2, lambda: diags.publish(DiagnosticArray(status=[
            DiagnosticStatus(name="gr00t_system2", level=DiagnosticStatus.ERROR,
                             message=missing),
            DiagnosticStatus(name="gr00t_system1: control loop", level=DiagnosticStatus.OK,
                             message="disabled: disabled through /gr00t/enable")])))
        try:
            done = run(instruct_command("wave", "--wait", "--timeout", "2"), timeout=60)
        finally:
            timer.cancel()
        assert done.returncode == 3, done.stdout + done.stderr
        assert f"System 2: {missing}" in done.stdout, done.stdout
