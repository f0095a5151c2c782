"""gr00t_common: the rclpy-side helpers every gr00t_ros node shares.

- `params`: one spec per node parameter; `declare` puts it on the node with a typed, ranged
  descriptor, `read` validates every value once (`params_doc` renders docs/PARAMETERS.md);
- `stats`: rolling windows, percentiles, rates and log throttling for diagnostics (ROS-free);
- `stamps`: builtin_interfaces/Time <-> seconds / nanoseconds.

System 1 and System 2 never import each other; both may import this package and gr00t_policy.
gr00t_policy (ROS-free) never imports this package. Importing `gr00t_common` itself imports
nothing else.
"""
