"""Container restarts read from pod statuses, and the judgement of whether the kubelet's restart back-off
grew as Kubernetes' does: the pure parts of the pod crash loop experiment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.experiments.model import RestartBackoff
from shared.experiments.report import compare_table, summary_text
from shared.experiments.restarts import (
    Attempt,
    Restart,
    all_restarts,
    attempts_of,
    backoff_policy,
    judge_backoff,
    kubelet_backoff_scale,
    merge,
    restarts,
)
from shared.experiments.verdict import backoff_check
from shared.experiments.watcher import attempt_key, record_attempts
from tests.unit.experiments.test_verdict_and_report import result

T0 = datetime(2026, 11, 27, 7, 0, 0, tzinfo=UTC)
EPOCH = T0.timestamp()
POLICY = backoff_policy(1.0)
FLAKY = "default/flaky/nginx"


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def terminated(cid: str, started: float, finished: float) -> dict[str, Any]:
    return {"containerID": cid, "startedAt": at(started), "finishedAt": at(finished), "exitCode": 137}


def running_status(
    count: int, cid: str, started: float, last: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "name": "nginx",
        "restartCount": count,
        "containerID": cid,
        "state": {"running": {"startedAt": at(started)}},
        "lastState": {"terminated": last} if last else {},
    }


def backing_off(count: int, cid: str, started: float, finished: float) -> dict[str, Any]:
    """The kubelet's status while a container waits to restart: lastState is the attempt that just ended."""
    return {
        "name": "nginx",
        "restartCount": count,
        "containerID": cid,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed"}},
        "lastState": {"terminated": terminated(cid, started, finished)},
    }


def attempt(number: int, started: float | None, finished: float | None = None) -> Attempt:
    return Attempt(
        number=number,
        container_id=f"sim://c{number}",
        started_at=None if started is None else EPOCH + started,
        finished_at=None if finished is None else EPOCH + finished,
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        # Running after two restarts: the current attempt is number 2, lastState the one before it.
        (
            running_status(2, "sim://c2", 30, terminated("sim://c1", 5, 20)),
            [attempt(2, 30), attempt(1, 5, 20)],
        ),
        # Waiting in CrashLoopBackOff: lastState is the current container, the attempt that just ended.
        (backing_off(1, "sim://c1", 5, 20), [attempt(1, 5, 20)]),
        # The first run, never restarted.
        (running_status(0, "sim://c0", 0), [attempt(0, 0)]),
    ],
)
def test_a_container_status_tells_of_its_current_attempt_and_the_one_before(
    status: dict[str, Any], expected: list[Attempt]
) -> None:
    assert attempts_of(status) == expected


def test_attempts_seen_at_different_times_merge_into_one_record_each() -> None:
    known: dict[int, Attempt] = {}
    assert merge(known, attempts_of(running_status(1, "sim://c1", 5))) == [1]
    assert merge(known, attempts_of(backing_off(1, "sim://c1", 5, 20))) == []
    assert known == {1: attempt(1, 5, 20)}


def crash_loop(*times: tuple[float, float]) -> dict[int, Attempt]:
    """Attempts 0, 1, … with these (started, finished) times."""
    return {n: attempt(n, started, finished) for n, (started, finished) in enumerate(times)}


def test_each_restart_waits_from_the_exit_before_it_and_the_policy_says_how_long() -> None:
    # Killed at 1, 3 and 15: restarted at once, then after 10 s, then after 20 s.
    attempts = crash_loop((0, 1), (1, 3), (13, 15), (35, 60))
    found = restarts(FLAKY, attempts, POLICY)
    assert [(r.number, r.waited, r.expected) for r in found] == [(1, 0, 0), (2, 10, 10), (3, 20, 20)]


def test_a_restart_whose_exit_before_was_never_seen_is_not_measured() -> None:
    attempts = {0: attempt(0, 0, 1), 1: attempt(1, 1, 3), 3: attempt(3, 40)}
    assert [r.number for r in restarts(FLAKY, attempts, POLICY)] == [1]


def test_an_attempt_that_ran_long_enough_starts_a_new_streak() -> None:
    # Attempt 1 ran 700 s (more than the 600 s reset): restart 2 is again the first of a streak.
    attempts = crash_loop((0, 1), (1, 701), (701, 702), (712, 800))
    assert [r.expected for r in restarts(FLAKY, attempts, POLICY)] == [0, 0, 10]


def test_waits_are_capped_at_the_policys_maximum() -> None:
    policy = backoff_policy(1.0, base=10, maximum=30)
    attempts = crash_loop((0, 1), (1, 2), (12, 13), (33, 34), (64, 65))
    assert [r.expected for r in restarts(FLAKY, attempts, policy)] == [0, 10, 20, 30]


def restart(number: int, waited: float, expected: float, container: str = FLAKY) -> Restart:
    return Restart(container=container, number=number, waited=waited, expected=expected)


@pytest.mark.parametrize(
    ("found", "minimum", "ok", "says"),
    [
        ([restart(1, 1, 0), restart(2, 10, 10), restart(3, 21, 20)], 3, True, "#3 21 s (want 20)"),
        ([restart(1, 1, 0), restart(2, 10, 10)], 3, False, "2 restarts measured, 3 wanted"),
        ([restart(1, 0, 0), restart(2, 4, 10)], 2, False, "restart #2 waited 4 s, 10 ± 3 s wanted"),
        ([restart(1, 0, 0), restart(2, 10, 10), restart(3, 10, 20)], 3, False, "restart #3 waited 10 s"),
        ([restart(1, 0, 0), restart(2, 30, 10)], 2, False, "restart #2 waited 30 s"),
    ],
)
def test_the_back_off_passes_only_when_every_wait_is_the_policys(
    found: list[Restart], minimum: int, ok: bool, says: str
) -> None:
    judged, detail = judge_backoff(found, minimum, tolerance=3.0)
    assert judged is ok
    assert says in detail


def test_a_back_off_that_shrinks_fails_even_within_a_loose_tolerance() -> None:
    found = [restart(1, 0, 0), restart(2, 21, 10), restart(3, 9, 20)]  # each within 11 s of the policy
    ok, detail = judge_backoff(found, 3, tolerance=11.0)
    assert not ok and "shrank" in detail


def test_the_check_judges_only_the_pod_it_names() -> None:
    spec = RestartBackoff(pod="flaky", min_restarts=2)
    found = [restart(1, 0, 0), restart(2, 10, 10), restart(1, 50, 0, container="default/other/nginx")]
    assert [(c.name, c.ok) for c in backoff_check(spec, found)] == [("restart back-off grows", True)]
    assert backoff_check(None, found) == []


def test_a_base_the_kubelet_does_not_use_fails_the_check() -> None:
    """The kubelet waited 0, 10, 20 s; an experiment expecting a 20 s base must fail."""
    attempts = {FLAKY: crash_loop((0, 1), (1, 3), (13, 15), (35, 60))}
    doubled = all_restarts(attempts, backoff_policy(1.0, base=20))
    [check] = backoff_check(RestartBackoff(pod="flaky", min_restarts=3), doubled)
    assert not check.ok and "restart #2 waited 10 s, 20 ± 3 s wanted" in check.detail


@pytest.mark.parametrize(
    ("args", "scale"),
    [
        (("--node", "{name}", "--backoff-scale", "0.1"), 0.1),
        (("--backoff-scale=0.5",), 0.5),
        (("--node", "{name}"), 1.0),
        (("--backoff-scale", "{backoff}"), 1.0),
    ],
)
def test_the_kubelets_back_off_scale_is_read_from_its_arguments(args: tuple[str, ...], scale: float) -> None:
    assert kubelet_backoff_scale(args) == scale


def test_the_policy_scales_base_and_cap_unless_the_experiment_names_them() -> None:
    assert [backoff_policy(0.1).delay(n) for n in range(4)] == pytest.approx([0, 1, 2, 4])
    assert backoff_policy(0.1).maximum == pytest.approx(30)
    assert backoff_policy(1.0, base=5, maximum=15).delay(3) == 15


def test_the_summary_lists_each_restart_with_its_wait_and_the_policys() -> None:
    run = result(restarts=[restart(1, 1, 0), restart(2, 10, 10)])
    text = summary_text(run)
    assert f"  {FLAKY} #2: 10 s (policy 10 s)" in text
    compared = compare_table(result(), run)
    assert next(line for line in compared.splitlines() if line.startswith("longest restart")).split()[
        -3:
    ] == [
        "—",
        "10.00",
        "—",
    ]


def crashed_pod(uid: str, count: int, cid: str, started: float, finished: float) -> dict[str, Any]:
    status = backing_off(count, cid, started, finished)
    return {
        "metadata": {"namespace": "default", "name": "flaky", "uid": uid},
        "status": {"containerStatuses": [status]},
    }


def test_a_pod_created_again_under_its_name_keeps_its_attempts_apart_from_the_first() -> None:
    attempts: dict[str, dict[int, Attempt]] = {}
    record_attempts(attempts, crashed_pod("uid-1", 2, "sim://old", 30, 31))
    record_attempts(attempts, crashed_pod("uid-2", 1, "sim://new", 40, 41))  # deleted, then created again

    first, second = (attempt_key("default", "flaky", uid, "nginx") for uid in ("uid-1", "uid-2"))
    assert sorted(attempts) == [first, second]
    assert [a.container_id for a in attempts[first].values()] == ["sim://old"]
    assert [a.container_id for a in attempts[second].values()] == ["sim://new"]
    assert all(key.startswith("default/flaky/") for key in attempts)  # as backoff_check selects a pod
