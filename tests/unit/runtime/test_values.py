"""Behaviour values parse as the docs say: Go-style durations, Kubernetes quantities, rates, exit codes."""

from __future__ import annotations

import pytest

from services.runtime.values import (
    parse_byte_rate,
    parse_bytes,
    parse_duration,
    parse_exit_code,
    parse_millicores,
    parse_optional_duration,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5s", 5.0),
        ("250ms", 0.25),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        ("1.5s", 1.5),
        ("0", 0.0),
        ("7", 7.0),
        ("0.5", 0.5),
        (" 3s ", 3.0),
        ("100us", 1e-4),
    ],
)
def test_duration_is_read_in_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "5x", "-5s", "5 s", "abc", "5s3", "1d"])
def test_bad_duration_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(("text", "expected"), [("never", None), ("Never", None), ("10s", 10.0)])
def test_optional_duration_takes_never(text: str, expected: float | None) -> None:
    assert parse_optional_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("64Mi", 64 * 2**20), ("1G", 10**9), ("512Ki", 512 * 1024), ("1000", 1000)]
)
def test_memory_quantity_is_read_in_bytes(text: str, expected: int) -> None:
    assert parse_bytes(text) == expected


@pytest.mark.parametrize(("text", "expected"), [("250m", 250), ("1", 1000), ("1.5", 1500), ("0", 0)])
def test_cpu_quantity_is_read_in_millicores(text: str, expected: int) -> None:
    assert parse_millicores(text) == expected


@pytest.mark.parametrize("text", ["lots", "-1Mi", "1Xi", ""])
def test_bad_quantity_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid quantity"):
        parse_bytes(text)


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("10Mi", 10 * 2**20), ("10Mi/s", 10 * 2**20), ("60Mi/m", 2**20), ("3600Ki/h", 1024), ("0", 0)],
)
def test_rate_is_read_in_bytes_per_second(text: str, per_second: float) -> None:
    assert parse_byte_rate(text) == pytest.approx(per_second)


def test_rate_with_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid rate"):
        parse_byte_rate("1Mi/d")


@pytest.mark.parametrize(("text", "code"), [("0", 0), ("1", 1), ("255", 255), (" 3 ", 3)])
def test_exit_code_is_an_integer(text: str, code: int) -> None:
    assert parse_exit_code(text) == code


@pytest.mark.parametrize("text", ["256", "-1", "one", "1.5"])
def test_exit_code_outside_0_to_255_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="0-255"):
        parse_exit_code(text)
