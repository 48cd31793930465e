"""The envelope a member wraps its proposals in, and the numbers that tell its own entries apart."""

from __future__ import annotations

import itertools

from services.etcd.raftio.driver import proposal_sequence, unwrap_proposal, wrap_proposal


def test_the_envelope_round_trips() -> None:
    assert unwrap_proposal(wrap_proposal("cp-2", 7, b"put /a")) == ("cp-2", 7, b"put /a")


def test_a_restarted_member_numbers_its_proposals_apart_from_its_previous_life() -> None:
    # Entries proposed before a restart are replayed after it; their numbers must not answer new proposals.
    before = list(itertools.islice(proposal_sequence(), 1000))
    after = list(itertools.islice(proposal_sequence(), 1000))
    assert before == sorted(before) and len(set(before)) == 1000
    assert not set(before) & set(after)
