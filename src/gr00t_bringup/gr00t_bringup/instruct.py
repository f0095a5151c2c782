"""``gr00t-instruct "touch the red cube with your right hand"``: set System 2's instruction.

Calls the SetInstruction service and prints the reply. With ``--wait`` it then waits for
System 1's first plan for the new instruction (an ActionChunk on /gr00t/action_chunk with its
instruction_id) and prints how long after the reply it came and System 1's safety state from
/diagnostics (e.g. "disabled": it plans but does not command until /gr00t/enable true).

Exit status: 0 accepted (with --wait: and System 1 plans on it), 1 refused, 2 the service did
not answer within --timeout (or a bad argument: a --timeout not > 0, a --service that is not
a service name), 3 (--wait) accepted but System 1 published no plan for it within
--timeout (System 1 not running, its inputs stale, or the new tokens refused; System 2 with
a camera missing: it then prints both nodes' /diagnostics messages).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from gr00t_common.ros_names import service_arg
from gr00t_common.service_call import timeout_arg

DEFAULT_SERVICE = "/gr00t/set_instruction"
CHUNK_TOPIC = "/gr00t/action_chunk"
DIAGNOSTICS_TOPIC = "/diagnostics"
SYSTEM1_STATUS = "gr00t_system1: control loop"  # System 1's DiagnosticStatus name
SYSTEM2_STATUS = "gr00t_system2"  # System 2's DiagnosticStatus name
# After the first plan, how long to listen for System 1's diagnostics (published at 1 Hz).
STATUS_WAIT_S = 1.5
EXIT_ACCEPTED = 0
EXIT_REFUSED = 1
EXIT_UNAVAILABLE = 2
EXIT_NOT_PLANNED = 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gr00t-instruct", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("instruction", help="the language instruction, e.g. "
                                       "\"touch the red cube with your right hand\"")
    p.add_argument("--service", default=DEFAULT_SERVICE, type=service_arg,
                   help=f"SetInstruction service name (default {DEFAULT_SERVICE})")
    p.add_argument("--timeout", type=timeout_arg, default=10.0,
                   help="seconds to wait for the service and for its reply, and with --wait "
                        "for System 1's first plan (default 10)")
    p.add_argument("--wait", action="store_true",
                   help=f"after an accepted reply, wait for System 1's first plan for the new "
                        f"instruction ({CHUNK_TOPIC}) and print its safety state")
    return p


def set_instruction(instruction: str, service: str = DEFAULT_SERVICE, timeout: float = 10.0,
                    wait: bool = False) -> tuple[int, str]:
    """Call the service (and with `wait` wait for System 1's first plan for the accepted
    instruction); return (exit status, text to print)."""
    from gr00t_common.service_call import call_resending, own_node
    from gr00t_msgs.srv import SetInstruction

    with own_node("gr00t_instruct") as (node, pump):
        planned: dict[int, float] = {}  # instruction_id -> monotonic time of its first chunk
        status: list[str] = []  # System 1's diagnostics messages, newest last
        system2: list[str] = []  # System 2's, newest last
        if wait:  # subscribed before the call, so that no early plan is missed
            _listen(node, planned, status, system2)
        client = node.create_client(SetInstruction, service)
        if not client.wait_for_service(timeout_sec=timeout):
            domain = os.environ.get("ROS_DOMAIN_ID", "0")
            return EXIT_UNAVAILABLE, (
                f"service {service} is not available after {timeout:g} s: check that System 2 "
                f"(system2_node) is running and that ROS_DOMAIN_ID matches its (here: {domain})")
        reply = call_resending(client, SetInstruction.Request(instruction=instruction),
                               timeout, pump)
        if reply is None:
            return EXIT_UNAVAILABLE, f"service {service} did not reply within {timeout:g} s"
        t_reply = time.monotonic()
        status_word = "accepted" if reply.accepted else "refused"
        text = f"{status_word}: {reply.message} (instruction_id {reply.instruction_id})"
        if not reply.accepted:
            return EXIT_REFUSED, text
        if not wait:
            return EXIT_ACCEPTED, text
        iid = int(reply.instruction_id)
        while iid not in planned and time.monotonic() < t_reply + timeout:
            pump(0.05)
        if iid not in planned:
            seen = status[-1] if status else "no System 1 diagnostics either: is it running?"
            # System 1 disabled says only "disabled"; whether tokens come at all (a camera
            # missing) is System 2's to say.
            seen2 = system2[-1] if system2 else "no System 2 diagnostics"
            return EXIT_NOT_PLANNED, (
                f"{text}\nbut System 1 published no plan for instruction {iid} within "
                f"{timeout:g} s (System 1: {seen}; System 2: {seen2}); their /diagnostics say "
                "why (stale inputs, refused tokens, a camera missing)")
        after = max(0.0, planned[iid] - t_reply)
        heard = len(status)
        deadline = time.monotonic() + STATUS_WAIT_S
        while len(status) == heard and time.monotonic() < deadline:
            pump(0.05)
        state = status[-1] if len(status) > heard else "its diagnostics did not come"
        return EXIT_ACCEPTED, (f"{text}\nSystem 1 plans on instruction {iid} (first plan "
                               f"{after:.2f} s after the reply); System 1: {state}")


def _listen(node, planned: dict[int, float], status: list[str], system2: list[str]) -> None:
    """Subscribe `node` to System 1's plans (first arrival per instruction_id into `planned`)
    and its diagnostics messages (into `status`), and System 2's (into `system2`)."""
    from diagnostic_msgs.msg import DiagnosticArray
    from gr00t_msgs.msg import ActionChunk
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    def on_chunk(msg: ActionChunk) -> None:
        planned.setdefault(int(msg.instruction_id), time.monotonic())

    def on_diagnostics(msg: DiagnosticArray) -> None:
        status.extend(s.message for s in msg.status if s.name == SYSTEM1_STATUS)
        system2.extend(s.message for s in msg.status if s.name == SYSTEM2_STATUS)

    # Best effort matches System 1's reliable publisher too, and never holds it up.
    qos = QoSProfile(depth=20, reliability=ReliabilityPolicy.BEST_EFFORT)
    node.create_subscription(ActionChunk, CHUNK_TOPIC, on_chunk, qos)
    node.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, on_diagnostics, 10)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    code, text = set_instruction(args.instruction, args.service, args.timeout, args.wait)
    print(text, file=sys.stderr if code == EXIT_UNAVAILABLE else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())
