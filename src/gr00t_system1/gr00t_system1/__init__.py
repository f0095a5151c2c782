"""gr00t_system1."""
