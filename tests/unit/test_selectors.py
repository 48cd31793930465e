"""Label and field selectors parse, print, match and fail as Kubernetes' do; API models convert to them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from shared.models import Deployment, LabelSelector, LabelSelectorRequirement, Service, parse_object
from shared.selectors import (
    FieldRequirement,
    LabelSelectorExpr,
    Operator,
    Requirement,
    SelectorError,
    escape_field_value,
    from_label_selector,
    parse_field_selector,
    parse_label_selector,
)
from tests.manifests import MANIFESTS

KEY_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
PREFIX_MSG = (
    "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
LONG = "a" * 64


# --- label selectors: parsing and printing ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("x=a,y=b,z=c", "x=a,y=b,z=c"),
        ("z=c,x=a,y=b", "x=a,y=b,z=c"),
        ("a==b", "a==b"),
        ("a!=b", "a!=b"),
        ("a=", "a="),
        ("x= ,z= ", "x=,z="),
        ("env in (prod, staging)", "env in (prod,staging)"),
        ("env in (staging,prod,prod)", "env in (prod,staging)"),
        ("tier notin (frontend)", "tier notin (frontend)"),
        ("partition", "partition"),
        ("!partition", "!partition"),
        ("  app = web ,\ttier\n!= db ", "app=web,tier!=db"),
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
        ("x in (a,)", "x in (,a)"),
        ("in in (in),notin=notin", "in in (in),notin=notin"),
        (
            "example.com/app=web,app.kubernetes.io/name=nginx",
            "app.kubernetes.io/name=nginx,example.com/app=web",
        ),
        ("replicas>1,replicas<5", "replicas>1,replicas<5"),
        ("Env=Prod_1.x-y", "Env=Prod_1.x-y"),
        ("a" * 63 + "=" + "b" * 63, "a" * 63 + "=" + "b" * 63),
    ],
)
def test_label_selector_prints_in_canonical_form(text: str, canonical: str) -> None:
    assert str(parse_label_selector(text)) == canonical


def test_label_selector_with_operator_and_no_value_selects_the_empty_value() -> None:
    # Kubernetes accepts "a==" and "a=": the missing value is the empty string (labels.Parse, "x=" is valid).
    selector = parse_label_selector("a==")
    assert selector.requirements == (Requirement("a", Operator.DOUBLE_EQUALS, ("",)),)
    assert selector.matches({"a": ""})
    assert not selector.matches({"a": "b"})
    assert not selector.matches({})


def test_label_selector_keeps_operator_and_values_in_its_requirements() -> None:
    selector = parse_label_selector("tier notin (frontend),env in (staging, prod),!canary,app=web")
    assert selector.requirements == (
        Requirement("app", Operator.EQUALS, ("web",)),
        Requirement("canary", Operator.DOES_NOT_EXIST),
        Requirement("env", Operator.IN, ("prod", "staging")),
        Requirement("tier", Operator.NOT_IN, ("frontend",)),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a===b", "unable to parse requirement: found '=', expected: identifier"),
        ("x==a==b", "found '==', expected: ',' or 'end of string'"),
        ("in (x)", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"),
        ("a b=c", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("env in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"),
        ("!=x", "found '!=', expected: !, identifier, or 'end of string'"),
        (",x", "found ',', expected: !, identifier, or 'end of string'"),
        ("x=a,", "found '', expected: identifier after ','"),
        ("x,,y", "found ',', expected: identifier after ','"),
        ("!x=a", "found '=', expected: ',' or 'end of string'"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("x in a", "unable to parse requirement: found 'a' expected: '('"),
        ("x in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("x in (", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
        ("x in (a,", "unable to parse requirement: found '', expected: ',', or identifier"),
        ("x in (a,b) c", "found 'c', expected: ',' or 'end of string'"),
        (
            LONG + "=b",
            f'unable to parse requirement: <nil>: Invalid value: "{LONG}": name part must be no more than 63 '
            "characters",
        ),
        ("a@b=c", f'unable to parse requirement: <nil>: Invalid value: "a@b": {KEY_NAME_MSG}'),
        ("-a", f'unable to parse requirement: <nil>: Invalid value: "-a": {KEY_NAME_MSG}'),
        (
            "Example.com/a",
            f'unable to parse requirement: <nil>: Invalid value: "Example.com/a": {PREFIX_MSG}',
        ),
        ("/a=b", 'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty'),
        ("a=b/c", f'unable to parse requirement: values[0][a]: Invalid value: "b/c": {VALUE_MSG}'),
        (
            "a=" + "v" * 64,
            f'unable to parse requirement: values[0][a]: Invalid value: "{"v" * 64}": '
            "must be no more than 63 characters",
        ),
        (
            "env in (x,a@b,c@d)",
            "unable to parse requirement: "
            f'[values[0][env]: Invalid value: "a@b": {VALUE_MSG}, '
            f'values[1][env]: Invalid value: "c@d": {VALUE_MSG}]',
        ),
        (
            "x<a",
            'unable to parse requirement: values[0]: Invalid value: "a": '
            "for 'Gt', 'Lt' operators, the value must be an integer",
        ),
    ],
)
def test_invalid_label_selector_is_refused_with_kubernetes_message(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_label_selector(text)
    assert str(info.value) == message


def test_selector_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unable to parse requirement"):
        parse_label_selector("a b")


# --- label selectors: matching -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("", {}, True),
        ("", {"a": "b"}, True),
        ("a=b", {"a": "b"}, True),
        ("a==b", {"a": "b", "c": "d"}, True),
        ("a=b", {"a": "c"}, False),
        ("a=b", {}, False),
        ("a!=b", {}, True),
        ("a!=b", {"a": "b"}, False),
        ("a!=b", {"a": "c"}, True),
        ("a=", {"a": ""}, True),
        ("a=", {}, False),
        ("env in (prod, staging)", {"env": "staging"}, True),
        ("env in (prod, staging)", {"env": "dev"}, False),
        ("env in (prod, staging)", {}, False),
        ("tier notin (frontend)", {}, True),
        ("tier notin (frontend)", {"tier": "frontend"}, False),
        ("tier notin (frontend)", {"tier": "backend"}, True),
        ("partition", {"partition": ""}, True),
        ("partition", {}, False),
        ("!partition", {}, True),
        ("!partition", {"partition": "a"}, False),
        ("app=web,!canary", {"app": "web"}, True),
        ("app=web,!canary", {"app": "web", "canary": "true"}, False),
        ("app=web,env in (prod)", {"app": "web", "env": "dev"}, False),
        ("x>1", {"x": "2"}, True),
        ("x>1", {"x": "1"}, False),
        ("x>1", {"x": "two"}, False),
        ("x>1", {}, False),
        ("x<1", {"x": "-3"}, True),
        ("x<1", {"x": "9223372036854775808"}, False),
    ],
)
def test_label_selector_matches_labels(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


def test_empty_label_selector_is_empty_and_matches_everything() -> None:
    selector = parse_label_selector("")
    assert selector.is_empty()
    assert selector == LabelSelectorExpr.everything()
    assert selector.matches({"anything": "at-all"})


def test_requires_exact_match_reports_the_pinned_value() -> None:
    selector = parse_label_selector("app=web,env in (prod),tier in (a,b),!canary")
    assert selector.requires_exact_match("app") == "web"
    assert selector.requires_exact_match("env") == "prod"
    assert selector.requires_exact_match("tier") is None
    assert selector.requires_exact_match("canary") is None
    assert selector.requires_exact_match("missing") is None


def test_requirement_create_validates_like_new_requirement() -> None:
    assert Requirement.create("app", "=", ["web"]) == Requirement("app", Operator.EQUALS, ("web",))
    with pytest.raises(SelectorError) as info:
        Requirement.create("app", Operator.EQUALS, ["a", "b"])
    assert (
        str(info.value)
        == 'values: Invalid value: ["a","b"]: exact-match compatibility requires one single value'
    )
    with pytest.raises(SelectorError) as info:
        Requirement.create("app", Operator.EXISTS, ["a"])
    assert (
        str(info.value)
        == 'values: Invalid value: ["a"]: values set must be empty for exists and does not exist'
    )


# --- label selectors: from the API models ------------------------------------------------------------------


def test_nil_model_selector_matches_nothing() -> None:
    selector = from_label_selector(None)
    assert not selector.matches({})
    assert not selector.matches({"app": "web"})
    assert not selector.is_empty()
    assert selector == LabelSelectorExpr.nothing()
    # As labels.Nothing() does, it prints as the empty string.
    assert str(selector) == ""


def test_empty_model_selector_matches_everything() -> None:
    selector = from_label_selector(LabelSelector())
    assert selector.is_empty()
    assert selector.matches({})
    assert selector.matches({"app": "web"})


def test_model_selector_combines_match_labels_and_expressions() -> None:
    model = LabelSelector(
        match_labels={"app": "web", "tier": "frontend"},
        match_expressions=[
            LabelSelectorRequirement(key="env", operator="In", values=["staging", "prod"]),
            LabelSelectorRequirement(key="track", operator="NotIn", values=["canary"]),
            LabelSelectorRequirement(key="partition", operator="Exists"),
            LabelSelectorRequirement(key="legacy", operator="DoesNotExist"),
        ],
    )
    selector = from_label_selector(model)
    assert str(selector) == (
        "app=web,env in (prod,staging),!legacy,partition,tier=frontend,track notin (canary)"
    )
    assert str(parse_label_selector(str(selector))) == str(selector)
    labels = {"app": "web", "tier": "frontend", "env": "prod", "partition": "p1"}
    assert selector.matches(labels)
    assert not selector.matches({**labels, "track": "canary"})
    assert not selector.matches({**labels, "legacy": "yes"})
    assert not selector.matches({k: v for k, v in labels.items() if k != "partition"})


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (LabelSelector(match_labels={"a b": "x"}), f'key: Invalid value: "a b": {KEY_NAME_MSG}'),
        (LabelSelector(match_labels={"app": "a b"}), f'values[0][app]: Invalid value: "a b": {VALUE_MSG}'),
        (
            LabelSelector(match_expressions=[LabelSelectorRequirement(key="env", operator="In")]),
            "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            LabelSelector(
                match_expressions=[LabelSelectorRequirement(key="env", operator="Exists", values=["x"])]
            ),
            'values: Invalid value: ["x"]: values set must be empty for exists and does not exist',
        ),
        (
            LabelSelector(
                match_expressions=[
                    # The model refuses such an operator; model_construct skips validation, as data read
                    # without validation would.
                    LabelSelectorRequirement.model_construct(
                        key="env",
                        operator="Equals",  # type: ignore[arg-type]
                        values=["x"],
                    )
                ]
            ),
            '"Equals" is not a valid label selector operator',
        ),
    ],
)
def test_invalid_model_selector_is_refused_with_kubernetes_message(
    model: LabelSelector, message: str
) -> None:
    with pytest.raises(SelectorError) as info:
        from_label_selector(model)
    assert str(info.value) == message


def test_plain_map_selector_selects_by_equality() -> None:
    selector = from_label_selector({"tier": "backend", "app": "redis"})
    assert str(selector) == "app=redis,tier=backend"
    assert selector.matches({"app": "redis", "tier": "backend", "role": "master"})
    assert not selector.matches({"app": "redis"})


def test_empty_plain_map_selector_matches_everything() -> None:
    assert from_label_selector({}).matches({"any": "thing"})


def _manifest_objects(relative: str) -> Iterator[dict[str, object]]:
    with (MANIFESTS / relative).open() as stream:
        yield from (doc for doc in yaml.safe_load_all(stream) if doc)


def _deployments(relative: str) -> list[Deployment]:
    objects = (parse_object(doc) for doc in _manifest_objects(relative) if doc.get("kind") == "Deployment")
    return [obj for obj in objects if isinstance(obj, Deployment)]


def test_redis_master_deployment_selects_its_own_pods_and_not_the_replicas() -> None:
    (master,) = _deployments("kubernetes-examples/redis-master-deployment.yaml")
    (replica,) = _deployments("kubernetes-examples/redis-replica-deployment.yaml")
    selector = from_label_selector(master.spec.selector)
    assert str(selector) == "app=redis,role=master,tier=backend"
    assert selector.matches(master.spec.template.metadata.labels)
    assert not selector.matches(replica.spec.template.metadata.labels)


_DEPLOYMENT_FILES = [
    "kubernetes-examples/redis-master-deployment.yaml",
    "kubernetes-examples/redis-replica-deployment.yaml",
    "kubernetes-examples/frontend-deployment.yaml",
    "kubernetes-examples/vllm-deployment.yaml",
    "kubernetes-website/nginx-deployment.yaml",
    "sock-shop/complete-demo.yaml",
    "gcp-microservices-demo/kubernetes-manifests.yaml",
]


@pytest.mark.parametrize("relative", _DEPLOYMENT_FILES)
def test_manifest_deployments_select_their_pod_templates(relative: str) -> None:
    deployments = _deployments(relative)
    assert deployments
    for deployment in deployments:
        selector = from_label_selector(deployment.spec.selector)
        assert selector.matches(deployment.spec.template.metadata.labels), deployment.metadata.name
        assert str(parse_label_selector(str(selector))) == str(selector)


@pytest.mark.parametrize(
    "relative",
    [
        "kubernetes-examples/guestbook-all-in-one.yaml",
        "sock-shop/complete-demo.yaml",
        "gcp-microservices-demo/kubernetes-manifests.yaml",
    ],
)
def test_manifest_services_select_exactly_the_pods_of_their_deployment(relative: str) -> None:
    deployments = _deployments(relative)
    services = [parse_object(doc) for doc in _manifest_objects(relative) if doc.get("kind") == "Service"]
    assert services
    for service in services:
        assert isinstance(service, Service)
        selector = from_label_selector(service.spec.selector)
        selected = {d.metadata.name for d in deployments if selector.matches(d.spec.template.metadata.labels)}
        assert selected == {service.metadata.name.removesuffix("-external")}


_keys = st.from_regex(
    r"([a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?\.io/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?", fullmatch=True
)
_values = st.from_regex(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?)?", fullmatch=True)
_expressions = st.builds(
    LabelSelectorRequirement,
    key=_keys,
    operator=st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]),
    values=st.lists(_values, min_size=1, max_size=3, unique=True),
).map(lambda r: r.model_copy(update={"values": []}) if r.operator in ("Exists", "DoesNotExist") else r)
_model_selectors = st.builds(
    LabelSelector,
    match_labels=st.dictionaries(_keys, _values, max_size=3),
    match_expressions=st.lists(_expressions, max_size=3),
)
_label_sets = st.dictionaries(st.one_of(_keys, st.sampled_from(["app", "env"])), _values, max_size=4)


@given(model=_model_selectors, labels=_label_sets)
def test_converted_model_selector_agrees_with_the_model(model: LabelSelector, labels: dict[str, str]) -> None:
    assert from_label_selector(model).matches(labels) is model.matches(labels)


@given(model=_model_selectors, labels=_label_sets)
def test_printed_selector_parses_back_to_the_same_selector(
    model: LabelSelector, labels: dict[str, str]
) -> None:
    selector = from_label_selector(model)
    reparsed = parse_label_selector(str(selector))
    assert str(reparsed) == str(selector)
    assert reparsed.matches(labels) is selector.matches(labels)


# --- field selectors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("spec.nodeName=worker-1,status.phase!=Succeeded", "spec.nodeName=worker-1,status.phase!=Succeeded"),
        ("status.phase!=Succeeded,spec.nodeName=worker-1", "spec.nodeName=worker-1,status.phase!=Succeeded"),
        ("metadata.name==web-0", "metadata.name=web-0"),
        ("spec.nodeName=", "spec.nodeName="),
        ("a=b,,c=d", "a=b,c=d"),
        ("metadata.name=a\\,b\\=c\\\\d", "metadata.name=a\\,b\\=c\\\\d"),
        ("=", ""),
    ],
)
def test_field_selector_prints_in_canonical_form(text: str, canonical: str) -> None:
    assert str(parse_field_selector(text)) == canonical


def test_field_selector_exposes_its_requirements() -> None:
    selector = parse_field_selector("status.phase!=Succeeded,spec.nodeName==worker-1,metadata.name=a\\,b")
    assert selector.requirements == (
        FieldRequirement("metadata.name", Operator.EQUALS, "a,b"),
        FieldRequirement("spec.nodeName", Operator.EQUALS, "worker-1"),
        FieldRequirement("status.phase", Operator.NOT_EQUALS, "Succeeded"),
    )
    assert {r.field for r in selector.requirements} == {"metadata.name", "spec.nodeName", "status.phase"}


@pytest.mark.parametrize(
    ("text", "fields", "expected"),
    [
        ("", {}, True),
        ("spec.nodeName=worker-1", {"spec.nodeName": "worker-1"}, True),
        ("spec.nodeName=worker-1", {"spec.nodeName": "worker-2"}, False),
        ("spec.nodeName=", {"spec.nodeName": ""}, True),
        ("spec.nodeName=", {}, True),
        ("spec.nodeName!=", {"spec.nodeName": "worker-1"}, True),
        ("status.phase!=Succeeded", {}, True),
        ("status.phase!=Succeeded", {"status.phase": "Succeeded"}, False),
        ("spec.nodeName=worker-1,status.phase!=Succeeded", {"spec.nodeName": "worker-1"}, True),
        (
            "spec.nodeName=worker-1,status.phase!=Succeeded",
            {"spec.nodeName": "worker-1", "status.phase": "Succeeded"},
            False,
        ),
    ],
)
def test_field_selector_matches_fields(text: str, fields: dict[str, str], expected: bool) -> None:
    assert parse_field_selector(text).matches(fields) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("spec.nodeName", "invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'"),
        ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
        ("a=b=c", "invalid field selector: unescaped character in value: 61"),
        ("a=b\\x", "invalid field selector: invalid escape sequence: \\x"),
        ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
    ],
)
def test_invalid_field_selector_is_refused_with_kubernetes_message(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_field_selector(text)
    assert str(info.value) == message


def test_unsupported_field_is_refused_with_kubernetes_message() -> None:
    supported = {"metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"}
    parse_field_selector("spec.nodeName=worker-1,status.phase!=Failed").check_supported(supported)
    with pytest.raises(SelectorError) as info:
        parse_field_selector("spec.nodeName=worker-1,spec.foo=bar").check_supported(supported)
    assert str(info.value) == "field label not supported: spec.foo"


def test_field_selector_reports_the_exact_match_it_requires() -> None:
    selector = parse_field_selector("spec.nodeName=worker-1,status.phase!=Failed")
    assert selector.requires_exact_match("spec.nodeName") == "worker-1"
    assert selector.requires_exact_match("status.phase") is None
    assert parse_field_selector("").is_empty()


@given(value=st.text())
def test_escaped_field_value_parses_back_to_itself(value: str) -> None:
    selector = parse_field_selector("metadata.name=" + escape_field_value(value))
    assert selector.requirements == (FieldRequirement("metadata.name", Operator.EQUALS, value),)
    assert selector.matches({"metadata.name": value})
    assert parse_field_selector(str(selector)) == selector


_selector_text = st.text(alphabet="ab-_./=!(),<>\t 0in", max_size=20) | st.text(max_size=12)


@given(text=_selector_text)
def test_any_label_selector_text_parses_to_a_stable_form_or_fails_with_selector_error(text: str) -> None:
    try:
        selector = parse_label_selector(text)
    except SelectorError:
        return
    assert parse_label_selector(str(selector)) == selector


@given(text=_selector_text)
def test_any_field_selector_text_parses_to_a_stable_form_or_fails_with_selector_error(text: str) -> None:
    try:
        selector = parse_field_selector(text)
    except SelectorError:
        return
    assert parse_field_selector(str(selector)) == selector
