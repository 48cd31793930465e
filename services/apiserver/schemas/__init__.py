"""Kubernetes' API schemas in the API server: the OpenAPI catalog and the unknown-field checker built on it.

:mod:`~services.apiserver.schemas.catalog` loads Kubernetes' own schemas in the form ``/openapi/v3``
publishes; :mod:`~services.apiserver.schemas.unknownfields` compiles them into the checker that server-side
field validation (:mod:`services.apiserver.fieldvalidation`) runs on every write.
"""
