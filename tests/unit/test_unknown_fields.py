"""Unknown-field detection against Kubernetes' schemas, and what each fieldValidation directive does."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from services.apiserver.fieldvalidation import check_applied, check_patched, check_request, validating_fields
from services.apiserver.rest.params import RestOptions, decode_object
from services.apiserver.schemas.unknownfields import MAX_UNKNOWN, checker_for, strict_path
from services.apiserver.warnings import header_list, header_value, recording_warnings
from shared.apiprotocol import ApiRequest
from shared.errors import ApiError
from shared.models import RESOURCES, ResourceType, resource_for_kind, to_dict
from tests.builders import make_node, make_pod
from tests.manifests import MANIFESTS, needs_manifests

POD = resource_for_kind("v1", "Pod")
DEPLOYMENT = resource_for_kind("apps/v1", "Deployment")
assert POD is not None and DEPLOYMENT is not None


def served_documents() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(MANIFESTS.rglob("*.yaml")) if MANIFESTS.is_dir() else []:
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if isinstance(doc, dict) and resource_for_kind(str(doc.get("apiVersion")), str(doc.get("kind"))):
                found.append((f"{path.parent.name}/{path.name}#{index}", doc))
    return found


def unknown_paths(doc: dict[str, Any]) -> list[str]:
    rt = resource_for_kind(doc["apiVersion"], doc["kind"])
    assert rt is not None
    checker = checker_for(rt.group, rt.version, rt.kind)
    assert checker is not None
    return [strict_path(path) for path in checker.unknown(doc)]


def pod(**spec_extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx"}], **spec_extra},
    }


# --- no false positives ----------------------------------------------------------------------------------


@needs_manifests
@pytest.mark.parametrize(("where", "doc"), served_documents(), ids=[w for w, _ in served_documents()])
def test_real_manifests_have_no_unknown_fields_and_pass_strict(where: str, doc: dict[str, Any]) -> None:
    assert unknown_paths(doc) == []
    rt = resource_for_kind(doc["apiVersion"], doc["kind"])
    assert rt is not None
    body = copy.deepcopy(doc)
    check_request(rt, "create", ApiRequest(body=body, fieldValidation="Strict"))
    assert body == doc


@pytest.mark.parametrize("rt", RESOURCES, ids=lambda rt: rt.kind)
def test_every_served_kind_has_kubernetes_schema(rt: ResourceType) -> None:
    assert checker_for(rt.group, rt.version, rt.kind) is not None


def test_objects_the_components_write_have_no_unknown_fields() -> None:
    built = [
        to_dict(
            make_pod()
            .name("a")
            .node("n1")
            .container("c", requests={"cpu": "100m"}, ports={"http": 80})
            .toleration("k")
            .obj()
        ),
        to_dict(make_node().name("n1").capacity(cpu=4, memory="8Gi").taint("t").ready().obj()),
    ]
    for doc in built:
        assert unknown_paths(doc) == []


@pytest.mark.parametrize(
    "doc",
    [
        # Map keys are data, values of free-form types take anything.
        {**pod(), "metadata": {"name": "w", "annotations": {"any.example/key": "v"}, "labels": {"x/y": "z"}}},
        pod(nodeSelector={"disk": "ssd", "anything-goes": "yes"}),
        pod(containers=[{"name": "w", "image": "i", "resources": {"limits": {"example.com/gpu": "1"}}}]),
        {
            **pod(),
            "metadata": {
                "name": "w",
                "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {"f:whatever": {}}}}],
            },
        },
        pod(overhead={"cpu": "1"}),
        {**pod(), "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
    ],
)
def test_free_form_areas_are_not_flagged(doc: dict[str, Any]) -> None:
    assert unknown_paths(doc) == []


# --- detection and paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({**pod(), "foo": 1}, ["foo"]),
        ({**pod(), "metadata": {"name": "w", "nmae": "x"}}, ["metadata.nmae"]),
        (pod(foo=1), ["spec.foo"]),
        (
            pod(
                containers=[{"name": "a", "image": "i"}, {"name": "b", "image": "i", "imagePullPolicyy": "x"}]
            ),
            ["spec.containers[1].imagePullPolicyy"],
        ),
        (
            pod(containers=[{"name": "a", "image": "i", "ports": [{"containerPort": 80, "hostPortt": 1}]}]),
            ["spec.containers[0].ports[0].hostPortt"],
        ),
        (pod(affinity={"nodeAffinity": {"required": {}}}), ["spec.affinity.nodeAffinity.required"]),
        (
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "d"},
                "spec": {
                    "replica": 2,
                    "strategy": {"type": "RollingUpdate", "rollingUpdat": {}},
                    "template": {"metadata": {"labelz": {}}, "spec": {"containers": [{"name": "c", "x": 1}]}},
                },
            },
            [
                "spec.replica",
                "spec.strategy.rollingUpdat",
                "spec.template.metadata.labelz",
                "spec.template.spec.containers[0].x",
            ],
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "s"},
                "spec": {"ports": [{"prot": 1}]},
            },
            ["spec.ports[0].prot"],
        ),
    ],
)
def test_unknown_fields_are_found_with_kubernetes_paths(doc: dict[str, Any], expected: list[str]) -> None:
    assert unknown_paths(doc) == expected


def test_at_most_a_hundred_unknown_fields_are_reported() -> None:
    doc = pod(**{f"x{i}": i for i in range(150)})
    assert len(unknown_paths(doc)) == MAX_UNKNOWN


# --- directives ------------------------------------------------------------------------------------------


def test_strict_refuses_a_create_as_the_strict_decoder_words_it() -> None:
    body = pod(containers=[{"name": "web", "image": "nginx", "imagePullPolicyy": "Always"}], foo=1)
    with pytest.raises(ApiError) as caught:
        check_request(POD, "create", ApiRequest(body=body, fieldValidation="Strict"))
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")
    assert caught.value.message == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.containers[0].imagePullPolicyy", unknown field "spec.foo"'
    )


@pytest.mark.parametrize("directive", ["Warn", ""])
def test_warn_and_the_default_warn_per_field_and_drop_the_fields(directive: str) -> None:
    body = pod(foo=1, containers=[{"name": "web", "image": "nginx", "bar": 2}])
    with recording_warnings() as warnings:
        check_request(POD, "update", ApiRequest(body=body, fieldValidation=directive))
    assert warnings == ['unknown field "spec.containers[0].bar"', 'unknown field "spec.foo"']
    assert body == pod(containers=[{"name": "web", "image": "nginx"}])


def test_ignore_drops_the_fields_silently() -> None:
    body = pod(foo=1)
    with recording_warnings() as warnings:
        check_request(POD, "create", ApiRequest(body=body, fieldValidation="Ignore"))
    assert (warnings, body) == ([], pod())


def test_an_unsupported_directive_is_a_bad_request() -> None:
    with pytest.raises(ApiError) as caught:
        check_request(POD, "create", ApiRequest(body=pod(), fieldValidation="Loose"))
    assert caught.value.message == (
        'fieldValidation: Unsupported value: "Loose": supported values: "Ignore", "Strict", "Warn"'
    )


@pytest.mark.parametrize(
    ("verb", "body", "message"),
    [
        (
            "scale",
            {"apiVersion": "autoscaling/v1", "kind": "Scale", "spec": {"replica": 3}},
            'Scale in version "v1" cannot be handled as a Scale: strict decoding error: '
            'unknown field "spec.replica"',
        ),
        (
            "eviction",
            {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"}, "deleteOption": {}},
            'Eviction in version "v1" cannot be handled as a Eviction: strict decoding error: '
            'unknown field "deleteOption"',
        ),
        (
            "status",
            {**pod(), "status": {"phaze": "Running"}},
            'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
            'unknown field "status.phaze"',
        ),
    ],
)
def test_subresource_bodies_are_checked_against_their_own_kinds(
    verb: str, body: dict[str, Any], message: str
) -> None:
    rt = DEPLOYMENT if verb == "scale" else POD
    with pytest.raises(ApiError) as caught:
        check_request(rt, verb, ApiRequest(body=body, fieldValidation="Strict"))
    assert caught.value.message == message


def test_a_patched_object_is_checked_under_the_request_directive() -> None:
    with validating_fields(ApiRequest(fieldValidation="Strict")), pytest.raises(ApiError) as caught:
        check_patched(POD, pod(foo=1))
    assert caught.value.message == 'strict decoding error: unknown field "spec.foo"'
    patched = pod(foo=1)
    with validating_fields(ApiRequest()), recording_warnings() as warnings:
        check_patched(POD, patched)
    assert (warnings, patched) == (['unknown field "spec.foo"'], pod())


def test_outside_a_request_patched_objects_are_left_alone() -> None:
    patched = pod(foo=1)
    check_patched(POD, patched)
    assert patched == pod(foo=1)


@pytest.mark.parametrize("directive", ["Strict", "Warn", "Ignore"])
def test_an_applied_configuration_with_unknown_fields_fails_whatever_the_directive(directive: str) -> None:
    applied = pod(
        containers=[
            {
                "name": "web",
                "image": "nginx",
                "ports": [{"containerPort": 80, "protocol": "TCP", "hostPortt": 1}],
            }
        ]
    )
    applied["metadata"]["namespace"] = "default"
    with pytest.raises(ApiError) as caught:
        check_request(
            POD, "patch", ApiRequest(name="web", patch=applied, patchType="application/apply-patch+yaml")
        )
    assert (caught.value.code, caught.value.reason) == (500, "")
    assert caught.value.message == (
        "failed to create typed patch object (default/web; /v1, Kind=Pod): "
        '.spec.containers[name="web"].ports[containerPort=80,protocol="TCP"].hostPortt: '
        "field not declared in schema"
    )
    assert "reason" not in caught.value.to_status()


def test_several_unknown_applied_fields_are_listed_one_per_line() -> None:
    with pytest.raises(ApiError) as caught:
        check_applied(DEPLOYMENT, {"apiVersion": "apps/v1", "kind": "Deployment", "a": 1, "b": 2}, "d")
    assert caught.value.message == (
        "failed to create typed patch object (/d; apps/v1, Kind=Deployment): errors:\n"
        "  .a: field not declared in schema\n"
        "  .b: field not declared in schema"
    )


# --- warnings on the wire ----------------------------------------------------------------------------------


def test_warning_headers_quote_the_text_as_kube_apiserver_does() -> None:
    assert header_value('unknown field "spec.foo"') == r'299 - "unknown field \"spec.foo\""'
    assert header_list(["a", "b"]) == '299 - "a", 299 - "b"'


def test_a_warning_is_recorded_once() -> None:
    with validating_fields(ApiRequest()), recording_warnings() as warnings:
        check_patched(POD, pod(foo=1))
        check_patched(POD, pod(foo=1))
    assert warnings == ['unknown field "spec.foo"']


# --- duplicate fields (the REST front's JSON decoder) ------------------------------------------------------

DUPLICATED = (
    b'{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "name": "b"},'
    b' "spec": {"containers": [{"name": "c", "image": "x", "image": "y"}]}}'
)


def test_strict_refuses_duplicate_fields_with_their_paths() -> None:
    with pytest.raises(ApiError) as caught:
        decode_object(DUPLICATED, "application/json", RestOptions(field_validation="Strict"))
    assert caught.value.message == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'duplicate field "metadata.name", duplicate field "spec.containers[0].image"'
    )


def test_warn_keeps_the_last_duplicate_and_warns() -> None:
    options = RestOptions(field_validation="Warn")
    decoded = decode_object(DUPLICATED, "application/json", options)
    assert (decoded["metadata"]["name"], decoded["spec"]["containers"][0]["image"]) == ("b", "y")
    assert options.warnings.texts == [
        'duplicate field "metadata.name"',
        'duplicate field "spec.containers[0].image"',
    ]
