"""What the bring-up runner's tests share: a console that keeps the runner's lines, and the
spec of the stub lifecycle node (`src/gr00t_bringup/test/stub_lifecycle_node.py`, found
through the tests' conftest)."""

from __future__ import annotations

import io
from typing import Any


class Output(io.StringIO):
    """The runner's console. Thread-safe enough: the runner serialises its writes under its
    own lock."""

    def lines(self) -> list[str]:
        return self.getvalue().splitlines()


def managed(name: str, **params: Any) -> Any:
    """A gr00t_bringup NodeSpec of the stub lifecycle node `name` in namespace /bench."""
    from gr00t_bringup.graph import NodeSpec  # the runner's tests only: no import cycle

    return NodeSpec(package="stub_lifecycle", executable="stub_lifecycle_node", name=name,
                    namespace="/bench", parameters=params, lifecycle=True)
