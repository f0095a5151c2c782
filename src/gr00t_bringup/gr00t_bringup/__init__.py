"""gr00t_bringup."""
