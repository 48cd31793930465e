"""The protobuf schema of the kinds the API server serves: message → field number → how to decode it.

Each message is one entry ``Name = N json type, ...`` (continued on indented lines), where ``N`` is the
field number, ``json`` the field's JSON name, and ``type`` one of

* a scalar: ``s`` string, ``b`` bool, ``i`` integer (int32 or int64 varint), ``y`` bytes (base64 in JSON);
* a well-known apimachinery type: ``t`` Time, ``u`` MicroTime, ``q`` Quantity, ``x`` IntOrString,
  ``f`` FieldsV1;
* the name of another message,

prefixed by ``[]`` for a repeated field, ``{}`` for a ``map<string, type>``, ``^`` for a message Go embeds
inline (its fields belong to the enclosing JSON object, as ``Volume``'s ``volumeSource`` does) and ``*``
for a scalar whose zero value is still sent as JSON: a pointer field (``replicas``, ``runAsUser``) or one
without ``omitempty`` (``containerPort``). Other zero scalars are dropped, as Go's ``omitempty`` drops
them, so a decoded object has no ``"namespace": ""``.

Field numbers and wire types follow Kubernetes' ``generated.proto`` for meta/v1, core/v1, apps/v1,
discovery/v1, coordination/v1, policy/v1 (Eviction) and autoscaling/v1 (Scale).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.apiserver.rest.protoschema_core import CORE

SCALARS = frozenset("sbiy")
WELL_KNOWN = frozenset("tuqxf")

_META = """
ObjectMeta = 1 name s, 2 generateName s, 3 namespace s, 4 selfLink s, 5 uid s, 6 resourceVersion s,
    7 generation i, 8 creationTimestamp t, 9 deletionTimestamp t, 10 deletionGracePeriodSeconds *i,
    11 labels {}s, 12 annotations {}s, 13 ownerReferences []OwnerReference, 14 finalizers []s,
    17 managedFields []ManagedFieldsEntry
OwnerReference = 5 apiVersion *s, 1 kind *s, 3 name *s, 4 uid *s, 6 controller *b,
    7 blockOwnerDeletion *b
ManagedFieldsEntry = 1 manager s, 2 operation s, 3 apiVersion s, 4 time t, 6 fieldsType s, 7 fieldsV1 f,
    8 subresource s
LabelSelector = 1 matchLabels {}s, 2 matchExpressions []LabelSelectorRequirement
LabelSelectorRequirement = 1 key *s, 2 operator *s, 3 values []s
Condition = 1 type *s, 2 status *s, 3 observedGeneration i, 4 lastTransitionTime t, 5 reason *s,
    6 message *s
DeleteOptions = 1 gracePeriodSeconds *i, 2 preconditions Preconditions, 3 orphanDependents *b,
    4 propagationPolicy *s, 5 dryRun []s, 6 ignoreStoreReadErrorWithClusterBreakingPotential *b
Preconditions = 1 uid *s, 2 resourceVersion *s
"""

_APPS = """
Deployment = 1 metadata ObjectMeta, 2 spec DeploymentSpec, 3 status DeploymentStatus
DeploymentSpec = 1 replicas *i, 2 selector LabelSelector, 3 template PodTemplateSpec,
    4 strategy DeploymentStrategy, 5 minReadySeconds i, 6 revisionHistoryLimit *i, 7 paused b,
    9 progressDeadlineSeconds *i
DeploymentStrategy = 1 type s, 2 rollingUpdate RollingUpdateDeployment
RollingUpdateDeployment = 1 maxUnavailable *x, 2 maxSurge *x
DeploymentStatus = 1 observedGeneration i, 2 replicas i, 3 updatedReplicas i, 7 readyReplicas i,
    4 availableReplicas i, 5 unavailableReplicas i, 9 terminatingReplicas *i,
    6 conditions []DeploymentCondition, 8 collisionCount *i
DeploymentCondition = 1 type *s, 2 status *s, 6 lastUpdateTime t, 7 lastTransitionTime t, 4 reason s,
    5 message s
ReplicaSet = 1 metadata ObjectMeta, 2 spec ReplicaSetSpec, 3 status ReplicaSetStatus
ReplicaSetSpec = 1 replicas *i, 4 minReadySeconds i, 2 selector LabelSelector,
    3 template PodTemplateSpec
ReplicaSetStatus = 1 replicas *i, 2 fullyLabeledReplicas i, 4 readyReplicas i, 5 availableReplicas i,
    7 terminatingReplicas *i, 3 observedGeneration i, 6 conditions []ReplicaSetCondition
ReplicaSetCondition = 1 type *s, 2 status *s, 3 lastTransitionTime t, 4 reason s, 5 message s
"""

_OTHERS = """
Lease = 1 metadata ObjectMeta, 2 spec LeaseSpec
LeaseSpec = 1 holderIdentity *s, 2 leaseDurationSeconds *i, 3 acquireTime u, 4 renewTime u,
    5 leaseTransitions *i, 6 strategy *s, 7 preferredHolder *s
EndpointSlice = 1 metadata ObjectMeta, 4 addressType *s, 2 endpoints []Endpoint, 3 ports []EndpointPort
Endpoint = 1 addresses []s, 2 conditions EndpointConditions, 3 hostname *s, 4 targetRef ObjectReference,
    5 deprecatedTopology {}s, 6 nodeName *s, 7 zone *s, 8 hints EndpointHints
EndpointConditions = 1 ready *b, 2 serving *b, 3 terminating *b
EndpointHints = 1 forZones []ForZone, 2 forNodes []ForNode
ForZone = 1 name *s
ForNode = 1 name *s
EndpointPort = 1 name *s, 2 protocol *s, 3 port *i, 4 appProtocol *s
Eviction = 1 metadata ObjectMeta, 2 deleteOptions DeleteOptions
Scale = 1 metadata ObjectMeta, 2 spec ScaleSpec, 3 status ScaleStatus
ScaleSpec = 1 replicas i
ScaleStatus = 1 replicas *i, 2 selector s
"""


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a message: ``Field("replicas", "i", keep_zero=True)``."""

    json: str
    type: str
    repeated: bool = False
    map: bool = False
    inline: bool = False
    keep_zero: bool = False

    @property
    def is_message(self) -> bool:
        return len(self.type) > 1


Message = dict[int, Field]


def parse_schema(text: str) -> dict[str, Message]:
    """The messages of a table in the grammar above; ValueError names the entry it cannot read."""
    messages: dict[str, Message] = {}
    for entry in _entries(text):
        name, _, body = entry.partition(" = ")
        fields: Message = {}
        for spec in body.split(","):
            number, json_name, kind = spec.split()
            fields[int(number)] = _field(json_name, kind)
        messages[name.strip()] = fields
    return messages


def _entries(text: str) -> list[str]:
    entries: list[str] = []
    for line in text.splitlines():
        if line.startswith(" ") and entries:
            entries[-1] += " " + line.strip()
        elif line.strip():
            entries.append(line.strip())
    return entries


def _field(json_name: str, kind: str) -> Field:
    flags = {"repeated": kind.startswith("[]"), "map": kind.startswith("{}")}
    kind = kind.removeprefix("[]").removeprefix("{}")
    inline, keep_zero = kind.startswith("^"), kind.startswith("*")
    kind = kind.lstrip("^*")
    return Field(json_name, kind, inline=inline, keep_zero=keep_zero, **flags)


MESSAGES: dict[str, Message] = {
    name: fields for text in (_META, CORE, _APPS, _OTHERS) for name, fields in parse_schema(text).items()
}

KINDS: dict[tuple[str, str], str] = {
    ("v1", "Pod"): "Pod",
    ("v1", "Node"): "Node",
    ("v1", "Namespace"): "Namespace",
    ("v1", "Service"): "Service",
    ("v1", "Event"): "Event",
    ("v1", "Binding"): "Binding",
    ("apps/v1", "Deployment"): "Deployment",
    ("apps/v1", "ReplicaSet"): "ReplicaSet",
    ("coordination.k8s.io/v1", "Lease"): "Lease",
    ("discovery.k8s.io/v1", "EndpointSlice"): "EndpointSlice",
    ("policy/v1", "Eviction"): "Eviction",
    ("autoscaling/v1", "Scale"): "Scale",
    ("v1", "DeleteOptions"): "DeleteOptions",
    ("meta.k8s.io/v1", "DeleteOptions"): "DeleteOptions",
}
"""The ``(apiVersion, kind)`` of a protobuf envelope → the message its ``raw`` bytes hold."""
