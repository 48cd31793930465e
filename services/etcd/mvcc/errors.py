"""The errors the MVCC state machine reports, each an :class:`ApiError` carrying the reply's HTTP-like code.

Messages are etcd's own words (``api/v3rpc/rpctypes/error.go``, ``server/storage/mvcc``, ``server/lease``)
so a client written against etcd recognises them. An error raised while applying a command is a result,
not a failure of the member: every member raises the same error for the same command, and nothing is
written (every check runs before the first write).
"""

from __future__ import annotations

from typing import ClassVar

from shared.errors import ApiError


class MvccError(ApiError):
    """Base of every error the state machine reports; ``code`` is the reply's HTTP-like status."""

    CODE: ClassVar[int] = 400
    MESSAGE: ClassVar[str] = "etcdserver: bad request"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(self.CODE, message or self.MESSAGE)


class BadRequestError(MvccError):
    """A request (or a replicated command) that is not well formed: wrong type, unknown field value."""


class KeyNotProvidedError(MvccError):
    MESSAGE = "etcdserver: key is not provided"


class TooManyOpsError(MvccError):
    MESSAGE = "etcdserver: too many operations in txn request"


class DuplicateKeyError(MvccError):
    MESSAGE = "etcdserver: duplicate key given in txn request"


class FutureRevisionError(MvccError):
    MESSAGE = "mvcc: required revision is a future revision"


class CompactedError(MvccError):
    """A read, watch or compaction at a revision compaction has already removed (Kubernetes' 410 Gone)."""

    CODE = 410
    MESSAGE = "mvcc: required revision has been compacted"

    def __init__(self, compact_revision: int) -> None:
        super().__init__()
        self.compact_revision = compact_revision
        self.details = {"compact_revision": compact_revision}


class LeaseNotFoundError(MvccError):
    CODE = 404
    MESSAGE = "etcdserver: requested lease not found"


class LeaseExistsError(MvccError):
    CODE = 409
    MESSAGE = "etcdserver: lease already exists"


class LeaseTTLTooLargeError(MvccError):
    MESSAGE = "etcdserver: too large lease TTL"


class NotPrimaryError(MvccError):
    """A leader-only lease operation (keepalive) reached a member that is not the leader: forward it."""

    CODE = 503
    MESSAGE = "etcdserver: not a primary lessor"
