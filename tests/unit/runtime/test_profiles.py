"""Choosing behaviour: image references and the catalogue, commands, annotation layers, and errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.runtime.api import ContainerConfig, ContainerResources
from services.runtime.behaviour import KEYS, BehaviourError
from services.runtime.catalogue import CATALOGUE, DEFAULT_IMAGE, image_profile, parse_reference
from services.runtime.commands import interpret
from services.runtime.profiles import annotation_layers, behaviour_for
from services.runtime.usage import CpuPattern
from shared.models import Pod, parse_object

DOCS = Path(__file__).parents[3] / "docs" / "simulation.md"

MI = 2**20


def config(
    image: str = "registry.example/app:1",
    name: str = "app",
    command: list[str] | None = None,
    args: list[str] | None = None,
    keys: dict[str, str] | None = None,
    **annotations: str,
) -> ContainerConfig:
    """A container; ``exit_after="5s"`` or ``keys={"app__exit_after": "5s"}`` become annotations."""
    annotations = {**(keys or {}), **annotations}
    return ContainerConfig(
        name=name,
        image=image,
        command=command or [],
        args=args or [],
        resources=ContainerResources(memory_limit_bytes=128 * MI),
        annotations={
            f"sim.kubenats.io/{k.replace('__', '.').replace('_', '-')}": v for k, v in annotations.items()
        },
    )


@pytest.mark.parametrize(
    ("image", "name", "canonical"),
    [
        ("nginx", "nginx", "docker.io/library/nginx:latest"),
        ("nginx:1.27-alpine", "nginx", "docker.io/library/nginx:1.27-alpine"),
        ("docker.io/library/nginx@sha256:abc", "nginx", "docker.io/library/nginx@sha256:abc"),
        ("bitnami/redis:7.2", "redis", "docker.io/bitnami/redis:7.2"),
        ("registry.k8s.io/pause:3.9", "pause", "registry.k8s.io/pause:3.9"),
        ("localhost:5000/team/Web:v1", "web", "localhost:5000/team/Web:v1"),
        ("mirror.local:5000/web/nginx", "nginx", "mirror.local:5000/web/nginx:latest"),
        ("localhost/busybox", "busybox", "localhost/busybox:latest"),
    ],
)
def test_image_reference_is_read_like_a_container_runtime(image: str, name: str, canonical: str) -> None:
    reference = parse_reference(image)
    assert (reference.name, reference.canonical()) == (name, canonical)


def test_catalogue_matches_any_registry_and_tag_and_unknown_images_get_the_default() -> None:
    assert image_profile("quay.io/mirror/postgres:16") is CATALOGUE["postgres"]
    assert image_profile("registry.k8s.io/pause:3.9") is CATALOGUE["pause"]
    assert image_profile("example.com/team/unheard-of:2") is DEFAULT_IMAGE


def test_every_catalogue_entry_resolves_to_a_behaviour() -> None:
    for name in CATALOGUE:
        behaviour = behaviour_for(config(image=f"{name}:latest", command=["serve"]))
        assert behaviour.exit_after is None, name


@pytest.mark.parametrize(
    ("command", "args", "shell", "settings", "lines"),
    [
        ([], [], True, {"exit-after": "0s", "exit-code": "0"}, ()),
        ([], [], False, {}, ()),
        (["sleep", "3600"], [], False, {"exit-after": "3600s", "exit-code": "0"}, ()),
        (["sleep"], ["30s"], True, {"exit-after": "30s", "exit-code": "0"}, ()),
        (["/bin/sleep", "infinity"], [], True, {"exit-after": "never", "exit-code": "0"}, ()),
        (["sh", "-c", "exit 1"], [], True, {"exit-after": "0s", "exit-code": "1"}, ()),
        (["/bin/sh", "-c"], ["sleep 5; exit 3"], True, {"exit-after": "5s", "exit-code": "3"}, ()),
        (
            ["sh", "-c", "echo hello world && sleep 2"],
            [],
            True,
            {"exit-after": "2s", "exit-code": "0"},
            ("hello world",),
        ),
        (["sh", "-c", "false"], [], True, {"exit-after": "0s", "exit-code": "1"}, ()),
        (["sh", "-c", "false && sleep 9"], [], True, {"exit-after": "0s", "exit-code": "1"}, ()),
        (["sh", "-c", "false || sleep 9"], [], True, {"exit-after": "9s", "exit-code": "0"}, ()),
        (["bash", "-c", "sleep 1\nsleep 2\nexit 300"], [], True, {"exit-after": "3s", "exit-code": "44"}, ()),
        (["sh", "-c", "while true; do sleep 1; done"], [], True, {}, ()),
        (["sh", "-c", "exit one"], [], True, {}, ()),
        (["sleep", "forever"], [], True, {}, ()),
        (["nginx", "-g", "daemon off;"], [], False, {}, ()),
    ],
)
def test_command_is_read_in_a_few_simple_forms(
    command: list[str], args: list[str], shell: bool, settings: dict[str, str], lines: tuple[str, ...]
) -> None:
    plan = interpret(command, args, shell)
    assert (plan.settings, plan.lines) == (settings, lines)


def test_annotations_split_into_pod_wide_and_this_containers_own() -> None:
    annotations = {
        "sim.kubenats.io/startup": "2s",
        "sim.kubenats.io/web.startup": "3s",
        "sim.kubenats.io/sidecar.startup": "4s",
        "example.com/startup": "9s",
    }
    pod_wide, own = annotation_layers(annotations, "web")
    assert {k: s.value for k, s in pod_wide.items()} == {"startup": "2s"}
    assert {k: (s.value, s.origin) for k, s in own.items()} == {
        "startup": ("3s", "sim.kubenats.io/web.startup")
    }


def test_layers_override_in_order_catalogue_command_pod_container() -> None:
    nginx = behaviour_for(config(image="nginx"))
    assert (nginx.startup, nginx.cpu.pattern, nginx.memory.base) == (0.3, CpuPattern.SPIKY, 8 * MI)
    assert nginx.start_lines == ("Configuration complete; ready for start up",)
    pod = behaviour_for(config(image="nginx", startup="2s", memory="64Mi"))
    assert (pod.startup, pod.memory.base) == (2.0, 64 * MI)
    own = behaviour_for(config(image="nginx", startup="2s", app__startup="5s"))
    assert own.startup == 5.0
    other = behaviour_for(config(image="nginx", startup="2s", sidecar__startup="5s"))
    assert other.startup == 2.0


def test_cpu_without_a_peak_is_flat_over_an_image_whose_cpu_spikes() -> None:
    flat = behaviour_for(config(image="nginx", cpu="150m"))
    assert (flat.cpu.at(0), flat.cpu.at(5)) == (150, 150)
    spiky = behaviour_for(config(image="nginx", cpu="150m", app__cpu_peak="1"))
    assert (spiky.cpu.at(0), spiky.cpu.at(5)) == (1000, 150)


def test_annotation_outcome_replaces_the_commands() -> None:
    sleeper = behaviour_for(config(image="busybox", command=["sleep", "60"]))
    assert (sleeper.exit_after, sleeper.exit_code) == (60.0, 0)
    crasher = behaviour_for(config(image="busybox", command=["sleep", "60"], crash_after="5s", exit_code="2"))
    assert (crasher.exit_after, crasher.exit_code) == (5.0, 2)
    forever = behaviour_for(config(image="busybox", exit_after="never"))
    assert forever.exit_after is None


@pytest.mark.parametrize(
    ("annotations", "exit_after", "exit_code"),
    [
        ({"crash_after": "5s"}, 5.0, 1),
        ({"exit_after": "5s"}, 5.0, 0),
        ({"exit_after": "5s", "exit_code": "3"}, 5.0, 3),
        ({"crash_after": "1m", "app__exit_after": "2s"}, 2.0, 0),
        ({"exit_code": "4", "app__crash_after": "2s"}, 2.0, 4),
        ({"crash_after": "1m", "exit_code": "4", "app__exit_after": "2s"}, 2.0, 0),
        ({}, None, 0),
    ],
)
def test_exit_and_crash_settle_when_and_with_which_code(
    annotations: dict[str, str], exit_after: float | None, exit_code: int
) -> None:
    behaviour = behaviour_for(config(keys=annotations))
    assert (behaviour.exit_after, behaviour.exit_code) == (exit_after, exit_code)


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ({"exit_after": "soon"}, "sim.kubenats.io/exit-after: invalid duration 'soon'"),
        ({"app__memory": "lots"}, "sim.kubenats.io/app.memory: invalid quantity 'lots'"),
        ({"cpu_pattern": "wavy"}, "sim.kubenats.io/cpu-pattern: invalid CPU pattern 'wavy'"),
        ({"cpu_period": "0s"}, "sim.kubenats.io/cpu-period: invalid period"),
        ({"exit_code": "999"}, "sim.kubenats.io/exit-code: invalid exit code"),
        ({"explode_after": "5s"}, "sim.kubenats.io/explode-after: unknown behaviour key 'explode-after'"),
        ({"app__bogus": "1"}, "sim.kubenats.io/app.bogus: unknown behaviour key"),
        ({"exit_after": "1s", "crash_after": "2s"}, "set only one of exit-after and crash-after"),
        ({"crash_after": "2s", "exit_code": "0"}, "sim.kubenats.io/exit-code: crash-after needs a non-zero"),
    ],
)
def test_bad_setting_is_reported_with_its_annotation_key(annotations: dict[str, str], message: str) -> None:
    with pytest.raises(BehaviourError) as caught:
        behaviour_for(config(keys=annotations))
    assert message in str(caught.value)


def test_another_containers_bad_setting_does_not_concern_this_one() -> None:
    assert behaviour_for(config(sidecar__memory="lots")).memory.base == 32 * MI


def test_every_key_and_image_is_documented() -> None:
    docs = DOCS.read_text()
    missing = [key for key in KEYS if f"`sim.kubenats.io/{key}`" not in docs]
    assert not missing
    assert all(f"`{name}`" in docs for name in CATALOGUE)


def test_documented_example_pod_behaves_as_its_comments_say() -> None:
    manifest = DOCS.read_text().split("```yaml\n", 1)[1].split("```", 1)[0]
    pod = parse_object(yaml.safe_load(manifest))
    assert isinstance(pod, Pod) and pod.spec is not None
    annotations = pod.metadata.annotations or {}
    behaviours = {}
    for c in pod.spec.containers:
        limit = c.resources.limits.get("memory") if c.resources else None
        resources = ContainerResources(memory_limit_bytes=limit.value() if limit else 0)
        configured = ContainerConfig(
            name=c.name,
            image=c.image or "",
            command=c.command or [],
            resources=resources,
            annotations=annotations,
        )
        behaviours[c.name] = (behaviour_for(configured), resources.memory_limit_bytes)
    app, app_limit = behaviours["app"]
    assert app.memory.exceeds_at(app_limit) == pytest.approx(31.2)
    assert (app.cpu.pattern, app.startup, app.ready_delay) == (CpuPattern.SINE, 2.0, 3.0)
    sidecar, _ = behaviours["sidecar"]
    assert (sidecar.exit_after, sidecar.exit_code) == (45.0, 1)
