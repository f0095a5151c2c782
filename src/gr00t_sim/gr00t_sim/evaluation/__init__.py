"""``gr00t-eval``: closed-loop evaluation of a checkpoint on the MuJoCo G1 or Apollo through the real graph.

One module per idea:

- `schedule`: which task each episode gets, and which phrasing of it (task sets, seeds);
- `phrasings`: the instruction file of --instructions (task -> what System 2 reads instead);
- `scoring`: an episode's score from the simulator's /gr00t_sim/state verdicts, the
  per-task table and latency percentiles (ROS-free);
- `report`: the human-readable tables;
- `video`: the head-camera mp4 with the instruction overlaid;
- `client`: the ROS client that drives the episodes through a started graph;
- `cli`: the command line, starting and stopping the graph, exit codes.

The success criterion itself is the simulator's (`gr00t_sim.tasks`): the simulator judges
every state it publishes, and the evaluator only aggregates its verdicts. Nothing here
imports MuJoCo.
"""
