"""Quantity parses, compares, rounds and prints exactly as Kubernetes' resource.Quantity does."""

from __future__ import annotations

from fractions import Fraction

import pytest
from pydantic import BaseModel, ValidationError

from shared.models import Quantity, QuantityError, QuantityFormat, ResourceRequirements, to_dict


@pytest.mark.parametrize(
    ("text", "milli", "value"),
    [
        ("500m", 500, 1),
        ("1.5", 1500, 2),
        ("128Mi", 128 * 2**20 * 1000, 128 * 2**20),
        ("1G", 10**12, 10**9),
        ("2e3", 2_000_000, 2000),
        ("0.5", 500, 1),
        (".5", 500, 1),
        ("5.", 5000, 5),
        ("99m", 99, 1),
        ("100m", 100, 1),
        ("0.1", 100, 1),
        ("10Gi", 10 * 2**30 * 1000, 10 * 2**30),
        ("1e-3", 1, 1),
        ("+1", 1000, 1),
        ("-1", -1000, -1),
        ("0", 0, 0),
        ("000", 0, 0),
        ("-0", 0, 0),
        ("1", 1000, 1),
        ("2", 2000, 2),
        ("1k", 1_000_000, 1000),
        ("1Ki", 1_024_000, 1024),
        ("1M", 10**9, 10**6),
        ("1T", 10**15, 10**12),
        ("1P", 10**18, 10**15),
        ("1E", 10**21, 10**18),
        ("1Ei", 2**60 * 1000, 2**60),
        ("1E3", 1_000_000, 1000),
        ("1E+3", 1_000_000, 1000),
        ("1e0", 1000, 1),
        ("12e-1", 1200, 2),
        ("1n", 1, 1),
        ("1u", 1, 1),
        ("1500u", 2, 1),
        ("0.1m", 1, 1),
        ("1.5Gi", 1536 * 2**20 * 1000, 1536 * 2**20),
        ("0.5Ki", 512_000, 512),
        ("-1500m", -1500, -2),
        ("-0.1", -100, -1),
        ("1.G", 10**12, 10**9),
    ],
)
def test_quantity_parses_to_kubernetes_milli_value_and_value(text: str, milli: int, value: int) -> None:
    quantity = Quantity(text)
    assert quantity.milli_value() == milli
    assert quantity.value() == value


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [
        ("99m", "100m"),
        ("1G", "1Gi"),
        ("1k", "1Ki"),
        ("500m", "1"),
        ("-1", "0"),
        ("1Mi", "1.1Mi"),
        ("999M", "1G"),
        ("1e-3", "2m"),
        ("1023", "1Ki"),
        ("0.9", "1"),
    ],
)
def test_quantity_orders_by_exact_value(smaller: str, larger: str) -> None:
    assert Quantity(smaller) < Quantity(larger)
    assert Quantity(larger) > Quantity(smaller)
    assert Quantity(smaller).cmp(Quantity(larger)) == -1
    assert Quantity(larger).cmp(Quantity(smaller)) == 1


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("100m", "0.1"),
        ("1000m", "1"),
        ("1k", "1000"),
        ("1Ki", "1024"),
        ("2e3", "2k"),
        ("1e-3", "1m"),
        (".5", "500m"),
        ("+1", "1"),
        ("1.5Gi", "1536Mi"),
        ("0", "0m"),
    ],
)
def test_quantity_equal_values_compare_equal_whatever_their_spelling(left: str, right: str) -> None:
    assert Quantity(left) == Quantity(right)
    assert hash(Quantity(left)) == hash(Quantity(right))
    assert Quantity(left).cmp(Quantity(right)) == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1.5.5", "quantities must match the regular expression"),
        ("Mi", "at least one digit"),
        ("10mi", "unable to parse quantity's suffix"),
        ("1KB", "quantities must match the regular expression"),
        ("abc", "quantities must match the regular expression"),
        ("", "quantities must match the regular expression"),
        ("1 Mi", "quantities must match the regular expression"),
        (" 1", "quantities must match the regular expression"),
        ("1K", "unable to parse quantity's suffix"),
        ("1e", "unable to parse quantity's suffix"),
        ("1e3.5", "quantities must match the regular expression"),
        ("1Ki5", "unable to parse quantity's suffix"),
        (".", "at least one digit"),
        ("+", "at least one digit"),
        ("--1", "unable to parse quantity's suffix"),
        ("1e100000", "the exponent must be between"),
    ],
)
def test_quantity_rejects_invalid_forms_with_a_clear_message(text: str, reason: str) -> None:
    with pytest.raises(QuantityError, match=reason) as caught:
        Quantity(text)
    assert f'invalid quantity "{text}"' in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_quantity_rejects_lowercase_mi_suffix() -> None:
    with pytest.raises(ValueError, match="unable to parse quantity's suffix"):
        Quantity("10mi")


def test_quantity_reads_capital_e_alone_as_the_exa_suffix_not_an_exponent() -> None:
    assert Quantity("1E").value() == 10**18
    assert Quantity("1E").format is QuantityFormat.DECIMAL_SI
    assert Quantity("1E2").format is QuantityFormat.DECIMAL_EXPONENT


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1.5", "1500m"),
        ("0.5", "500m"),
        (".5", "500m"),
        ("1000m", "1"),
        ("12000", "12k"),
        ("1200", "1200"),
        ("1.5Gi", "1536Mi"),
        ("1024Mi", "1Gi"),
        ("0.5Ki", "512"),
        ("1536", "1536"),
        ("2e3", "2e3"),
        ("1e20", "100e18"),
        ("1E+3", "1e3"),
        ("1e-3", "1e-3"),
        ("+1", "1"),
        ("-1500m", "-1500m"),
        ("0.1n", "1n"),
        ("000", "0"),
        ("1.G", "1G"),
        ("8Ei", "9223372036854775807"),
    ],
)
def test_quantity_canonical_form_matches_kubernetes(text: str, canonical: str) -> None:
    assert Quantity(text).canonical() == canonical


@pytest.mark.parametrize("text", ["500m", "0.5", ".5", "+1", "1.5Gi", "2e3", "1E+3", "000", "1.G"])
def test_quantity_prints_back_the_text_it_was_parsed_from(text: str) -> None:
    assert str(Quantity(text)) == text


def test_quantity_rounds_finer_than_nano_away_from_zero_like_kubernetes() -> None:
    assert Quantity("0.1n").amount == Fraction(1, 10**9)
    assert Quantity("-0.1n").amount == Fraction(-1, 10**9)
    assert Quantity("1.0000000001").amount == Fraction(1_000_000_001, 10**9)


def test_quantity_caps_binary_si_at_max_int64() -> None:
    assert Quantity("8Ei").value() == 2**63 - 1
    assert Quantity("8E").value() == 8 * 10**18  # decimal quantities are not capped


def test_quantity_from_yaml_numbers_keeps_their_decimal_text() -> None:
    assert str(Quantity(0.5)) == "0.5"
    assert Quantity(0.5) == Quantity("500m")
    assert str(Quantity(2)) == "2"
    assert Quantity(2).milli_value() == 2000
    assert Quantity(1e20).value() == 10**20


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_quantity_rejects_non_finite_floats(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        Quantity(bad)


def test_quantity_rejects_booleans() -> None:
    with pytest.raises(TypeError):
        Quantity(True)


def test_quantity_addition_and_subtraction_are_exact_and_canonical() -> None:
    total = Quantity("100m") + Quantity("0.2") + Quantity("1")
    assert total == Quantity("1.3")
    assert str(total) == "1300m"
    assert str(Quantity("1Gi") - Quantity("512Mi")) == "512Mi"
    assert str(Quantity("1Gi") + Quantity("1G")) == "2073741824"
    assert (Quantity("1") - Quantity("1500m")).milli_value() == -500
    assert str(-Quantity("250m")) == "-250m"


def test_quantity_sum_from_zero_takes_the_format_of_the_added_value() -> None:
    assert str(Quantity("0") + Quantity("1Gi")) == "1Gi"


def test_quantity_constructors_from_amounts() -> None:
    assert str(Quantity.from_milli(250)) == "250m"
    assert str(Quantity.from_amount(3 * 2**30, QuantityFormat.BINARY_SI)) == "3Gi"
    assert Quantity.from_amount(Fraction(1, 3)).amount == Fraction(333_333_334, 10**9)


def test_quantity_scaled_value_rounds_away_from_zero() -> None:
    assert Quantity("1500m").scaled_value(0) == 2
    assert Quantity("1.5k").scaled_value(3) == 2
    assert Quantity("1").scaled_value(-3) == 1000
    assert Quantity("-1.5").scaled_value(0) == -2


class _Resources(BaseModel):
    requests: dict[str, Quantity]


def test_quantity_works_as_a_pydantic_field_and_serialises_to_its_text() -> None:
    model = _Resources.model_validate({"requests": {"cpu": 0.5, "memory": "128Mi", "pods": 110, "x": " 1 "}})
    assert model.requests["cpu"] == Quantity("500m")
    assert model.model_dump() == {"requests": {"cpu": "0.5", "memory": "128Mi", "pods": "110", "x": "1"}}
    assert model.model_dump_json() == '{"requests":{"cpu":"0.5","memory":"128Mi","pods":"110","x":"1"}}'


def test_quantity_field_rejects_bad_values_with_the_field_location() -> None:
    with pytest.raises(ValidationError) as caught:
        ResourceRequirements.model_validate({"requests": {"memory": "10mi"}})
    error = caught.value.errors()[0]
    assert error["loc"] == ("requests", "memory")
    assert "unable to parse quantity's suffix" in error["msg"]


def test_quantity_field_rejects_non_numeric_types() -> None:
    with pytest.raises(ValidationError, match="a quantity must be a string or a number"):
        ResourceRequirements.model_validate({"limits": {"cpu": [1]}})


def test_resource_requirements_round_trip_keeps_quantity_spelling() -> None:
    doc = {"limits": {"cpu": "1.5", "memory": "1Gi"}, "requests": {"cpu": ".5"}}
    assert to_dict(ResourceRequirements.model_validate(doc)) == doc


def test_quantity_json_schema_accepts_strings_and_numbers() -> None:
    schema = _Resources.model_json_schema()
    assert schema["properties"]["requests"]["additionalProperties"]["anyOf"] == [
        {"type": "string"},
        {"type": "number"},
    ]
