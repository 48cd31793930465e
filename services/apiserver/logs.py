"""The ``log`` subresource of pods: find the pod's node and container, then ask that node's kubelet.

As kube-apiserver's ``LogLocation``: the pod is read from the store (404 if it is not there), the container
defaults to the pod's only one (400 naming the choices otherwise, 400 for a name the pod does not have),
and an unscheduled pod has no kubelet to ask (400). Authorization happened before, as ``get pods/log``.
"""

from __future__ import annotations

from services.apiserver.kubelets import KubeletClient
from services.apiserver.objects import Object
from services.apiserver.registry import Registry
from shared.errors import ApiError
from shared.models import ResourceType
from shared.podlogs import NodeLogsRequest, PodLogOptions, PodLogs


def _names(containers: list[Object]) -> list[str]:
    return [str(c.get("name", "")) for c in containers]


def log_container(pod: Object, wanted: str) -> str:
    """The container a log request reads: ``wanted``, or the pod's only container; 400 otherwise."""
    spec = pod.get("spec") or {}
    name = pod.get("metadata", {}).get("name", "")
    main, init = _names(spec.get("containers") or []), _names(spec.get("initContainers") or [])
    if wanted:
        if wanted not in main and wanted not in init:
            raise ApiError(400, f"container {wanted} is not valid for pod {name}", reason="BadRequest")
        return wanted
    if len(main) == 1:
        return main[0]
    if not main:
        raise ApiError(400, f"a container name must be specified for pod {name}", reason="BadRequest")
    message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(main)}]"
    if init:
        message += f" or one of the init containers: [{' '.join(init)}]"
    raise ApiError(400, message, reason="BadRequest")


def log_node(pod: Object) -> str:
    """The node whose kubelet holds the pod's logs; 400 while the pod is not scheduled."""
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        name = pod.get("metadata", {}).get("name", "")
        raise ApiError(400, f"pod {name} does not have a host assigned", reason="BadRequest")
    return str(node)


async def read_log(
    registry: Registry,
    kubelets: KubeletClient | None,
    rt: ResourceType,
    namespace: str,
    name: str,
    options: PodLogOptions | None,
) -> PodLogs:
    if rt.plural != "pods":
        raise ApiError(404, f"the server could not find the requested resource ({rt.plural}/log)")
    pod = await registry.get(rt, namespace, name)
    options = options or PodLogOptions()
    container = log_container(pod, options.container)
    node = log_node(pod)
    if kubelets is None:
        raise ApiError(503, "this API server has no connection to the kubelets", reason="ServiceUnavailable")
    fields = options.model_dump(exclude={"container"})
    request = NodeLogsRequest(namespace=namespace or "default", name=name, container=container, **fields)
    return await kubelets.logs(node, request)
