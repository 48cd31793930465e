"""Server-side field validation: what a write does with fields its kind's schema does not declare.

Every front names the request's directive (``fieldValidation``; Kubernetes' default, ``Warn``, when the
request names none), and the checks run on the shared request path, so the NATS and REST fronts behave
alike. Like kube-apiserver, whatever the directive, unknown fields are never stored; the directive says
what the client hears:

- ``Strict``: 400 ``BadRequest``, ``strict decoding error: unknown field "spec.foo", …`` (on a create or an
  update prefixed ``Pod in version "v1" cannot be handled as a Pod:``, as the decoder reports it there);
- ``Warn``: the write succeeds, with one warning ``unknown field "spec.foo"`` per field;
- ``Ignore``: the write succeeds silently.

Where it looks, as Kubernetes does: a create's or an update's body (subresource bodies too: a Scale, a
Binding, an Eviction); for a merge, strategic merge or JSON patch, the patched object — the stored object
has no unknown fields, so those are the patch's (:func:`check_patched`, called by the registry with the
directive :func:`validating_fields` set for the request). A server-side apply's configuration must fit
the schema whatever the directive: an unknown field fails it with Kubernetes' 500 ``failed to create typed
patch object (…): .spec.foo: field not declared in schema``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Final

from services.apiserver.schemas.unknownfields import FieldChecker, checker_for, prune, strict_path
from services.apiserver.warnings import add_warning
from shared.apiprotocol import ApiRequest
from shared.errors import ApiError
from shared.logging import get_logger
from shared.models import ResourceType
from shared.patch import APPLY_PATCH

log = get_logger(__name__)

STRICT: Final = "Strict"
WARN: Final = "Warn"
IGNORE: Final = "Ignore"
DIRECTIVES: Final = (IGNORE, STRICT, WARN)
DEFAULT_DIRECTIVE: Final = WARN
"""kube-apiserver's directive for a request that names none (since v1.23)."""

_BODY_KINDS: dict[str, tuple[str, str, str]] = {
    "scale": ("autoscaling", "v1", "Scale"),
    "binding": ("", "v1", "Binding"),
    "eviction": ("policy", "v1", "Eviction"),
}
_BODY_VERBS = frozenset({"create", "update", "status", "finalize", *_BODY_KINDS})

_directive: contextvars.ContextVar[str | None] = contextvars.ContextVar("field_validation", default=None)


def compile_checkers(kinds: Iterable[ResourceType]) -> None:
    """Compile the checkers of ``kinds`` and of the subresource bodies now, not on the first write."""
    for rt in kinds:
        checker_for(rt.group, rt.version, rt.kind)
    for group, version, kind in _BODY_KINDS.values():
        checker_for(group, version, kind)


def directive_of(value: str | None) -> str:
    """The directive a request's ``fieldValidation`` names; ApiError 400 for an unknown one."""
    if not value:
        return DEFAULT_DIRECTIVE
    if value not in DIRECTIVES:
        supported = ", ".join(f'"{d}"' for d in DIRECTIVES)
        raise ApiError(400, f'fieldValidation: Unsupported value: "{value}": supported values: {supported}')
    return value


@contextmanager
def validating_fields(request: ApiRequest) -> Iterator[str]:
    """Serve the block under the request's directive (what :func:`check_patched` reads)."""
    directive = directive_of(request.field_validation)
    token = _directive.set(directive)
    try:
        yield directive
    finally:
        _directive.reset(token)


def check_request(rt: ResourceType, verb: str, request: ApiRequest) -> None:
    """Check what a request writes before it is served: a body, or an applied configuration."""
    directive = directive_of(request.field_validation)
    if verb == "patch" and request.patch_type == APPLY_PATCH:
        check_applied(rt, request.patch, request.name)
    elif verb in _BODY_VERBS and isinstance(request.body, dict) and request.patch is None:
        group, version, kind = _BODY_KINDS.get(verb, (rt.group, rt.version, rt.kind))
        checker = checker_for(group, version, kind)
        if checker is not None:
            _enforce(checker, request.body, directive, decoding_prefix(request.body, version, kind))


def check_patched(rt: ResourceType, patched: Any) -> None:
    """Check a patched object under the current request's directive; nothing outside a request."""
    directive = _directive.get()
    checker = checker_for(rt.group, rt.version, rt.kind)
    if directive is not None and checker is not None:
        _enforce(checker, patched, directive, "")


def check_applied(rt: ResourceType, applied: Any, name: str) -> None:
    """An applied configuration with an unknown field fails, as server-side apply's typed conversion does."""
    checker = checker_for(rt.group, rt.version, rt.kind)
    if checker is None or not isinstance(applied, dict):
        return
    unknown = checker.unknown(applied)
    if not unknown:
        return
    problems = [f"{checker.typed_path(applied, path)}: field not declared in schema" for path in unknown]
    meta = applied.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    where = f"{meta.get('namespace') or ''}/{meta.get('name') or name}"
    api_version = str(applied.get("apiVersion") or rt.api_version)
    group, _, version = api_version.rpartition("/")
    gvk = f"{group}/{version}, Kind={applied.get('kind') or rt.kind}"
    detail = problems[0] if len(problems) == 1 else "errors:\n  " + "\n  ".join(problems)
    # Kubernetes answers this with an unclassified 500 (no reason), which kubectl prints as
    # "Error from server: failed to create typed patch object …".
    raise ApiError(500, f"failed to create typed patch object ({where}; {gvk}): {detail}", reason="")


def _enforce(checker: FieldChecker, obj: Any, directive: str, prefix: str) -> None:
    unknown = checker.unknown(obj)
    if not unknown:
        return
    problems = [f'unknown field "{strict_path(path)}"' for path in unknown]
    if directive == STRICT:
        raise ApiError(400, f"{prefix}strict decoding error: {', '.join(problems)}")
    if directive == WARN:
        for problem in problems:
            add_warning(problem)
    log.debug("unknown fields dropped", directive=directive, fields=",".join(map(strict_path, unknown)))
    prune(obj, unknown)


def decoding_prefix(body: dict[str, Any], version: str, kind: str) -> str:
    """How kube-apiserver introduces a body it could not decode: the kind and version the body claims,
    then the kind it was decoding into (``Pod in version "v1" cannot be handled as a Pod: ``)."""
    given_kind = body.get("kind") if isinstance(body.get("kind"), str) and body.get("kind") else kind
    api_version = body.get("apiVersion")
    given_version = (
        api_version.rpartition("/")[2] if isinstance(api_version, str) and api_version else version
    )
    return f'{given_kind} in version "{given_version}" cannot be handled as a {kind}: '
