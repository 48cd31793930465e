"""Server-side apply's pure core: field sets, the FieldsV1 encoding, the apply merge, ownership, conflicts."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from shared.patchmeta import schema_for
from shared.ssa.apply import ApplyConflict, Writer, apply, record_update
from shared.ssa.fieldpath import Path, decode, encode, to_string
from shared.ssa.fieldset import field_set
from shared.ssa.managed import read_managers
from shared.ssa.merge import merge
from tests.manifests import MANIFESTS

NGINX = yaml.safe_load((MANIFESTS / "kubernetes-website" / "nginx-deployment.yaml").read_text())
DEPLOYMENT = schema_for("apps/v1", "Deployment")
POD = schema_for("v1", "Pod")
KUBECTL = Writer("kubectl", "apps/v1", "2026-01-01T00:00:00Z")
SCALE = Writer("kubectl-scale", "apps/v1", "2026-01-01T00:01:00Z", "scale")
CSA = Writer("kubectl-client-side-apply", "apps/v1", "2026-01-01T00:02:00Z")

CONTAINERS = ("f:spec", "f:template", "f:spec", "f:containers")
NGINX_CONTAINER = (*CONTAINERS, 'k:{"name":"nginx"}')


def nginx(**changes: Any) -> dict[str, Any]:
    """The nginx Deployment manifest; ``replicas=…``/``image=…``/``ports=None`` change a copy."""
    obj: dict[str, Any] = copy.deepcopy(NGINX)
    container = obj["spec"]["template"]["spec"]["containers"][0]
    if "replicas" in changes:
        obj["spec"]["replicas"] = changes["replicas"]
    if "image" in changes:
        container["image"] = changes["image"]
    if "ports" in changes:
        if changes["ports"] is None:
            del container["ports"]
        else:
            container["ports"] = changes["ports"]
    return obj


def fields_of(obj: dict[str, Any], manager: str) -> frozenset[Path]:
    return next(m.fields for m in read_managers(obj) if m.name == manager)


# --- field sets and their encoding -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "owned"),
    [
        (("f:spec", "f:replicas"), True),
        (("f:metadata", "f:labels", "f:app.kubernetes.io/name"), True),
        (NGINX_CONTAINER, True),
        ((*NGINX_CONTAINER, "f:image"), True),
        ((*NGINX_CONTAINER, "f:ports", 'k:{"containerPort":80}', "f:containerPort"), True),
        (CONTAINERS, False),  # a keyed list is owned element by element
        (("f:metadata", "f:name"), False),  # server and URL metadata belong to nobody
        (("f:apiVersion",), False),
        (("f:kind",), False),
    ],
)
def test_field_set_of_a_manifest_walks_keyed_lists_by_element(path: Path, owned: bool) -> None:
    assert (path in field_set(NGINX, DEPLOYMENT)) is owned


def test_field_set_treats_lists_without_merge_key_as_atomic_and_primitive_sets_by_value() -> None:
    pod = {
        "metadata": {"finalizers": ["a", "b"], "uid": "u", "resourceVersion": "3"},
        "spec": {"containers": [{"name": "c", "args": ["x", "y"], "resources": {}}]},
        "status": {"phase": "Running"},
    }
    got = field_set(pod, POD, ignore_status=True)
    container = ("f:spec", "f:containers", 'k:{"name":"c"}')
    assert got == {
        ("f:metadata", "f:finalizers", 'v:"a"'),
        ("f:metadata", "f:finalizers", 'v:"b"'),
        container,
        (*container, "f:name"),
        (*container, "f:args"),
        (*container, "f:resources"),
    }


def test_fields_v1_encoding_marks_owned_parents_with_a_dot_and_round_trips() -> None:
    paths = field_set(NGINX, DEPLOYMENT)
    tree = encode(paths)
    element = tree["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']
    assert next(iter(element)) == "."
    assert tree["f:spec"]["f:replicas"] == {}
    assert decode(tree) == paths


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        (("f:spec", "f:replicas"), ".spec.replicas"),
        ((*NGINX_CONTAINER, "f:image"), '.spec.template.spec.containers[name="nginx"].image'),
        (("f:metadata", "f:finalizers", 'v:"x"'), '.metadata.finalizers[="x"]'),
    ],
)
def test_paths_print_as_kubernetes_prints_them_in_conflicts(path: Path, shown: str) -> None:
    assert to_string(path) == shown


# --- the merge ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("live", "applied", "merged"),
    [
        ({"a": 1, "b": 2}, {"b": 3}, {"a": 1, "b": 3}),
        (
            {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}},
            {"spec": {"containers": [{"name": "b", "image": "z"}, {"name": "c", "image": "w"}]}},
            {
                "spec": {
                    "containers": [
                        {"name": "a", "image": "x"},
                        {"name": "b", "image": "z"},
                        {"name": "c", "image": "w"},
                    ]
                }
            },
        ),
        (
            {"spec": {"containers": [{"name": "a", "args": ["1", "2"]}]}},
            {"spec": {"containers": [{"name": "a", "args": ["3"]}]}},
            {"spec": {"containers": [{"name": "a", "args": ["3"]}]}},
        ),
        (
            {"metadata": {"finalizers": ["x"]}},
            {"metadata": {"finalizers": ["y"]}},
            {"metadata": {"finalizers": ["x", "y"]}},
        ),
    ],
    ids=["scalars", "keyed-list-merges-per-element", "atomic-list-replaces", "set-gains-values"],
)
def test_merge_follows_the_patch_metadata_of_the_kind(
    live: dict[str, Any], applied: dict[str, Any], merged: dict[str, Any]
) -> None:
    assert merge(live, applied, POD) == merged


# --- apply --------------------------------------------------------------------------------------------------


def test_apply_to_nothing_creates_the_object_owned_by_the_applier() -> None:
    created = apply({}, NGINX, KUBECTL, DEPLOYMENT)
    entry = created["metadata"]["managedFields"][0]
    assert {k: entry[k] for k in ("manager", "operation", "apiVersion", "fieldsType")} == {
        "manager": "kubectl",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "fieldsType": "FieldsV1",
    }
    assert created["spec"] == NGINX["spec"]
    assert fields_of(created, "kubectl") == field_set(NGINX, DEPLOYMENT)


def test_reapplying_a_changed_configuration_updates_fields_and_keeps_unowned_ones() -> None:
    live = apply({}, NGINX, KUBECTL, DEPLOYMENT)
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"  # a default
    updated = apply(live, nginx(image="nginx:1.16.1", replicas=2), KUBECTL, DEPLOYMENT)
    container = updated["spec"]["template"]["spec"]["containers"][0]
    assert (container["image"], updated["spec"]["replicas"]) == ("nginx:1.16.1", 2)
    assert container["imagePullPolicy"] == "IfNotPresent"


def test_a_field_no_longer_applied_is_removed_with_what_it_leaves_empty() -> None:
    live = apply({}, NGINX, KUBECTL, DEPLOYMENT)
    updated = apply(live, nginx(ports=None), KUBECTL, DEPLOYMENT)
    assert updated["spec"]["template"]["spec"]["containers"] == [{"name": "nginx", "image": "nginx:1.14.2"}]
    assert not any("f:ports" in path for path in fields_of(updated, "kubectl"))


def test_a_field_no_longer_applied_stays_when_another_manager_owns_it() -> None:
    live = apply({}, NGINX, KUBECTL, DEPLOYMENT)
    live = apply(live, NGINX, Writer("other", "apps/v1", "t"), DEPLOYMENT)  # same values: shared ownership
    updated = apply(live, nginx(ports=None), KUBECTL, DEPLOYMENT)
    assert updated["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]


def test_applying_an_unchanged_configuration_changes_nothing() -> None:
    live = apply({}, NGINX, KUBECTL, DEPLOYMENT)
    assert apply(live, NGINX, Writer("kubectl", "apps/v1", "later"), DEPLOYMENT) is live


def test_a_field_another_manager_set_to_another_value_is_a_conflict() -> None:
    live = apply({}, NGINX, KUBECTL, DEPLOYMENT)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    scaled = record_update(live, scaled, CSA, DEPLOYMENT)
    with pytest.raises(ApplyConflict) as raised:
        apply(scaled, nginx(replicas=4), KUBECTL, DEPLOYMENT)
    assert raised.value.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: '
        ".spec.replicas"
    )
    assert raised.value.causes == [
        {
            "type": "FieldManagerConflict",
            "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
            "field": ".spec.replicas",
        }
    ]


def test_conflicts_with_several_fields_are_listed_per_manager() -> None:
    live = apply({}, NGINX, KUBECTL, DEPLOYMENT)
    changed = nginx(replicas=5, image="nginx:2")
    other = apply(live, changed, Writer("other", "apps/v1", "t"), DEPLOYMENT, force=True)
    with pytest.raises(ApplyConflict) as raised:
        apply(other, NGINX, KUBECTL, DEPLOYMENT)
    assert raised.value.message == (
        'Apply failed with 2 conflicts: conflicts with "other":\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="nginx"].image'
    )


def test_applying_the_value_another_manager_set_is_no_conflict() -> None:
    live = apply({}, NGINX, KUBECTL, DEPLOYMENT)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    scaled = record_update(live, scaled, SCALE, DEPLOYMENT)
    assert apply(scaled, nginx(replicas=5), KUBECTL, DEPLOYMENT)["spec"]["replicas"] == 5


def test_force_takes_ownership_of_conflicting_fields() -> None:
    live = apply({}, NGINX, KUBECTL, DEPLOYMENT)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    scaled = record_update(live, scaled, SCALE, DEPLOYMENT)
    forced = apply(scaled, nginx(replicas=4), KUBECTL, DEPLOYMENT, force=True)
    assert forced["spec"]["replicas"] == 4
    assert ("f:spec", "f:replicas") in fields_of(forced, "kubectl")
    assert [m.name for m in read_managers(forced)] == ["kubectl"]  # the scaler owned nothing else


# --- ownership of ordinary writes ---------------------------------------------------------------------------


def test_a_create_records_an_update_entry_owning_every_field() -> None:
    created = record_update(None, NGINX, CSA, DEPLOYMENT)
    (entry,) = created["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("kubectl-client-side-apply", "Update")
    assert decode(entry["fieldsV1"]) == field_set(NGINX, DEPLOYMENT)


def test_an_update_takes_the_fields_it_changes_from_their_owners() -> None:
    live = apply({}, NGINX, KUBECTL, DEPLOYMENT)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 7
    updated = record_update(live, scaled, SCALE, DEPLOYMENT)
    (scaler,) = [m for m in read_managers(updated) if m.name == "kubectl-scale"]
    assert (scaler.fields, scaler.subresource) == (frozenset({("f:spec", "f:replicas")}), "scale")
    assert ("f:spec", "f:replicas") not in fields_of(updated, "kubectl")


def test_an_update_that_removes_fields_removes_them_from_every_owner() -> None:
    live = apply({}, NGINX, KUBECTL, DEPLOYMENT)
    without = copy.deepcopy(live)
    del without["spec"]["template"]["spec"]["containers"][0]["ports"]
    updated = record_update(live, without, CSA, DEPLOYMENT)
    assert not any("f:ports" in path for path in fields_of(updated, "kubectl"))
    assert [m.name for m in read_managers(updated)] == ["kubectl"]  # removing owns nothing


def test_a_write_that_changes_managed_fields_itself_sets_the_owners() -> None:
    live = record_update(None, NGINX, CSA, DEPLOYMENT)
    handed_over = copy.deepcopy(live)
    handed_over["metadata"]["managedFields"][0].update(manager="kubectl", operation="Apply")
    updated = record_update(live, handed_over, CSA, DEPLOYMENT)
    assert [(m.name, m.operation) for m in read_managers(updated)] == [("kubectl", "Apply")]
    removed = apply(updated, nginx(ports=None), KUBECTL, DEPLOYMENT)
    assert "ports" not in removed["spec"]["template"]["spec"]["containers"][0]


def test_a_write_carrying_the_stored_managed_fields_keeps_the_stored_owners() -> None:
    live = record_update(None, NGINX, CSA, DEPLOYMENT)
    replaced = copy.deepcopy(live)
    replaced["spec"]["replicas"] = 9
    updated = record_update(live, replaced, SCALE, DEPLOYMENT)
    assert [m.name for m in read_managers(updated)] == ["kubectl-client-side-apply", "kubectl-scale"]
