"""Pod IP allocation from the node's podCIDR: one address per pod uid, unique on the node, freed on removal.

The network and broadcast addresses and the first host address (the node's bridge, as ``cni0`` takes it)
are never handed out; ``10.244.1.0/24`` gives pods 10.244.1.2 … 10.244.1.254. Freed addresses are reused
only after every other free one has been used once, so a new pod does not inherit a just-deleted pod's
IP while stale endpoints may still point at it.
"""

from __future__ import annotations

import ipaddress


class PodCIDRExhaustedError(Exception):
    pass


class PodIPAllocator:
    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.IPv4Network(cidr, strict=False)
        hosts = list(self.network.hosts())
        self._first = 1 if len(hosts) > 2 else 0  # keep the gateway address off pods on real-sized ranges
        self._candidates = [str(ip) for ip in hosts[self._first :]]
        self._next = 0
        self._by_uid: dict[str, str] = {}
        self._in_use: set[str] = set()

    @property
    def gateway(self) -> str:
        return str(next(self.network.hosts()))

    def allocate(self, uid: str) -> str:
        """The pod's address; the same one again for the same uid. PodCIDRExhaustedError when full."""
        if uid in self._by_uid:
            return self._by_uid[uid]
        for _ in range(len(self._candidates)):
            ip = self._candidates[self._next]
            self._next = (self._next + 1) % len(self._candidates)
            if ip not in self._in_use:
                self._in_use.add(ip)
                self._by_uid[uid] = ip
                return ip
        raise PodCIDRExhaustedError(f"no free address in {self.network}")

    def claim(self, uid: str, ip: str) -> bool:
        """Take ``ip`` for ``uid`` again (after a restart, from the pod's status); False if it cannot be."""
        if self._by_uid.get(uid) == ip:
            return True
        if uid in self._by_uid or ip in self._in_use or ip not in self._candidates:
            return False
        self._in_use.add(ip)
        self._by_uid[uid] = ip
        return True

    def release(self, uid: str) -> None:
        ip = self._by_uid.pop(uid, None)
        if ip is not None:
            self._in_use.discard(ip)

    def get(self, uid: str) -> str | None:
        return self._by_uid.get(uid)

    def __len__(self) -> int:
        return len(self._by_uid)
