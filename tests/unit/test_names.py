"""Name checks accept what Kubernetes accepts and reject the rest with Kubernetes' own messages."""

from __future__ import annotations

import pytest

from shared.models import (
    ErrorType,
    FieldError,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
    name_is_dns1123_subdomain,
    validate_labels,
)

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
    "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
QUALIFIED_NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(
    "name",
    ["a", "web", "web-0", "example.com", "a.b.c", "0", "123-abc", "a" * 253, "x" * 63 + "." + "y" * 63],
)
def test_dns1123_subdomain_accepts_valid_names(name: str) -> None:
    assert is_dns1123_subdomain(name) == []


@pytest.mark.parametrize(
    "name", ["", "Web", "web_0", "-web", "web-", "web.", ".web", "a..b", "web 0", "wéb", "web\n"]
)
def test_dns1123_subdomain_rejects_invalid_names_with_kubernetes_message(name: str) -> None:
    assert is_dns1123_subdomain(name) == [SUBDOMAIN_MSG]


def test_dns1123_subdomain_rejects_names_longer_than_253() -> None:
    assert is_dns1123_subdomain("a" * 254) == ["must be no more than 253 characters"]


@pytest.mark.parametrize("name", ["a", "default", "kube-system", "123-abc", "a" * 63])
def test_dns1123_label_accepts_valid_labels(name: str) -> None:
    assert is_dns1123_label(name) == []


@pytest.mark.parametrize("name", ["", "Default", "my_ns", "-ns", "ns-", "n s"])
def test_dns1123_label_rejects_invalid_labels_with_kubernetes_message(name: str) -> None:
    assert is_dns1123_label(name) == [LABEL_MSG]


def test_dns1123_label_says_dots_are_not_allowed_for_a_valid_subdomain() -> None:
    assert is_dns1123_label("my.namespace") == ["must not contain dots"]


def test_dns1123_label_rejects_labels_longer_than_63() -> None:
    assert is_dns1123_label("a" * 64) == ["must be no more than 63 characters"]


def test_dns1123_label_reports_both_length_and_format() -> None:
    assert is_dns1123_label("A" * 64) == ["must be no more than 63 characters", LABEL_MSG]


def test_dns1035_label_requires_a_leading_letter_for_service_names() -> None:
    assert is_dns1035_label("frontend") == []
    assert is_dns1035_label("1frontend") == [DNS1035_MSG]
    assert is_dns1123_label("1frontend") == []


@pytest.mark.parametrize(
    "key",
    [
        "app",
        "App_Name",
        "app.kubernetes.io/name",
        "kubernetes.io/service-name",
        "beta.kubernetes.io/os",
        "tier",
        "a" * 63,
        "example.com/" + "a" * 63,
    ],
)
def test_qualified_name_accepts_label_keys_kubernetes_accepts(key: str) -> None:
    assert is_qualified_name(key) == []


def test_qualified_name_rejects_a_key_with_spaces() -> None:
    assert is_qualified_name("invalid label") == [QUALIFIED_NAME_PART_MSG]


def test_qualified_name_rejects_an_empty_prefix() -> None:
    assert is_qualified_name("/name") == ["prefix part must be non-empty"]


def test_qualified_name_rejects_an_uppercase_prefix() -> None:
    assert is_qualified_name("Example.com/name") == ["prefix part " + SUBDOMAIN_MSG]


def test_qualified_name_rejects_an_empty_name_part() -> None:
    assert is_qualified_name("example.com/") == ["name part must be non-empty", QUALIFIED_NAME_PART_MSG]


def test_qualified_name_rejects_a_name_part_longer_than_63() -> None:
    assert is_qualified_name("a" * 64) == ["name part must be no more than 63 characters"]


def test_qualified_name_rejects_two_slashes() -> None:
    (message,) = is_qualified_name("a/b/c")
    assert message.startswith("a qualified name must consist of alphanumeric characters")
    assert message.endswith("with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")


@pytest.mark.parametrize("value", ["", "nginx", "v1.2.3", "My_Value", "12345", "a" * 63])
def test_label_value_accepts_valid_values(value: str) -> None:
    assert is_valid_label_value(value) == []


@pytest.mark.parametrize("value", ["spaces are not allowed", "-start", "end-", "a/b", "ünï"])
def test_label_value_rejects_invalid_values_with_kubernetes_message(value: str) -> None:
    assert is_valid_label_value(value) == [LABEL_VALUE_MSG]


def test_label_value_rejects_values_longer_than_63() -> None:
    assert is_valid_label_value("a" * 64) == ["must be no more than 63 characters"]


def test_generate_name_prefix_may_end_with_a_dash() -> None:
    assert name_is_dns1123_subdomain("web-", prefix=True) == []
    assert name_is_dns1123_subdomain("web-") == [SUBDOMAIN_MSG]


def test_validate_labels_reports_key_and_value_errors_like_kubectl() -> None:
    errors = validate_labels({"invalid label": "spaces are not allowed"})
    assert errors == [
        FieldError("metadata.labels", ErrorType.INVALID, "invalid label", QUALIFIED_NAME_PART_MSG),
        FieldError("metadata.labels", ErrorType.INVALID, "spaces are not allowed", LABEL_VALUE_MSG),
    ]
    assert str(errors[0]) == f'metadata.labels: Invalid value: "invalid label": {QUALIFIED_NAME_PART_MSG}'


def test_validate_labels_accepts_valid_labels() -> None:
    assert validate_labels({"app.kubernetes.io/name": "nginx", "tier": ""}) == []
