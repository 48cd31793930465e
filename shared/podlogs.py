"""Container logs on the wire: the options a reader gives, the lines a kubelet answers, and following them.

One shape serves both hops. A client asks the API server for ``pods/log`` with :class:`PodLogOptions`
(Kubernetes' own, the query of ``GET …/pods/{name}/log``); the API server forwards them to the kubelet of
the pod's node on ``node.<node>.logs`` as a :class:`NodeLogsRequest`; the kubelet answers :class:`PodLogs`:
the container it read, whether it still runs, and the lines with their times (seconds since the epoch).

Following (``kubectl logs -f``) is polling: each round asks for the lines at or after the time of the last
line seen (``sinceExact``) of the same container (``containerID``), and :class:`LogFollower` drops the ones
already shown, so a line is shown once even when several share a time stamp.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field


class PodLogOptions(BaseModel):
    """Which container and which of its lines (Kubernetes' ``PodLogOptions``, plus the follow cursor)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    container: str = Field(default="", description="'' = the pod's only container")
    tail_lines: int | None = Field(default=None, alias="tailLines", ge=0)
    since_seconds: int | None = Field(default=None, alias="sinceSeconds", ge=1)
    since_time: datetime | None = Field(default=None, alias="sinceTime")
    timestamps: bool = Field(default=False, description="prefix each line with its RFC 3339 time")
    previous: bool = Field(default=False, description="the last terminated instance of the container")
    limit_bytes: int | None = Field(default=None, alias="limitBytes", ge=1)
    since_exact: float | None = Field(
        default=None, alias="sinceExact", description="follow cursor: lines at or after this epoch time"
    )
    container_id: str = Field(
        default="", alias="containerID", description="follow cursor: read this very instance, not the latest"
    )


class NodeLogsRequest(PodLogOptions):
    """The body of ``node.<node>.logs``: the pod, and the options the API server resolved."""

    namespace: str
    name: str


class LogEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time: float = Field(description="when it was written, seconds since the epoch")
    line: str


class PodLogs(BaseModel):
    """The kubelet's answer, and the API server's over NATS."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    container: str
    container_id: str = Field(alias="containerID")
    running: bool = Field(description="the container can still write lines (following should go on)")
    entries: list[LogEntry] = Field(default_factory=list)

    def text(self, timestamps: bool = False, limit_bytes: int | None = None) -> str:
        return render(self.entries, timestamps, limit_bytes)


def rfc3339_nano(epoch: float) -> str:
    """Go's ``time.RFC3339Nano`` in UTC, as kubelet prefixes lines: fraction without trailing zeros."""
    moment = datetime.fromtimestamp(epoch, UTC)
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def render(entries: Sequence[LogEntry], timestamps: bool = False, limit_bytes: int | None = None) -> str:
    """The log as ``kubectl logs`` prints it: a line each, optionally time-stamped, cut at ``limit_bytes``."""
    text = "".join(
        f"{rfc3339_nano(entry.time)} {entry.line}\n" if timestamps else f"{entry.line}\n" for entry in entries
    )
    if limit_bytes is not None:
        text = text.encode()[:limit_bytes].decode(errors="ignore")
    return text


class LogFollower:
    """The cursor of a follow: which lines were shown, so that each poll shows only new ones.

    Example: lines at t=1, 2, 2 were shown; the next poll asks ``sinceExact=2`` and gets 2, 2, 3 —
    the first two are the ones already shown, so only the line at 3 is new.
    """

    def __init__(self) -> None:
        self.after: float | None = None
        self.shown_at_after = 0
        self.container_id = ""

    def options(self, base: PodLogOptions) -> PodLogOptions:
        """The options of the next poll: the same container instance, from the last line shown."""
        if self.after is None:
            return base
        return base.model_copy(
            update={
                "tail_lines": None,
                "since_seconds": None,
                "since_time": None,
                "since_exact": self.after,
                "container_id": self.container_id or base.container_id,
            }
        )

    def new_entries(self, logs: PodLogs) -> list[LogEntry]:
        """The entries of a poll's answer not shown before; remembers them as shown."""
        self.container_id = self.container_id or logs.container_id
        entries = list(logs.entries)
        if self.after is not None:
            skip = self.shown_at_after
            kept: list[LogEntry] = []
            for entry in entries:
                if entry.time < self.after:
                    continue
                if entry.time == self.after and skip > 0:
                    skip -= 1
                    continue
                kept.append(entry)
            entries = kept
        for entry in entries:
            if entry.time == self.after:
                self.shown_at_after += 1
            else:
                self.after, self.shown_at_after = entry.time, 1
        return entries
