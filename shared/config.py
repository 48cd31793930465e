"""Service flags: a pydantic model is the flag set; every flag can also come from ``KUBENATS_<FLAG>``.

Each service describes its flags once, as a model whose field descriptions are the help text::

    class EtcdFlags(ServiceFlags):
        name: str = Field(description="this member's name")
        data_dir: Path = Field(description="where the WAL and snapshots live")

    flags = parse_flags(EtcdFlags, prog="python -m services.etcd")

Precedence is command line, then environment, then the model's default. A bad value exits with status 2
and one clear line naming the flag, before the service touches the bus or the disk.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.bus import parse_servers

ENV_PREFIX = "KUBENATS_"

FlagsT = TypeVar("FlagsT", bound=BaseModel)


class ServiceFlags(BaseModel):
    """Flags every service takes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    nats: str = Field(default="nats://127.0.0.1:4222", description="comma-separated NATS server URLs")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")

    @field_validator("nats")
    @classmethod
    def _servers_given(cls, value: str) -> str:
        parse_servers(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @property
    def servers(self) -> list[str]:
        return parse_servers(self.nats)


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def parse_flags(
    model: type[FlagsT],
    argv: Sequence[str] | None = None,
    *,
    prog: str | None = None,
    description: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> FlagsT:
    """Parse ``argv`` (default ``sys.argv[1:]``) into ``model``; exit 2 with a clear message if bad."""
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog=prog, description=description or model.__doc__)
    for name, info in model.model_fields.items():
        help_text = f"{info.description or ''} (env {env_name(name)})".strip()
        if info.annotation is bool:
            parser.add_argument(
                flag_name(name),
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            parser.add_argument(flag_name(name), dest=name, default=None, help=help_text)
    given = vars(parser.parse_args(argv))
    values: dict[str, Any] = {}
    for name in model.model_fields:
        if given[name] is not None:
            values[name] = given[name]
        elif env_name(name) in environ:
            values[name] = environ[env_name(name)]
    try:
        return model.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(_describe(e) for e in error.errors())
        parser.error(problems)
    raise AssertionError("unreachable")  # parser.error exits


def _describe(error: Any) -> str:
    field = str(error["loc"][0]) if error["loc"] else ""
    if error["type"] == "missing":
        return f"{flag_name(field)} is required (or set {env_name(field)})"
    return f"{flag_name(field)}: {error['msg']}"


def die(message: str, code: int = 2) -> None:
    """Exit at start-up with one clear line on stderr."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)
