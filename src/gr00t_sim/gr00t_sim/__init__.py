"""gr00t_sim: a MuJoCo Unitree G1 tabletop (world.py), a scripted IK expert (expert.py) and
the ROS node that serves them (node.py). world/expert/meshes import without rclpy."""
