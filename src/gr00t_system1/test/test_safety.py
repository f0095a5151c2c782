"""The Supervisor state machine."""

from gr00t_system1.safety import SafetyState, Supervisor, SupervisorInputs


def inputs(**kw):
    base = dict(enabled=True, state_age=0.01, tokens_age=0.1, fresh_plan=True,
                plan_exhausted=False, worker_alive=True)
    base.update(kw)
    return SupervisorInputs(**base)


def test_state_machine_transitions_are_logged_once():
    log = []
    sup = Supervisor(0.05, 0.5, log=lambda old, new, why: log.append((old, new)))
    assert sup.update(inputs(enabled=False)) == SafetyState.DISABLED
    assert sup.update(inputs(tokens_age=None)) == SafetyState.WAITING
    assert sup.update(inputs(tokens_age=None)) == SafetyState.WAITING
    assert sup.update(inputs()) == SafetyState.RUNNING
    for _ in range(3):
        assert sup.update(inputs(state_age=0.06, fresh_plan=False)) == SafetyState.HOLD_STALE_STATE
    assert sup.update(inputs(tokens_age=0.6)) == SafetyState.HOLD_STALE_TOKENS
    assert sup.update(inputs()) == SafetyState.RUNNING
    assert sup.update(inputs(plan_exhausted=True, fresh_plan=False)) == SafetyState.HOLD_NO_PLAN
    assert sup.update(inputs(worker_alive=False)) == SafetyState.FAULT
    assert sup.update(inputs()) == SafetyState.RUNNING
    assert sup.update(inputs(enabled=False)) == SafetyState.DISABLED
    # Re-enabled: waits for a fresh plan again instead of resuming at once.
    assert sup.update(inputs(fresh_plan=False)) == SafetyState.WAITING
    assert [n for _, n in log] == [
        SafetyState.WAITING, SafetyState.RUNNING, SafetyState.HOLD_STALE_STATE,
        SafetyState.HOLD_STALE_TOKENS, SafetyState.RUNNING, SafetyState.HOLD_NO_PLAN,
        SafetyState.FAULT, SafetyState.RUNNING, SafetyState.DISABLED, SafetyState.WAITING]


def test_resuming_from_a_hold_waits_in_it_for_a_plan_instead_of_blaming_inference():
    # Issue 17: a resume went through hold_no_plan "(inference too slow?)".
    sup = Supervisor(0.05, 0.5)
    sup.update(inputs())
    assert sup.update(inputs(tokens_age=0.6)) == SafetyState.HOLD_STALE_TOKENS
    state = sup.update(inputs(plan_exhausted=True, fresh_plan=False))
    assert state == SafetyState.HOLD_STALE_TOKENS and "waiting for a plan" in sup.reason
    assert sup.update(inputs(fresh_plan=True)) == SafetyState.RUNNING


def test_a_latched_fault_holds_with_its_reason_and_a_worker_fault_says_what_failed():
    sup = Supervisor(0.05, 0.5)
    assert sup.update(inputs(fault="left_elbow_joint at 101 rad")) == SafetyState.WAITING
    sup.update(inputs())
    assert sup.update(inputs(fault="left_elbow_joint at 101 rad")) == SafetyState.FAULT
    assert sup.reason == "left_elbow_joint at 101 rad"
    sup.update(inputs())
    state = sup.update(inputs(worker_alive=False, worker_problem="planning failed 3 times"))
    assert state == SafetyState.FAULT and sup.reason == "planning failed 3 times"


def test_stale_state_wins_over_stale_tokens_and_names_the_age():
    sup = Supervisor(0.05, 0.5)
    sup.update(inputs())
    state, reason = sup.decide(inputs(state_age=0.2, tokens_age=0.9))
    assert state == SafetyState.HOLD_STALE_STATE and "0.200" in reason


def test_no_or_stale_tokens_say_where_to_look_not_only_the_instruction():
    # An instruction set but a camera missing on System 2 (no tokens at all), or System 2
    # stopped mid-run (tokens stale): the reason must send the operator to System 2's
    # /diagnostics, not only to gr00t-instruct, which changes nothing then.
    sup = Supervisor(0.05, 0.5)
    _, never = sup.decide(inputs(tokens_age=None))
    assert "gr00t-instruct" in never and "camera" in never and "System 2's /diagnostics" in never
    _, waiting = sup.decide(inputs(tokens_age=0.6))
    assert "System 2 stopped publishing: its /diagnostics say why" in waiting
    sup.update(inputs())
    _, stale = sup.decide(inputs(tokens_age=0.6))
    assert stale.startswith("tokens 0.600 s old > token_staleness_s 0.5")
    assert "System 2 stopped publishing: its /diagnostics say why" in stale


def test_stale_joint_states_say_who_publishes_them():
    sup = Supervisor(0.05, 0.5)
    _, waiting = sup.decide(inputs(state_age=None))
    assert "robot's driver or the simulator" in waiting
    sup.update(inputs())
    _, stale = sup.decide(inputs(state_age=0.06))
    assert stale.startswith("joint state 0.060 s old > state_staleness_s 0.05")
    assert "robot's driver or the simulator" in stale


def test_refused_tokens_are_the_reason_not_a_missing_instruction():
    # Scenario: System 2 runs another checkpoint (another backbone_id). Its tokens arrive and
    # are refused; the reason must say so, not that no tokens came.
    refusal = "tokens refused: backbone_id 'aa' from System 2 but the checkpoint expects 'bb'"
    sup = Supervisor(0.05, 0.5)
    _, never = sup.decide(inputs(tokens_age=None, tokens_refused=refusal))
    assert never == f"no embedding tokens accepted yet: {refusal}"
    sup.update(inputs())
    _, stale = sup.decide(inputs(tokens_age=0.6, tokens_refused=refusal))
    assert stale.endswith(f"the newest were refused: {refusal}")
    assert "stopped publishing" not in stale


def test_refused_joint_states_are_the_reason_not_a_driver_that_is_down():
    # Scenario: a new robot whose gripper driver publishes its own /joint_states beside the
    # arm's. Every message arrives and is refused (each lacks the other's joints); the reason
    # (/diagnostics, gr00t-instruct --wait) said "no joint states from the robot's driver (is
    # it running?)" while the driver ran at 100 Hz.
    refusal = "joint state lacks 7 joint(s) the embodiment needs: fr3_joint1, ..."
    sup = Supervisor(0.05, 0.5)
    _, never = sup.decide(inputs(state_age=None, state_refused=refusal))
    assert never == f"no joint state accepted yet: {refusal}"
    _, waiting = sup.decide(inputs(state_age=0.06, state_refused=refusal))
    assert waiting.endswith(f"the newest were refused: {refusal}")
    sup.update(inputs())
    _, stale = sup.decide(inputs(state_age=0.06, state_refused=refusal))
    assert stale.startswith("joint state 0.060 s old > state_staleness_s 0.05")
    assert stale.endswith(f"the newest were refused: {refusal}")
    assert "is it running?" not in never + waiting + stale


def test_disabled_says_how_it_came_and_how_to_enable():
    # A robot YAML starts disabled (start_enabled: false): nobody called /gr00t/enable, and
    # the reason is what gr00t-instruct --wait and /diagnostics show the operator.
    state, why = Supervisor(0.05, 0.5).decide(inputs(enabled=False))
    assert state == SafetyState.DISABLED
    assert "start_enabled" in why and "/gr00t/enable" in why
    assert "std_srvs/srv/SetBool" in why and "data: true" in why


def test_the_readme_table_quotes_the_reasons_the_supervisor_gives():
    # README "Why is the robot not moving?" quotes the start of each message: keep them true.
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    sup = Supervisor(0.05, 0.5)
    refusal = "tokens refused: backbone_id 'aa'"
    quoted = {
        "disabled: start_enabled false or /gr00t/enable set false": inputs(enabled=False),
        "waiting: no embedding tokens received yet": inputs(tokens_age=None),
        "waiting: no embedding tokens accepted yet: tokens refused: ": inputs(
            tokens_age=None, tokens_refused=refusal),
        "waiting: no joint state": inputs(state_age=None),
    }
    for quote, given in quoted.items():
        state, why = sup.decide(given)
        assert f"{state.value}: {why}".startswith(quote), (quote, why)
        assert f"`{quote}" in readme, quote
    sup.update(inputs())
    state, why = sup.decide(inputs(tokens_age=0.6))
    assert state.value == "hold_stale_tokens" and "System 2 stopped publishing" in why


def test_disabled_with_a_latched_fault_names_the_fault():
    # An implausible joint state latched while disabled: /diagnostics said only "disabled",
    # and the operator who enables is surprised by a hold.
    fault = "implausible joint state: left_hand_index_0_joint = 9 (limits [-1.571, 0])"
    state, why = Supervisor(0.05, 0.5).decide(inputs(enabled=False, fault=fault))
    assert state == SafetyState.DISABLED
    assert why.endswith(f"; a fault is latched: {fault}")


def test_the_safety_state_message_names_every_state():
    """gr00t_msgs/SafetyState's STATE_ constants are the states' values (what a recording or
    an evaluation compares with), and the deactivation's braking besides."""
    from gr00t_msgs.msg import SafetyState as Msg

    from gr00t_system1.node import DEACTIVATING

    constants = {getattr(Msg, name) for name in dir(Msg) if name.startswith("STATE_")}
    assert constants == {s.value for s in SafetyState} | {DEACTIVATING}


def test_the_readers_hold_names_are_the_supervisors_holds():
    """gr00t-eval and from-bag read holds off the wire by name (the ROS-free core's HOLDS)."""
    from gr00t_policy.runtime.safety_state import HOLDS, RUNNING

    from gr00t_system1.safety import HOLD_STATES

    assert HOLDS == {s.value for s in HOLD_STATES}
    assert RUNNING == SafetyState.RUNNING.value
