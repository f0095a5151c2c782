"""Two "hosts" on one Linux machine: network namespaces joined by a veth pair (tests only).

    with VethPair("g1a", "g1b", "10.231.0.1/24", "10.231.0.2/24") as link:
        argv = link.a.wrap(["python", "-m", "gr00t_system2.node", ...])  # runs inside host A
        link.set_up(False)   # cut the cable
        link.set_up(True)    # plug it back in

Each namespace gets its loopback up and one end of the pair with its address. `close()`
deletes both namespaces (which deletes the veth pair with them) and is safe to call twice.
Creating namespaces needs root (CAP_NET_ADMIN) and iproute2's `ip`; `unavailable_reason()`
says why they cannot be used here, for a pytest skip.

DDS inside the namespaces: ROS 2 nodes there must discover over the subnet
(`ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET`; LOCALHOST would keep them on `lo`), and Fast DDS
must not use its shared-memory transport, which works between processes of one machine
whatever their network namespace (both namespaces share /dev/shm) and would carry the
data around the veth link. `dds_env()` gives both settings.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

logger = logging.getLogger(__name__)


class NetnsError(RuntimeError):
    """An `ip` command failed; the message holds the command and its stderr."""


def unavailable_reason() -> str | None:
    """None when namespaces can be created here, else why not (for a skip message)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN); run the test as root, as CI does"
    if shutil.which("ip") is None:
        return "network namespaces need iproute2's `ip` command (apt-get install iproute2)"
    return None


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `ip ARGS...`; raise NetnsError naming the command and its stderr when it fails."""
    argv = ["ip", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise NetnsError(f"`{' '.join(argv)}` failed with exit {done.returncode}: "
                         f"{done.stderr.strip()}")
    return done


def dds_env(domain_id: int) -> dict[str, str]:
    """Environment for ROS 2 processes inside the namespaces (see the module docstring)."""
    return {
        "ROS_DOMAIN_ID": str(domain_id),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET",
        "ROS_STATIC_PEERS": "",
        # UDP only: no shared-memory shortcut around the veth link.
        "FASTDDS_BUILTIN_TRANSPORTS": "UDPv4",
    }


@dataclass(frozen=True)
class Host:
    """One namespace and its end of the veth pair."""

    netns: str
    device: str
    address: str  # "10.231.0.1/24"

    @property
    def ip_address(self) -> str:
        return self.address.split("/")[0]

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """argv that runs `argv` inside this namespace."""
        return ["ip", "netns", "exec", self.netns, *argv]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """`ip -n NETNS ARGS...` (an ip command inside this namespace)."""
        return ip("-n", self.netns, *args, check=check)


class VethPair:
    """Two namespaces `ns_a` and `ns_b`, joined by veth devices `<ns>-veth`.

    Args:
        ns_a, ns_b: namespace names (also prefixes of the device names, so keep them <= 10
            characters: Linux device names hold at most 15).
        addr_a, addr_b: CIDR addresses of the two ends, in one subnet.
    Raises NetnsError when a namespace of that name exists already (a leftover of a killed
    run: remove it with `ip netns del NAME`) or when an `ip` command fails.
    """

    def __init__(self, ns_a: str, ns_b: str, addr_a: str, addr_b: str) -> None:
        for ns in (ns_a, ns_b):
            if len(ns) > 10:
                raise ValueError(f"namespace name {ns!r} is longer than 10 characters; the veth "
                                 "device name <ns>-veth must fit Linux's 15")
        self.a = Host(ns_a, f"{ns_a}-veth", addr_a)
        self.b = Host(ns_b, f"{ns_b}-veth", addr_b)
        self._created: list[str] = []

    def open(self) -> "VethPair":
        existing = ip("netns", "list").stdout.split()
        for host in (self.a, self.b):
            if host.netns in existing:
                raise NetnsError(f"network namespace {host.netns} exists already (left over from "
                                 f"a killed run?); remove it with `ip netns del {host.netns}`")
        try:
            for host in (self.a, self.b):
                ip("netns", "add", host.netns)
                self._created.append(host.netns)
                host.run("link", "set", "lo", "up")
            ip("link", "add", self.a.device, "netns", self.a.netns, "type", "veth",
               "peer", "name", self.b.device, "netns", self.b.netns)
            for host in (self.a, self.b):
                host.run("addr", "add", host.address, "dev", host.device)
                host.run("link", "set", host.device, "up")
                # DDS discovery is multicast: route it out of the veth end.
                host.run("route", "add", "224.0.0.0/4", "dev", host.device, check=False)
        except Exception:
            self.close()
            raise
        logger.info("veth %s (%s, %s) <-> %s (%s, %s)", self.a.device, self.a.netns,
                    self.a.address, self.b.device, self.b.netns, self.b.address)
        return self

    def set_up(self, up: bool) -> None:
        """Plug (True) or cut (False) the link: both ends up or down."""
        state = "up" if up else "down"
        for host in (self.a, self.b):
            host.run("link", "set", host.device, state)
        if up:
            for host in (self.a, self.b):  # the multicast route went away with the link
                host.run("route", "replace", "224.0.0.0/4", "dev", host.device, check=False)

    def close(self) -> None:
        """Delete the namespaces (and with them the veth pair). Idempotent."""
        while self._created:
            ns = self._created.pop()
            done = ip("netns", "del", ns, check=False)
            if done.returncode != 0:
                logger.error("could not delete network namespace %s: %s", ns,
                             done.stderr.strip())

    def __enter__(self) -> "VethPair":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
