"""Server-side dry run: whether the request being served asks for ``dryRun=All``.

The request handler marks one request as a dry run with :func:`dry_running`; the registry's write paths
and admission read :func:`is_dry_run` and then do everything a write does — defaulting, validation,
admission checks, conflicts, managed fields — except what persists: nothing is written to the store,
nothing is published, no cluster IP is reserved. Kubernetes does the same in its storage layer.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager

from services.apiserver.objects import Object
from services.apiserver.storage import NotFoundError, ObjectStorage
from shared.errors import ApiError

DRY_RUN_ALL = "All"

_dry_run: contextvars.ContextVar[bool] = contextvars.ContextVar("dry_run", default=False)


def check_dry_run(values: Sequence[str]) -> bool:
    """Whether ``values`` (the request's ``dryRun``) ask for a dry run; ApiError 400 for any but ``All``."""
    for value in values:
        if value != DRY_RUN_ALL:
            raise ApiError(400, f'dryRun: Unsupported value: "{value}": supported values: "{DRY_RUN_ALL}"')
    return bool(values)


@contextmanager
def dry_running(dry_run: bool) -> Iterator[None]:
    """Serve the block as a dry run when ``dry_run`` is true."""
    token = _dry_run.set(dry_run)
    try:
        yield
    finally:
        _dry_run.reset(token)


def is_dry_run() -> bool:
    return _dry_run.get()


async def dry_run_update(
    storage: ObjectStorage,
    resource: str,
    namespace: str,
    name: str,
    mutate: Callable[[Object], Awaitable[Object | None]],
) -> Object:
    """What ``ObjectStorage.guaranteed_update`` would store, without storing it.

    An object the update would finalize is returned as it is, not deleted.
    """
    current = await storage.get(resource, namespace, name)
    if current is None:
        raise NotFoundError()
    return await mutate(current) or current
