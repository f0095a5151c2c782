"""The /gr00t/enable reply's cleared faults: written by System 1, read by the evaluation."""

from gr00t_common.enable_reply import cleared_faults, with_cleared


def test_cleared_faults_read_back_what_with_cleared_wrote() -> None:
    faults = ["right_elbow_joint is 1.021 from its command (1 joint(s) beyond "
              "tracking.max_error 1) for 0.50 s: the robot is not following",
              "implausible joint state: waist_yaw_joint = 9.1 (limits [-2.6, 2.6])\nsecond line"]
    message = with_cleared("disabled: no commands are published (the node is inactive)", faults)
    assert message.split("\n")[0] == "disabled: no commands are published (the node is inactive)"
    assert cleared_faults(message) == [faults[0], faults[1].replace("\n", " ")]
    assert cleared_faults(with_cleared("enabled", [])) == []
    assert with_cleared("enabled", []) == "enabled"
    # a status line that happens to contain the words is not a cleared fault
    assert cleared_faults("enabled; cleared the latched fault: none") == []
