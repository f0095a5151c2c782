"""gr00t_record: an embodiment's topics into rosbag2 MCAP bags, one bag per episode.

- `node.py`: the recorder node (`recorder_node`; services /gr00t_record/start and /stop);
- `bag_writer.py`: one rosbag2 MCAP bag directory, written so that a kill loses nothing;
- `msgdefs.py`: the ros2msg schema text and type hash of an installed message type;
- `topics.py`: which topics an embodiment YAML names;
- `cli.py`: `gr00t-record run | start | stop`.
"""
