from setuptools import find_packages, setup

package_name = "gr00t_system1"

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
    description="GR00T N1 System 1 node: 120 Hz actions from joint states, decoder plugins, safety.",
    license="Apache-2.0",
    extras_require={"test": ["pytest", "hypothesis"]},
    entry_points={
        "console_scripts": [
            "system1_node = gr00t_system1.node:run",
        ],
        # Decoder plugins: name -> class. Third parties add their own under this group; the
        # built-ins are not repeated here (their names live in gr00t_policy.embodiment, their
        # classes in gr00t_system1.decoders.BUILTIN_DECODERS).
        "gr00t_system1.decoders": [],
    },
)
