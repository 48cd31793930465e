"""kubectl's table columns for every resource kubenats serves: one definition for the CLI and the API server.

``table_for(plural)`` gives a resource's columns (priority 1 = shown only with ``-o wide``) and the
function from an object and ``now`` to its cells, computed as kube-apiserver's printers compute them
(``pkg/printers/internalversion/printers.go``). ``kubenats get`` renders them as text; the API server's
REST front serves them as ``meta.k8s.io/v1`` Tables, which kubectl prints.
"""

from __future__ import annotations

from shared.tables.cluster import (
    ENDPOINT_SLICE_COLUMNS,
    EVENT_COLUMNS,
    LEASE_COLUMNS,
    NAMESPACE_COLUMNS,
    SERVICE_COLUMNS,
    endpoint_slice_cells,
    event_cells,
    lease_cells,
    namespace_cells,
    service_cells,
)
from shared.tables.columns import (
    AGE,
    NAME,
    Cells,
    Column,
    Object,
    TableSpec,
    generic_cells,
    human_duration,
    parse_time,
    since,
    utcnow,
)
from shared.tables.pods import NODE_COLUMNS, POD_COLUMNS, node_cells, node_status, pod_cells, pod_status
from shared.tables.workloads import (
    DEPLOYMENT_COLUMNS,
    REPLICASET_COLUMNS,
    deployment_cells,
    replicaset_cells,
)

__all__ = [
    "Cells",
    "Column",
    "Object",
    "TableSpec",
    "human_duration",
    "node_status",
    "parse_time",
    "pod_status",
    "since",
    "table_for",
    "utcnow",
]

TABLES: dict[str, TableSpec] = {
    "pods": TableSpec(POD_COLUMNS, pod_cells),
    "nodes": TableSpec(NODE_COLUMNS, node_cells),
    "deployments": TableSpec(DEPLOYMENT_COLUMNS, deployment_cells),
    "replicasets": TableSpec(REPLICASET_COLUMNS, replicaset_cells),
    "services": TableSpec(SERVICE_COLUMNS, service_cells),
    "endpointslices": TableSpec(ENDPOINT_SLICE_COLUMNS, endpoint_slice_cells),
    "namespaces": TableSpec(NAMESPACE_COLUMNS, namespace_cells),
    "leases": TableSpec(LEASE_COLUMNS, lease_cells),
    "events": TableSpec(EVENT_COLUMNS, event_cells),
}
GENERIC = TableSpec((NAME, AGE), generic_cells)


def table_for(plural: str) -> TableSpec:
    """The columns and cells of ``plural``; a resource without its own printer shows NAME and AGE."""
    return TABLES.get(plural, GENERIC)
