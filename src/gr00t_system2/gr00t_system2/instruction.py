"""The instruction in force and its id (no ROS).

The default instruction (from parameters) has id 0; an empty default means none: no
instruction is in force (System 2 publishes no tokens, so System 1 does not move) until one
is accepted. Every accepted instruction gets the next id (first accepted = 1). A refused
instruction leaves the previous one in force (or none) and reports its id (0 for none).
Text is stripped of surrounding whitespace before it is checked, so the length limit
applies to the stripped text.

`offer` always starts a new instruction, also with the text in force (the SetInstruction
service: an explicit restart). `offer_change` (the instruction topic) ignores the text in
force: a publisher that repeats its message (``ros2 topic pub`` sends it every second) would
otherwise start a new instruction each time, and System 1 drops the plan in flight and its
chunk history for each one, as for a new episode. It also ignores a repeat of the topic's own
last message after the service replaced it: such a publisher put its old instruction back
within a second of an operator's service call, overriding the operator.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

# Control characters that count as ordinary whitespace inside an instruction.
ALLOWED_CONTROL = frozenset("\t\n\r")


class InstructionError(ValueError):
    """An instruction that cannot be put in force; the message says why."""


@dataclass(frozen=True)
class Instruction:
    """An instruction in force: its id and its (stripped) text."""

    id: int
    text: str


@dataclass(frozen=True)
class Decision:
    """The answer to an offered instruction."""

    accepted: bool
    message: str
    instruction: Instruction | None  # the one in force after the offer (None: none yet)
    repeat: bool = False  # `offer_change` ignored it: the text in force, or the topic's last


def validate_instruction(text: object, max_length: int) -> str:
    """Return ``text`` stripped, or raise InstructionError saying what is wrong with it."""
    if not isinstance(text, str):
        raise InstructionError(f"instruction must be a string, got {type(text).__name__}")
    stripped = text.strip()
    # Zero-width and other invisible format characters (U+200B, U+2060, U+FEFF, ...) are
    # not whitespace to str.strip, but they carry no word either.
    if not any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in stripped):
        raise InstructionError("instruction is empty or only whitespace and invisible "
                               "characters (e.g. zero-width or no-break spaces); send some words")
    if len(stripped) > max_length:
        raise InstructionError(
            f"instruction has {len(stripped)} characters, more than max_instruction_length="
            f"{max_length}; shorten it"
        )
    for i, ch in enumerate(stripped):
        if unicodedata.category(ch) == "Cc" and ch not in ALLOWED_CONTROL:
            raise InstructionError(
                f"instruction holds control character U+{ord(ch):04X} at index {i}; "
                "only tab, newline and carriage return are allowed"
            )
    return stripped


class InstructionState:
    """Thread-safe holder of the instruction in force.

    ``check`` (optional) is called with the stripped text of every offered instruction and
    may raise ValueError to refuse it (e.g. a prompt that does not fit the backbone).
    """

    def __init__(
        self,
        default: str,
        max_length: int,
        check: Callable[[str], None] | None = None,
    ) -> None:
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        self._max_length = max_length
        self._check = check
        self._lock = threading.Lock()
        self._current: Instruction | None = None
        self._last_change: str | None = None  # the last text offered through offer_change
        if default != "":  # "" = none; whitespace alone is refused, as in an offer
            text = validate_instruction(default, max_length)
            if check is not None:
                check(text)
            self._current = Instruction(0, text)

    @property
    def current(self) -> Instruction | None:
        """The instruction in force; None before the first one when the default is empty."""
        with self._lock:
            return self._current

    def offer(self, text: object) -> Decision:
        """Put ``text`` in force if it is acceptable; otherwise keep the current one."""
        try:
            stripped = validate_instruction(text, self._max_length)
            if self._check is not None:
                self._check(stripped)
        except ValueError as exc:
            current = self.current
            return Decision(False, f"refused: {exc}; {_stays(current)}", current)
        except Exception as exc:  # noqa: BLE001 - e.g. CUDA out of memory in the check
            # Raised out of the service callback it would end the node.
            current = self.current
            return Decision(
                False, f"refused: the instruction could not be checked ({type(exc).__name__}: "
                f"{exc}); {_stays(current)}", current)
        with self._lock:
            last_id = 0 if self._current is None else self._current.id
            self._current = Instruction(last_id + 1, stripped)
            current = self._current
        # The text in force, not just its id: the client may not have sent what it meant to
        # (its rclpy cuts a string at an embedded NUL, and this side never sees the rest).
        return Decision(True, f"accepted as instruction {current.id}: {current.text!r}", current)

    def offer_change(self, text: object) -> Decision:
        """`offer`, except that the text in force (once stripped), and the text this was last
        offered where another has replaced it since, are ignored: a Decision with ``repeat``
        set, the instruction in force unchanged."""
        with self._lock:
            current, last = self._current, self._last_change
            if isinstance(text, str):
                self._last_change = text.strip()
        if current is not None and isinstance(text, str) and text.strip() == current.text:
            return Decision(False, f"repeats instruction {current.id}, in force already: "
                            "ignored", current, repeat=True)
        if current is not None and isinstance(text, str) and text.strip() == last:
            return Decision(False, f"repeats the topic's last message, since replaced by "
                            f"instruction {current.id} ({current.text!r}): ignored, so that a "
                            "publisher repeating its message does not undo the replacement; "
                            "publish another text first, or call the service", current,
                            repeat=True)
        return self.offer(text)


def _stays(current: Instruction | None) -> str:
    """What stays in force after a refusal, for its message."""
    if current is None:
        return "no instruction is in force yet (System 2 publishes no tokens)"
    return f"instruction {current.id} stays in force"
