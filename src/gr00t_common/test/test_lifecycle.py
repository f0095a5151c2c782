"""gr00t_common.lifecycle and lifecycle_client on a small real ManagedNode in this process:
guarded transitions, which of the node's methods each transition runs, release of what
configure built, the spin loop that survives an impossible transition id, and the client's
transition / get_state."""

from __future__ import annotations

import threading

import pytest
import rclpy
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from std_msgs.msg import String

from gr00t_common.lifecycle import ManagedNode, spin
from gr00t_common.lifecycle_client import LifecycleClient, get_state, transition
from gr00t_common.probe import RosProbe

TARGET = "/lifecycle_test"


class Managed(ManagedNode):
    """configure creates a publisher, a subscription and a timer, then fails when asked to;
    activate fails when asked to. `calls` lists the methods the transitions ran."""

    def __init__(self, context: Context) -> None:
        super().__init__("lifecycle_test", context=context)
        self.fail_with: type[BaseException] | None = None
        self.fail_activate = False
        self.released = 0
        self.calls: list[str] = []

    def _count(self) -> int:
        return len([*self.publishers, *self.subscriptions, *self.timers])

    def _configure(self) -> None:
        self.calls.append("configure")
        self.pub = self.create_lifecycle_publisher(String, "/lifecycle_test/out", 10)
        self.create_subscription(String, "/lifecycle_test/in", lambda _m: None, 10)
        self.create_timer(10.0, lambda: None)
        if self.fail_with is not None:
            raise self.fail_with("the checkpoint is broken")

    def _after_configure(self) -> None:
        self.calls.append("after_configure")

    def _activate(self) -> None:
        self.calls.append("activate")
        if self.fail_activate:
            raise RuntimeError("the camera is gone")

    def _stop_activity(self) -> None:
        self.calls.append("stop")

    def _release(self) -> None:
        self.calls.append("release")
        before = self._count()
        super()._release()
        self.released += before - self._count()


@pytest.fixture
def managed(ros_domain_id):
    context = Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = Managed(context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    thread = threading.Thread(target=spin, args=(node, executor), daemon=True)
    thread.start()
    yield node, thread
    rclpy.shutdown(context=context)
    thread.join(5.0)
    executor.shutdown()
    node.destroy_node()


def test_autostart_defaults_to_false(managed):
    node, _ = managed
    assert node.autostart is False
    assert node.describe_parameter("autostart").read_only


def test_expected_error_fails_and_releases_what_configure_built(managed):
    node, _ = managed
    node.fail_with = ValueError
    baseline = (len(list(node.publishers)), len(list(node.subscriptions)),
                len(list(node.timers)))
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert node.released == 3
    assert (len(list(node.publishers)), len(list(node.subscriptions)),
            len(list(node.timers))) == baseline
    # Configuring again works (the parameters declared earlier stay declared).
    node.fail_with = None
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    assert node.pub.is_activated


def test_unexpected_error_is_an_error_transition_back_to_unconfigured(managed):
    node, _ = managed
    node.fail_with = ZeroDivisionError
    assert node.trigger_configure() == TransitionCallbackReturn.ERROR
    assert node._state_machine.current_state[1] == "unconfigured"  # on_error said SUCCESS
    assert node.released == 3


def test_each_transition_runs_its_methods(managed):
    node, _ = managed
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    node.fail_activate = True
    assert node.trigger_activate() == TransitionCallbackReturn.FAILURE  # stays inactive
    node.fail_activate = False
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    assert node.calls == ["configure", "after_configure", "activate", "stop", "activate",
                          "stop", "release"]
    assert node.released == 3
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS  # again after cleanup
    assert node.trigger_shutdown() == TransitionCallbackReturn.SUCCESS
    assert node.calls[-2:] == ["stop", "release"]
    assert node.released == 6


def test_client_transitions_and_an_impossible_id_does_not_kill_the_node(managed):
    node, thread = managed
    with RosProbe(name="lifecycle_client") as probe:
        assert get_state(probe.node, TARGET) == "unconfigured"
        assert not transition(probe.node, TARGET, "activate")  # refused by label
        # rclpy raises in the node's executor for an id the state does not have; our spin
        # loop logs it and keeps serving.
        raw = probe.node.create_client(ChangeState, f"{TARGET}/change_state")
        raw.call_async(ChangeState.Request(transition=Transition(
            id=Transition.TRANSITION_ACTIVATE)))
        assert transition(probe.node, TARGET, "configure")
        assert transition(probe.node, TARGET, "activate")
        assert get_state(probe.node, TARGET) == "active"
        assert thread.is_alive()
        with pytest.raises(ValueError, match="unknown lifecycle transition 'start'"):
            LifecycleClient(probe.node, TARGET).request("start")
        assert transition(probe.node, TARGET, "deactivate")
        assert get_state(probe.node, TARGET) == "inactive"


def test_get_state_times_out_naming_the_node(ros_domain_id):
    with RosProbe(name="lifecycle_client") as probe:
        with pytest.raises(TimeoutError, match="/nobody_here"):
            get_state(probe.node, "/nobody_here", timeout=0.5)


def test_use_sim_time_cannot_change_while_the_node_runs(managed):
    """`ros2 param set /gr00t_system1 use_sim_time true` was accepted while active (every
    other parameter is read-only): System 1's timers then waited for a /clock that never
    came and the arm stopped dead. Refused over the parameter service, as ros2 param sends
    it, with the fix; the value in force is accepted."""
    from rcl_interfaces.msg import Parameter as ParameterMsg
    from rcl_interfaces.msg import ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    node, _ = managed
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS

    def set_sim_time(value: bool):
        msg = ParameterMsg(name="use_sim_time", value=ParameterValue(
            type=ParameterType.PARAMETER_BOOL, bool_value=value))
        with RosProbe(name="param_client") as probe:
            reply = probe.call(SetParameters, f"{TARGET}/set_parameters",
                               SetParameters.Request(parameters=[msg]))
        return reply.results[0]

    result = set_sim_time(True)
    assert not result.successful
    assert "use_sim_time cannot change while lifecycle_test runs" in result.reason
    assert "Restart the node with -p use_sim_time:=true" in result.reason
    assert node.get_parameter("use_sim_time").value is False
    assert not node.get_clock().ros_time_is_active  # rclpy's callback never switched it
    assert set_sim_time(False).successful  # no change


@pytest.mark.parametrize("sim_time", [False, True])
def test_timers_run_on_the_steady_clock_unless_on_sim_time(ros_domain_id, sim_time):
    """On the system clock a wall clock stepped back held System 1's timers until it caught
    up (gr00t_system1's test_node.py steps one); under sim time they tick on /clock. Every
    timer a managed node creates without naming a clock (System 2's diagnostics and camera
    checks were on the system clock) is on that clock; a clock named is kept."""
    from rclpy.clock import Clock, ClockType
    from rclpy.parameter import Parameter

    context = Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    try:
        node = ManagedNode("clock_test", context=context, parameter_overrides=[
            Parameter("use_sim_time", value=sim_time)])
        clock = node.timer_clock()
        timer = node.create_timer(1.0, lambda: None)
        if sim_time:
            assert clock is node.get_clock() and clock.ros_time_is_active
            assert timer.clock is node.get_clock()
        else:
            assert timer.clock.clock_type == ClockType.STEADY_TIME
        system = Clock(clock_type=ClockType.SYSTEM_TIME)
        assert node.create_timer(1.0, lambda: None, clock=system).clock is system
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
