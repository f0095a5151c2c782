"""gr00t_system2.instruction: ids, refusals, stripping (no DDS)."""

import pytest

from gr00t_system2.instruction import InstructionError, InstructionState, validate_instruction


def test_ids_advance_only_on_acceptance():
    state = InstructionState("hold your position", max_length=20)
    assert state.current.id == 0 and state.current.text == "hold your position"
    d = state.offer("  raise your left hand \n")
    assert d.accepted and d.instruction.id == 1 and d.instruction.text == "raise your left hand"
    for bad in ["", "   \t\n", "x" * 21, "wave\x00", "wave\x1b[31m", "a\x7fb"]:
        d = state.offer(bad)
        assert not d.accepted, bad
        assert d.instruction.id == 1 and d.instruction.text == "raise your left hand"
        assert "refused" in d.message and "instruction 1 stays in force" in d.message
    d = state.offer("wave")
    assert d.accepted and d.instruction.id == 2


def test_an_acceptance_names_the_text_put_in_force():
    """A ROS string ends at a NUL: the client's rclpy sends 'raise your left hand' for
    'raise your left hand\\x00 and touch the red cube', and only the reply can tell it."""
    state = InstructionState("", max_length=100)
    d = state.offer(" raise your left hand ")
    assert d.message == "accepted as instruction 1: 'raise your left hand'"


def test_refusal_messages_say_why():
    with pytest.raises(InstructionError, match="empty"):
        validate_instruction(" \t ", 10)
    with pytest.raises(InstructionError, match="11 characters.*max_instruction_length=10"):
        validate_instruction("abcdefghijk", 10)
    with pytest.raises(InstructionError, match="U\\+0007 at index 4"):
        validate_instruction("wave\x07", 10)
    with pytest.raises(InstructionError, match="string"):
        validate_instruction(None, 10)


def test_length_counts_stripped_characters_and_ordinary_whitespace_is_allowed():
    assert validate_instruction("   " + "a" * 10 + "   ", 10) == "a" * 10
    assert validate_instruction("pick up\tthe cup\r\nthen wave", 100) == "pick up\tthe cup\r\nthen wave"
    assert validate_instruction("touch the cube ✋", 100) == "touch the cube ✋"


def test_check_hook_refuses_and_default_is_checked():
    def check(text: str) -> None:
        if "cube" in text:
            raise ValueError("prompt too long for max_tokens=64")

    state = InstructionState("wave", 50, check=check)
    d = state.offer("touch the cube")
    assert not d.accepted and "max_tokens=64" in d.message and d.instruction.id == 0
    with pytest.raises(ValueError, match="max_tokens"):
        InstructionState("cube", 50, check=check)

    def broken(text: str) -> None:
        if "cube" in text:
            raise RuntimeError("CUDA out of memory")

    state = InstructionState("wave", 50, check=broken)  # used to end the node
    d = state.offer("touch the cube")
    assert not d.accepted and "RuntimeError: CUDA out of memory" in d.message
    assert d.instruction.id == 0 and state.offer("wave again").accepted
    with pytest.raises(InstructionError):
        InstructionState("  ", 50)


def test_an_empty_default_is_no_instruction_until_one_is_accepted():
    state = InstructionState("", 50)
    assert state.current is None
    d = state.offer("  ")
    assert not d.accepted and d.instruction is None
    assert "no instruction is in force yet" in d.message
    d = state.offer("wave")
    assert d.accepted and d.instruction.id == 1 and state.current.text == "wave"


@pytest.mark.parametrize("text", ["\u200b\u200b", "\u00a0 \u00a0", "\ufeff\u2060", " \u200d\t"])
def test_invisible_only_instructions_are_refused(text):
    # Issue 17: an instruction of zero-width or no-break spaces was accepted.
    with pytest.raises(InstructionError, match="invisible"):
        validate_instruction(text, 512)
    assert validate_instruction("\u200btouch the red cube\u00a0", 512) == "\u200btouch the red cube"



def test_the_topic_ignores_the_text_in_force_and_the_service_restarts_it():
    state = InstructionState("hold your position", max_length=40)
    # `ros2 topic pub` repeats its message every second: no new instruction each time
    for text in ("hold your position", "  hold your position\n"):
        d = state.offer_change(text)
        assert not d.accepted and d.repeat and d.instruction.id == 0
        assert "repeats instruction 0" in d.message
    d = state.offer_change("wave")
    assert d.accepted and not d.repeat and d.instruction.id == 1
    assert state.offer_change("wave").repeat and state.current.id == 1
    d = state.offer_change("hold your position")  # back to an earlier one: a change
    assert d.accepted and d.instruction.id == 2
    assert not state.offer_change("x" * 41).repeat  # refused as usual
    d = state.offer("hold your position")  # the service: an explicit restart
    assert d.accepted and d.instruction.id == 3
    none_yet = InstructionState("", max_length=40)
    assert none_yet.offer_change("wave").instruction.id == 1


def test_a_topic_repeating_its_message_does_not_undo_the_services_instruction():
    # `ros2 topic pub` at 1 Hz put its old instruction back within a second of an operator's
    # service call, overriding the operator.
    state = InstructionState("", max_length=40)
    assert state.offer_change("raise your left hand").instruction.id == 1
    assert state.offer("touch the red cube").instruction.id == 2  # the operator
    for text in ("raise your left hand", " raise your left hand\n"):
        d = state.offer_change(text)
        assert not d.accepted and d.repeat and state.current.id == 2
        assert "since replaced by instruction 2" in d.message
    # Another text on the topic is a change, and so is the old one after it.
    assert state.offer_change("raise your right hand").instruction.id == 3
    assert state.offer_change("raise your left hand").instruction.id == 4
