"""Kubernetes label and field selectors: their string forms parsed, matched, and built from API models.

Label selectors take the syntax of ``kubectl -l`` and the API's ``labelSelector`` parameter::

    env in (prod, staging),tier notin (frontend),partition,!canary,app=web,release!=v1

Requirements are ANDed and kept sorted by key, so ``str()`` gives the canonical form Kubernetes prints
(``app=web,env in (prod,staging),...``). Values of ``in``/``notin`` form a set; an omitted value is the
empty string (``a=`` and ``a==`` both select labels ``a`` equal to ``""``, as Kubernetes parses them).
Kubernetes' ``gt``/``lt`` requirements (``replicas>1``) are understood too.

Field selectors are the API's ``fieldSelector``: ``=``/``==``/``!=`` terms joined by commas, values
escaped with ``\\`` (``\\,``, ``\\=``, ``\\\\``), a missing field reading as ``""``. Which fields a resource
supports is the server's business: :meth:`FieldSelectorExpr.check_supported`.

Errors are :class:`SelectorError` with the messages ``k8s.io/apimachinery``'s ``labels.Parse`` and
``fields.ParseSelector`` produce, down to the ``<nil>`` field path Kubernetes prints for an invalid key.
"""

from shared.selectors.common import Operator, SelectorError
from shared.selectors.fields import (
    FieldRequirement,
    FieldSelectorExpr,
    escape_field_value,
    parse_field_selector,
)
from shared.selectors.labels import (
    LabelSelectorExpr,
    Requirement,
    from_label_selector,
    parse_label_selector,
)

__all__ = [
    "FieldRequirement",
    "FieldSelectorExpr",
    "LabelSelectorExpr",
    "Operator",
    "Requirement",
    "SelectorError",
    "escape_field_value",
    "from_label_selector",
    "parse_field_selector",
    "parse_label_selector",
]
