from setuptools import find_packages, setup

package_name = "gr00t_sim"
# Two kinds of executables. The node (`sim_node`) is a console script, installed by setup.cfg
# into lib/gr00t_sim where `ros2 run`, launch_ros and gr00t-bringup's runner look for it.
# The user commands gr00t-eval and gr00t-collect are the small scripts in bin/, installed as
# data into <prefix>/bin, which sourcing install/setup.bash puts on PATH (colcon adds a
# package's bin/ to PATH when it has files).
USER_COMMANDS = ["bin/gr00t-eval", "bin/gr00t-collect"]

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml", "THIRD_PARTY_NOTICES"]),
        ("bin", USER_COMMANDS),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="gr00t_ros developers",
    maintainer_email="gr00t-ros@example.com",
    description="MuJoCo Unitree G1 tabletop simulator node, scripted expert, demonstration "
                "recorder (gr00t-collect) and closed-loop evaluation (gr00t-eval).",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "sim_node = gr00t_sim.node:run",
            "expert_node = gr00t_sim.expert_node:run",
        ],
    },
)
