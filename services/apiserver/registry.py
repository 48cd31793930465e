"""Object semantics as in Kubernetes, independent of any transport: create, read, update, delete.

Each verb takes the resource type and the request's parts and returns the reply object, or raises an
``ApiError``/``StatusError`` worded as kube-apiserver words it. The NATS front (``service.py``) and a
later HTTP front call the same methods, so the semantics exist once.

What happens on a write, in order: the body is checked against the resource (kind, namespace), the
server-owned metadata is set (uid, creationTimestamp, generation, resourceVersion), defaults are
applied, the object is validated, admission checks run (the namespace exists; a Service gets a
cluster IP), and the store writes it with a compare-and-swap on the resourceVersion. A dry run
(``services.apiserver.dryrun``) goes through all of it and stops short of the store and of ``publish``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from services.apiserver.admission import Admission
from services.apiserver.defaults import DEFAULT_TOLERATION_SECONDS, apply_defaults
from services.apiserver.deletion import is_finalized, mark_for_deletion, with_propagation_finalizer
from services.apiserver.dryrun import dry_run_update, is_dry_run
from services.apiserver.fieldmanager import owned_on_write
from services.apiserver.fieldvalidation import check_patched
from services.apiserver.objects import (
    Object,
    deep,
    generated_name,
    list_object,
    metadata,
    new_uid,
    now_rfc3339,
    qualified,
    spec_of,
)
from services.apiserver.storage import NotFoundError, ObjectStorage, Page, StaleError, parse_resource_version
from services.apiserver.validation import to_status_error, validate_create, validate_update
from services.apiserver.watch_cache.events import selectable_fields
from services.etcd.client.api import FutureRevisionError
from shared.clock import Clock, RealClock
from shared.errors import ApiError
from shared.models import RESOURCES, ResourceType
from shared.patch import PatchError, apply_patch
from shared.selectors import SelectorError, parse_field_selector, parse_label_selector

Publish = Callable[[str, ResourceType, Object], Awaitable[None]]
"""Called after every write with the watch event type (ADDED, MODIFIED, DELETED) and the object."""

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

STATUS_SUBRESOURCE = frozenset({"pods", "nodes", "namespaces", "services", "deployments", "replicasets"})
"""Resources whose status is written only through ``/status`` (and whose spec never is)."""

FIELD_SELECTORS: dict[str, frozenset[str]] = {
    "pods": frozenset({"metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"}),
}
COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


def too_large_resource_version(asked: int, current: int) -> ApiError:
    """Kubernetes' answer to a read at a version the store has not reached (after waiting for it)."""
    return ApiError(504, f"Too large resource version: {asked}, current: {current}", reason="Timeout")


async def _no_publish(event: str, rt: ResourceType, obj: Object) -> None:
    return None


class Registry:
    def __init__(
        self,
        storage: ObjectStorage,
        admission: Admission,
        *,
        clock: Clock | None = None,
        publish: Publish = _no_publish,
        toleration_seconds: int = DEFAULT_TOLERATION_SECONDS,
    ) -> None:
        self.storage = storage
        self.admission = admission
        self.clock = clock or RealClock()
        self.publish = publish
        self.toleration_seconds = toleration_seconds
        """How long pods tolerate a not-ready or unreachable node by default (DefaultTolerationSeconds)."""

    # --- reads --------------------------------------------------------------------------------------

    async def get(self, rt: ResourceType, namespace: str, name: str) -> Object:
        obj = await self.storage.get(rt.plural, self._ns(rt, namespace), name)
        if obj is None:
            raise self.not_found(rt, name)
        return obj

    async def list(
        self,
        rt: ResourceType,
        namespace: str,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
        resource_version_match: str = "",
    ) -> Object:
        try:
            labels = parse_label_selector(label_selector)
            fields = parse_field_selector(field_selector)
            fields.check_supported(FIELD_SELECTORS.get(rt.plural, COMMON_FIELDS))
        except SelectorError as error:
            raise ApiError(400, str(error)) from None
        page = await self._read_page(
            rt, namespace, limit, continue_token, resource_version, resource_version_match
        )
        items = [
            obj
            for obj in page.items
            if labels.matches(obj.get("metadata", {}).get("labels") or {})
            and fields.matches(selectable_fields(rt.plural, obj))
        ]
        return list_object(
            rt,
            items,
            page.resource_version,
            **{"continue": page.continue_token},
            remainingItemCount=page.remaining,
        )

    async def _read_page(
        self,
        rt: ResourceType,
        namespace: str,
        limit: int,
        continue_token: str,
        resource_version: str,
        match: str,
    ) -> Page:
        """One page of a list, as fresh as ``resource_version`` and ``match`` ask (Kubernetes' semantics).

        ``Exact`` reads the store at that revision (410 once compacted). Otherwise the read is a
        consistent one at the store's current revision, which is never older than any version a client
        has seen — unless the client names a version from the future, which Kubernetes answers with 504.
        """
        revision = parse_resource_version(resource_version)
        if match not in ("", "Exact", "NotOlderThan"):
            raise ApiError(
                400,
                f'resourceVersionMatch: Unsupported value: "{match}": supported values: '
                '"Exact", "NotOlderThan"',
                reason="BadRequest",
            )
        if match and not resource_version:
            raise ApiError(400, "resourceVersionMatch is forbidden unless resourceVersion is provided")
        if match and continue_token:
            raise ApiError(400, "resourceVersionMatch is forbidden when continue is provided")
        exact = revision if match == "Exact" and revision > 0 else 0
        ns = namespace if rt.namespaced else ""
        try:
            page = await self.storage.list(
                rt.plural, ns, limit=limit, continue_token=continue_token, revision=exact
            )
        except FutureRevisionError:
            raise too_large_resource_version(revision, await self.storage.current_revision()) from None
        except ApiError as error:
            if exact and error.code == 410:
                raise ApiError(
                    410, f"The resourceVersion for the provided list is too old: {exact}", reason="Expired"
                ) from None
            raise
        if revision > page.resource_version:
            raise too_large_resource_version(revision, page.resource_version)
        return page

    # --- create -------------------------------------------------------------------------------------

    async def create(self, rt: ResourceType, namespace: str, body: Object | None) -> Object:
        obj = self.check_body(rt, namespace, body)
        meta = metadata(obj)
        for server_owned in (
            "uid",
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ):
            meta.pop(server_owned, None)
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = now_rfc3339(self.now())
        if "spec" in obj or rt.plural in STATUS_SUBRESOURCE:
            meta["generation"] = 1
        if rt.plural in STATUS_SUBRESOURCE and rt.plural != "nodes":
            obj.pop("status", None)  # a new object's status is the server's to fill (a Node's, its kubelet's)
        obj = apply_defaults(rt.plural, obj, toleration_seconds=self.toleration_seconds)
        name = meta.get("name") or ""
        for attempt in range(8):
            candidate = deep(obj)
            if not name:
                metadata(candidate)["name"] = generated_name(meta.get("generateName", ""))
            errors = validate_create(rt.plural, candidate)
            if errors:
                raise to_status_error(rt.kind, metadata(candidate).get("name", ""), errors)
            await self.admission.admit_create(rt, candidate)
            candidate = owned_on_write(rt, None, candidate, self.now())
            final_name = metadata(candidate)["name"]
            if is_dry_run():  # what would be stored, without a resourceVersion: nothing was
                if await self.storage.get(rt.plural, metadata(candidate).get("namespace", ""), final_name):
                    raise self.already_exists(rt, final_name)
                return candidate
            try:
                created = await self.storage.create(
                    rt.plural, metadata(candidate).get("namespace", ""), final_name, candidate
                )
            except ApiError as error:
                await self.admission.release(rt, candidate)
                if error.reason == "AlreadyExists" and not name and attempt < 7:
                    continue  # a generated name collided: draw another
                if error.reason == "AlreadyExists":
                    raise self.already_exists(rt, final_name) from None
                raise
            await self.publish("ADDED", rt, created)
            return created
        raise AssertionError("unreachable")

    # --- update and patch -----------------------------------------------------------------------------

    async def update(self, rt: ResourceType, namespace: str, name: str, body: Object | None) -> Object:
        obj = self.check_body(rt, namespace, body)
        if metadata(obj).get("name") != name:
            raise ApiError(
                400,
                f"the name of the object ({metadata(obj).get('name')}) does not match the name on the "
                f"URL ({name})",
            )
        wanted = parse_resource_version(str(metadata(obj).get("resourceVersion", "")))

        async def mutate(current: Object) -> Object:
            if wanted and wanted != int(current["metadata"]["resourceVersion"]):
                raise self.conflict(rt, name)
            return self.prepare_update(rt, obj, current)

        return await self.write(rt, namespace, name, mutate)

    async def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch: Any,
        patch_type: str,
        *,
        subresource: str = "",
    ) -> Object:
        async def mutate(current: Object) -> Object:
            try:
                patched = apply_patch(current, patch, patch_type)
            except PatchError as error:
                raise ApiError(error.code, error.message) from None
            if not isinstance(patched, dict):
                raise ApiError(422, "the patch did not produce an object")
            check_patched(rt, patched)  # the patch's unknown fields, as fieldValidation says
            patched_meta = patched.get("metadata")
            version = patched_meta.get("resourceVersion", "") if isinstance(patched_meta, dict) else ""
            wanted = parse_resource_version(str(version))
            if wanted and wanted != int(current["metadata"]["resourceVersion"]):
                raise self.conflict(rt, name)
            if subresource == "status":
                return self._prepare_status_update(rt, patched, current)
            return self.prepare_update(rt, patched, current)

        return await self.write(rt, namespace, name, mutate)

    async def update_status(self, rt: ResourceType, namespace: str, name: str, body: Object | None) -> Object:
        self._require_status(rt)
        obj = self.check_body(rt, namespace, body)
        wanted = parse_resource_version(str(metadata(obj).get("resourceVersion", "")))

        async def mutate(current: Object) -> Object:
            if wanted and wanted != int(current["metadata"]["resourceVersion"]):
                raise self.conflict(rt, name)
            return self._prepare_status_update(rt, obj, current)

        return await self.write(rt, namespace, name, mutate)

    async def finalize(self, rt: ResourceType, name: str, body: Object | None) -> Object:
        """``namespaces/finalize``: replace ``spec.finalizers`` and nothing else; a terminating namespace
        left with none is removed."""
        if rt.plural != "namespaces":
            raise ApiError(405, f"{rt.plural} have no finalize subresource", reason="MethodNotAllowed")
        obj = self.check_body(rt, "", body)
        finalizers = (obj.get("spec") or {}).get("finalizers") or []

        async def mutate(current: Object) -> Object:
            new = deep(current)
            new.setdefault("spec", {})["finalizers"] = list(finalizers)
            errors = validate_update(rt.plural, new, current)
            if errors:
                raise to_status_error(rt.kind, name, errors)
            return new

        return await self.write(rt, "", name, mutate)

    def prepare_update(self, rt: ResourceType, obj: Object, current: Object) -> Object:
        new = deep(obj)
        meta, old_meta = metadata(new), current["metadata"]
        for owned in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if owned in old_meta:
                meta[owned] = old_meta[owned]
            else:
                meta.pop(owned, None)
        if rt.plural in STATUS_SUBRESOURCE:
            # The main resource cannot change status: that is the status subresource's job.
            if "status" in current:
                new["status"] = deep(current["status"])
            else:
                new.pop("status", None)
        if rt.plural == "services":
            # A replace that leaves out the allocated addresses keeps them, as kube-apiserver does.
            spec, old_spec = new.setdefault("spec", {}), current.get("spec", {})
            for allocated in ("clusterIP", "clusterIPs"):
                if allocated not in spec and allocated in old_spec:
                    spec[allocated] = deep(old_spec[allocated])
        new = apply_defaults(rt.plural, new, toleration_seconds=self.toleration_seconds)
        if "generation" in old_meta and spec_of(new) != spec_of(current):
            metadata(new)["generation"] = int(old_meta["generation"]) + 1
        errors = validate_update(rt.plural, new, current)
        if errors:
            raise to_status_error(rt.kind, meta.get("name", ""), errors)
        return new

    def _prepare_status_update(self, rt: ResourceType, obj: Object, current: Object) -> Object:
        """Only the status changes; spec and metadata stay as stored (Kubernetes' status strategy)."""
        new = deep(current)
        if "status" in obj:
            new["status"] = deep(obj["status"])
        errors = validate_update(rt.plural, new, current)
        if errors:
            raise to_status_error(rt.kind, metadata(new).get("name", ""), errors)
        return new

    async def write(
        self, rt: ResourceType, namespace: str, name: str, mutate: Callable[[Object], Awaitable[Object]]
    ) -> Object:
        ns = self._ns(rt, namespace)

        async def guarded(current: Object) -> Object | None:
            new = await mutate(current)
            if new == current:
                return None
            new = owned_on_write(rt, current, new, self.now())
            return None if new == current else new

        try:
            if is_dry_run():
                return await dry_run_update(self.storage, rt.plural, ns, name, guarded)
            updated = await self.storage.guaranteed_update(rt.plural, ns, name, guarded)
        except NotFoundError:
            raise self.not_found(rt, name) from None
        if is_finalized(updated):
            return await self._delete_now(rt, ns, name, updated)
        await self.publish("MODIFIED", rt, updated)
        return updated

    # --- delete ---------------------------------------------------------------------------------------

    async def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
    ) -> Object:
        """Delete at once, or mark for deletion when a finalizer or a graceful pod stop must come first.

        ``propagation_policy`` says what the garbage collector does with the object's dependents:
        ``Background`` (the default) deletes the object now and them after; ``Foreground`` and
        ``Orphan`` add the ``foregroundDeletion`` / ``orphan`` finalizer, which the collector removes
        once the dependents are gone / released.
        """
        ns = self._ns(rt, namespace)
        for _ in range(16):
            current = await self.storage.get(rt.plural, ns, name)
            if current is None:
                raise self.not_found(rt, name)
            stored = current
            current = with_propagation_finalizer(stored, propagation_policy)
            marked = mark_for_deletion(rt.plural, current, grace_period_seconds, self.now())
            if is_dry_run():
                return stored if marked is None else marked  # as it would be deleted, or marked
            try:
                if marked is None:
                    return await self._delete_now(rt, ns, name, current)
                if marked == stored:
                    return stored
                updated = await self.storage.update(
                    rt.plural, ns, name, marked, int(stored["metadata"]["resourceVersion"])
                )
            except StaleError:
                continue
            await self.publish("MODIFIED", rt, updated)
            return updated
        raise self.conflict(rt, name)

    async def _delete_now(self, rt: ResourceType, ns: str, name: str, current: Object) -> Object:
        try:
            deleted = await self.storage.delete(
                rt.plural, ns, name, int(current["metadata"]["resourceVersion"])
            )
        except StaleError as stale:
            if stale.current is None:
                raise self.not_found(rt, name) from None
            raise self.conflict(rt, name) from None
        await self.admission.release(rt, deleted)
        await self.publish("DELETED", rt, deleted)
        return deleted

    async def ensure_namespaces(self, names: tuple[str, ...]) -> None:
        """Create the system namespaces if missing, as kube-apiserver does at start-up."""
        namespaces = next(r for r in RESOURCES if r.plural == "namespaces")
        for name in names:
            try:
                await self.create(namespaces, "", {"metadata": {"name": name}})
            except ApiError as error:
                if error.reason != "AlreadyExists":
                    raise

    # --- shared checks --------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def _ns(self, rt: ResourceType, namespace: str) -> str:
        if not rt.namespaced:
            return ""
        return namespace or "default"

    def check_body(self, rt: ResourceType, namespace: str, body: Object | None) -> Object:
        if not isinstance(body, dict):
            raise ApiError(400, f"a {rt.kind} object is required in the request body")
        obj = deep(body)
        api_version, kind = obj.setdefault("apiVersion", rt.api_version), obj.setdefault("kind", rt.kind)
        if (api_version, kind) != (rt.api_version, rt.kind):
            raise ApiError(
                400,
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({rt.api_version})"
                if api_version != rt.api_version
                else f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})",
            )
        meta = metadata(obj)
        if rt.namespaced:
            given = meta.get("namespace") or ""
            wanted = namespace or given or "default"
            if given and given != wanted:
                raise ApiError(
                    400,
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            meta["namespace"] = wanted
        else:
            meta.pop("namespace", None)
        return obj

    def _require_status(self, rt: ResourceType) -> None:
        if rt.plural not in STATUS_SUBRESOURCE:
            raise ApiError(404, f"the server could not find the requested resource ({qualified(rt)}/status)")

    def not_found(self, rt: ResourceType, name: str) -> ApiError:
        return ApiError(
            404,
            f'{qualified(rt)} "{name}" not found',
            details={"name": name, "group": rt.group, "kind": rt.plural},
        )

    def already_exists(self, rt: ResourceType, name: str) -> ApiError:
        return ApiError(
            409,
            f'{qualified(rt)} "{name}" already exists',
            reason="AlreadyExists",
            details={"name": name, "group": rt.group, "kind": rt.plural},
        )

    def conflict(self, rt: ResourceType, name: str) -> ApiError:
        return ApiError(
            409,
            f'Operation cannot be fulfilled on {qualified(rt)} "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again",
            reason="Conflict",
            details={"name": name, "group": rt.group, "kind": rt.plural},
        )
