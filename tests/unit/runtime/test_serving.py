"""How a simulated container answers requests on its pod's address, and what traffic it sends."""

from __future__ import annotations

import pytest

from services.runtime.behaviour import ServeMode, TrafficTarget
from services.runtime.core import RuntimeCore
from tests.unit.runtime.test_core import container, new_core, pod, sim, started


def serving(annotations: dict[str, str], image: str = "example.com/app:1") -> tuple[RuntimeCore, str]:
    core = new_core()
    config = container(image=image, annotations={**sim(startup="1s"), **annotations})
    config.ports = [8080]
    return core, started(core, config)


def test_a_running_container_echoes_after_its_latency() -> None:
    core, cid = serving(sim(serve_latency="20ms"))
    answer = core.answer(cid, now=5.0, draw=0.5, spread=0.5)
    assert (answer.refused, answer.failed, answer.body, answer.delay) == ("", False, None, 0.02)


def test_jitter_adds_up_to_its_value() -> None:
    core, cid = serving(sim(serve_latency="10ms", serve_jitter="10ms"))
    assert core.answer(cid, 5.0, draw=0.9, spread=0.0).delay == pytest.approx(0.010)
    assert core.answer(cid, 5.0, draw=0.9, spread=0.99).delay == pytest.approx(0.0199)


def test_fixed_mode_answers_its_body_and_off_refuses() -> None:
    fixed, fixed_id = serving(sim(serve="fixed", serve_body="hello"))
    off, off_id = serving(sim(serve="off"))
    assert fixed.answer(fixed_id, 5.0, 0.5, 0.5).body == b"hello"
    assert "not listening" in off.answer(off_id, 5.0, 0.5, 0.5).refused


def test_error_rate_fails_the_requests_whose_draw_falls_under_it() -> None:
    core, cid = serving(sim(serve_error_rate="0.25"))
    assert core.answer(cid, 5.0, draw=0.2, spread=0.0).failed
    assert not core.answer(cid, 5.0, draw=0.3, spread=0.0).failed


def test_nothing_answers_while_starting_or_after_exit() -> None:
    core, cid = serving(sim(exit_after="10s"))
    assert "starting" in core.answer(cid, now=0.5, draw=0.5, spread=0.5).refused
    assert core.answer(cid, now=5.0, draw=0.5, spread=0.5).refused == ""
    assert "not running" in core.answer(cid, now=10.5, draw=0.5, spread=0.5).refused
    assert "no such container" in core.answer("gone", now=1.0, draw=0.5, spread=0.5).refused


def test_serving_names_the_pod_ip_and_ports() -> None:
    core = new_core()
    sandbox = core.run_pod_sandbox(pod().model_copy(update={"ip": "10.244.1.5"}), 0.0)
    core.pull_image("example.com/app:1", 0.0)
    config = container()
    config.ports = [80, 9090]
    cid = core.create_container(sandbox, config, 100.0)
    found = core.serving(cid)
    assert found is not None and found[:2] == ("10.244.1.5", [80, 9090])


@pytest.mark.parametrize(
    ("value", "target"),
    [
        ("db", TrafficTarget("", "db", "")),
        ("shop/db:5432", TrafficTarget("shop", "db", "5432")),
        ("db:http", TrafficTarget("", "db", "http")),
    ],
)
def test_traffic_targets_parse(value: str, target: TrafficTarget) -> None:
    core, cid = serving(sim(traffic_to=value, traffic_rate="5/s"))
    behaviour = core.serving(cid)
    assert behaviour is not None
    traffic = behaviour[2].behaviour.traffic
    assert traffic is not None and traffic.target == target and traffic.rate == 5.0
    assert behaviour[2].behaviour.serve.mode is ServeMode.ECHO


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        (sim(serve="loud"), "invalid serve mode 'loud'"),
        (sim(serve_error_rate="2"), "invalid fraction '2'"),
        (sim(traffic_rate="0"), "invalid rate '0'"),
    ],
)
def test_bad_serving_keys_are_refused_naming_the_key(annotations: dict[str, str], message: str) -> None:
    core = new_core()
    sandbox = core.run_pod_sandbox(pod(), 0.0)
    core.pull_image("example.com/app:1", 0.0)
    with pytest.raises(Exception, match=message):
        core.create_container(sandbox, container(annotations=annotations), 100.0)
