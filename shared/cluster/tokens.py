"""The API tokens of a ``make up`` cluster: one identity per component and node, plus an admin.

Written once into the state dir (mode 0600) and kept across ``make down``/``make up``, so that running
components and a user's shell keep working tokens; ``make clean`` removes them with the rest.
"""

from __future__ import annotations

from shared.cluster.paths import StatePaths
from shared.tokenfile import UserInfo, generate_token_file, parse_token_file
from shared.topology import Topology

ADMIN = "admin"


def identities(topology: Topology) -> list[UserInfo]:
    nodes = [*topology.hosts("control-plane"), *topology.hosts("worker")]
    return [
        UserInfo(ADMIN, "uid-admin", ("system:masters",)),
        UserInfo("viewer", "uid-viewer", ("system:viewers",)),
        UserInfo("system:kube-scheduler", "uid-kube-scheduler", ()),
        UserInfo("system:kube-controller-manager", "uid-kube-controller-manager", ()),
        *(UserInfo(f"system:node:{node}", f"uid-node-{node}", ("system:nodes",)) for node in nodes),
    ]


def ensure_tokens(topology: Topology, paths: StatePaths) -> None:
    """Write the token file unless one exists (a cluster keeps its tokens for its lifetime)."""
    if not paths.token_file.exists():
        paths.token_file.parent.mkdir(parents=True, exist_ok=True)
        generate_token_file(paths.token_file, identities(topology))


def token_of(paths: StatePaths, user: str) -> str:
    for token, info in parse_token_file(paths.token_file.read_text(), str(paths.token_file)):
        if info.name == user:
            return token
    raise KeyError(f"no token for {user} in {paths.token_file}")
