"""RosProbe: a node of its own that reads nothing from the process's command line."""

import subprocess
import sys

PROGRAM = """
import sys
sys.argv = ["gr00t-bringup", "run", "--system1-param", "start_enabled:=false"]
from gr00t_common.probe import RosProbe
probe = RosProbe(domain_id={domain})
probe.close()
"""


def test_a_probe_does_not_read_the_callers_arguments_as_remap_rules(ros_domain_id):
    # gr00t-bringup's probes (namesakes, lifecycle) ran in a process whose argv held
    # '--system1-param start_enabled:=false'; rcl took it as a deprecated remap rule and
    # warned, twice, to "use '--ros-args --remap start_enabled:=false' instead".
    done = subprocess.run([sys.executable, "-c", PROGRAM.format(domain=ros_domain_id)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "remap rule" not in done.stdout + done.stderr, done.stderr
