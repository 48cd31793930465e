"""Pod logs without a bus: which container and instance is read, which lines, following without repeats."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import typer

from services.apiserver.logs import log_container, log_node
from services.apiserver.rest.logs import log_options
from services.kubelet.backoff import BackOff, BackOffPolicy
from services.kubelet.logs import current_instance, pick_container, previous_instance, select
from services.kubelet.records import ContainerRecord, PodRecord
from services.runtime.api import ContainerState, ContainerStatus
from shared.cli.logs import choose_container, pod_name
from shared.errors import ApiError
from shared.models import Container
from shared.podlogs import (
    LogEntry,
    LogFollower,
    NodeLogsRequest,
    PodLogOptions,
    PodLogs,
    render,
    rfc3339_nano,
)

Object = dict[str, object]


def pod(
    *containers: str,
    init: tuple[str, ...] = (),
    node: str = "worker-1",
    annotations: dict[str, str] | None = None,
) -> Object:
    return {
        "metadata": {"name": "web", "annotations": annotations or {}},
        "spec": {
            "nodeName": node,
            "containers": [{"name": c} for c in containers],
            "initContainers": [{"name": c} for c in init],
        },
    }


def instance(cid: str, attempt: int, state: ContainerState = ContainerState.EXITED) -> ContainerStatus:
    return ContainerStatus(
        id=cid, pod_sandbox_id="s1", name="app", image="img", attempt=attempt, state=state, created_at=0.0
    )


def container_record(
    current: ContainerStatus | None = None, last_exit: ContainerStatus | None = None, waiting: str = ""
) -> ContainerRecord:
    record = ContainerRecord(Container(name="app", image="img"), BackOff(BackOffPolicy()))
    record.current, record.last_exit, record.waiting_reason = current, last_exit, waiting
    record.container_id = current.id if current is not None else ""
    return record


def pod_record(*names: str) -> PodRecord:
    main = [ContainerRecord(Container(name=n, image="img"), BackOff(BackOffPolicy())) for n in names]
    return PodRecord("uid", "default", "web", [], main, datetime(2026, 1, 1, tzinfo=UTC), sandbox_id="s1")


# --- the API server picks the container and the node --------------------------------------------------


@pytest.mark.parametrize(
    ("the_pod", "wanted", "expected"),
    [
        (pod("app"), "", "app"),
        (pod("app", "sidecar"), "sidecar", "sidecar"),
        (pod("app", init=("setup",)), "setup", "setup"),
    ],
)
def test_log_container_defaults_to_the_only_one_or_takes_the_named_one(
    the_pod: Object, wanted: str, expected: str
) -> None:
    assert log_container(the_pod, wanted) == expected


@pytest.mark.parametrize(
    ("the_pod", "wanted", "message"),
    [
        (pod("app"), "nope", "container nope is not valid for pod web"),
        (pod("a", "b"), "", "a container name must be specified for pod web, choose one of: [a b]"),
        (
            pod("a", "b", init=("i",)),
            "",
            "a container name must be specified for pod web, choose one of: [a b] or one of the init "
            "containers: [i]",
        ),
    ],
)
def test_log_container_refuses_in_kubernetes_words(the_pod: Object, wanted: str, message: str) -> None:
    with pytest.raises(ApiError) as refused:
        log_container(the_pod, wanted)
    assert (refused.value.code, refused.value.message) == (400, message)


def test_an_unscheduled_pod_has_no_node_to_ask() -> None:
    assert log_node(pod("app")) == "worker-1"
    with pytest.raises(ApiError) as refused:
        log_node(pod("app", node=""))
    assert (refused.value.code, refused.value.message) == (400, "pod web does not have a host assigned")


# --- the kubelet picks the instance and the lines -------------------------------------------------------


def test_plain_read_is_the_current_instance_else_the_last_exited() -> None:
    running = instance("c2", 1, ContainerState.RUNNING)
    assert current_instance(container_record(running, instance("c1", 0)), "web") == "c2"
    assert current_instance(container_record(None, instance("c1", 0)), "web") == "c1"


@pytest.mark.parametrize(
    ("waiting", "shown"), [("", "ContainerCreating"), ("ErrImagePull", "image can't be pulled")]
)
def test_a_container_that_never_ran_is_waiting_to_start(waiting: str, shown: str) -> None:
    with pytest.raises(ApiError) as refused:
        current_instance(container_record(waiting=waiting), "web")
    assert refused.value.message == f'container "app" in pod "web" is waiting to start: {shown}'


def test_previous_is_the_recorded_last_exit_or_the_newest_exited_instance_in_the_sandbox() -> None:
    running = instance("c3", 2, ContainerState.RUNNING)
    in_sandbox = [instance("c1", 0), instance("c2", 1), running]
    assert previous_instance(container_record(running, instance("c2", 1)), "web", []) == "c2"
    # After a kubelet restart the record knows no last exit: the runtime still has it.
    assert previous_instance(container_record(running), "web", in_sandbox) == "c2"
    with pytest.raises(ApiError) as refused:
        previous_instance(container_record(running), "web", [running])
    assert refused.value.message == 'previous terminated container "app" in pod "web" not found'


def test_pick_container_names_the_choices_or_says_it_is_not_available() -> None:
    assert pick_container(pod_record("app"), "").name == "app"
    with pytest.raises(ApiError) as unnamed:
        pick_container(pod_record("a", "b"), "")
    with pytest.raises(ApiError) as unknown:
        pick_container(pod_record("a"), "nope")
    assert unnamed.value.code == 400 and "choose one of: [a b]" in unnamed.value.message
    assert (unknown.value.code, unknown.value.message) == (
        404,
        'container "nope" in pod "web" is not available',
    )


ENTRIES = [LogEntry(time=t, line=f"line {t:g}") for t in (10.0, 20.0, 30.0, 40.0)]


@pytest.mark.parametrize(
    ("options", "times"),
    [
        ({}, [10.0, 20.0, 30.0, 40.0]),
        ({"tailLines": 2}, [30.0, 40.0]),
        ({"tailLines": 0}, []),
        ({"sinceSeconds": 25}, [20.0, 30.0, 40.0]),  # now is 45
        ({"sinceTime": datetime.fromtimestamp(30, UTC)}, [30.0, 40.0]),
        ({"sinceExact": 20.0}, [20.0, 30.0, 40.0]),
        ({"sinceSeconds": 25, "tailLines": 1}, [40.0]),
    ],
)
def test_select_applies_the_time_bounds_then_the_tail(options: dict[str, object], times: list[float]) -> None:
    request = NodeLogsRequest.model_validate({"namespace": "default", "name": "web", **options})
    assert [e.time for e in select(ENTRIES, request, now=45.0)] == times


# --- rendering and following ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epoch", "text"),
    [
        (1767225600.0, "2026-01-01T00:00:00Z"),
        (1767225600.5, "2026-01-01T00:00:00.5Z"),
        (1767225600.123456, "2026-01-01T00:00:00.123456Z"),
    ],
)
def test_timestamps_are_rfc3339_nano_without_trailing_zeros(epoch: float, text: str) -> None:
    assert rfc3339_nano(epoch) == text


def test_render_prefixes_times_and_cuts_at_limit_bytes() -> None:
    entries = [LogEntry(time=1767225600.0, line="hello"), LogEntry(time=1767225601.0, line="world")]
    assert render(entries) == "hello\nworld\n"
    assert render(entries, timestamps=True).splitlines()[1] == "2026-01-01T00:00:01Z world"
    assert render(entries, limit_bytes=8) == "hello\nwo"


def logs(*times: float, running: bool = True) -> PodLogs:
    return PodLogs(
        container="app",
        container_id="c1",
        running=running,
        entries=[LogEntry(time=t, line=str(t)) for t in times],
    )


def test_follower_shows_each_line_once_even_when_lines_share_a_time() -> None:
    follower = LogFollower()
    first = follower.new_entries(logs(1.0, 2.0, 2.0))
    asked = follower.options(PodLogOptions(container="app", tail_lines=10))
    # The kubelet answers from sinceExact=2.0 on: the two lines at 2.0 again, and the new ones.
    second = follower.new_entries(logs(2.0, 2.0, 2.0, 3.0))
    third = follower.new_entries(logs(3.0))

    assert [e.time for e in first] == [1.0, 2.0, 2.0]
    assert (asked.since_exact, asked.tail_lines, asked.container_id) == (2.0, None, "c1")
    assert [e.time for e in second] == [2.0, 3.0]
    assert third == []


def test_follower_first_poll_keeps_the_callers_options() -> None:
    options = PodLogOptions(tail_lines=5, since_seconds=60)
    assert LogFollower().options(options) == options


# --- REST query and CLI choices ------------------------------------------------------------------------


def test_rest_query_becomes_pod_log_options() -> None:
    query = {
        "container": "app",
        "tailLines": "3",
        "timestamps": "true",
        "follow": "true",
        "previous": "false",
    }
    options, follow = log_options(query)
    assert follow and options == PodLogOptions(container="app", tail_lines=3, timestamps=True)


@pytest.mark.parametrize(
    "query",
    [{"sinceSeconds": "5", "sinceTime": "2026-01-01T00:00:00Z"}, {"sinceSeconds": "0"}, {"tailLines": "x"}],
)
def test_rest_query_with_bad_values_is_refused(query: dict[str, str]) -> None:
    with pytest.raises(ApiError) as refused:
        log_options(query)
    assert refused.value.code in (400, 422)


@pytest.mark.parametrize(
    ("the_pod", "wanted", "chosen", "note"),
    [
        (pod("app"), "", "app", ""),
        (pod("a", "b"), "", "a", 'Defaulted container "a" out of: a, b'),
        (pod("a", "b", annotations={"kubectl.kubernetes.io/default-container": "b"}), "", "b", ""),
        (pod("a", "b"), "b", "b", ""),
    ],
)
def test_cli_chooses_the_container_as_kubectl_does(
    the_pod: Object, wanted: str, chosen: str, note: str
) -> None:
    assert choose_container(the_pod, wanted) == (chosen, note)


def test_cli_refuses_a_container_the_pod_does_not_have() -> None:
    with pytest.raises(typer.Exit):
        choose_container(pod("app"), "nope")


@pytest.mark.parametrize(("argument", "name"), [("web", "web"), ("pod/web", "web"), ("po/web", "web")])
def test_cli_takes_a_pod_name_or_pod_slash_name(argument: str, name: str) -> None:
    assert pod_name(argument) == name
