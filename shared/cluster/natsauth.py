"""The NATS identities of a ``make up`` cluster and their passwords: one per program, two for people.

Every program but the nats-servers logs in as itself (``cp-1-apiserver``, ``worker-2-kubelet``) and gets
that identity's permissions (``shared.cluster.natsperms``). People have two identities: ``user`` for the
CLI and everyday ``nats`` commands (the API, watch events, Services, chaos; not the store), and ``admin``
for everything (the etcd demo, ``nats sub '>'``, readiness probes and experiments, which read the store
directly). The servers' routes log in to each other as ``route``.

Passwords are generated once per cluster into ``auth/nats.json`` (mode 0600), like the API tokens, and kept
across ``make down``/``make up``; identities that a changed topology adds get theirs when it starts, and
existing ones keep theirs, so a running component's password never changes under it.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from shared.bus import NATS_PASSWORD_ENV, NATS_USER_ENV
from shared.cluster.paths import StatePaths
from shared.topology import NATS, Topology

ADMIN = "admin"
USER = "user"
PEOPLE = (ADMIN, USER)
ROUTE_USER = "route"


@dataclass(frozen=True)
class NatsCredentials:
    """Every identity's password, and the one the servers' routes present to each other."""

    passwords: Mapping[str, str]
    route_password: str

    def password(self, identity: str) -> str:
        try:
            return self.passwords[identity]
        except KeyError:
            known = ", ".join(sorted(self.passwords))
            raise KeyError(f"no NATS identity {identity!r}; identities: {known}") from None

    def environment(self, identity: str) -> dict[str, str]:
        """What a program's environment holds for ``shared.bus.connect`` to log in as ``identity``."""
        return {NATS_USER_ENV: identity, NATS_PASSWORD_ENV: self.password(identity)}

    def urls(self, urls: Sequence[str], identity: str) -> list[str]:
        """``urls`` carrying ``identity``'s user and password (``nats://user:password@host:port``)."""
        return with_credentials(urls, identity, self.password(identity))

    def to_json(self) -> str:
        body = {"route": {"user": ROUTE_USER, "password": self.route_password}, "users": self.passwords}
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str) -> NatsCredentials:
        try:
            data = json.loads(text)
            users = {str(name): str(password) for name, password in data["users"].items()}
            return cls(users, str(data["route"]["password"]))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{source} is not a NATS credentials file: {error!r}") from None


def identities(topology: Topology) -> list[str]:
    """The people's identities, then one per program of ``topology`` (nats-servers have none)."""
    return [*PEOPLE, *(p.program for p in topology.placements() if p.component != NATS)]


def new_password() -> str:
    # Hex, so that it stands unquoted in a URL, a shell word and a config file alike; 192 bits.
    return secrets.token_hex(24)


def completed(existing: NatsCredentials | None, topology: Topology) -> NatsCredentials:
    """``existing`` with a fresh password for every identity of ``topology`` it lacks."""
    passwords = dict(existing.passwords) if existing else {}
    for identity in identities(topology):
        passwords.setdefault(identity, new_password())
    return NatsCredentials(passwords, existing.route_password if existing else new_password())


def load_credentials(paths: StatePaths) -> NatsCredentials | None:
    """The cluster's credentials, or ``None`` when it has none (not started yet, or started before them)."""
    try:
        text = paths.nats_credentials.read_text()
    except FileNotFoundError:
        return None
    return NatsCredentials.from_json(text, str(paths.nats_credentials))


def ensure_credentials(topology: Topology, paths: StatePaths) -> NatsCredentials:
    """Load the credentials file, adding what ``topology`` needs; write it (mode 0600) if that changed."""
    existing = load_credentials(paths)
    credentials = completed(existing, topology)
    if credentials != existing:
        write_private(paths.nats_credentials, credentials.to_json())
    return credentials


def write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by this user only, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as file:  # mkstemp creates it with mode 0600
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def with_credentials(urls: Sequence[str], user: str, password: str) -> list[str]:
    """Each URL with ``user:password@`` in it, replacing any it had."""
    userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}@"
    result = []
    for url in urls:
        parts = urlsplit(url if "://" in url else f"nats://{url}")
        address = parts.netloc.rpartition("@")[2]
        result.append(parts._replace(netloc=userinfo + address).geturl())
    return result


def without_credentials(urls: str) -> str:
    """Comma-separated ``urls`` with any password taken out, for messages."""
    shown = []
    for url in urls.split(","):
        parts = urlsplit(url.strip())
        userinfo, at, address = parts.netloc.rpartition("@")
        shown.append(parts._replace(netloc=f"{userinfo.partition(':')[0]}@{address}").geturl() if at else url)
    return ",".join(shown)


def client_urls(paths: StatePaths, urls: Sequence[str], identity: str) -> list[str]:
    """``urls`` logged in as ``identity`` when the cluster in ``paths`` has credentials, else unchanged."""
    credentials = load_credentials(paths)
    return credentials.urls(urls, identity) if credentials else list(urls)
