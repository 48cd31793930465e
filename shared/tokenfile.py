"""The static token file of kube-apiserver's ``--token-auth-file`` format: reading, writing, looking up.

The file is CSV, one identity per line::

    # token,user,uid,"group1,group2"
    31ada4fd-adec-460c-809a-9e56ceb75269,alice,1001,"system:masters"
    6a1f0b7e3c,system:node:worker-1,node-worker-1,system:nodes

Blank lines and lines whose first non-blank character is ``#`` are ignored. Where this parser is stricter
than Kubernetes' it says so: a mistake in this file grants or withholds cluster access, so every doubtful
line is an error naming its line rather than something guessed at. The API server authenticates against
it (``services.apiserver.auth``); ``make up`` writes it and every component finds its own token in it.
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Kubernetes adds this group to every authenticated user (``AuthenticatedGroupAdder``); RBAC bindings such
# as ``system:discovery`` rely on it.
AUTHENTICATED_GROUP = "system:authenticated"

# Header values travel over NATS as text; a token must survive that unchanged and be comparable byte for
# byte, so the file may only hold visible ASCII (RFC 6750's b64token is a subset of this).
TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")
_MIN_FIELDS = 3
_MAX_FIELDS = 4


class TokenFileError(ValueError):
    """A token file that cannot be loaded; the message names the file and, where there is one, the line."""


@dataclass(frozen=True)
class UserInfo:
    """Who a request comes from, as Kubernetes' ``user.Info``: name, uid and groups."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()

    def in_group(self, group: str) -> bool:
        return group in self.groups


def _unique(groups: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(groups))


def with_authenticated_group(user: UserInfo) -> UserInfo:
    if user.in_group(AUTHENTICATED_GROUP):
        return user
    return UserInfo(user.name, user.uid, (*user.groups, AUTHENTICATED_GROUP))


def _parse_line(line: str, where: str) -> tuple[str, UserInfo]:
    try:
        (fields,) = csv.reader([line], strict=True)
    except csv.Error as error:
        raise TokenFileError(f"{where}: malformed CSV: {error}") from None
    if len(fields) < _MIN_FIELDS:
        raise TokenFileError(
            f"{where}: must have at least 3 columns (token, user name, user uid), found {len(fields)}"
        )
    if len(fields) > _MAX_FIELDS:
        # Kubernetes silently ignores columns past the fourth, so `tok,u,id,g1,g2` would grant g1 and drop
        # g2 without a word; here it is an error that says how to write it.
        raise TokenFileError(
            f"{where}: has {len(fields)} columns, at most 4 (token, user name, user uid, groups); "
            f'quote a list of groups: "group1,group2"'
        )
    token, name, uid = (field.strip() for field in fields[:3])
    if not token:
        raise TokenFileError(f"{where}: empty token")
    if not TOKEN_CHARS.fullmatch(token):
        raise TokenFileError(f"{where}: a token may hold only visible ASCII characters, no spaces")
    if not name:
        raise TokenFileError(f"{where}: empty user name")
    groups: tuple[str, ...] = ()
    if len(fields) == _MAX_FIELDS:
        groups = _unique(g.strip() for g in fields[3].split(",") if g.strip())
    return token, with_authenticated_group(UserInfo(name=name, uid=uid, groups=groups))


def parse_token_file(text: str, source: str = "<token file>") -> list[tuple[str, UserInfo]]:
    """Parse token-file text into ``(token, user)`` pairs in file order.

    Raises :class:`TokenFileError` naming ``source`` and the 1-based line for: malformed CSV, fewer than 3
    or more than 4 columns, an empty token or user name, a token with spaces or non-ASCII characters, and
    a token that appeared on an earlier line (Kubernetes only warns and lets the later line win; here two
    identities sharing one secret is always a mistake). Every returned user is in ``system:authenticated``.
    """
    entries: list[tuple[str, UserInfo]] = []
    first_seen: dict[str, int] = {}
    # Split on "\n" only: str.splitlines() would also break at \x0b, \x1c, U+2028 … and so shift line numbers
    # away from what an editor shows.
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = f"{source}:{number}"
        token, user = _parse_line(line, where)
        if token in first_seen:
            raise TokenFileError(f"{where}: duplicate token (first on line {first_seen[token]})")
        first_seen[token] = number
        entries.append((token, user))
    return entries


def generate_token_file(
    path: str | os.PathLike[str],
    identities: Iterable[UserInfo],
    *,
    overwrite: bool = False,
) -> dict[str, str]:
    """Write a token file with a fresh random token per identity; return ``{user name: token}``.

    Tokens come from :func:`secrets.token_urlsafe` (256 bits). The file is written with mode 0600 and
    appears whole or not at all (written beside the target, then linked or renamed into place). Without
    ``overwrite`` an existing file is left alone and :class:`FileExistsError` is raised, because replacing
    it would lock out every component still holding the old tokens. Identities must have distinct,
    non-empty names; an identity the format cannot carry (a line break in a field, a comma in a group name)
    is refused with :class:`ValueError`. ``system:authenticated`` is implied and not written.
    """
    wanted: list[UserInfo] = []
    rows: list[list[str]] = []
    tokens: dict[str, str] = {}
    for identity in identities:
        if not identity.name or identity.name in tokens:
            raise ValueError(f"identity names must be non-empty and distinct: {identity.name!r}")
        groups = tuple(g for g in identity.groups if g != AUTHENTICATED_GROUP)
        token = secrets.token_urlsafe(32)
        tokens[identity.name] = token
        rows.append([token, identity.name, identity.uid, ",".join(groups)])
        wanted.append(with_authenticated_group(UserInfo(identity.name, identity.uid, groups)))

    buffer = io.StringIO()
    buffer.write("# kubenats API tokens: token,user,uid,groups (kube-apiserver --token-auth-file format)\n")
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    text = buffer.getvalue()
    # Read back what is about to be written and insist it means what was asked: this refuses, in one
    # place, every identity the format cannot carry (a line break in a field, a comma inside a group name,
    # spaces around a name that the parser would strip, an empty group).
    loaded = [user for _, user in parse_token_file(text, str(path))]
    for got, want in zip(loaded, wanted, strict=True):
        if got != want:
            raise ValueError(f"identity {want.name!r} cannot be written as a token file line")

    target = Path(path)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            # mkstemp creates the file 0600 already; say so explicitly rather than rely on it.
            os.fchmod(out.fileno(), 0o600)
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if overwrite:
            os.replace(temp, target)
        else:
            # link() fails if the target exists, atomically; rename() would silently replace it.
            os.link(temp, target)
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)
    return tokens


def token_for_user(path: str | os.PathLike[str], user: str) -> str:
    """The token of ``user`` in the token file at ``path``: how a component finds its own credentials."""
    source = str(path)
    for token, info in parse_token_file(Path(path).read_text(encoding="utf-8-sig"), source):
        if info.name == user:
            return token
    raise LookupError(f"no token for user {user!r} in {source}")
