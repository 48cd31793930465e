"""``kubenats describe``: an object in kubectl's describe layout, with the events about it.

The layout is kubectl's: ``Key:  value`` lines with aligned values, indented sections (Containers,
Conditions, Capacity…), and the object's Events last (``Type  Reason  Age  From  Message``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from shared.apiclient import ApiClient, resource
from shared.cli.connection import ServerOption, StateDirOption, TokenOption, fail, resolve, run
from shared.cli.main import app
from shared.cli.objects import NamespaceOption
from shared.cli.resources import UnknownResourceError, split_type_and_name
from shared.tables import node_status, parse_time, pod_status, since, utcnow

EVENTS = resource("", "v1", "events")

Object = dict[str, Any]
Lines = list[str]


def _pairs(lines: Lines, pairs: list[tuple[str, Any]], indent: int = 0) -> None:
    width = max((len(k) for k, _ in pairs), default=0) + 2
    for key, value in pairs:
        lines.append(
            " " * indent + f"{key}:".ljust(width) + ("<none>" if value in (None, "", {}) else str(value))
        )


def _map(values: dict[str, str] | None, indent: int) -> str:
    if not values:
        return "<none>"
    pad = "\n" + " " * indent
    return pad.join(f"{k}={v}" for k, v in sorted(values.items()))


def _header(obj: Object) -> list[tuple[str, Any]]:
    meta = obj.get("metadata", {})
    pairs: list[tuple[str, Any]] = [("Name", meta.get("name"))]
    if meta.get("namespace"):
        pairs.append(("Namespace", meta["namespace"]))
    pairs += [("Labels", _map(meta.get("labels"), 14)), ("Annotations", _map(meta.get("annotations"), 14))]
    return pairs


def _container_lines(lines: Lines, pod: Object) -> None:
    statuses = {c.get("name"): c for c in pod.get("status", {}).get("containerStatuses") or []}
    lines.append("Containers:")
    for container in pod.get("spec", {}).get("containers") or []:
        status = statuses.get(container.get("name"), {})
        state = status.get("state") or {}
        which = next(iter(state), "waiting")
        detail = state.get(which) or {}
        lines.append(f"  {container.get('name')}:")
        pairs: list[tuple[str, Any]] = [
            ("Container ID", status.get("containerID")),
            ("Image", container.get("image")),
            ("State", which.capitalize()),
        ]
        if detail.get("reason"):
            pairs.append(("  Reason", detail["reason"]))
        if "exitCode" in detail:
            pairs.append(("  Exit Code", detail["exitCode"]))
        pairs += [
            ("Ready", status.get("ready", False)),
            ("Restart Count", status.get("restartCount", 0)),
            ("Requests", _map(container.get("resources", {}).get("requests"), 6)),
            ("Limits", _map(container.get("resources", {}).get("limits"), 6)),
        ]
        _pairs(lines, pairs, 4)


def _conditions(lines: Lines, obj: Object) -> None:
    conditions = obj.get("status", {}).get("conditions") or []
    if conditions:
        lines.append("Conditions:")
        lines.append("  Type              Status  Reason")
        for c in conditions:
            lines.append(f"  {c.get('type', ''):<17} {c.get('status', ''):<7} {c.get('reason', '')}".rstrip())


def describe_pod(pod: Object) -> Lines:
    spec, status = pod.get("spec", {}), pod.get("status", {})
    lines: Lines = []
    pairs = _header(pod)
    pairs[2:2] = [("Node", spec.get("nodeName")), ("Start Time", status.get("startTime"))]
    pairs += [("Status", pod_status(pod)), ("IP", status.get("podIP")), ("QoS Class", status.get("qosClass"))]
    _pairs(lines, pairs)
    _container_lines(lines, pod)
    _conditions(lines, pod)
    return lines


def describe_node(node: Object) -> Lines:
    status = node.get("status", {})
    lines: Lines = []
    taints = [
        f"{t.get('key')}={t.get('value', '')}:{t.get('effect')}"
        for t in node.get("spec", {}).get("taints") or []
    ]
    pairs = _header(node)
    pairs += [
        ("Taints", "\n              ".join(taints) or "<none>"),
        ("Unschedulable", bool(node.get("spec", {}).get("unschedulable"))),
        ("Status", node_status(node)),
    ]
    _pairs(lines, pairs)
    _conditions(lines, node)
    for section in ("capacity", "allocatable"):
        lines.append(f"{section.capitalize()}:")
        _pairs(lines, sorted((status.get(section) or {}).items()), 2)
    return lines


def describe_deployment(deployment: Object) -> Lines:
    spec, status = deployment.get("spec", {}), deployment.get("status", {})
    lines: Lines = []
    pairs = _header(deployment)
    replicas = (
        f"{spec.get('replicas', 1)} desired | {status.get('updatedReplicas', 0)} updated | "
        f"{status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available | "
        f"{status.get('unavailableReplicas', 0)} unavailable"
    )
    strategy = spec.get("strategy", {})
    pairs += [
        ("Selector", _map(spec.get("selector", {}).get("matchLabels"), 14)),
        ("Replicas", replicas),
        ("StrategyType", strategy.get("type", "RollingUpdate")),
        ("MinReadySeconds", spec.get("minReadySeconds", 0)),
    ]
    _pairs(lines, pairs)
    _conditions(lines, deployment)
    return lines


def describe_generic(obj: Object) -> Lines:
    lines: Lines = []
    _pairs(lines, _header(obj))
    return lines


def event_lines(events: list[Object], now: datetime) -> Lines:
    if not events:
        return ["Events:  <none>"]
    ordered = sorted(events, key=lambda e: parse_time(_last(e)) or now)
    rows = [[e.get("type", ""), e.get("reason", ""), _age(e, now), _source(e), _message(e)] for e in ordered]
    titles = ["Type", "Reason", "Age", "From", "Message"]
    widths = [max(len(str(r[i])) for r in [titles, *rows]) for i in range(4)]
    out = ["Events:"]
    for row in [titles, ["-" * len(t) for t in titles], *rows]:
        out.append(
            "  " + "  ".join(str(c).ljust(w) for c, w in zip(row[:4], widths, strict=True)) + f"  {row[4]}"
        )
    return out


def _age(event: Object, now: datetime) -> str:
    """``10s``, or for an event seen several times kubectl's ``10s (x3 over 40s)``."""
    count = int(event.get("count") or 1)
    last = since(_last(event), now)
    first = event.get("firstTimestamp") or event.get("eventTime")
    return f"{last} (x{count} over {since(first, now)})" if count > 1 and first else last


def _message(event: Object) -> str:
    """The message, after the container it is about (``spec.containers{web}: Container created``)."""
    field_path = event.get("involvedObject", {}).get("fieldPath", "")
    message = str(event.get("message", ""))
    return f"{field_path}: {message}" if field_path else message


def _last(event: Object) -> str | None:
    created = event.get("metadata", {}).get("creationTimestamp")
    value = event.get("lastTimestamp") or event.get("eventTime") or created
    return str(value) if value else None


def _source(event: Object) -> str:
    return str(event.get("source", {}).get("component") or event.get("reportingComponent") or "")


def _about(event: Object, kind: str, name: str) -> bool:
    involved = event.get("involvedObject", {})
    return bool(involved.get("kind") == kind and involved.get("name") == name)


DESCRIBERS = {"pods": describe_pod, "nodes": describe_node, "deployments": describe_deployment}


@app.command()
def describe(
    arguments: Annotated[list[str], typer.Argument(help="TYPE NAME or TYPE/NAME")],
    namespace: NamespaceOption = "",
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Show an object in detail, with the events about it."""
    try:
        targets = split_type_and_name(arguments)
    except UnknownResourceError as error:
        raise fail(str(error)) from None

    async def action(client: ApiClient) -> None:
        for rt, name in targets:
            if not name:
                raise fail("describe needs a name: TYPE NAME or TYPE/NAME")
            ns = (namespace or "default") if rt.namespaced else ""
            obj = await client.get(rt, name, ns)
            events = await client.list(EVENTS, ns or "default")
            lines = DESCRIBERS.get(rt.plural, describe_generic)(obj)
            items = [e for e in events["items"] if _about(e, rt.kind, name)]
            typer.echo("\n".join([*lines, *event_lines(items, utcnow())]))

    run(resolve(server, token, state_dir), action)
