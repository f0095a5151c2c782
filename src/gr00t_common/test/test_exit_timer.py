"""gr00t_common.exit_timer.ExitTimer: an exit with a chosen status that needs no Python."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from gr00t_common.exit_timer import ExitTimer

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="needs Linux (POSIX timers through glibc)")


def _child(body: str) -> tuple[subprocess.CompletedProcess, float]:
    code = "import ctypes, time\nfrom gr00t_common.exit_timer import ExitTimer\n" \
        + textwrap.dedent(body)
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30)
    return done, time.monotonic() - start


def test_it_ends_the_process_with_the_status_while_the_interpreter_lock_is_held() -> None:
    done, took = _child("""
        timer = ExitTimer.arm(0.3, 42)
        print("armed", flush=True)
        ctypes.PyDLL(None).sleep(60)  # holds the lock: no Python thread could run now
        print("never here", flush=True)
    """)
    assert done.returncode == 42, done.stderr
    assert done.stdout.split() == ["armed"]
    assert took < 10


def test_a_status_of_zero_is_an_exit_of_zero() -> None:
    done, _ = _child("""
        timer = ExitTimer.arm(0.2, 0)
        time.sleep(60)
    """)
    assert done.returncode == 0, done.stderr


def test_a_cancelled_timer_never_fires() -> None:
    done, _ = _child("""
        timer = ExitTimer.arm(0.3, 9)
        timer.cancel()
        timer.cancel()  # twice is harmless
        time.sleep(1.0)
        print("went on", flush=True)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "went on"


def test_a_sub_second_and_a_whole_second_delay_both_wait() -> None:
    done, took = _child("""
        ExitTimer.arm(1.25, 5)
        time.sleep(60)
    """)
    assert done.returncode == 5
    assert took >= 1.25


@pytest.mark.parametrize("after_s,status,match", [(0, 0, "after_s must be > 0"),
                                                  (1.0, 256, "status must be 0..255"),
                                                  (1.0, -1, "status must be 0..255")])
def test_bad_arguments_are_refused(after_s: float, status: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ExitTimer.arm(after_s, status)
