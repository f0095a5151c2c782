"""An exit that needs no Python: a POSIX timer whose expiry ends the process with a status.

A Python watchdog (a `threading.Timer`) cannot fire while another thread sits in a C call
that holds the interpreter lock; rclpy's node destruction is such a call (pybind11 keeps the
lock), and that is where a rare teardown hang was seen in CI: the Python timer never ran and
the process only ended through faulthandler's watchdog, whose exit status is always 1.

`ExitTimer(after_s, status)` arms a CLOCK_MONOTONIC timer with SIGEV_THREAD notification
whose function is libc's `_exit` and whose value is `status`: on expiry the C library starts
a thread that calls `_exit(status)`. Nothing there touches the interpreter, so it ends the
process even with the lock held. `_exit(int)` stands in for a `void (*)(union sigval)`
callback: on the Linux ABIs ROS runs on (x86_64, aarch64) both take their one argument in the
first integer register, and the union's int member is `status`.

As `_exit`, it flushes nothing and runs no cleanup: the caller flushes what it has printed
before arming it. Linux and glibc only; elsewhere `ExitTimer.arm` returns None and the caller
keeps its own fallback.
"""

from __future__ import annotations

import ctypes
import sys

_CLOCK_MONOTONIC = 1
_SIGEV_THREAD = 2


class _SigVal(ctypes.Union):
    _fields_ = [("sival_int", ctypes.c_int), ("sival_ptr", ctypes.c_void_p)]


class _SigevThread(ctypes.Structure):
    _fields_ = [("function", ctypes.c_void_p), ("attribute", ctypes.c_void_p)]


class _SigevUnion(ctypes.Union):
    _fields_ = [("pad", ctypes.c_int * 12), ("tid", ctypes.c_int), ("thread", _SigevThread)]


class _SigEvent(ctypes.Structure):  # glibc's struct sigevent, 64 bytes
    _fields_ = [("sigev_value", _SigVal), ("sigev_signo", ctypes.c_int),
                ("sigev_notify", ctypes.c_int), ("un", _SigevUnion)]


class _TimeSpec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _ITimerSpec(ctypes.Structure):
    _fields_ = [("it_interval", _TimeSpec), ("it_value", _TimeSpec)]


def _libc() -> ctypes.CDLL | None:
    """The C library with the POSIX timer functions: the process's own (glibc 2.34 and
    later have them in libc), else librt (older glibc, e.g. Ubuntu 20.04)."""
    if not sys.platform.startswith("linux"):
        return None
    for name in (None, "librt.so.1"):
        try:
            libc = ctypes.CDLL(name, use_errno=True)
            create, settime, delete = libc.timer_create, libc.timer_settime, libc.timer_delete
            libc._exit  # noqa: B018 - only checks it is there (librt links libc in)
        except (OSError, AttributeError):
            continue
        create.argtypes = [ctypes.c_int, ctypes.POINTER(_SigEvent),
                           ctypes.POINTER(ctypes.c_void_p)]
        settime.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(_ITimerSpec),
                            ctypes.c_void_p]
        delete.argtypes = [ctypes.c_void_p]
        return libc
    return None


class ExitTimer:
    """One armed timer; `cancel()` disarms it (idempotent). Create with `ExitTimer.arm`."""

    def __init__(self, libc: ctypes.CDLL, timer_id: ctypes.c_void_p) -> None:
        self._libc = libc
        self._id: ctypes.c_void_p | None = timer_id

    @classmethod
    def arm(cls, after_s: float, status: int) -> ExitTimer | None:
        """End the process with `status` (0-255) after `after_s` seconds of the monotonic
        clock unless cancelled first. None where POSIX timers are not available (the caller's
        fallback applies); an OSError when the C library refuses the timer."""
        if after_s <= 0:
            raise ValueError(f"ExitTimer: after_s must be > 0 (got {after_s})")
        if not 0 <= status <= 255:
            raise ValueError(f"ExitTimer: status must be 0..255 (got {status})")
        libc = _libc()
        if libc is None:
            return None
        event = _SigEvent()
        event.sigev_notify = _SIGEV_THREAD
        event.sigev_value.sival_ptr = status  # the whole register: no stale upper bytes
        event.un.thread.function = ctypes.cast(libc._exit, ctypes.c_void_p).value
        timer_id = ctypes.c_void_p()
        if libc.timer_create(_CLOCK_MONOTONIC, ctypes.byref(event), ctypes.byref(timer_id)):
            errno = ctypes.get_errno()
            raise OSError(errno, f"timer_create failed for the exit timer: {errno}")
        timer = cls(libc, timer_id)
        spec = _ITimerSpec()
        spec.it_value.tv_sec, spec.it_value.tv_nsec = divmod(max(1, round(after_s * 1e9)),
                                                             1_000_000_000)
        if libc.timer_settime(timer_id, 0, ctypes.byref(spec), None):
            errno = ctypes.get_errno()
            timer.cancel()
            raise OSError(errno, f"timer_settime failed for the exit timer: {errno}")
        return timer

    def cancel(self) -> None:
        if self._id is not None:
            self._libc.timer_delete(self._id)
            self._id = None
