"""Service flags: command line over environment over defaults, and one clear error for a bad value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from shared.config import ServiceFlags, parse_flags


class MemberFlags(ServiceFlags):
    name: str = Field(description="member name")
    data_dir: Path = Field(description="data directory")
    ticks: int = Field(default=10, ge=1)
    fsync: bool = True


def test_flags_come_from_command_line() -> None:
    flags = parse_flags(MemberFlags, ["--name", "cp-1", "--data-dir", "/tmp/x", "--ticks", "5"], environ={})
    assert (flags.name, flags.data_dir, flags.ticks) == ("cp-1", Path("/tmp/x"), 5)
    assert flags.servers == ["nats://127.0.0.1:4222"]


def test_environment_fills_what_the_command_line_leaves_out() -> None:
    env = {"KUBENATS_NAME": "cp-2", "KUBENATS_DATA_DIR": "/d", "KUBENATS_NATS": "nats://a:1,nats://b:2"}
    flags = parse_flags(MemberFlags, ["--name", "cp-3"], environ=env)
    assert flags.name == "cp-3" and flags.data_dir == Path("/d")
    assert flags.servers == ["nats://a:1", "nats://b:2"]


def test_boolean_flag_can_be_turned_off() -> None:
    flags = parse_flags(MemberFlags, ["--name", "a", "--data-dir", "d", "--no-fsync"], environ={})
    assert flags.fsync is False


def test_missing_required_flag_exits_2_naming_flag_and_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_flags(MemberFlags, ["--name", "a"], prog="etcd", environ={})
    assert exited.value.code == 2
    assert "--data-dir is required (or set KUBENATS_DATA_DIR)" in capsys.readouterr().err


def test_bad_value_exits_2_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_flags(MemberFlags, ["--name", "a", "--data-dir", "d", "--ticks", "zero"], environ={})
    assert exited.value.code == 2
    assert "--ticks:" in capsys.readouterr().err


def test_bad_log_level_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_flags(MemberFlags, ["--name", "a", "--data-dir", "d", "--log-level", "LOUD"], environ={})
    assert "--log-level" in capsys.readouterr().err
