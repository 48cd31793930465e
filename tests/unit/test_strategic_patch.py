"""Strategic merge patch: merge keys of the served kinds, null deletion, and the patch directives."""

from __future__ import annotations

from typing import Any

import pytest

from shared.patch import STRATEGIC_MERGE_PATCH, PatchError, apply_patch


def _deployment(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a"]},
        "spec": {"replicas": 1, "template": {"spec": {"containers": containers}}, **spec},
    }


NGINX = {
    "name": "nginx",
    "image": "nginx:1",
    "ports": [{"containerPort": 80}],
    "env": [{"name": "A", "value": "1"}],
}
SIDECAR = {"name": "sidecar", "image": "busybox"}


def _containers(doc: Any) -> Any:
    return doc["spec"]["template"]["spec"]["containers"]


def _patch(doc: dict[str, Any], patch: dict[str, Any]) -> Any:
    return apply_patch(doc, patch, STRATEGIC_MERGE_PATCH)


def _template_patch(**spec: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": spec}}}


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        # merged by name: the image changes, ports and env stay
        (
            _template_patch(containers=[{"name": "nginx", "image": "nginx:2"}]),
            [{**NGINX, "image": "nginx:2"}, SIDECAR],
        ),
        # env merged by name inside the container merged by name
        (
            _template_patch(containers=[{"name": "nginx", "env": [{"name": "B", "value": "2"}]}]),
            [{**NGINX, "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}, SIDECAR],
        ),
        # an unknown name is appended
        (
            _template_patch(containers=[{"name": "new", "image": "x"}]),
            [NGINX, SIDECAR, {"name": "new", "image": "x"}],
        ),
        # $patch: delete removes the element with that key
        (_template_patch(containers=[{"name": "nginx", "$patch": "delete"}]), [SIDECAR]),
        # $patch: replace as an element replaces the whole list
        (
            _template_patch(containers=[{"$patch": "replace"}, {"name": "only", "image": "y"}]),
            [{"name": "only", "image": "y"}],
        ),
        # $setElementOrder reorders
        (
            _template_patch(**{"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}]}),
            [SIDECAR, NGINX],
        ),
        # ports merge by containerPort; null deletes a key
        (
            _template_patch(containers=[{"name": "nginx", "ports": [{"containerPort": 443}], "env": None}]),
            [
                {
                    "name": "nginx",
                    "image": "nginx:1",
                    "ports": [{"containerPort": 80}, {"containerPort": 443}],
                },
                SIDECAR,
            ],
        ),
    ],
)
def test_containers_merge_by_their_merge_keys(patch: dict[str, Any], expected: list[Any]) -> None:
    assert _containers(_patch(_deployment([NGINX, SIDECAR]), patch)) == expected


def test_what_kubectl_apply_sends_when_a_container_is_swapped() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "sidecar"}],
                    "containers": [
                        {"image": "busybox:2", "name": "sidecar"},
                        {"$patch": "delete", "name": "nginx"},
                    ],
                }
            }
        }
    }
    assert _containers(_patch(_deployment([NGINX, SIDECAR]), patch)) == [
        {"name": "sidecar", "image": "busybox:2"}
    ]


def test_lists_without_a_merge_strategy_are_replaced() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [NGINX], "tolerations": [{"key": "a"}], "nodeSelector": {"x": "1"}},
    }
    patched = _patch(pod, {"spec": {"tolerations": [{"key": "b"}], "nodeSelector": {"y": "2"}}})
    assert patched["spec"]["tolerations"] == [{"key": "b"}]
    assert patched["spec"]["nodeSelector"] == {"x": "1", "y": "2"}


def test_primitive_merge_lists_are_unions_and_lose_what_is_deleted_from_them() -> None:
    doc = _deployment([NGINX])
    assert _patch(doc, {"metadata": {"finalizers": ["b", "a"]}})["metadata"]["finalizers"] == ["a", "b"]
    removed = _patch(doc, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert removed["metadata"]["finalizers"] == []


def test_retain_keys_drops_the_fields_of_the_union_member_switched_away_from() -> None:
    doc = _deployment([NGINX], strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}})
    patched = _patch(doc, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    assert patched["spec"]["strategy"] == {"type": "Recreate"}


def test_map_directives_replace_and_delete() -> None:
    doc = _deployment([NGINX])
    replaced = _patch(doc, {"metadata": {"labels": {"$patch": "replace", "only": "this"}}})
    assert replaced["metadata"]["labels"] == {"only": "this"}
    deleted = _patch(doc, {"metadata": {"labels": {"$patch": "delete"}}})
    assert "labels" not in deleted["metadata"]


def test_conditions_merge_by_type() -> None:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n"},
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}, {"type": "DiskPressure", "status": "False"}]
        },
    }
    patched = _patch(node, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert patched["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "DiskPressure", "status": "False"},
    ]


@pytest.mark.parametrize(
    "patch",
    [
        _template_patch(containers=[{"image": "no-name"}]),
        {"metadata": {"$patch": "sideways"}},
        {"$patch": "delete"},
    ],
)
def test_patches_that_cannot_apply_are_422(patch: dict[str, Any]) -> None:
    with pytest.raises(PatchError) as info:
        _patch(_deployment([NGINX]), patch)
    assert info.value.code == 422


def test_the_original_document_is_never_changed() -> None:
    doc = _deployment([NGINX, SIDECAR])
    before = repr(doc)
    _patch(doc, _template_patch(containers=[{"name": "nginx", "env": [{"name": "Z"}]}]))
    assert repr(doc) == before
