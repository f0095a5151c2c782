import os
from glob import glob

from setuptools import find_packages, setup

package_name = "gr00t_bringup"
# launch/ and config/ live at the repository root (where users look for them); the
# package installs them into its share directory so that
# `ros2 launch gr00t_bringup humanoid.launch.py` resolves on a normal ROS 2 install.
# Inside the package they are reached through the symlinks launch -> ../../launch and
# config -> ../../config.
here = os.path.dirname(os.path.abspath(__file__))

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", sorted(glob("launch/*.launch.py"))),
        ("share/" + package_name + "/config",
         sorted(glob("config/*.yaml")) + sorted(glob("config/*.xml"))),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="gr00t_ros developers",
    maintainer_email="gr00t-ros@example.com",
    description="Bringup for gr00t_ros: graph description, runner, launch file, instruction CLI.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "gr00t-bringup = gr00t_bringup.cli:main",
            "gr00t-instruct = gr00t_bringup.instruct:main",
        ],
    },
)
