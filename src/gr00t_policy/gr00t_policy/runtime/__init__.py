"""What a runtime calls, ROS-free: a checkpoint opened for one embodiment (`bundle`), the
planner that turns a state and tokens into an action chunk (`planner`), the thread that
runs it (`worker`) and chunks in time (`chunk`). The ROS nodes are wiring around these."""
