"""Managed (lifecycle) nodes, the node side: the `autostart` parameter, guarded transitions
and the spin loop that System 1 and System 2 share.

System 1 and System 2 are `rclpy.lifecycle.LifecycleNode`s (the ROS 2 managed-node state
machine that ros2_control and nav2 use):

    unconfigured --configure--> inactive --activate--> active
    active --deactivate--> inactive --cleanup--> unconfigured;   shutdown from any of them

configure reads the parameters, loads the checkpoint and warms it up; activate starts the
timers and threads and enables the publishers; deactivate stops them; cleanup releases what
configure built. A node started alone stays unconfigured until a manager asks for a
transition (`gr00t-bringup run`, the launch file, `ros2 lifecycle set`), as nav2 and
ros2_control nodes do, unless it is started with `-p autostart:=true`.

`ManagedNode` maps those transitions onto four methods a node writes (`_configure`,
`_activate`, `_stop_activity`, `_release`); `run_managed` is the `main` of such a node. A
SIGINT or SIGTERM while the node is active deactivates it before the process exits (System
1 brakes to rest; `gr00t_common.stop_signals`); a second one exits at once.

Every parameter of these nodes is read-only, and so, in effect, is rclpy's own
`use_sim_time` (rclpy lets anyone set it at any time): the timers, stamps and staleness
checks are set up on the clock the node started with, and switching to simulated time with
no /clock stopped System 1's timers, leaving the arm stopped dead. A change is refused,
saying to restart the node with the parameter.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

import rclpy
from rcl_interfaces.msg import SetParametersResult
from rclpy.client import Client
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import (LifecycleNode, LifecyclePublisher, LifecycleState,
                             TransitionCallbackReturn)
from rclpy.publisher import Publisher
from rclpy.service import Service
from rclpy.subscription import Subscription
from rclpy.timer import Timer

from gr00t_common.params import ParameterError, Spec, declare, read
from gr00t_common.startup import EXIT_BAD_ARGUMENTS, EXIT_STARTUP_FAILED, EXPECTED_ERRORS, init
from gr00t_common.stop_signals import StopSignals
from gr00t_common.teardown import finish

__all__ = ["AUTOSTART", "EXIT_BAD_ARGUMENTS", "EXIT_STARTUP_FAILED", "SPECS", "Entities",
           "ManagedNode", "TransitionCallbackReturn", "autostart", "declare_autostart",
           "guarded", "run_managed", "spin"]

AUTOSTART = Spec(
    "autostart", "bool", False,
    "Configure and activate at start, for a node run by hand without a lifecycle manager. "
    "False: the node waits unconfigured for configure/activate requests (gr00t-bringup run "
    "and the launch file send them). With true, a failed configure exits with status 1.")
SPECS = (AUTOSTART,)

# rclpy's lifecycle service raises this from the node's executor when a request names a
# transition by id that the current state does not have (ros2cli and our clients send
# labels, which rclpy refuses politely).
_BAD_TRANSITION = "Failed to trigger lifecycle state machine transition"
# Where a failed transition leaves the node (an ERROR passes through on_error, which our
# nodes answer with SUCCESS after releasing everything: unconfigured).
_STAYS = {"configure": "unconfigured", "activate": "inactive"}
USE_SIM_TIME = "use_sim_time"


def declare_autostart(node: LifecycleNode) -> bool:
    """Declare `autostart` on `node` (in its constructor) and return its value."""
    declare(node, SPECS)
    return bool(read(node, SPECS)["autostart"])


def guarded(node: LifecycleNode, transition: str, work: Callable[[], None],
            expected: tuple[type[BaseException], ...] = EXPECTED_ERRORS
            ) -> TransitionCallbackReturn:
    """Run one transition's work: SUCCESS; FAILURE on an expected error, logged as the reason
    (the node stays in its previous state); ERROR on anything else, logged with its
    traceback (rclpy then runs on_error)."""
    stays = _STAYS.get(transition, "")
    stays = f", the node stays {stays}" if stays else ""
    try:
        work()
    except expected as exc:
        node.get_logger().error(f"{transition} failed{stays}: {exc}")
        return TransitionCallbackReturn.FAILURE
    except Exception:  # noqa: BLE001 - reported as an ERROR transition, never swallowed
        node.get_logger().error(f"{transition} failed unexpectedly{stays}:\n"
                                f"{traceback.format_exc()}")
        return TransitionCallbackReturn.ERROR
    return TransitionCallbackReturn.SUCCESS


def autostart(node: LifecycleNode) -> bool:
    """configure then activate `node` from inside (for `autostart:=true`); False, with a
    fatal line, when either fails (the failing callback has logged why)."""
    for name, trigger in (("configure", node.trigger_configure),
                          ("activate", node.trigger_activate)):
        if trigger() != TransitionCallbackReturn.SUCCESS:
            node.get_logger().fatal(f"cannot start: {name} failed (the reason is logged "
                                    "above)")
            return False
    return True


def spin(node: LifecycleNode, executor, until: Callable[[], bool] = lambda: False) -> None:
    """Spin `executor` until the context shuts down, KeyboardInterrupt, or `until()` is true
    after a callback (`StopSignals.requested`: its guard condition's callback sets it).

    A lifecycle request by id that the current state does not allow makes rclpy raise out
    of the executor; it is logged and refused (the client gets no reply) instead of taking
    the node down. An exception while the context is shutting down (a callback that was
    publishing) is a clean stop.
    """
    while node.context.ok() and not until():
        try:
            executor.spin_once()  # as executor.spin() does, with our condition
        except (KeyboardInterrupt, ExternalShutdownException):
            return
        except Exception as exc:  # noqa: BLE001 - re-raised unless explained below
            if not node.context.ok():
                return
            if _BAD_TRANSITION not in str(exc):
                raise
            node.get_logger().error(f"refused a lifecycle request: {exc}")


def _entities(node: LifecycleNode) -> list[Any]:
    return [*node.publishers, *node.subscriptions, *node.services, *node.timers, *node.clients]


class Entities:
    """The publishers, subscriptions, services, timers and clients a node creates after this
    object is made (at the end of its constructor); `destroy_newer` destroys them.

    Cleanup, and a configure that failed half-way, release exactly what configure built,
    also what a decoder plugin created on the node, and never the node's own lifecycle and
    parameter services.
    """

    def __init__(self, node: LifecycleNode) -> None:
        self._node = node
        self._keep = set(_entities(node))

    def destroy_newer(self) -> int:
        """Destroy every entity created since construction; returns how many."""
        node = self._node
        newer = [e for e in _entities(node) if e not in self._keep]
        for e in newer:
            if isinstance(e, LifecyclePublisher):
                node.destroy_lifecycle_publisher(e)
            elif isinstance(e, Publisher):
                node.destroy_publisher(e)
            elif isinstance(e, Subscription):
                node.destroy_subscription(e)
            elif isinstance(e, Service):
                node.destroy_service(e)
            elif isinstance(e, Timer):
                node.destroy_timer(e)
            elif isinstance(e, Client):
                node.destroy_client(e)
        return len(newer)


class ManagedNode(LifecycleNode):
    """A lifecycle node that writes its transitions as four methods:

    - `_configure()`: read parameters, load models, create publishers, subscriptions and
      services; an expected error (`EXPECTED_ERRORS`) fails the transition with its message.
    - `_activate()`: start the timers and threads.
    - `_stop_activity()`: stop them (joined: nothing is published once it returns); safe to
      call when nothing runs.
    - `_release()`: undo configure; this class's destroys every entity created since the
      constructor (`Entities`), a subclass drops its models after calling it.

    configure failing half-way releases; activate failing stops what it started; deactivate
    stops; cleanup releases; shutdown and error do both. `_after_configure()` runs after a
    successful configure. `is_active` is true from a successful activate until the activity
    has stopped (what a signal decides on: `gr00t_common.stop_signals`). A subclass creates no publishers, subscriptions, services, timers
    or clients in its constructor: cleanup would destroy them.
    """

    #: logged when the node is deactivated (a subclass says what stops with it)
    deactivated_message = "deactivated"

    def __init__(self, node_name: str, **node_kwargs: Any) -> None:
        super().__init__(node_name, **node_kwargs)
        # True from a successful activate until its activity has stopped: a plain attribute,
        # read by the signal handler (StopSignals), which must take no lock.
        self.is_active = False
        # Runs before rclpy's own use_sim_time callback (the newest runs first), which
        # switches the clock as it is called.
        self.add_on_set_parameters_callback(self._keep_the_clock)
        self.autostart = declare_autostart(self)
        self._configured = Entities(self)  # what configure creates, cleanup destroys

    def timer_clock(self) -> Clock:
        """The clock for the node's periodic timers: the node clock under `use_sim_time` (a
        simulator's /clock paces them), else the steady clock.

        rcl moves a timer across a jump of its clock only on ROS time with sim time active;
        on the system clock a wall clock stepped back (NTP or chrony's makestep) held the
        timer until the clock caught up: after a 1-s step System 1 sent no command for 1 s,
        the arm stopped dead. (`use_sim_time` cannot change while the node runs, so the
        choice made when a timer is created stays right.)"""
        if self.get_parameter(USE_SIM_TIME).value:
            return self.get_clock()
        return Clock(clock_type=ClockType.STEADY_TIME)

    def create_timer(self, timer_period_sec: float, callback: Callable[[], Any] | None,
                     callback_group: Any = None, clock: Clock | None = None,
                     **kwargs: Any) -> Timer:
        """rclpy's `create_timer`, on `timer_clock()` unless a clock is given: every periodic
        timer of a managed node (System 1's ticks, System 2's diagnostics and camera checks,
        a decoder plugin's) goes on through a wall-clock step."""
        return super().create_timer(timer_period_sec, callback, callback_group,
                                    self.timer_clock() if clock is None else clock, **kwargs)

    def _keep_the_clock(self, parameters: list[Any]) -> SetParametersResult:
        """Refuse a change of `use_sim_time` (module docstring); the value in force again
        is accepted."""
        now = self.get_parameter(USE_SIM_TIME).value
        for p in parameters:
            if p.name == USE_SIM_TIME and p.value != now:
                return SetParametersResult(successful=False, reason=(
                    f"{USE_SIM_TIME} cannot change while {self.get_name()} runs: its timers "
                    f"and stamps use the clock it started with ({USE_SIM_TIME} {now}; sim "
                    "time without /clock would stop them). Restart the node with "
                    f"-p {USE_SIM_TIME}:={str(p.value).lower()} (gr00t-bringup run "
                    "--use-sim-time, the launch file's use_sim_time:=true)"))
        return SetParametersResult(successful=True)

    def destroy_node(self) -> None:
        """rclpy's, and then the lifecycle state machine, which rclpy (Jazzy) leaves alive: it
        holds the node's handle, so the ROS context was never finalized and the process's DDS
        participant lived on until the C library's exit handlers. Deleted there, by Fast DDS's
        static destructor, it hung System 1's exit in CI (joining its shared-memory receive
        thread) after the node had stopped, with no watchdog left to report it. Now it is
        deleted in the teardown, under its deadline (`gr00t_common.teardown`). Nothing may
        touch the node's lifecycle state after this (rclpy then dereferences the destroyed
        state machine)."""
        super().destroy_node()
        self._state_machine.destroy_when_not_in_use()

    # -- what a subclass writes -------------------------------------------------------------
    def _configure(self) -> None:
        raise NotImplementedError

    def _activate(self) -> None:
        raise NotImplementedError

    def _stop_activity(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        self._configured.destroy_newer()

    def _after_configure(self) -> None:
        """Runs once configure succeeded (default: nothing)."""

    # -- the transitions --------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = guarded(self, "configure", self._configure)
        if result != TransitionCallbackReturn.SUCCESS:
            self._release()
            return result
        self._after_configure()
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = guarded(self, "activate", self._activate)
        if result != TransitionCallbackReturn.SUCCESS:
            self._stop_activity()
            return result
        self.is_active = True
        return super().on_activate(state)  # enables the lifecycle publishers

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_activity()
        self.is_active = False
        self.get_logger().info(self.deactivated_message)
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_activity()
        self.is_active = False
        self._release()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_activity()
        self.is_active = False
        self._release()
        return super().on_error(state)


def run_managed(make: Callable[[], ManagedNode], name: str,
                args: list[str] | None = None) -> int:
    """The `main` of a managed node: run it until SIGINT/SIGTERM, then stop its activity
    (joined) and destroy it. Returns the exit status: 0 after a stop by a signal,
    `EXIT_STARTUP_FAILED` when it cannot start (a parameter refused in the constructor, or
    with `autostart:=true` a failed configure/activate), `EXIT_BAD_ARGUMENTS` when rcl
    refuses the command line. Without autostart the node waits unconfigured for a lifecycle
    manager.

    A signal while the node is active deactivates it with the ROS context still up (System
    1 brakes to rest), then the process exits; a signal while it is not, or a second one,
    ends it at once, without braking (`gr00t_common.stop_signals`). Called from the main
    thread (another cannot take signals: rclpy's handlers then stay, which brake nothing).
    """
    logger = rclpy.logging.get_logger(name)
    ours = threading.current_thread() is threading.main_thread()
    if not init(args, logger, signal_handlers=not ours):
        return EXIT_BAD_ARGUMENTS
    signals = StopSignals.install() if ours else None
    node: ManagedNode | None = None
    executor: SingleThreadedExecutor | None = None
    status = 1  # what an exception out of here exits with, if the teardown must cut it short
    deactivate = False  # stopped by a signal while active: the transition is still owed
    try:
        try:
            try:
                node = make()
            except ParameterError as exc:
                logger.fatal(f"cannot start: {exc}")
                status = EXIT_STARTUP_FAILED
                return status
            if signals is not None:
                signals.attach(node, lambda n=node: n.is_active)
            if node.autostart and not autostart(node):
                status = EXIT_STARTUP_FAILED
                return status
            executor = SingleThreadedExecutor()
            executor.add_node(node)
            spin(node, executor, until=signals.requested if signals else lambda: False)
            if signals is not None and signals.requested() and not signals.at_once \
                    and node.is_active:
                # The node's own stop, publishing, the context up: System 1 brakes to rest
                # (a second signal interrupts it). The lifecycle transition that follows is
                # rclpy's and goes under the teardown's deadline (`finish`): once in CI the
                # process never exited after logging "deactivated".
                node._stop_activity()
                deactivate = True
        except KeyboardInterrupt:
            pass  # a signal with nothing to brake, or a second one: at once (below)
        if signals is not None and signals.at_once:
            signals.close()
            if node is not None and node.is_active:
                logger.warning(f"{signals.name()} again: exiting at once, without braking; "
                               "the controllers keep the last command")
            # Shut down first: the activity then stops without braking (a person insisted).
            rclpy.try_shutdown()
        status = 0
        return status
    finally:
        if signals is not None:
            signals.close()
        finish(node._stop_activity if node is not None else None, node, status, executor,
               wind_down=node.trigger_deactivate if deactivate and node is not None else None)
