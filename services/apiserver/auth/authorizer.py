"""Role-based authorization: the cluster's policy as a table of rules, and the decision for one request.

The policy follows Kubernetes' RBAC model: a :class:`ClusterRole` is a list of :class:`PolicyRule` (verbs ×
API groups × resources, optionally narrowed to namespaces and object names) and a
:class:`ClusterRoleBinding` grants a role to users and groups. A request is allowed when any rule of any
role bound to its user allows it; nothing is allowed otherwise, and there are no deny rules.

One addition stands in for Kubernetes' Node authorizer and NodeRestriction admission plugin: a binding may
name *nodes* as its subject — users ``system:node:<node>`` in group ``system:nodes`` — and a rule may be
limited to the requesting node's own objects (:class:`Only`). Whether a pod is bound to the node comes
from a :data:`PodLookup` the API server provides.

To add permissions, edit :data:`DEFAULT_ROLES` / :data:`DEFAULT_BINDINGS`; the evaluator does not change.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

from shared.errors import ApiError

from .tokens import UserInfo

# The verbs of ARCHITECTURE.md §3. A subresource request uses one of these plus ``subresource``: binding a
# pod is ``create`` on ``pods/binding``, writing status is ``update``/``patch`` on ``<resource>/status``,
# an eviction is ``create`` on ``pods/eviction``, reading or setting scale is ``get``/``update``/``patch``
# on ``<resource>/scale``. ``watch`` and ``list`` are distinct verbs, as in Kubernetes, and so are ``delete``
# (one object) and ``deletecollection`` (what a list selects).
VERBS: frozenset[str] = frozenset(
    {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
)
READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete")
ALL = "*"

# API group names are Kubernetes' own: "" for the legacy core group (the subject token ``core``, which the
# API server maps to "" before it asks), "apps", "discovery.k8s.io", "coordination.k8s.io".
CORE = ""
APPS = "apps"
DISCOVERY = "discovery.k8s.io"
COORDINATION = "coordination.k8s.io"

MASTERS_GROUP = "system:masters"
VIEWERS_GROUP = "system:viewers"
NODES_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"
SCHEDULER_USER = "system:kube-scheduler"
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
NODE_LEASE_NAMESPACE = "kube-node-lease"
SYSTEM_NAMESPACE = "kube-system"
# Leader-election Leases in kube-system, named as Kubernetes names them.
SCHEDULER_LEASE = "kube-scheduler"
CONTROLLER_MANAGER_LEASE = "kube-controller-manager"

PodLookup = Callable[[str, str], str | None]
"""``(namespace, name) -> spec.nodeName`` of the pod as the API server currently knows it; None (or "")
when the pod does not exist or is not bound. Called only for a node's request on a single pod."""


@dataclass(frozen=True)
class Attributes:
    """What one request asks to do, as Kubernetes' ``authorizer.Attributes`` for a resource request.

    ``namespace`` is "" for cluster-scoped resources and for list/watch across all namespaces. ``name`` is
    "" for list and watch; for ``create`` it is the name in the submitted object (""
    with ``generateName``) — Kubernetes' authorizer cannot see that name, which is why it needs the
    NodeRestriction admission plugin to stop a node creating another node's objects; here the rule checks it.
    """

    user: UserInfo
    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def full_resource(self) -> str:
        """``pods`` or ``pods/status``: the form rules and messages use."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    """Why, for logs and audit: the binding that allowed, or what was missing. Not sent to clients."""


class Only(enum.Enum):
    """A limit a rule puts on the object, relative to the node making the request."""

    ANY = "any"
    OWN_NODE = "own-node"
    """The object's name is the requesting node's name: its Node, or its Lease in ``kube-node-lease``."""
    POD_ON_OWN_NODE = "pod-on-own-node"
    """The object is a pod (or a pod subresource) whose ``spec.nodeName`` is the requesting node."""


def _set(values: str | Iterable[str]) -> frozenset[str]:
    return frozenset((values,) if isinstance(values, str) else values)


@dataclass(frozen=True)
class PolicyRule:
    """Verbs × API groups × resources (``"pods"``, ``"pods/status"``; ``"*"`` for all), optionally narrowed.

    ``namespaces`` and ``names`` are None for "any"; a rule with ``names`` never matches a request without
    a name (list, watch), exactly like RBAC's ``resourceNames``. ``only`` limits the rule to the requesting
    node's objects and can only be granted to nodes (checked by :class:`ClusterRoleBinding`).
    """

    verbs: frozenset[str]
    groups: frozenset[str]
    resources: frozenset[str]
    namespaces: frozenset[str] | None = None
    names: frozenset[str] | None = None
    only: Only = Only.ANY

    def __post_init__(self) -> None:
        unknown = self.verbs - VERBS - {ALL}
        if unknown:
            raise ValueError(f"unknown verbs {sorted(unknown)} in rule {self}")
        if not self.verbs or not self.groups or not self.resources:
            raise ValueError(f"a rule needs verbs, groups and resources: {self}")
        if self.only is Only.POD_ON_OWN_NODE and (
            self.groups != {CORE} or any(r.partition("/")[0] != "pods" for r in self.resources)
        ):
            raise ValueError(f"{self.only} applies to core pods only: {self}")

    def matches(self, attrs: Attributes) -> bool:
        """Verb, group, resource, namespace and name match; :attr:`only` is checked by the authorizer."""
        return (
            _matches(self.verbs, attrs.verb)
            and _matches(self.groups, attrs.group)
            and _resource_matches(self.resources, attrs)
            and (self.namespaces is None or attrs.namespace in self.namespaces)
            and (self.names is None or (attrs.name != "" and attrs.name in self.names))
        )


def rule(
    verbs: str | Iterable[str],
    resources: str | Iterable[str],
    group: str | Iterable[str] = CORE,
    *,
    namespaces: str | Iterable[str] | None = None,
    names: str | Iterable[str] | None = None,
    only: Only = Only.ANY,
) -> PolicyRule:
    """Build a :class:`PolicyRule`; a single string stands for a one-element set."""
    return PolicyRule(
        verbs=_set(verbs),
        groups=_set(group),
        resources=_set(resources),
        namespaces=None if namespaces is None else _set(namespaces),
        names=None if names is None else _set(names),
        only=only,
    )


def _matches(allowed: Collection[str], value: str) -> bool:
    return ALL in allowed or value in allowed


def _resource_matches(allowed: Collection[str], attrs: Attributes) -> bool:
    # As RBAC: "*" is every resource and subresource, "pods" is the pods resource only (not pods/status).
    return ALL in allowed or attrs.full_resource in allowed


@dataclass(frozen=True)
class ClusterRole:
    name: str
    rules: tuple[PolicyRule, ...]


@dataclass(frozen=True)
class ClusterRoleBinding:
    """Grants ``role`` to the listed users and groups, and with ``nodes`` to every identified node."""

    name: str
    role: ClusterRole
    users: frozenset[str] = field(default_factory=frozenset)
    groups: frozenset[str] = field(default_factory=frozenset)
    nodes: bool = False

    def __post_init__(self) -> None:
        node_relative = any(r.only is not Only.ANY for r in self.role.rules)
        if node_relative and (self.users or self.groups):
            # An Only.* rule means nothing for a subject that is not a node; binding it to users would
            # silently grant nothing, so refuse the table instead.
            raise ValueError(f"binding {self.name}: role {self.role.name} has node-relative rules")

    def subject_for(self, user: UserInfo, node: str | None) -> str | None:
        """How ``user`` is a subject of this binding (``User "x"``, ``Group "g"``, ``Node "n"``), or None."""
        if user.name in self.users:
            return f"User {user.name!r}"
        for group in user.groups:
            if group in self.groups:
                return f"Group {group!r}"
        if self.nodes and node is not None:
            return f"Node {node!r}"
        return None


def node_name(user: UserInfo) -> str | None:
    """The node a user acts for: ``worker-1`` for ``system:node:worker-1`` in ``system:nodes``, else None.

    Both halves are required, as in Kubernetes' ``NodeIdentity``: the name alone could be given to anyone in
    the token file, and the group alone does not say which node.
    """
    if not user.name.startswith(NODE_USER_PREFIX) or not user.in_group(NODES_GROUP):
        return None
    return user.name.removeprefix(NODE_USER_PREFIX) or None


# --- the policy -------------------------------------------------------------------------------------------

CLUSTER_ADMIN = ClusterRole("cluster-admin", (rule(ALL, ALL, ALL),))

VIEWER = ClusterRole("viewer", (rule(READ, ALL, ALL),))

# Kubernetes' system:kube-scheduler role (bootstrappolicy/policy.go), reduced to the resources kubenats
# serves. Deliberately not included: `delete pods`, which Kubernetes grants for preemption — kubenats'
# scheduler does not preempt; add it here when it does. Deployments are not read by the scheduler.
KUBE_SCHEDULER = ClusterRole(
    "system:kube-scheduler",
    (
        rule(("create", "update", "patch"), "events"),
        # Leader election on the Lease kube-system/kube-scheduler, and on no other lease.
        rule(
            ("get", "create", "update"),
            "leases",
            COORDINATION,
            namespaces=SYSTEM_NAMESPACE,
            names=SCHEDULER_LEASE,
        ),
        rule(READ, ("nodes", "pods", "namespaces", "services")),
        rule(READ, "replicasets", APPS),
        rule("create", "pods/binding"),
        # The PodScheduled=False condition on a pod that fits nowhere.
        rule(("update", "patch"), "pods/status"),
    ),
)

# One identity for every controller in the manager, so the role is the union of what Kubernetes gives the
# per-controller service accounts (controller_policy.go) for the resources kubenats serves.
_SERVED = {
    CORE: ("pods", "nodes", "namespaces", "services", "events"),
    APPS: ("replicasets", "deployments"),
    DISCOVERY: ("endpointslices",),
    COORDINATION: ("leases",),
}
KUBE_CONTROLLER_MANAGER = ClusterRole(
    "system:kube-controller-manager",
    (
        # Shared informers, and the garbage collector's reads of any owner or dependent.
        *(rule(READ, resources, group) for group, resources in _SERVED.items()),
        # ReplicaSet controller creates and deletes pods and adopts or releases them (ownerReferences);
        # Deployment controller does the same with replica sets; EndpointSlice controller with slices.
        rule(WRITE, ("pods", "events")),
        rule(WRITE, "replicasets", APPS),
        rule(WRITE, "endpointslices", DISCOVERY),
        # Garbage collector (orphaning rewrites ownerReferences; cascading deletes dependents of any kind)
        # and namespace controller (deletes everything in a deleted namespace). Nothing here creates
        # deployments, services or leases.
        rule(("update", "patch", "delete"), "deployments", APPS),
        rule(("update", "patch", "delete"), "services"),
        rule(("update", "patch", "delete"), "leases", COORDINATION),
        # Status each controller owns: pods (node lifecycle marks pods of a lost node not ready), replica
        # sets, deployments, namespaces (phase Terminating and its conditions).
        rule(("update", "patch"), ("pods/status", "namespaces/status")),
        rule(("update", "patch"), ("replicasets/status", "deployments/status"), APPS),
        # Node lifecycle: the Ready=Unknown condition (status) and the unreachable/not-ready taints (spec).
        rule(("update", "patch"), ("nodes", "nodes/status")),
        # Node lifecycle evicts pods whose toleration has run out.
        rule("create", "pods/eviction"),
        # Namespace controller: Kubernetes' role lets it delete the collections of every resource (its
        # namespace-controller service account has deletecollection on */*), which is how it empties a
        # deleted namespace.
        *(rule("deletecollection", resources, group) for group, resources in _SERVED.items()),
        # Namespace controller: drop the finalizer once the namespace is empty, then remove it.
        rule("update", "namespaces/finalize"),
        rule("delete", "namespaces"),
        # Leader election on kube-system/kube-controller-manager. Reads and GC already cover get and update;
        # they are repeated so that narrowing those rules later cannot break leader election.
        rule(
            ("get", "create", "update"),
            "leases",
            COORDINATION,
            namespaces=SYSTEM_NAMESPACE,
            names=CONTROLLER_MANAGER_LEASE,
        ),
    ),
)

# Kubernetes' system:node rules as its Node authorizer and NodeRestriction admission plugin narrow them,
# for the resources kubenats serves. Reads are not narrowed (a kubelet and the node's kube-proxy list
# pods, services and slices cluster-wide; Kubernetes' AuthorizeNodeWithSelectors would need field
# selectors in Attributes). No node may touch another node's Node, Lease or pods.
NODE = ClusterRole(
    "system:node",
    (
        rule(READ, ("nodes", "pods", "services")),
        rule(READ, "endpointslices", DISCOVERY),
        # Register, then keep its own Node object and its status current.
        rule(("create", "update", "patch"), "nodes", only=Only.OWN_NODE),
        rule(("update", "patch"), "nodes/status", only=Only.OWN_NODE),
        # Heartbeat: its own Lease in kube-node-lease.
        rule(
            ("get", "create", "update"),
            "leases",
            COORDINATION,
            namespaces=NODE_LEASE_NAMESPACE,
            only=Only.OWN_NODE,
        ),
        # Status of the pods it runs, and the final delete after graceful termination.
        rule(("update", "patch"), "pods/status", only=Only.POD_ON_OWN_NODE),
        rule("delete", "pods", only=Only.POD_ON_OWN_NODE),
        # As Kubernetes: update and patch too, because an event recorder folds repeats into one event.
        rule(("create", "update", "patch"), "events"),
    ),
)

DEFAULT_ROLES: tuple[ClusterRole, ...] = (
    CLUSTER_ADMIN,
    VIEWER,
    KUBE_SCHEDULER,
    KUBE_CONTROLLER_MANAGER,
    NODE,
)

DEFAULT_BINDINGS: tuple[ClusterRoleBinding, ...] = (
    ClusterRoleBinding("cluster-admin", CLUSTER_ADMIN, groups=frozenset({MASTERS_GROUP})),
    ClusterRoleBinding("viewer", VIEWER, groups=frozenset({VIEWERS_GROUP})),
    ClusterRoleBinding("system:kube-scheduler", KUBE_SCHEDULER, users=frozenset({SCHEDULER_USER})),
    ClusterRoleBinding(
        "system:kube-controller-manager", KUBE_CONTROLLER_MANAGER, users=frozenset({CONTROLLER_MANAGER_USER})
    ),
    ClusterRoleBinding("system:node", NODE, nodes=True),
)


# --- evaluation -------------------------------------------------------------------------------------------


class Authorizer:
    """Decides requests against a list of bindings; pure and synchronous, safe to share between tasks.

    ``pod_lookup`` answers "which node is this pod bound to" for node-relative rules. It is called at most
    once per decision and only for a node's request on one named pod. A lookup backed by a watch cache can
    lag: a pod bound a moment ago may not be there yet (the node is refused and retries), and a pod deleted
    and recreated under the same name may still show the old binding — where that matters, check again
    against the object read for the write.
    """

    def __init__(
        self, pod_lookup: PodLookup, bindings: Sequence[ClusterRoleBinding] = DEFAULT_BINDINGS
    ) -> None:
        self._pod_lookup = pod_lookup
        self._bindings = tuple(bindings)

    def authorize(self, attrs: Attributes) -> Decision:
        if attrs.verb not in VERBS:
            return Decision(False, f"unknown verb {attrs.verb!r}")
        node = node_name(attrs.user)
        refusal = "no rule of any role bound to the user allows it"
        bound_to: list[str | None] = []  # the pod lookup's answer, memoised for this decision
        for binding in self._bindings:
            subject = binding.subject_for(attrs.user, node)
            if subject is None:
                continue
            for policy_rule in binding.role.rules:
                if not policy_rule.matches(attrs):
                    continue
                why_not = self._node_limit(policy_rule.only, attrs, node, bound_to)
                if why_not is None:
                    return Decision(
                        True,
                        f"allowed by ClusterRoleBinding {binding.name!r} of ClusterRole "
                        f"{binding.role.name!r} to {subject}",
                    )
                refusal = why_not
        return Decision(False, refusal)

    def _node_limit(
        self, only: Only, attrs: Attributes, node: str | None, bound_to: list[str | None]
    ) -> str | None:
        """None when the rule's node limit holds for this request, else why it does not."""
        if only is Only.ANY:
            return None
        if node is None:
            return "the rule applies to nodes only"
        if only is Only.OWN_NODE:
            return None if attrs.name == node else f"node {node!r} can only access objects named {node!r}"
        if not attrs.name:
            return f"node {node!r} can only act on individual pods bound to it"
        if not bound_to:
            bound_to.append(self._pod_lookup(attrs.namespace, attrs.name))
        if bound_to[0] != node:
            return f"pod {attrs.namespace}/{attrs.name} is not bound to node {node!r}"
        return None

    def ensure_allowed(self, attrs: Attributes) -> Decision:
        """The allowing decision, or ``ApiError(403)`` in Kubernetes' words (see :func:`forbidden`)."""
        decision = self.authorize(attrs)
        if not decision.allowed:
            raise forbidden(attrs)
        return decision


def forbidden_message(attrs: Attributes) -> str:
    """Kubernetes' 403 message for a refused resource request, word for word.

    ``pods "web-0" is forbidden: User "system:node:worker-1" cannot update resource "pods/status" in API
    group "" in the namespace "default"``; ``nodes is forbidden: User "u" cannot list resource "nodes" in
    API group "" at the cluster scope``; ``deployments.apps "web" is forbidden: …``.
    """
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    name = _shown_name(attrs)
    subject = f"{qualified} {_quote(name)}" if name else qualified
    scope = f"in the namespace {_quote(attrs.namespace)}" if attrs.namespace else "at the cluster scope"
    return (
        f"{subject} is forbidden: User {_quote(attrs.user.name)} cannot {attrs.verb} resource "
        f"{_quote(attrs.full_resource)} in API group {_quote(attrs.group)} {scope}"
    )


def forbidden(attrs: Attributes) -> ApiError:
    """``ApiError(403)``, reason ``Forbidden``, with Kubernetes' message and ``details`` (group, kind, name).

    The decision's reason is left out of the message on purpose: it can say whether a pod exists or where
    it runs, which is for the server's log, not for the client that was refused.
    """
    details = {"group": attrs.group, "kind": attrs.resource, "name": _shown_name(attrs)}
    # Kubernetes' StatusDetails drops empty fields (omitempty).
    return ApiError(
        403, forbidden_message(attrs), reason="Forbidden", details={k: v for k, v in details.items() if v}
    )


def _shown_name(attrs: Attributes) -> str:
    # Kubernetes only knows a name when it is in the URL, which a plain create's is not; keep its wording so
    # that kubectl users read the same message (pods/binding and pods/eviction do carry the pod's name).
    return "" if attrs.verb == "create" and not attrs.subresource else attrs.name


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _quote(text: str) -> str:
    """Go's ``%q`` (``strconv.Quote``), so messages are byte-identical to Kubernetes' for any name.

    A user name comes from the token file and could hold a quote or a control character; escaping them
    also keeps a crafted name from forging the rest of the message in a log line.
    """
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)
