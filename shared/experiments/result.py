"""An experiment's result as JSON: verdict, checks, figures, audit, and everything recorded, fault at t=0.

The result file is what ``kubenats experiment compare`` reads and what the plot is drawn from, so it
keeps every client operation, not only the figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from shared.experiments.figures import Figures
from shared.experiments.model import Thresholds
from shared.experiments.records import Event, OpRecord, ProbeRound
from shared.experiments.restarts import Restart
from shared.experiments.verdict import Audit, Check, Outcome

ERRORS_SHOWN = 10


class ExperimentResult(BaseModel):
    name: str
    title: str = ""
    source: str = ""
    started_at: str
    duration: float
    verdict: Outcome
    reason: str = ""
    """Why the experiment was skipped or aborted, or why its method stopped early."""
    checks: list[Check] = []
    thresholds: Thresholds = Thresholds()
    figures: Figures | None = None
    audit: Audit | None = None
    timeline: list[Event] = []
    rounds: list[ProbeRound] = []
    ops: list[OpRecord] = []
    errors: dict[str, int] = {}
    """Client error messages and how often each was seen, most frequent first."""
    restarts: list[Restart] = []
    """Every container restart the watcher measured, with the wait the kubelet's policy prescribes."""

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> ExperimentResult:
        return cls.model_validate_json(path.read_text())


def error_counts(ops: Sequence[OpRecord]) -> dict[str, int]:
    counts = Counter(f"{op.kind}: {op.error}" for op in ops if not op.ok)
    return dict(counts.most_common(ERRORS_SHOWN))
