"""A node's configuration: its name pattern, resources, labels, taints, pod CIDR and API token.

Pure helpers behind the kubelet's flags: ``expand_names("worker-{1..3}")`` gives the hollow nodes a
process runs, ``NodeConfig`` is everything one node registers with, and ``token_for`` picks a node's
token out of a kube-apiserver token file (the same file the API servers read).
"""

from __future__ import annotations

import ipaddress
import re
import zlib
from dataclasses import dataclass, field
from itertools import product

from shared.models import (
    RESOURCE_CPU,
    RESOURCE_MEMORY,
    RESOURCE_PODS,
    Quantity,
    ResourceList,
    Taint,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
)
from shared.tokenfile import parse_token_file

ROLE_LABEL_PREFIX = "node-role.kubernetes.io/"
HOSTNAME_LABEL = "kubernetes.io/hostname"
OS_LABEL = "kubernetes.io/os"
ARCH_LABEL = "kubernetes.io/arch"
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
NODE_USER_PREFIX = "system:node:"
MAX_EXPANDED_NAMES = 100_000

# Pod CIDRs are /24 blocks of 10.244.0.0/12 (4096 nodes); node addresses come from 172.18.0.0/16.
POD_CIDR_BASE = ipaddress.IPv4Address("10.244.0.0")
POD_CIDR_BLOCKS = 4096
NODE_IP_BASE = ipaddress.IPv4Address("172.18.0.1")
NODE_IP_COUNT = 65_000

_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")
_TRAILING_NUMBER = re.compile(r"(\d+)$")


# --- name patterns ---------------------------------------------------------------------------------


def _split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside braces: ``"a-{1..2},b"`` → ``["a-{1..2}", "b"]``."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced '}}' in {text!r}")
        if ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth:
        raise ValueError(f"unbalanced '{{' in {text!r}")
    parts.append("".join(current))
    return parts


def _alternatives(body: str) -> list[str]:
    """What one ``{…}`` stands for: ``1..3`` → 1 2 3, ``01..03`` keeps the width, ``a,b`` → a b."""
    match = _RANGE.match(body)
    if match is None:
        return body.split(",")
    first, last = match.group(1), match.group(2)
    width = len(first) if first.startswith("0") and len(first) > 1 else 0
    start, stop = int(first), int(last)
    step = 1 if stop >= start else -1
    return [str(n).zfill(width) for n in range(start, stop + step, step)]


def _expand_one(pattern: str) -> list[str]:
    pieces = re.split(r"(\{[^{}]*\})", pattern)
    choices = [_alternatives(p[1:-1]) if p.startswith("{") else [p] for p in pieces]
    count = 1
    for options in choices:
        count *= len(options)
        if count > MAX_EXPANDED_NAMES:
            raise ValueError(f"{pattern!r} expands to more than {MAX_EXPANDED_NAMES} names")
    return ["".join(parts) for parts in product(*choices)]


def expand_names(pattern: str) -> list[str]:
    """Node names from a brace pattern, in order and without repeats.

    ``worker-{1..3}`` → worker-1, worker-2, worker-3; ``edge-{a,b}`` → edge-a, edge-b;
    ``n{01..02}-{x,y}`` → n01-x, n01-y, n02-x, n02-y; commas outside braces separate patterns.
    Raises ValueError for unbalanced braces, an empty name or a name that is not a DNS-1123 subdomain.
    """
    names: dict[str, None] = {}
    for part in _split_top_level(pattern.strip()):
        for name in _expand_one(part.strip()):
            if is_dns1123_subdomain(name):
                raise ValueError(f"{name!r} (from {pattern!r}) is not a valid node name")
            names[name] = None
    if not names:
        raise ValueError(f"{pattern!r} names no node")
    return list(names)


# --- labels, taints ---------------------------------------------------------------------------------


def parse_labels(text: str) -> dict[str, str]:
    """``"zone=a,disk=ssd"`` → ``{"zone": "a", "disk": "ssd"}``; ValueError names a bad pair."""
    labels: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = pair.partition("=")
        if not eq or is_qualified_name(key) or is_valid_label_value(value):
            raise ValueError(f"bad label {pair!r}: expected key=value with a valid key and value")
        labels[key] = value
    return labels


def parse_taints(text: str) -> list[Taint]:
    """``"dedicated=gpu:NoSchedule,spot:PreferNoSchedule"`` → taints (value optional), as kubelet's
    ``--register-with-taints``."""
    taints: list[Taint] = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        head, colon, effect = item.rpartition(":")
        key, _, value = head.partition("=")
        if not colon or effect not in TAINT_EFFECTS or is_qualified_name(key):
            raise ValueError(f"bad taint {item!r}: expected key[=value]:{'|'.join(TAINT_EFFECTS)}")
        if value and is_valid_label_value(value):
            raise ValueError(f"bad taint {item!r}: invalid value")
        taints.append(Taint(key=key, value=value, effect=effect))
    return taints


# --- addresses ----------------------------------------------------------------------------------------


def node_number(name: str) -> int:
    """The number a node's addresses derive from: its trailing digits (``worker-17`` → 17), or a stable
    hash of the name for names without digits."""
    match = _TRAILING_NUMBER.search(name)
    return int(match.group(1)) if match else zlib.crc32(name.encode()) % POD_CIDR_BLOCKS


def default_pod_cidr(name: str) -> str:
    """``worker-1`` → ``10.244.1.0/24``; ``worker-300`` → ``10.245.44.0/24`` (block n of 10.244.0.0/12)."""
    block = node_number(name) % POD_CIDR_BLOCKS
    return f"{POD_CIDR_BASE + block * 256}/24"


def default_node_ip(name: str) -> str:
    """The node's InternalIP: ``worker-1`` → ``172.18.0.2``."""
    return str(NODE_IP_BASE + node_number(name) % NODE_IP_COUNT)


# --- tokens -------------------------------------------------------------------------------------------


def token_for(token_file_text: str, node: str, source: str = "<token file>") -> str:
    """The token of user ``system:node:<node>`` in group ``system:nodes``; KeyError if there is none."""
    user = NODE_USER_PREFIX + node
    for token, info in parse_token_file(token_file_text, source):
        if info.name == user and info.in_group("system:nodes"):
            return token
    raise KeyError(f"{source}: no token for user {user!r} in group system:nodes")


# --- the node -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeConfig:
    """Everything one node registers with. ``allocatable`` = ``capacity`` − reserved."""

    name: str
    cpu: Quantity
    memory: Quantity
    pods: int
    reserved_cpu: Quantity = field(default_factory=lambda: Quantity("0"))
    reserved_memory: Quantity = field(default_factory=lambda: Quantity("0"))
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    role: str = "worker"
    pod_cidr: str = ""
    address: str = ""

    @property
    def cidr(self) -> str:
        return self.pod_cidr or default_pod_cidr(self.name)

    @property
    def internal_ip(self) -> str:
        return self.address or default_node_ip(self.name)

    def capacity(self) -> ResourceList:
        return {RESOURCE_CPU: self.cpu, RESOURCE_MEMORY: self.memory, RESOURCE_PODS: Quantity(self.pods)}

    def allocatable(self) -> ResourceList:
        zero = Quantity("0")
        return {
            RESOURCE_CPU: max(self.cpu - self.reserved_cpu, zero),
            RESOURCE_MEMORY: max(self.memory - self.reserved_memory, zero),
            RESOURCE_PODS: Quantity(self.pods),
        }

    def all_labels(self) -> dict[str, str]:
        """The flags' labels plus the well-known ones the kubelet always sets."""
        return {
            **self.labels,
            HOSTNAME_LABEL: self.name,
            OS_LABEL: "linux",
            ARCH_LABEL: "amd64",
            ROLE_LABEL_PREFIX + self.role: "",
        }
