"""gr00t_policy: the ROS-free core of gr00t_ros (model, flow matching, checkpoints, export).

Nothing in this package imports rclpy or TensorRT at import time.
"""

__version__ = "0.1.0"
