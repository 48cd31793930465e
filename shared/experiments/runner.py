"""The experiment runner: steady state → load → faults → watch → steady state again → rollbacks → audit.

The steps, as Chaos Toolkit orders them, with the measuring added:

1. The steady-state probes must pass (within ``before_timeout``), or nothing is injected: ``aborted``.
2. The background load, the watcher and a probe monitor start; after the warm-up the method runs. The
   start of its first disruptive action is t0, the end of its last one the heal point.
3. The probes must pass again within ``after_timeout``; the load runs on for the cool-down, then stops.
4. The rollbacks run — always, even when the method failed or the run was interrupted.
5. The audit reads every acknowledged write back and checks the history, and every acknowledged pod
   of the pod-creation load; the figures and the verdict follow from the recording. The load's
   namespace goes last.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.cluster import StatePaths
from shared.experiments.actions import ActionError, perform
from shared.experiments.audit import run_audit
from shared.experiments.cluster import ClusterHandle
from shared.experiments.figures import compute_figures
from shared.experiments.load import BackgroundLoad
from shared.experiments.model import Experiment, ExperimentError
from shared.experiments.podaudit import PodAudit, audit_pods
from shared.experiments.podload import NAMESPACE_PREFIX, PodLoad
from shared.experiments.probe_specs import Probe as ProbeSpec
from shared.experiments.probes import ask_all, wait_steady
from shared.experiments.records import Recording
from shared.experiments.restarts import Restart, all_restarts, backoff_policy, kubelet_backoff_scale
from shared.experiments.result import ExperimentResult, error_counts
from shared.experiments.setup import create_objects, delete_objects, read_manifests
from shared.experiments.tasks import Tasks
from shared.experiments.verdict import Check, audit_checks, backoff_check, outcome, threshold_checks
from shared.experiments.watcher import Watcher
from shared.logging import get_logger

log = get_logger(__name__)
KEY_ROOT = "/kubenats-experiments"
Object = dict[str, Any]
MAX_ROUNDS_IN_FLIGHT = 4


@dataclass
class RunStatus:
    """What a live display shows; the runner updates it as it goes."""

    phase: str = "connecting"
    started: float = field(default_factory=time.monotonic)
    recording: Recording = field(default_factory=Recording)
    fault_at: float | None = None


def _quiet(_: str) -> None:
    pass


def _describe(answers: Sequence[tuple[ProbeSpec, bool, str]]) -> str:
    return "; ".join(f"{p.label()}: {'ok' if ok else 'FAILED'} ({why})" for p, ok, why in answers)


class Run:
    def __init__(
        self,
        experiment: Experiment,
        handle: ClusterHandle,
        status: RunStatus,
        progress: Callable[[str], None],
        objects: Sequence[Object] = (),
    ) -> None:
        self.experiment = experiment
        self.objects = objects
        self.created: list[Object] = []
        self.handle = handle
        self.status = status
        self.progress = progress
        self.recording = status.recording
        self.saved: dict[str, list[str]] = {}
        self.method_started = False
        self.rolled_back = False
        self.pods: PodLoad | None = None

    def phase(self, name: str) -> None:
        self.status.phase = name
        self.progress(name)

    async def monitor(self, tasks: Tasks) -> None:
        """Ask the probes all along, a round every interval even while an earlier one waits on a dead
        replica: recovery is measured to the probe interval, not to the method's end or a slow answer."""
        in_flight = 0

        async def probe_round(asked: float) -> None:
            nonlocal in_flight
            try:
                answers = await ask_all(self.handle, self.experiment.steady_state.probes, self.saved)
            finally:
                in_flight -= 1
            failing = [p.label() for p, ok, _ in answers if not ok]
            self.recording.round(asked, not failing, failing)

        while not tasks.stopping.is_set():
            if in_flight < MAX_ROUNDS_IN_FLIGHT:
                in_flight += 1
                tasks.start(probe_round(time.monotonic()))
            await tasks.sleep(self.experiment.steady_state.interval)

    async def method(self) -> tuple[float, float, list[Check], str]:
        """Run the method: (t0, heal point, expectation checks, why it stopped early or '')."""
        t0: float | None = None
        heal = time.monotonic()
        self.method_started = True
        checks: list[Check] = []
        for action in self.experiment.method:
            started = time.monotonic()
            if action.disruptive and t0 is None:
                t0 = self.status.fault_at = started
            self.phase(f"method: {action.describe()}")
            try:
                check = await perform(self.handle, action, self.saved, self.recording)
            except ActionError as error:
                self.recording.event("action", f"failed: {error}")
                return t0 or started, time.monotonic(), checks, str(error)
            if action.disruptive:
                heal = time.monotonic()
            if check is not None:
                checks.append(check)
        return t0 or heal, heal, checks, ""

    async def set_up(self) -> None:
        if self.handle.patient_api is None:
            raise ExperimentError("the experiment's setup needs an API server, and the cluster runs none")
        self.phase("setup")
        created = set(await create_objects(self.handle.patient_api, self.objects))
        self.created = [o for o in self.objects if f"{o['kind']}/{o['metadata']['name']}" in created]
        for name in sorted(created):
            self.recording.event("action", f"created {name}")

    async def start_pods(self) -> PodLoad | None:
        """The pod-creation load with its namespace made, when the experiment asks for one."""
        spec, api, patient = self.experiment.load.pods, self.handle.api, self.handle.patient_api
        if spec is None or api is None or patient is None:
            return None
        namespace = f"{NAMESPACE_PREFIX}{uuid.uuid4().hex[:8]}"
        self.pods = PodLoad(api, patient, spec, namespace, self.recording)
        await self.pods.create_namespace()
        return self.pods

    async def audit_pods(self, t0: float) -> PodAudit | None:
        if self.pods is None:
            return None
        present = await self.pods.settle()
        return audit_pods(self.pods.namespace, self.pods.acks, self.pods.seen, present, origin=t0)

    def restarts(self, watcher: Watcher) -> list[Restart]:
        kubelet = self.handle.topology.components.get("kubelet")
        scale = kubelet_backoff_scale(kubelet.args if kubelet is not None else ())
        spec = self.experiment.thresholds.restart_backoff
        if spec is None:
            policy = backoff_policy(scale)
        else:
            policy = backoff_policy(scale, spec.base_seconds, spec.max_seconds)
        return all_restarts(watcher.attempts, policy)

    async def tear_down(self) -> None:
        if self.pods is not None:
            pods, self.pods = self.pods, None
            await pods.delete_namespace()
        if self.created and self.experiment.setup.delete_after and self.handle.patient_api is not None:
            self.phase("teardown")
            await delete_objects(self.handle.patient_api, self.created)
            self.created = []

    async def rollbacks(self) -> list[str]:
        if self.rolled_back or not self.method_started:
            return []
        self.rolled_back = True
        failures = []
        for action in self.experiment.rollbacks:
            self.phase(f"rollback: {action.describe()}")
            try:
                await perform(self.handle, action, self.saved, self.recording)
            except ActionError as error:
                self.recording.event("action", f"rollback failed: {error}")
                failures.append(str(error))
        return failures

    async def execute(self, started_at: str, source: str) -> ExperimentResult:
        experiment, steady = self.experiment, self.experiment.steady_state
        base = {
            "name": experiment.name,
            "title": experiment.title,
            "source": source,
            "started_at": started_at,
            "thresholds": experiment.thresholds,
        }
        missing = [c for c in experiment.requires if not self.handle.runs(c)]
        if missing:
            return ExperimentResult(
                **base,
                duration=0.0,
                verdict="skipped",
                reason=f"the cluster does not run {', '.join(missing)}",
            )
        if self.objects:
            await self.set_up()
        self.phase("steady state before")
        held, waited, answers = await wait_steady(
            self.handle, steady.probes, steady.before_timeout, steady.interval
        )
        before = Check(name="steady state before", ok=held, detail=_describe(answers))
        if not held:
            return ExperimentResult(
                **base,
                duration=time.monotonic() - self.status.started,
                verdict="aborted",
                reason="the steady state did not hold before the method",
                checks=[before],
            )

        prefix = f"{KEY_ROOT}/{experiment.name}/{uuid.uuid4().hex[:8]}/"
        load = BackgroundLoad(self.handle, experiment.load, prefix, self.recording, await self.start_pods())
        watcher = Watcher(self.handle, self.recording)
        load.start()
        watcher.start()
        monitoring = Tasks()
        monitoring.start(self.monitor(monitoring))
        try:
            self.phase("warm-up")
            await asyncio.sleep(experiment.load.warmup_seconds)
            t0, heal, expectations, stopped = await self.method()
            self.phase("steady state after")
            held, waited, answers = await wait_steady(
                self.handle, steady.probes, steady.after_timeout, steady.interval, self.saved
            )
            after = Check(
                name="steady state after", ok=held, detail=f"after {waited:.1f} s: {_describe(answers)}"
            )
            self.phase("cool-down")
            await asyncio.sleep(experiment.load.cooldown_seconds)
        finally:
            await monitoring.stop()
            load_result = await load.stop()
            load_end = time.monotonic()
            await watcher.stop()
        rollback_failures = await self.rollbacks()

        self.phase("audit")
        audit = await run_audit(self.handle, load_result, prefix, steady.probes)
        audit.pods = await self.audit_pods(t0)
        restarts = self.restarts(watcher)
        await self.tear_down()
        recorded = self.recording.relative_to(t0)
        if experiment.thresholds.recovery_from == "fault":
            heal = t0
        figures = compute_figures(
            recorded.ops, recorded.events, recorded.rounds, heal - t0, load_end - t0, experiment.detect_on
        )
        method_check = Check(
            name="method carried out", ok=not stopped, detail=stopped or f"{len(experiment.method)} actions"
        )
        checks = [
            before,
            method_check,
            *expectations,
            after,
            *threshold_checks(experiment.thresholds, figures),
            *audit_checks(experiment.thresholds, audit),
            *backoff_check(experiment.thresholds.restart_backoff, restarts),
        ]
        if rollback_failures:
            checks.append(Check(name="rollbacks", ok=False, detail="; ".join(rollback_failures)))
        return ExperimentResult(
            **base,
            duration=time.monotonic() - self.status.started,
            verdict=outcome(before, checks),
            reason=stopped,
            checks=checks,
            figures=figures,
            audit=audit,
            timeline=recorded.events,
            rounds=recorded.rounds,
            ops=recorded.ops,
            errors=error_counts(recorded.ops),
            restarts=restarts,
        )


async def run_experiment(
    experiment: Experiment,
    paths: StatePaths,
    *,
    source: Path | None = None,
    progress: Callable[[str], None] = _quiet,
    status: RunStatus | None = None,
) -> ExperimentResult:
    """Run ``experiment`` against the cluster in ``paths`` and return its result (nothing is written).

    ``source`` is the experiment's file: its setup manifests are read relative to it."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    status = status or RunStatus()
    objects = read_manifests(experiment.setup, source.parent if source else Path.cwd())
    handle = await ClusterHandle.connect(paths, experiment.load.op_timeout)
    run = Run(experiment, handle, status, progress, objects)
    try:
        result = await run.execute(started_at, str(source or ""))
        log.info("experiment done", name=experiment.name, verdict=result.verdict)
        return result
    finally:
        # Interrupted mid-method: put the cluster back as the rollbacks say before leaving.
        with contextlib.suppress(Exception):
            await asyncio.shield(run.rollbacks())
        with contextlib.suppress(Exception):
            await asyncio.shield(run.tear_down())
        await handle.close()
