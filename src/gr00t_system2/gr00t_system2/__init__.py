"""gr00t_system2."""
