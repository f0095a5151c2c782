"""gr00t_system1 (its modules and its tests) never imports gr00t_system2, bringup or the simulator:
what the two systems share lives in gr00t_policy (ROS-free) or gr00t_common (rclpy side)."""

from __future__ import annotations

from pathlib import Path

from gr00t_testing import offenders

PKG = Path(__file__).resolve().parents[1]


def test_system1_imports_no_other_node_package() -> None:
    files = sorted((PKG / "gr00t_system1").rglob("*.py")) + sorted((PKG / "test").rglob("*.py"))
    assert len(files) > 8
    bad = offenders(files, ("gr00t_system2", "gr00t_bringup", "gr00t_sim"), PKG)
    assert not bad, f"gr00t_system1 must not import another node package: {bad}"
