"""Bearer-token authentication against a static token file in kube-apiserver's ``--token-auth-file`` format.

The file's format (reading and writing it) is :mod:`shared.tokenfile`; this module checks the tokens that
requests present against it, in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from pathlib import Path

from shared.errors import ApiError
from shared.tokenfile import (
    AUTHENTICATED_GROUP,
    TOKEN_CHARS,
    TokenFileError,
    UserInfo,
    generate_token_file,
    parse_token_file,
    token_for_user,
    with_authenticated_group,
)

__all__ = [
    "AUTHENTICATED_GROUP",
    "TokenAuthenticator",
    "TokenFileError",
    "UserInfo",
    "bearer_token",
    "generate_token_file",
    "parse_token_file",
    "token_for_user",
    "unauthorized",
]


def _digest(token: str) -> bytes:
    # Tokens are compared as SHA-256 digests: every comparison then runs over 32 bytes, so neither the
    # length nor a shared prefix of a guessed token shows in the time taken, and the plaintext tokens are
    # not kept in memory once the file is loaded.
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenAuthenticator:
    """Maps a bearer token to the :class:`UserInfo` the token file gives it."""

    def __init__(self, tokens: Mapping[str, UserInfo]) -> None:
        for token in tokens:
            if not token or not TOKEN_CHARS.fullmatch(token):
                raise ValueError("a token must be non-empty visible ASCII without spaces")
        self._entries: tuple[tuple[bytes, UserInfo], ...] = tuple(
            (_digest(token), with_authenticated_group(user)) for token, user in tokens.items()
        )

    @classmethod
    def from_text(cls, text: str, source: str = "<token file>") -> TokenAuthenticator:
        return cls(dict(parse_token_file(text, source)))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> TokenAuthenticator:
        """Load a token file; :class:`TokenFileError` if it is unreadable or any line is invalid."""
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise TokenFileError(f"{path}: cannot read token file: {error.strerror}") from None
        try:
            # utf-8-sig: a file saved by an editor that writes a BOM must not turn the first token into
            # "\ufefftoken", which would be rejected as non-ASCII.
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise TokenFileError(f"{path}: not UTF-8 text (byte {error.start})") from None
        return cls.from_text(text, str(path))

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, header_value: str | None) -> UserInfo:
        """The user behind an ``Authorization: Bearer <token>`` header value.

        Raises ``ApiError(401, "Unauthorized")`` for a missing or malformed header and for an unknown token,
        with the same message in every case so a caller learns nothing about which check failed. The
        message never contains the presented token.
        """
        token = bearer_token(header_value)
        if token is None:
            raise unauthorized()
        presented = _digest(token)
        found: UserInfo | None = None
        # Compare against every entry without stopping at a match, so the time taken does not depend on
        # where in the file (or whether) the token is.
        for digest, user in self._entries:
            if hmac.compare_digest(presented, digest):
                found = user
        if found is None:
            raise unauthorized()
        return found


def bearer_token(header_value: str | None) -> str | None:
    """The token in ``Bearer <token>``, or None when the header is absent or not of that form.

    As in Kubernetes' bearer-token authenticator: surrounding whitespace is ignored (HTTP strips it anyway),
    the scheme is case-insensitive, and exactly one space separates scheme and token, so ``Bearer  tok``
    (two spaces) is refused. Stricter than Kubernetes, which would take ``tok`` from ``Bearer tok junk``:
    here anything after the token makes the header malformed.
    """
    if header_value is None:
        return None
    scheme, space, token = header_value.strip().partition(" ")
    if not space or scheme.lower() != "bearer":
        return None
    if not token or not TOKEN_CHARS.fullmatch(token):
        return None
    return token


def unauthorized() -> ApiError:
    """Kubernetes' 401: reason ``Unauthorized``, message ``Unauthorized``, nothing about the cause."""
    return ApiError(401, "Unauthorized", reason="Unauthorized")
