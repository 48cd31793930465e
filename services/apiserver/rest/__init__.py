"""The API server's Kubernetes REST front over HTTPS: the same request handling as the NATS front.

``RestServer`` (``server.py``) listens; ``paths``/``params`` decode a request into the shared handler's
terms; ``discovery`` and ``openapi`` describe what is served; ``tables`` with ``printers`` produce
kubectl's columns; ``resources`` serves the verbs and streams watches.
"""

from services.apiserver.rest.server import RestServer

__all__ = ["RestServer"]
