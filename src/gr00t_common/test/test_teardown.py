"""gr00t_common.teardown.bounded_teardown: a hung teardown ends the process with its status."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from gr00t_common.teardown import bounded_teardown


def _child(body: str, timeout: float = 30) -> tuple[subprocess.CompletedProcess, float]:
    code = textwrap.dedent("""
        import time
        from gr00t_common.teardown import bounded_teardown
    """) + textwrap.dedent(body)
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout)
    return done, time.monotonic() - start


def test_a_hung_teardown_exits_with_the_status_and_says_where_it_hung() -> None:
    done, took = _child("""
        print("stopped", flush=True)
        def stuck_in_destroy():
            time.sleep(60)
        with bounded_teardown(status=0, deadline_s=0.5):
            stuck_in_destroy()
        print("never here", flush=True)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["stopped"]
    assert "rclpy teardown still running after 0.5 s: exiting with status 0" in done.stderr
    assert "stuck_in_destroy" in done.stderr  # the stack names the hung call
    assert took < 20


def test_a_hang_holding_the_interpreter_lock_still_exits_with_the_status() -> None:
    # As rclpy's node destruction does (pybind11 keeps the lock): no Python thread can run,
    # so the Python watchdog cannot fire. Once this exited with faulthandler's status 1.
    done, took = _child("""
        import ctypes
        print("stopped", flush=True)
        def destroy_holding_the_lock():
            ctypes.PyDLL(None).sleep(60)  # PyDLL: the call keeps the interpreter lock
        with bounded_teardown(status=0, deadline_s=0.3):
            destroy_holding_the_lock()
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["stopped"]
    assert "Timeout (" in done.stderr  # faulthandler's dump, which needs no lock
    assert "destroy_holding_the_lock" in done.stderr
    assert took < 20


def test_the_status_is_the_one_given() -> None:
    done, _ = _child("""
        with bounded_teardown(status=3, deadline_s=0.3):
            time.sleep(60)
    """)
    assert done.returncode == 3, done.stderr


def test_a_teardown_in_time_leaves_the_process_alone() -> None:
    done, _ = _child("""
        with bounded_teardown(status=5, deadline_s=0.5):
            time.sleep(0.05)
        time.sleep(3.0)  # past both deadlines: neither watchdog may fire now
        print("went on", flush=True)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "went on"
    assert done.stderr == ""


def test_an_exception_in_the_block_propagates_and_cancels_the_deadline() -> None:
    with pytest.raises(RuntimeError, match="destroy failed"):
        with bounded_teardown(status=0, deadline_s=0.2):
            raise RuntimeError("destroy failed")
    time.sleep(0.5)  # this process is still here: the timer was cancelled


def test_a_stderr_without_a_file_descriptor_still_works(monkeypatch) -> None:
    import io

    monkeypatch.setattr(sys, "stderr", io.StringIO())  # as pytest's sys capture does
    with bounded_teardown(status=0, deadline_s=0.2):
        pass
    time.sleep(0.5)  # still here: both watchdogs were armed and cancelled


def test_a_hang_under_a_replaced_stderr_still_dumps_to_fd_2() -> None:
    done, _ = _child("""
        import io, sys
        sys.stderr = io.StringIO()
        with bounded_teardown(status=4, deadline_s=0.3):
            time.sleep(60)
    """)
    assert done.returncode == 4
    assert "still running after 0.3 s: exiting with status 4" in done.stderr


def test_buffered_stdout_is_flushed_before_the_exit() -> None:
    done, _ = _child("""
        print("node stopped")  # no flush: block-buffered into a pipe
        with bounded_teardown(status=0, deadline_s=0.3):
            time.sleep(60)
    """)
    assert done.stdout.strip() == "node stopped"


def test_a_deadline_must_be_positive() -> None:
    with pytest.raises(ValueError, match="deadline_s must be > 0"):
        with bounded_teardown(deadline_s=0):
            pass


class _Node:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def destroy_node(self) -> None:
        self.calls.append("destroy")


class _Executor:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def shutdown(self) -> None:
        self.calls.append("executor shutdown")


@pytest.fixture
def calls(monkeypatch) -> list[str]:
    """What finish did, in order; rclpy's context shutdown recorded, not run."""
    import rclpy

    done: list[str] = []
    monkeypatch.setattr(rclpy, "try_shutdown", lambda: done.append("context shutdown"))
    return done


def test_finish_stops_then_tears_down_in_order(calls) -> None:
    from gr00t_common.teardown import finish

    finish(lambda: calls.append("stop"), _Node(calls), 0, _Executor(calls))
    assert calls == ["stop", "destroy", "executor shutdown", "context shutdown"]


def test_finish_winds_down_after_the_stop_and_before_the_destroy(calls) -> None:
    from gr00t_common.teardown import finish

    finish(lambda: calls.append("stop"), _Node(calls), 0, _Executor(calls),
           wind_down=lambda: calls.append("deactivate"))
    assert calls == ["stop", "deactivate", "destroy", "executor shutdown", "context shutdown"]


def test_finish_tears_down_when_the_wind_down_raises(calls) -> None:
    from gr00t_common.teardown import finish

    def wind_down() -> None:
        raise RuntimeError("transition refused")

    with pytest.raises(RuntimeError, match="transition refused"):
        finish(None, _Node(calls), 0, wind_down=wind_down)
    assert calls == ["destroy", "context shutdown"]


def test_a_hung_wind_down_exits_with_the_status_given() -> None:
    # A managed node's deactivate transition after a signal: in one CI run System 1 logged
    # "deactivated" and then never exited (no watchdog was armed there yet).
    done, took = _child("""
        from gr00t_common.teardown import finish
        def transition_never_returns():
            time.sleep(60)
        finish(lambda: None, None, 0, deadline_s=0.3, wind_down=transition_never_returns)
    """)
    assert done.returncode == 0, done.stderr
    assert "exiting with status 0" in done.stderr
    assert "transition_never_returns" in done.stderr  # the stack names the hung call
    assert took < 20


def test_finish_without_a_node_still_shuts_the_context_down(calls) -> None:
    from gr00t_common.teardown import finish

    finish(None, None, 1)  # the node's constructor failed
    assert calls == ["context shutdown"]


def test_finish_tears_down_when_the_stop_raises_and_the_error_propagates(calls) -> None:
    from gr00t_common.teardown import finish

    def stop() -> None:
        raise RuntimeError("loop did not join")

    with pytest.raises(RuntimeError, match="loop did not join"):
        finish(stop, _Node(calls), 0)
    assert calls == ["destroy", "context shutdown"]  # no half-alive node at exit


def test_finish_after_a_failed_stop_exits_1_when_the_teardown_hangs() -> None:
    done, _ = _child("""
        from gr00t_common.teardown import finish
        class Hung:
            def destroy_node(self):
                time.sleep(60)
        def stop():
            raise RuntimeError("close failed")
        finish(stop, Hung(), 0, deadline_s=0.3)
    """)
    assert done.returncode == 1, done.stderr
    assert "exiting with status 1" in done.stderr
    assert "RuntimeError: close failed" not in done.stderr  # exited inside the teardown


def test_finish_after_a_clean_stop_exits_with_the_status_given_when_the_teardown_hangs() -> None:
    done, _ = _child("""
        from gr00t_common.teardown import finish
        class HungExecutor:
            def shutdown(self):
                time.sleep(60)
        finish(None, None, 3, HungExecutor(), deadline_s=0.3)
    """)
    assert done.returncode == 3, done.stderr
    assert "exiting with status 3" in done.stderr


@pytest.mark.parametrize("hang", ["c_exit_handler", "python_atexit"])
def test_an_exit_hung_after_the_teardown_ends_with_the_status_given(hang) -> None:
    # Twice in CI System 1 finished its teardown and then never exited; SIGABRT printed no
    # Python stack, so it hung past the interpreter's finalization: in a C library's exit
    # handler (a DDS static destructor), simulated by one that waits forever (pause).
    hangs = {
        "c_exit_handler": """
            import ctypes
            libc = ctypes.CDLL(None)
            libc.__cxa_atexit(ctypes.cast(libc.pause, ctypes.c_void_p), None, None)
        """,
        "python_atexit": """
            import atexit
            atexit.register(time.sleep, 60)
        """,
    }
    done, took = _child(textwrap.dedent(hangs[hang]) + textwrap.dedent("""
        from gr00t_common.teardown import finish, run_process
        def main():
            finish(lambda: None, None, 4)
            print("finished", flush=True)
            return 4
        run_process(main)
    """))
    assert done.returncode == 4, done.stderr
    assert done.stdout.split() == ["finished"]
    assert took < 20


def test_a_main_that_raised_exits_1_and_its_exit_is_bounded_too() -> None:
    done, took = _child("""
        import ctypes
        libc = ctypes.CDLL(None)
        libc.__cxa_atexit(ctypes.cast(libc.pause, ctypes.c_void_p), None, None)
        from gr00t_common.teardown import run_process
        def main():
            raise RuntimeError("close failed")
        run_process(main)
    """)
    assert done.returncode == 1, done.stderr
    assert "RuntimeError: close failed" in done.stderr
    assert took < 20


def test_a_main_called_in_process_arms_nothing() -> None:
    # As a test calling a node's main does: once finish armed the exit, and 3 s later the
    # suite's pytest process ended with the recorder's startup status.
    done, _ = _child("""
        from gr00t_common.teardown import EXIT_DEADLINE_S, finish
        finish(lambda: None, None, 4)
        time.sleep(EXIT_DEADLINE_S + 1.0)
        print("went on", flush=True)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "went on"
