"""IntOrString: a field that holds either an integer or a string, like Kubernetes' ``intstr.IntOrString``.

Used for ``targetPort`` (a number or a named port), probe ports and a Deployment's ``maxSurge`` /
``maxUnavailable`` (a number or a percentage such as ``"30%"``). The value keeps its type on the wire:
``80`` stays a number and ``"http"`` stays a string.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

__all__ = ["IntOrString", "scaled_value_from_int_or_percent"]


def _validate(value: Any) -> int | str:
    if isinstance(value, int | str) and not isinstance(value, bool):
        return value
    raise ValueError("must be an integer or a string")


IntOrString = Annotated[
    int | str,
    PlainValidator(_validate),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}]}),
]


def scaled_value_from_int_or_percent(value: int | str, total: int, round_up: bool) -> int:
    """An integer as is, or a percentage of ``total`` rounded up or down (``"30%"`` of 10 → 3).

    Raises ``ValueError`` for a string that is not a percentage, as Kubernetes'
    ``GetScaledValueFromIntOrPercent`` does.
    """
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ValueError(
            f"invalid value for IntOrString: invalid type: string is not a percentage: {value!r}"
        )
    try:
        percent = int(value[:-1])
    except ValueError:
        raise ValueError(f"invalid value {value!r}: must be an integer percentage such as '25%'") from None
    scaled = percent * total
    return -(-scaled // 100) if round_up else scaled // 100
