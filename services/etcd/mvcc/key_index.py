"""The per-key index of the MVCC store: every revision at which one key changed, grouped into generations.

A *generation* is one life of the key: from the put that creates it to the delete (the *tombstone*)
that ends it. A delete closes the current generation with the tombstone revision and opens an empty
one, which the next put fills. Only the revisions are kept here; the values live in the store's log,
addressed by revision.

Worked example, on key ``"a"``::

    put(2.0)  put(3.0)  tombstone(5.1)  put(7.0)

    generations (oldest first):
        {created 2, version 3, revs [2.0, 3.0, 5.1(t)]}
        {created 7, version 1, revs [7.0]}

    get(1) -> None           the key did not exist yet
    get(4) -> (3.0, 2, 2)    (mod revision, create revision, version) as of revision 4
    get(5) -> None           deleted at 5 (the tombstone is not a version a reader can see)
    get(6) -> None
    get(9) -> (7.0, 7, 1)    re-created at 7: a new create revision, version back to 1

Compaction at revision ``r`` keeps, for each key, the latest revision ``<= r`` (readers at ``r`` still
need it) and everything after; older revisions go, and so does every generation whose tombstone is
below ``r``. A tombstone exactly at ``r`` is kept until the next compaction, so that a watcher starting
at ``r`` still sees that delete (current etcd does the same)::

    compact(3): {created 2, version 3, revs [3.0, 5.1(t)]}, {created 7, version 1, revs [7.0]}
    compact(5): {created 2, version 3, revs [5.1(t)]},      {created 7, version 1, revs [7.0]}
    compact(6): {created 7, version 1, revs [7.0]}

A key whose only generation is empty has no history left, and the store removes its index.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from services.etcd.mvcc.revision import MAX_SUB, Revision


@dataclass(slots=True)
class Generation:
    """One life of a key; ``version`` counts the puts of this life (``created`` is a main revision)."""

    created: int = 0
    version: int = 0
    revs: list[Revision] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not self.revs


class KeyIndex:
    """The revisions of one key, in generations; the last generation is the current (maybe empty) life."""

    __slots__ = ("generations", "key", "modified")

    def __init__(self, key: str) -> None:
        self.key = key
        self.modified = Revision(0, 0)
        self.generations: list[Generation] = [Generation()]

    def __repr__(self) -> str:
        gens = ", ".join(
            f"{{created {g.created}, v{g.version}, {[str(r) for r in g.revs]}}}" for g in self.generations
        )
        return f"KeyIndex({self.key!r}: {gens})"

    def put(self, rev: Revision) -> None:
        """Record a put at ``rev``, which must be later than every revision already recorded."""
        if rev <= self.modified:
            raise ValueError(f"put at {rev} is not after the last change {self.modified} of {self.key!r}")
        g = self.generations[-1]
        if not g.revs:
            g.created = rev.main
        g.revs.append(rev)
        g.version += 1
        self.modified = rev

    def tombstone(self, rev: Revision) -> None:
        """Record a delete at ``rev``; the key must exist (its current generation must not be empty)."""
        if self.generations[-1].is_empty():
            raise ValueError(f"tombstone at {rev} of {self.key!r}, which does not exist")
        self.put(rev)
        self.generations.append(Generation())

    def restore(self, created: int, modified: Revision, version: int) -> None:
        """Start an index from a stored version of the key (rebuilding from a snapshot's log)."""
        self.generations = [Generation(created, version, [modified])]
        self.modified = modified

    def restore_tombstone(self, rev: Revision) -> None:
        """Start an index whose oldest surviving record is a tombstone (its puts were compacted away)."""
        self.generations = [Generation(0, 1, [rev]), Generation()]
        self.modified = rev

    def current(self) -> Revision | None:
        """The revision of the key's live version, or None if it is deleted now."""
        revs = self.generations[-1].revs
        return revs[-1] if revs else None

    def get(self, at_rev: int) -> tuple[Revision, int, int] | None:
        """``(mod revision, create revision, version)`` of the key as of main revision ``at_rev``, or None."""
        g = self._find_generation(at_rev)
        if g is None:
            return None
        n = bisect_right(g.revs, Revision(at_rev, MAX_SUB)) - 1
        if n < 0:
            return None
        return g.revs[n], g.created, g.version - (len(g.revs) - 1 - n)

    def _find_generation(self, at_rev: int) -> Generation | None:
        """The generation alive at ``at_rev``; None if ``at_rev`` falls before the key or between lives."""
        last = len(self.generations) - 1
        for i in range(last, -1, -1):
            g = self.generations[i]
            if not g.revs:
                continue
            # A closed generation ends with its tombstone: at or after it, this life is over.
            if i != last and g.revs[-1].main <= at_rev:
                return None
            if g.revs[0].main <= at_rev:
                return g
        return None

    def compact(self, at_rev: int, available: set[Revision] | None = None) -> None:
        """Drop what no reader at ``at_rev`` or later needs; add the revision kept at or below it to
        ``available`` (the store keeps exactly those records of revisions ``<= at_rev``)."""
        gi = 0
        # Skip whole generations that ended (tombstone) before at_rev; the last one is never skipped.
        while gi < len(self.generations) - 1 and self.generations[gi].revs[-1].main < at_rev:
            gi += 1
        g = self.generations[gi]
        keep_from = bisect_right(g.revs, Revision(at_rev, MAX_SUB)) - 1
        if keep_from >= 0:
            if available is not None:
                available.add(g.revs[keep_from])
            del g.revs[:keep_from]
        del self.generations[:gi]

    def is_empty(self) -> bool:
        """True when nothing is left: one generation, empty (the store then forgets the key)."""
        return len(self.generations) == 1 and self.generations[0].is_empty()
