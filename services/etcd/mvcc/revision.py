"""A store revision: the main revision of a write and the sub revision of one change inside it.

Every write (a put, a delete of a range, a transaction, a lease revocation) takes the next *main*
revision; each key it changes gets the next *sub* revision inside it, counting from 0. Ordering is
lexicographic on ``(main, sub)``, so the changes of one transaction sort after everything before it and
in the order the transaction made them:

    Revision(4, 0) < Revision(4, 1) < Revision(5, 0)

Clients only ever see main revisions (``mod_revision``, ``create_revision``, the header ``revision``);
sub revisions exist so that one main revision can point at several stored key versions.
"""

from __future__ import annotations

from typing import NamedTuple

MAX_SUB = (1 << 63) - 1
"""A sub revision greater than any real one: ``Revision(m, MAX_SUB)`` sorts after every change of ``m``."""


class Revision(NamedTuple):
    """``(main, sub)``; a tuple so that comparison, hashing and sorting are the built-in, fast ones."""

    main: int
    sub: int = 0

    def __str__(self) -> str:
        return f"{self.main}.{self.sub}"
