"""``gr00t-instruct "touch the red cube with your right hand"``: set System 2's instruction.

Calls the SetInstruction service and prints the reply. Exit status: 0 accepted, 1 refused,
2 the service did not answer within --timeout.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

DEFAULT_SERVICE = "/gr00t/set_instruction"
EXIT_ACCEPTED = 0
EXIT_REFUSED = 1
EXIT_UNAVAILABLE = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gr00t-instruct", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("instruction", help="the language instruction, e.g. "
                                       "\"touch the red cube with your right hand\"")
    p.add_argument("--service", default=DEFAULT_SERVICE,
                   help=f"SetInstruction service name (default {DEFAULT_SERVICE})")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds to wait for the service and for its reply (default 10)")
    return p


def set_instruction(instruction: str, service: str = DEFAULT_SERVICE, timeout: float = 10.0
                    ) -> tuple[int, str]:
    """Call the service; return (exit status, text to print)."""
    from gr00t_common.service_call import call_from_own_node
    from gr00t_msgs.srv import SetInstruction

    appeared, reply = call_from_own_node("gr00t_instruct", SetInstruction, service,
                                         SetInstruction.Request(instruction=instruction), timeout)
    if not appeared:
        domain = os.environ.get("ROS_DOMAIN_ID", "0")
        return EXIT_UNAVAILABLE, (
            f"service {service} is not available after {timeout:g} s: check that System 2 "
            f"(system2_node) is running and that ROS_DOMAIN_ID matches its (here: {domain})")
    if reply is None:
        return EXIT_UNAVAILABLE, f"service {service} did not reply within {timeout:g} s"
    status = "accepted" if reply.accepted else "refused"
    text = (f"{status}: {reply.message} (instruction_id {reply.instruction_id})")
    return (EXIT_ACCEPTED if reply.accepted else EXIT_REFUSED), text


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.timeout <= 0:
        print(f"gr00t-instruct: --timeout must be > 0 (got {args.timeout})", file=sys.stderr)
        return EXIT_UNAVAILABLE
    code, text = set_instruction(args.instruction, args.service, args.timeout)
    print(text, file=sys.stderr if code == EXIT_UNAVAILABLE else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())
