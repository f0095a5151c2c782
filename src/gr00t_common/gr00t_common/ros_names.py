"""Whether a string is a valid ROS topic or service name, checked before anything uses it.

rclpy checks a name only when a publisher, subscription, client or service is created, and
raises an exception that names neither the parameter nor the flag the name came from (a
traceback, from a node's constructor or a command-line tool). `name_problem` answers the
question up front; the parameter specs (`Spec(topic=True)`, gr00t_common.params) and the
command-line tools (`topic_arg`, `service_arg`) report it with the parameter or flag.
"""

from __future__ import annotations

import argparse
import re

__all__ = ["name_problem", "service_arg", "topic_arg"]

# rcl's expansion error ends with where in rcl it was raised: "..., at <file>.c:<line>".
_RCL_LOCATION = re.compile(r", at \S+:\d+$")


def name_problem(name: str, *, service: bool = False) -> str:
    """Why `name` is not a valid topic (`service`: service) name; "" when it is. A relative
    (`camera/image`) or private (`~/state`) name is checked as it expands: valid under any
    node and namespace or under none."""
    from rclpy.exceptions import NameValidationException
    from rclpy.expand_topic_name import expand_topic_name
    from rclpy.validate_full_topic_name import validate_full_topic_name

    try:
        validate_full_topic_name(expand_topic_name(name, "node", "/"), is_service=service)
    except NameValidationException as exc:  # "Invalid topic name: <why>:\n  '<name>'\n  ^"
        return str(exc).split(":\n", 1)[0].split(": ", 1)[-1]
    except ValueError as exc:  # rcl's expansion: "topic name '<name>' is invalid: <why>, at ..."
        return _RCL_LOCATION.sub("", str(exc).split(" is invalid: ", 1)[-1])
    return ""


def _arg(kind: str, service: bool, example: str):
    def parse(text: str) -> str:
        problem = name_problem(text, service=service)
        if problem:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a valid ROS {kind} name ({problem}); write e.g. {example}")
        return text

    parse.__name__ = f"{kind} name"  # argparse's "invalid <type> value" fallback
    return parse


topic_arg = _arg("topic", False, "/camera/head/image_raw")
"""An argparse `type` for a topic name flag: the name, or argparse's error naming the flag."""
service_arg = _arg("service", True, "/gr00t/set_instruction")
"""An argparse `type` for a service name flag, like `topic_arg`."""
