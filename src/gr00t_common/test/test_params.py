"""gr00t_common.params: specs declared on a real rclpy node, values checked once, errors that
name the parameter, the value, what is allowed and how to pass a good one."""

from __future__ import annotations

import math

import pytest
import rclpy
from rcl_interfaces.msg import ParameterType
from rclpy.context import Context
from rclpy.node import Node
from rclpy.parameter import Parameter

from gr00t_common.params import (UNSET, ParameterError, Pattern, Range, Spec, check, declare,
                                 declare_and_read, literal, read, refuse_unknown)

SPECS = (
    Spec("checkpoint", "string", "", "Checkpoint directory. Required.", required=True,
         example="/path/to/checkpoint"),
    Spec("rate_hz", "double", 10.0, "Token rate (Hz).", range=Range.above(0.0)),
    Spec("steps", "integer", 4, "Euler steps.", range=Range(1, 100)),
    Spec("blend_s", "double", 0.1, "Cross-fade time (s).", range=Range(0.0, 10.0)),
    Spec("device", "string", "cpu", "Torch device.", choices=("cpu", "cuda")),
    Spec("control_rate_hz", "double", UNSET, "Command rate. Unset: the YAML's.",
         range=Range(1.0, 2000.0), example="120"),
    Spec("start_enabled", "bool", UNSET, "Start enabled. Unset: the YAML's.", example="true"),
    Spec("topics", "string_array", ["/camera/head/image_raw"], "Image topics.", required=True),
    Spec("seed", "integer", -1, "Noise seed; -1 draws one.", read_only=False),
)
GOOD = "checkpoint:=/ckpt"


@pytest.fixture
def make_node(ros_domain_id):
    """make(*"name:=value") -> a node in its own context, with those overrides."""
    made: list[tuple[Context, Node]] = []

    def make(*overrides: str) -> Node:
        context = Context()
        rclpy.init(args=["params_test", "--ros-args", *[a for o in overrides for a in ("-p", o)]],
                   context=context)
        node = Node("params_test", context=context)
        made.append((context, node))
        return node

    yield make
    for context, node in made:
        node.destroy_node()
        rclpy.shutdown(context=context)


def test_descriptors_carry_type_range_choices_and_read_only(make_node):
    node = make_node(GOOD)
    declare(node, SPECS)
    blend = node.describe_parameter("blend_s")
    assert blend.type == ParameterType.PARAMETER_DOUBLE and blend.read_only
    assert blend.description == "Cross-fade time (s)."
    assert (blend.floating_point_range[0].from_value, blend.floating_point_range[0].to_value) \
        == (0.0, 10.0)
    assert blend.additional_constraints == "in [0, 10]"
    steps = node.describe_parameter("steps")
    r = steps.integer_range[0]
    assert (r.from_value, r.to_value, r.step) == (1, 100, 1)
    rate = node.describe_parameter("rate_hz")  # an open bound: text only, no descriptor range
    assert not rate.floating_point_range and rate.additional_constraints == "> 0"
    assert node.describe_parameter("device").additional_constraints == "one of cpu, cuda"
    assert node.describe_parameter("control_rate_hz").dynamic_typing
    assert not node.describe_parameter("seed").read_only


def test_read_returns_typed_defaults_and_unset_as_none(make_node):
    node = make_node(GOOD)
    declare(node, SPECS)
    assert read(node, SPECS) == {
        "checkpoint": "/ckpt", "rate_hz": 10.0, "steps": 4, "blend_s": 0.1, "device": "cpu",
        "control_rate_hz": None, "start_enabled": None,
        "topics": ("/camera/head/image_raw",), "seed": -1}


def test_unset_numbers_take_ints_and_overrides_are_read(make_node):
    node = make_node(GOOD, "control_rate_hz:=120", "start_enabled:=true", "device:=cuda",
                     "topics:=[/a,/b]")
    values = declare_and_read(node, SPECS)
    assert values["control_rate_hz"] == 120.0 and isinstance(values["control_rate_hz"], float)
    assert values["start_enabled"] is True and values["device"] == "cuda"
    assert values["topics"] == ("/a", "/b")


def test_every_double_takes_an_int(make_node):
    # `-p rate_hz:=10` (rclpy reads 10 as an integer, which a double refuses) means 10.0.
    values = declare_and_read(make_node(GOOD, "rate_hz:=10", "blend_s:=2"), SPECS)
    assert values["rate_hz"] == 10.0 and isinstance(values["rate_hz"], float)
    assert values["blend_s"] == 2.0 and isinstance(values["blend_s"], float)


@pytest.mark.parametrize("given, read_as", [("007", "an integer"), ("1.5", "a number"),
                                            ("true", "a bool")])
def test_a_string_given_a_number_names_the_quotes_that_keep_it_one(make_node, given, read_as):
    shown = {"007": "7"}.get(given, given)
    with pytest.raises(ParameterError, match=(
            rf"parameter checkpoint takes a string \(Checkpoint directory. Required.\), but ROS "
            rf"read the value given as {read_as} \({shown}\): .* only in quotes. .*"
            rf"-p checkpoint:=\"'{shown}'\" \(in a --params-file: checkpoint: '{shown}'\)$")):
        declare_and_read(make_node(f"checkpoint:={given}"), SPECS)
    # The quotes it names (argv as a shell leaves `-p checkpoint:="'007'"`) keep the text.
    assert declare_and_read(make_node(f"checkpoint:='{given}'"), SPECS)["checkpoint"] == given


def test_a_parameter_the_node_does_not_have_is_refused_with_the_nearest_name(make_node):
    node = make_node(GOOD, "blend_sec:=0.2", "qos_overrides./tokens.subscription.depth:=5")
    with pytest.raises(ParameterError, match=r"no parameter blend_sec \(did you mean blend_s\?\)"):
        declare_and_read(node, SPECS)
    node = make_node(GOOD, "zzz:=1")
    declare(node, SPECS)
    with pytest.raises(ParameterError, match=r"no parameter zzz; .*Its parameters: .*blend_s"):
        refuse_unknown(node)
    # rclpy's own (use_sim_time) and QoS overrides are the framework's, not typos.
    node = make_node(GOOD, "use_sim_time:=true", "qos_overrides./tokens.subscription.depth:=5")
    assert declare_and_read(node, SPECS)["checkpoint"] == "/ckpt"


def test_empty_string_array_default_reads_empty_and_takes_strings(make_node):
    specs = (Spec("extra", "string_array", [], "More topics."),)
    assert declare_and_read(make_node(), specs) == {"extra": ()}
    assert declare_and_read(make_node("extra:=[/a,/b]"), specs) == {"extra": ("/a", "/b")}


@pytest.mark.parametrize("override,pattern", [
    # checked by `read` (no descriptor can say these):
    ("control_rate_hz:=0",
     r"parameter control_rate_hz=0\.0 is out of range: it must be in \[1, 2000\] "
     r"\(Command rate.*\); pass e\.g\. -p control_rate_hz:=120"),
    ("rate_hz:=0.0", r"parameter rate_hz=0\.0 is out of range: it must be > 0 .*-p rate_hz:=10\.0"),
    ("device:=tpu", r"parameter device='tpu' is not one of \['cpu', 'cuda'\]: "
                    r"pass e\.g\. -p device:=cpu"),
    ("control_rate_hz:=fast", r"parameter control_rate_hz has the wrong type \('fast' is not a "
                              r"number\); it takes a floating-point number .*"
                              r"-p control_rate_hz:=120"),
    ("start_enabled:=1", r"parameter start_enabled has the wrong type \(1 is not true or false\)"),
    ("checkpoint:=''", r"parameter checkpoint is empty; it is required \(Checkpoint directory. "
                       r"Required.\): pass -p checkpoint:=/path/to/checkpoint"),
    ("topics:=['']", None),  # a list holding an empty name is not empty: accepted
    # refused by rclpy at declaration, reported the same way:
    ("blend_s:=-1.0", r"parameter blend_s is out of range \(.*-1\.0.*\); it must be in \[0, 10\] "
                      r".*-p blend_s:=0\.1"),
    ("steps:=0", r"parameter steps is out of range \(.*\); it must be in \[1, 100\]"),
    ("control_rate_hz:=0.5", r"parameter control_rate_hz is out of range .*in \[1, 2000\]"),
    ("rate_hz:=true", r"parameter rate_hz has the wrong type \(.*\); it takes a floating-point "
                      r"number \(Token rate \(Hz\).\): pass e\.g\. -p rate_hz:=10\.0"),
    ("blend_s:=20", r"parameter blend_s is out of range \(.*20\.0.*\); it must be in \[0, 10\]"),
])
def test_bad_values_name_the_parameter_the_value_and_the_fix(make_node, override, pattern):
    node = make_node(GOOD, override)
    if pattern is None:
        declare_and_read(node, SPECS)
        return
    with pytest.raises(ParameterError, match=pattern):
        declare_and_read(node, SPECS)


def test_read_only_parameters_refuse_changes(make_node):
    node = make_node(GOOD)
    declare(node, SPECS)
    assert not node.set_parameters([Parameter("rate_hz", value=5.0)])[0].successful
    assert node.set_parameters([Parameter("seed", value=7)])[0].successful
    # A writable parameter keeps its descriptor's range after the start.
    spec = Spec("gain", "double", 1.0, "A gain.", range=Range(0.0, 2.0), read_only=False)
    declare(node, [spec])
    assert not node.set_parameters([Parameter("gain", value=3.0)])[0].successful


def test_declaring_again_keeps_the_declared_values(make_node):
    # A lifecycle node declares in on_configure and configures again after a cleanup.
    node = make_node(GOOD, "rate_hz:=5.0")
    declare(node, SPECS)
    node.set_parameters([Parameter("seed", value=7)])
    declare(node, SPECS)
    values = read(node, SPECS)
    assert values["rate_hz"] == 5.0 and values["seed"] == 7


def test_callable_default_is_resolved_at_declaration(make_node):
    node = make_node()
    spec = Spec("path", "string", lambda: "/found/here", "A path.", required=True,
                example="/x", shown_default="found at start")
    assert declare_and_read(node, [spec]) == {"path": "/found/here"}
    assert spec.default_text == "found at start"


def test_check_on_plain_values():
    values = {s.name: s.default for s in SPECS} | {"checkpoint": "/c", "control_rate_hz": None,
                                                    "start_enabled": None}
    assert check(SPECS, values)["rate_hz"] == 10.0
    for bad, pattern in [(math.inf, r"rate_hz=inf is not a finite number"),
                         (math.nan, r"rate_hz=nan is not a finite number"),
                         (None, r"parameter rate_hz has no value"),
                         (True, r"rate_hz has the wrong type \(True is not a number\)")]:
        with pytest.raises(ParameterError, match=pattern):
            check(SPECS, values | {"rate_hz": bad})
    with pytest.raises(ParameterError, match=r"topics has the wrong type"):
        check(SPECS, values | {"topics": ["/a", 3]})
    with pytest.raises(ParameterError, match=r"parameter topics is empty"):
        check(SPECS, values | {"topics": []})
    with pytest.raises(ParameterError, match=r"parameter steps has the wrong type"):
        check(SPECS, values | {"steps": 2.0})


def test_topic_specs_refuse_names_rclpy_would_refuse_only_when_subscribing():
    # rclpy refuses such a name only when the node subscribes to it, in a traceback that
    # names no parameter (gr00t-record --extra-topic 'not a topic').
    specs = (Spec("state_topic", "string", "/joint_states", "Joint states.", required=True,
                  topic=True),
             Spec("action_topic", "string", "", "Commanded positions; empty: none.", topic=True,
                  example="/leader/joint_states"),
             Spec("extra", "string_array", [], "More topics.", topic=True, example="[/a]"))
    good = {"state_topic": "/joint_states", "action_topic": "", "extra": ["/a", "b/c", "~/d"]}
    assert check(specs, good) == {"state_topic": "/joint_states", "action_topic": "",
                                  "extra": ("/a", "b/c", "~/d")}
    for bad, pattern in [
            ({"extra": ["/a", "not a topic"]},
             r"parameter extra holds 'not a topic', not a valid topic name \(topic name must "
             r"not contain characters .*More topics\.\); pass e\.g\. -p extra:=\[/a\]"),
            ({"state_topic": "/a//b"},
             r"parameter state_topic='/a//b' is not a valid topic name \(topic name must not "
             r"contain repeated '/'; Joint states\.\); pass e\.g\. -p state_topic:=/joint_states"),
            ({"action_topic": "/1st"}, r"action_topic='/1st' is not a valid topic name .*"
                                       r"-p action_topic:=/leader/joint_states")]:
        with pytest.raises(ParameterError, match=pattern):
            check(specs, good | bad)
    assert [s.allowed for s in specs] == ["not empty; a topic name", "a topic name",
                                          "topic names"]
    with pytest.raises(ValueError, match="topic needs type string or string_array"):
        Spec("x", "double", 1.0, "X.", topic=True)


def test_range_bounds_and_text():
    assert Range(1, 100).contains(1) and Range(1, 100).contains(100)
    assert not Range(1, 100).contains(0) and not Range(1, 100).contains(101)
    assert not Range.above(0.0).contains(0.0) and Range.above(0.0).contains(1e-9)
    assert Range.at_least(0).contains(0) and not Range.at_least(0).contains(-1)
    assert not Range.above(0.0).contains(math.inf) and not Range(0, 1).contains(math.nan)
    assert [str(r) for r in (Range(1, 2000), Range(0, 2, lo_open=True), Range.above(0),
                             Range.at_least(1), Range(hi=5))] \
        == ["[1, 2000]", "(0, 2]", "> 0", ">= 1", "<= 5"]
    for bad in (dict(), dict(lo=2, hi=1), dict(hi=1, lo_open=True)):
        with pytest.raises(ValueError):
            Range(**bad)
    assert literal(True) == "true" and literal(["/a", "/b"]) == "[/a,/b]" and literal(0.5) == "0.5"


def test_a_pattern_takes_a_family_of_strings_and_says_which_in_words():
    spec = Spec("device", "string", "cpu", "Torch device.",
                pattern=Pattern(r"cpu|cuda(:[0-9]+)?", "cpu, cuda or cuda:N"))
    assert [spec.check(d) for d in ("cpu", "cuda", "cuda:12")] == ["cpu", "cuda", "cuda:12"]
    assert spec.allowed == "cpu, cuda or cuda:N"
    assert spec.descriptor().additional_constraints == "cpu, cuda or cuda:N"
    for bad in ("gpu", "cuda:", "xcuda", "cuda:1 "):  # matched whole, not searched
        with pytest.raises(ParameterError, match=(
                rf"parameter device={bad!r} is not allowed: it must be cpu, cuda or cuda:N "
                r"\(Torch device\.\); pass e\.g\. -p device:=cpu")):
            spec.check(bad)
    with pytest.raises(ValueError, match="needs a text"):
        Pattern("a|b", "")


@pytest.mark.parametrize("kwargs,pattern", [
    (dict(type="float"), "type 'float' is unknown"),
    (dict(description=""), "description is empty"),
    (dict(type="string", default="x", range=Range(0, 1)), "a range needs type double or integer"),
    (dict(choices=("a",)), "choices need type string"),
    (dict(pattern=Pattern("a", "a")), "a pattern needs type string"),
    (dict(type="string", default="b", pattern=Pattern("a", "only a")),
     r"x='b' is not allowed: it must be only a"),
    (dict(required=True), "required needs type string"),
    (dict(default=20.0, range=Range(0, 10)), r"parameter x=20\.0 is out of range"),
    (dict(default=UNSET), "give an example"),
    (dict(type="string", default=lambda: "", example="e"), "needs shown_default"),
    (dict(type="string", default="c", choices=("a", "b")), "is not one of"),
])
def test_spec_refuses_inconsistent_definitions(kwargs, pattern):
    base = dict(name="x", type="double", default=1.0, description="X.")
    with pytest.raises(ValueError, match=pattern):
        Spec(**(base | kwargs))
