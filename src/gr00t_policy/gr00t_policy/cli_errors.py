"""How the command-line tools report an error they stop on: one line when it is ours, the
traceback too when a library raised it.

The tools (gr00t-train, gr00t-dataset, gr00t-policy, gr00t-pyramid) stop on ValueError and
OSError with one line and a status, no traceback: our own `raise` sites name the input (the
flag, the file, the key) and the fix, and a traceback would bury that line. The same types
also come out of libraries (numpy's broadcasting, pyarrow, safetensors, torch): there the
message names neither the input nor where in our code it went wrong, and what is most often
behind it is a bug, which is fixed from the traceback. So where it was raised decides: a
`raise` statement in this project's packages, or an OSError (a file, named in the message)
while in them, is reported as its line; anything else (a library's Python code, or a C
function such as numpy's arithmetic called from ours) with its traceback above that line.
"""

from __future__ import annotations

import dis
import traceback

__all__ = ["describe", "raised_here"]

# This project's Python packages (src/<name>/<name>/): their modules are "ours".
_OURS = ("gr00t_policy", "gr00t_common", "gr00t_system1", "gr00t_system2", "gr00t_sim",
         "gr00t_bringup", "gr00t_record", "gr00t_msgs")


def raised_here(exc: BaseException) -> bool:
    """Whether ``exc`` is one of this project's messages: raised by a `raise` statement in a
    module of our packages (the traceback's innermost frame), or an OSError raised there by a
    call such as `open`."""
    tb = exc.__traceback__
    if tb is None:
        return True  # never raised: made to be reported
    while tb.tb_next is not None:
        tb = tb.tb_next
    where = tb.tb_frame.f_globals
    spec = where.get("__spec__")  # a module run with -m is "__main__" by name, not by spec
    module = str(getattr(spec, "name", None) or where.get("__name__", ""))
    if module.split(".", 1)[0] not in _OURS:
        return False
    return isinstance(exc, OSError) or _is_raise(tb.tb_frame.f_code, tb.tb_lasti)


def _is_raise(code, offset: int) -> bool:
    """Whether the instruction at ``offset`` of ``code`` is a `raise` statement (not a call
    into C code that raised)."""
    op = next((i.opname for i in dis.get_instructions(code) if i.offset == offset), "")
    return op in ("RAISE_VARARGS", "RERAISE")


def describe(exc: BaseException, prefix: str = "") -> str:
    """What a tool prints on stopping at ``exc``: ``prefix`` and its message, one line, and
    for an exception raised outside our code its traceback first."""
    line = f"{prefix}{exc}" if str(exc) else f"{prefix}{type(exc).__name__}"
    if raised_here(exc):
        return line
    return "".join(traceback.format_exception(exc)).rstrip() + "\n" + line
