"""Choosing a container's behaviour: its image's catalogue entry, its command, then the pod's annotations.

Layers, lowest first, each overriding the one before (``behaviour.merge``):

1. the image catalogue (``catalogue.image_profile``), or the default profile for an unknown image;
2. what the command says (``commands.interpret``: ``sleep 30``, ``sh -c "exit 1"``);
3. ``sim.kubenats.io/<key>`` annotations, for every container of the pod;
4. ``sim.kubenats.io/<container>.<key>`` annotations, for one container.

A container name is a DNS label and has no dot, so the first dot of the name part separates the
container from the key.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.runtime.api import ContainerConfig
from services.runtime.behaviour import Behaviour, Layer, Setting, resolve
from services.runtime.catalogue import image_profile, parse_reference
from services.runtime.commands import interpret

PREFIX = "sim.kubenats.io/"


def annotation_layers(annotations: Mapping[str, str], container: str) -> tuple[Layer, Layer]:
    """The pod-wide and the container's own settings among ``annotations``."""
    pod_wide: dict[str, Setting] = {}
    own: dict[str, Setting] = {}
    for name, value in annotations.items():
        if not name.startswith(PREFIX):
            continue
        target, dot, key = name[len(PREFIX) :].partition(".")
        if not dot:
            pod_wide[target] = Setting(value, name)
        elif target == container:
            own[key] = Setting(value, name)
    return pod_wide, own


def behaviour_for(config: ContainerConfig) -> Behaviour:
    """The behaviour of the container ``config`` describes; raises ``BehaviourError`` naming the key."""
    reference = parse_reference(config.image)
    profile = image_profile(config.image)
    origin = f"image catalogue ({reference.name})"
    catalogue = {key: Setting(value, origin) for key, value in profile.settings.items()}
    plan = interpret(config.command, config.args, profile.shell)
    command = {key: Setting(value, "command") for key, value in plan.settings.items()}
    pod_wide, own = annotation_layers(config.annotations, config.name)
    return resolve([catalogue, command, pod_wide, own], start_lines=(*profile.greeting, *plan.lines))
