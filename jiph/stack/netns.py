"""Hosts of their own on one machine: a Linux bridge in the root namespace and one network
namespace per node, joined to it by a veth pair (iproute2), so that a fault between two nodes can
be injected inside one node's namespace (nftables) without touching any other program here.

Every call is idempotent: `ensure_*` leaves what exists, `delete_*` ignores what is gone, so an
interrupted `up` is finished by the next one and `down` always cleans up.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from jiph.stack.processes import StackError
from jiph.stack.system import ensure_command

#: The nftables table a fault lives in, inside a node's namespace (deleted with the fault).
FAULT_TABLE = "jiph_fault"


@dataclass(frozen=True)
class Node:
    """One host: its namespace, its address on the bridge, and the veth end in the root
    namespace (Linux allows 15 characters for an interface name)."""

    name: str
    address: str

    @property
    def netns(self) -> str:
        return f"jiph-{self.name}"

    @property
    def veth(self) -> str:
        return f"jv-{self.name}"[:15]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False, timeout=30)
    if check and done.returncode != 0:
        raise StackError(f"ip {' '.join(args)}: {done.stderr.strip()[-300:]}")
    return done


def _exists(*args: str) -> bool:
    return _ip(*args, check=False).returncode == 0


def ensure_bridge(bridge: str, address: str) -> None:
    """The bridge every namespace joins, with the root namespace's own address on it (`a.b.c.d/n`),
    where PostgreSQL listens and from where the tests reach every node."""
    ensure_command("ip", "iproute2")
    if not _exists("link", "show", "dev", bridge):
        _ip("link", "add", bridge, "type", "bridge")
    if address.split("/")[0] not in _ip("-o", "addr", "show", "dev", bridge).stdout:
        _ip("addr", "add", address, "dev", bridge)
    _ip("link", "set", bridge, "up")


def ensure_node(node: Node, bridge: str, prefix_len: int, gateway: str) -> None:
    """The node's namespace, its `eth0` with the node's address, plugged into the bridge."""
    if node.netns not in namespaces():
        _ip("netns", "add", node.netns)
    if not _exists("link", "show", "dev", node.veth):
        _ip("link", "add", node.veth, "type", "veth", "peer", "name", "eth0", "netns", node.netns)
    _ip("link", "set", node.veth, "master", bridge, "up")
    inside = ("netns", "exec", node.netns, "ip")
    _ip(*inside, "link", "set", "lo", "up")
    if node.address not in _ip(*inside, "-o", "addr", "show", "dev", "eth0").stdout:
        _ip(*inside, "addr", "add", f"{node.address}/{prefix_len}", "dev", "eth0")
    _ip(*inside, "link", "set", "eth0", "up")
    _ip(*inside, "route", "replace", "default", "via", gateway)


def delete_node(node: Node) -> bool:
    """Remove the namespace (which removes its veth pair too). True if there was one."""
    deleted = False
    if node.netns in namespaces():
        _ip("netns", "delete", node.netns, check=False)
        deleted = True
    if _exists("link", "show", "dev", node.veth):
        _ip("link", "delete", node.veth, check=False)
    return deleted


def delete_bridge(bridge: str) -> bool:
    if not _exists("link", "show", "dev", bridge):
        return False
    _ip("link", "delete", bridge, check=False)
    return True


def namespaces() -> set[str]:
    return {line.split()[0] for line in _ip("netns", "list").stdout.splitlines() if line.strip()}


def exec_argv(node: Node, argv: Sequence[str]) -> list[str]:
    """`argv` run inside the node's namespace. `ip netns exec` execs the command in place, so the
    pid started is the program's own (pid files and signals reach it, not a wrapper)."""
    return ["ip", "netns", "exec", node.netns, *argv]


def _nft(node: Node, script: str) -> None:
    done = subprocess.run(
        exec_argv(node, ["nft", "-f", "-"]),
        input=script,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if done.returncode != 0:
        raise StackError(f"nft in {node.netns}: {done.stderr.strip()[-300:]}")


def cut_off(node: Node, peers: Sequence[str]) -> None:
    """Drop every packet between the node and `peers` (addresses), both ways, silently: what a
    broken link or a partition looks like to both ends (no reset, only timeouts)."""
    ensure_command("nft", "nftables")
    heal(node)
    addresses = ", ".join(peers)
    _nft(
        node,
        f"""table inet {FAULT_TABLE} {{
  chain output {{ type filter hook output priority 0; ip daddr {{ {addresses} }} drop; }}
  chain input {{ type filter hook input priority 0; ip saddr {{ {addresses} }} drop; }}
}}
""",
    )


def heal(node: Node) -> None:
    """Remove the node's fault rules, if any."""
    subprocess.run(
        exec_argv(node, ["nft", "delete", "table", "inet", FAULT_TABLE]),
        capture_output=True,
        check=False,
        timeout=30,
    )
