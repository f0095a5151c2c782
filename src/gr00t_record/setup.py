from setuptools import find_packages, setup

package_name = "gr00t_record"
# The node (`recorder_node`) is a console script in lib/gr00t_record, where `ros2 run` and
# launch_ros look; the user command gr00t-record is the small script in bin/, installed into
# <prefix>/bin (on PATH once install/setup.bash is sourced).
USER_COMMANDS = ["bin/gr00t-record"]

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("bin", USER_COMMANDS),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="gr00t_ros developers",
    maintainer_email="gr00t-ros@example.com",
    description="gr00t-record: an embodiment's topics into rosbag2 MCAP bags, one per episode.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "recorder_node = gr00t_record.node:run",
        ],
    },
)
