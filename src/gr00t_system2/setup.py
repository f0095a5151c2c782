from setuptools import find_packages, setup

package_name = "gr00t_system2"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="gr00t_ros developers",
    maintainer_email="gr00t-ros@example.com",
    description="GR00T N1 System 2 node: cameras and instruction in, embedding tokens out.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "system2_node = gr00t_system2.node:run",
        ],
    },
)
