"""Server-side apply: field ownership (``metadata.managedFields``), the apply merge and its conflicts.

:mod:`.fieldpath` names fields the way Kubernetes' ``FieldsV1`` does, :mod:`.fieldset` computes the set
of fields an object sets, :mod:`.merge` merges an applied configuration into a live object,
:mod:`.managed` reads and writes ``managedFields`` and :mod:`.apply` puts them together for the API
server's apply and update verbs. Everything here is pure: plain JSON values in, new values out.
"""
