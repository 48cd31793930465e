"""A simulated container's behaviour: the vocabulary of behaviour keys and the settled :class:`Behaviour`.

Behaviour is data, in the spirit of kwok's stages: a container's life is a handful of settings — how long
it takes to start, when (and how) it ends, what it uses, what it logs — each one a key of
:data:`KEYS`, written as text exactly as the ``sim.kubenats.io/<key>`` annotations write it. Settings come
in layers, lowest first (the image catalogue, the container's command, the pod's annotations, the
container's own annotations); :func:`resolve` lays them over the defaults and parses the result once, so a
bad value is reported with the place it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final

from services.runtime.usage import CpuPattern, CpuProfile, MemoryProfile
from services.runtime.values import (
    parse_byte_rate,
    parse_bytes,
    parse_duration,
    parse_exit_code,
    parse_millicores,
    parse_optional_duration,
)


def _cpu_pattern(text: str) -> CpuPattern:
    try:
        return CpuPattern(text.strip().lower())
    except ValueError:
        raise ValueError(f"invalid CPU pattern {text!r}: expected constant, sine or spiky") from None


def _positive_duration(text: str) -> float:
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError(f"invalid period {text!r}: must be greater than 0")
    return seconds


def _text(text: str) -> str:
    return text


def _serve_mode(text: str) -> ServeMode:
    try:
        return ServeMode(text.strip().lower())
    except ValueError:
        raise ValueError(f"invalid serve mode {text!r}: expected echo, fixed or off") from None


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"invalid fraction {text!r}: expected a number from 0 to 1") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"invalid fraction {text!r}: expected a number from 0 to 1")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text.removesuffix("/s"))
    except ValueError:
        raise ValueError(f"invalid rate {text!r}: expected requests per second, e.g. 5 or 0.5/s") from None
    if value <= 0:
        raise ValueError(f"invalid rate {text!r}: must be greater than 0")
    return value


def _traffic_target(text: str) -> TrafficTarget | None:
    """``db``, ``shop/db`` or ``db:http``: a Service (namespace: the pod's by default) and its port."""
    text = text.strip()
    if not text:
        return None
    where, _, port = text.partition(":")
    namespace, _, name = where.rpartition("/")
    if not name:
        raise ValueError(f"invalid traffic target {text!r}: expected [namespace/]service[:port]")
    return TrafficTarget(namespace, name, port)


class ServeMode(StrEnum):
    ECHO = "echo"
    """Answer with the request's own bytes."""
    FIXED = "fixed"
    """Answer with ``serve-body``."""
    OFF = "off"
    """Accept nothing: the port is closed."""


@dataclass(frozen=True, slots=True)
class ServeBehaviour:
    """How a container answers requests on its pod's address (its declared container ports)."""

    mode: ServeMode = ServeMode.ECHO
    latency: float = 0.001
    jitter: float = 0.0
    """Extra latency, uniform between 0 and this."""
    error_rate: float = 0.0
    """The fraction of requests answered with a 500."""
    body: str = ""


@dataclass(frozen=True, slots=True)
class TrafficTarget:
    namespace: str
    """'' = the pod's own namespace."""
    service: str
    port: str = ""


@dataclass(frozen=True, slots=True)
class TrafficBehaviour:
    """Requests a container sends, through its node's kube-proxy, to a Service while it runs."""

    target: TrafficTarget
    rate: float = 1.0
    """Requests per second."""


KEYS: Final[dict[str, Callable[[str], Any]]] = {
    "startup": parse_duration,
    "ready-delay": parse_duration,
    "exit-after": parse_optional_duration,
    "crash-after": parse_duration,
    "exit-code": parse_exit_code,
    "liveness-fail-after": parse_optional_duration,
    "cpu": parse_millicores,
    "cpu-peak": parse_millicores,
    "cpu-pattern": _cpu_pattern,
    "cpu-period": _positive_duration,
    "memory": parse_bytes,
    "memory-growth": parse_byte_rate,
    "log-interval": parse_optional_duration,
    "log-line": _text,
    "shutdown": parse_optional_duration,
    "serve": _serve_mode,
    "serve-latency": parse_duration,
    "serve-jitter": parse_duration,
    "serve-error-rate": _fraction,
    "serve-body": _text,
    "traffic-to": _traffic_target,
    "traffic-rate": _rate,
}
"""Every behaviour key and the parser of its value (docs/simulation.md describes each one)."""

DEFAULTS: Final[Mapping[str, str]] = {
    "startup": "1s",
    "ready-delay": "0s",
    "exit-after": "never",
    "liveness-fail-after": "never",
    "cpu": "10m",
    "cpu-pattern": "constant",
    "cpu-period": "60s",
    "memory": "32Mi",
    "memory-growth": "0",
    "log-interval": "never",
    "log-line": "{container}: tick {n}",
    "shutdown": "100ms",
    "serve": "echo",
    "serve-latency": "1ms",
    "serve-jitter": "0s",
    "serve-error-rate": "0",
    "serve-body": "",
    "traffic-to": "",
    "traffic-rate": "1",
}
"""What a container does when nothing says otherwise: starts in a second and runs until stopped."""

_OUTCOME_KEYS: Final = ("exit-after", "crash-after")


class BehaviourError(ValueError):
    """A behaviour setting that cannot be honoured; the message names the key and where it came from."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One key's value as text, and where it came from (an annotation key, the catalogue, the command)."""

    value: str
    origin: str


Layer = Mapping[str, Setting]


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How one container behaves. Times are seconds after it starts unless said otherwise."""

    startup: float = 1.0
    """Until the application is up: the startup probe succeeds, and readiness may begin."""
    ready_delay: float = 0.0
    """After start-up, until the readiness probe succeeds."""
    exit_after: float | None = None
    """When it exits by itself with :attr:`exit_code`; None = runs until stopped."""
    exit_code: int = 0
    liveness_fail_after: float | None = None
    """From then on the liveness probe fails; None = never."""
    cpu: CpuProfile = field(default_factory=lambda: CpuProfile(base=10.0, peak=10.0))
    memory: MemoryProfile = field(default_factory=lambda: MemoryProfile(base=32 * 1024 * 1024))
    log_interval: float | None = None
    log_line: str = "{container}: tick {n}"
    """Written every :attr:`log_interval`; ``{n}`` counts lines from 1, ``{container}`` is the name."""
    start_lines: tuple[str, ...] = ()
    """Written once the application is up (``echo`` in a shell command, an image's greeting)."""
    shutdown: float | None = 0.1
    """From SIGTERM until it exits with 0; None = it ignores SIGTERM and is killed at the deadline."""
    serve: ServeBehaviour = field(default_factory=ServeBehaviour)
    traffic: TrafficBehaviour | None = None


_DEFAULT_SETTINGS: Final = {key: Setting(value, "default") for key, value in DEFAULTS.items()}


def merge(layers: Sequence[Layer]) -> dict[str, Setting]:
    """Lay ``layers`` over the defaults, lowest first.

    Two settings replace more than their own key: ``exit-after`` and ``crash-after`` are one choice, so
    a layer setting either drops whichever a lower layer set, with the ``exit-code`` set beside it
    (``crash-after`` over ``sleep 3600`` exits 1, not the sleep's 0) — an ``exit-code`` set on its own
    stays; setting both in one layer is an error;
    and ``cpu`` without ``cpu-peak`` means a flat ``cpu``, so ``cpu: 150m`` over an image whose CPU
    spikes to 25m is a steady 150m.
    """
    merged: dict[str, Setting] = {}
    code_goes_with_outcome = False
    for layer in layers:
        chosen = [key for key in _OUTCOME_KEYS if key in layer]
        if len(chosen) > 1:
            origins = " and ".join(layer[key].origin for key in chosen)
            raise BehaviourError(f"{origins}: set only one of exit-after and crash-after")
        if chosen:
            for key in (*_OUTCOME_KEYS, *(["exit-code"] if code_goes_with_outcome else [])):
                merged.pop(key, None)
        if "exit-code" in layer:
            code_goes_with_outcome = bool(chosen)
        if "cpu" in layer and "cpu-peak" not in layer:
            merged.pop("cpu-peak", None)
        merged.update(layer)
    for key, setting in _DEFAULT_SETTINGS.items():
        merged.setdefault(key, setting)
    return merged


def resolve(layers: Sequence[Layer], start_lines: Sequence[str] = ()) -> Behaviour:
    """The :class:`Behaviour` the layered settings describe; raises :class:`BehaviourError`."""
    settings = merge(layers)
    values: dict[str, Any] = {}
    for key, setting in settings.items():
        if key not in KEYS:
            raise BehaviourError(f"{setting.origin}: unknown behaviour key {key!r}; known: {', '.join(KEYS)}")
        try:
            values[key] = _parse(key, setting.value)
        except ValueError as error:
            raise BehaviourError(f"{setting.origin}: {error}") from None
    return Behaviour(
        startup=values["startup"],
        ready_delay=values["ready-delay"],
        exit_after=values["crash-after"] if "crash-after" in values else values["exit-after"],
        exit_code=_exit_code(settings, values),
        liveness_fail_after=values["liveness-fail-after"],
        cpu=CpuProfile(
            base=values["cpu"],
            peak=values.get("cpu-peak", values["cpu"]),
            pattern=values["cpu-pattern"],
            period=values["cpu-period"],
        ),
        memory=MemoryProfile(base=values["memory"], growth=values["memory-growth"]),
        log_interval=values["log-interval"] or None,
        log_line=values["log-line"],
        start_lines=tuple(start_lines),
        shutdown=values["shutdown"],
        serve=ServeBehaviour(
            mode=values["serve"],
            latency=values["serve-latency"],
            jitter=values["serve-jitter"],
            error_rate=values["serve-error-rate"],
            body=values["serve-body"],
        ),
        traffic=(
            TrafficBehaviour(values["traffic-to"], values["traffic-rate"]) if values["traffic-to"] else None
        ),
    )


@lru_cache(maxsize=4096)
def _parse(key: str, text: str) -> Any:
    """A key's parsed value; cached because thousands of containers share a few dozen distinct values."""
    return KEYS[key](text)


def _exit_code(settings: Mapping[str, Setting], values: Mapping[str, Any]) -> int:
    """``exit-code`` if given; otherwise 0 for ``exit-after`` and 1 for ``crash-after``."""
    crashes = "crash-after" in values
    if "exit-code" not in values:
        return 1 if crashes else 0
    code: int = values["exit-code"]
    if crashes and code == 0:
        raise BehaviourError(f"{settings['exit-code'].origin}: crash-after needs a non-zero exit code")
    return code
