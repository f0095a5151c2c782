"""gr00t_policy is the ROS-free core: no module of it imports a ROS package or a node package
(a lazy import inside a function counts too; TensorRT is imported lazily and is not ROS)."""

from __future__ import annotations

from pathlib import Path

from gr00t_policy.testing.imports import offenders

PKG = Path(__file__).resolve().parents[1]
ROS = ("rclpy", "rcl_interfaces", "rosidl*", "builtin_interfaces", "std_msgs", "std_srvs",
       "sensor_msgs", "trajectory_msgs", "diagnostic_msgs", "geometry_msgs", "rosgraph_msgs",
       "ament_index_python", "cv_bridge", "gr00t_msgs", "gr00t_common", "gr00t_testing",
       "gr00t_system1", "gr00t_system2", "gr00t_bringup", "gr00t_sim", "launch", "launch_ros")


def test_the_core_imports_no_ros_package() -> None:
    files = sorted((PKG / "gr00t_policy").rglob("*.py"))
    assert len(files) > 30
    bad = offenders(files, ROS, PKG)
    assert not bad, f"gr00t_policy must stay ROS-free: {bad}"
