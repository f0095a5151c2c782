"""gr00t_record.joint_names: an episode's first joint state read for the YAML's joints."""

from gr00t_record.joint_names import names_problem

NEEDED = ["j0", "j1", "j2"]


def test_names_with_the_prefix_pass():
    assert names_problem("/joint_states", ["g1/j0", "g1/j1", "g1/j2", "x"], NEEDED, "g1/",
                         "state") is None


def test_another_prefix_is_named_with_both_fixes():
    problem = names_problem("/joint_states", ["g1/j0", "g1/j1", "g1/j2"], NEEDED, "",
                            "state")
    assert problem.startswith("/joint_states: the episode's first message lacks 3 of the 3 "
                              "state joints: ['j0', 'j1', 'j2']")
    assert problem.endswith("set joint_prefix:=g1/ (restart gr00t-record with it; the episodes "
                            "recorded so far convert with gr00t-dataset from-bag "
                            "--joint-prefix g1/)"), problem


def test_missing_joints_without_a_prefix_that_explains_them():
    problem = names_problem("/leader/joint_states", ["g1/j0", "g1/j1"], NEEDED, "g1/", "action")
    assert ("lacks 1 of the 3 action joints (joint_prefix 'g1/' + the YAML's names): "
            "['g1/j2']; it names ['g1/j0', 'g1/j1']") in problem
    assert "from-bag will refuse this episode" in problem


def test_a_leader_under_another_prefix_is_told_its_own_parameter():
    """A leader arm on its own driver (no prefix) beside a g1/ robot: the fix is the
    action topic's own prefix, not the robot's joint_prefix (which would break the states)."""
    problem = names_problem("/leader/joint_states", ["j0", "j1", "j2"], NEEDED, "g1/",
                            "action", "action_joint_prefix")
    assert "(action_joint_prefix 'g1/' + the YAML's names)" in problem
    assert problem.endswith("set action_joint_prefix:='' (restart gr00t-record with it; the "
                            "episodes recorded so far convert with gr00t-dataset from-bag "
                            "--action-joint-prefix '')"), problem
