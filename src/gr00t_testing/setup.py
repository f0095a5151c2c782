from setuptools import find_packages, setup

package_name = "gr00t_testing"

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
    description="Test helpers shared by every gr00t_ros package's tests.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
)
