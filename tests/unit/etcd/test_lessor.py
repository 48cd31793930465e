"""Leases: grant, revoke, keepalive and time-to-live, and expiry decided by the leader's clock only."""

from __future__ import annotations

import pytest

from services.etcd.mvcc import (
    MIN_LEASE_TTL,
    LeaseExistsError,
    LeaseNotFoundError,
    LeaseTTLTooLargeError,
    Lessor,
    NotPrimaryError,
)


def leader(now: float = 0.0) -> Lessor:
    lessor = Lessor()
    lessor.promote(now)
    return lessor


@pytest.mark.parametrize(
    ("asked", "granted"), [(10, 10), (MIN_LEASE_TTL, MIN_LEASE_TTL), (1, MIN_LEASE_TTL), (0, 2)]
)
def test_grant_raises_a_short_ttl_to_the_minimum(asked: int, granted: int) -> None:
    assert Lessor().grant(1, asked).ttl == granted


@pytest.mark.parametrize(
    ("lease_id", "ttl", "error", "code"),
    [
        (1, 9_000_000_001, LeaseTTLTooLargeError, 400),
        (7, 10, LeaseExistsError, 409),  # 7 is granted below
        (0, 10, LeaseNotFoundError, 404),  # id 0 means "no lease"
    ],
)
def test_grant_errors(lease_id: int, ttl: int, error: type[Exception], code: int) -> None:
    lessor = Lessor()
    lessor.grant(7, 10)
    with pytest.raises(error) as raised:
        lessor.grant(lease_id, ttl)
    assert getattr(raised.value, "code", None) == code


def test_allocated_ids_depend_only_on_the_seed_and_existing_leases() -> None:
    a, b = Lessor(), Lessor()
    for lessor in (a, b):
        lessor.grant(5, 10)
    assert a.allocate_id(5) == b.allocate_id(5) == 6
    assert a.allocate_id(0) == 1


def test_revoke_returns_the_attached_keys_sorted() -> None:
    lessor = Lessor()
    lessor.grant(1, 10)
    for key in ["c", "a", "b"]:
        lessor.attach(1, key)
    lessor.detach(1, "b")
    assert lessor.revoke(1) == ["a", "c"]
    assert lessor.lookup(1) is None
    with pytest.raises(LeaseNotFoundError, match="etcdserver: requested lease not found"):
        lessor.revoke(1)


def test_attach_to_an_unknown_lease_fails_and_detach_from_one_does_not() -> None:
    lessor = Lessor()
    with pytest.raises(LeaseNotFoundError):
        lessor.attach(3, "a")
    lessor.detach(3, "a")


def test_keepalive_is_for_the_leader_only() -> None:
    lessor = Lessor()
    lessor.grant(1, 10)
    with pytest.raises(NotPrimaryError) as raised:
        lessor.keepalive(1, 0.0)
    assert raised.value.code == 503


def test_keepalive_renews_for_the_full_ttl() -> None:
    lessor = leader()
    lessor.grant(1, 10, now=0.0)
    assert lessor.keepalive(1, 8.0) == 10
    assert lessor.expired(17.9) == []
    assert lessor.expired(18.0) == [1]


def test_keepalive_of_an_expired_or_unknown_lease_is_not_found() -> None:
    lessor = leader()
    lessor.grant(1, 10, now=0.0)
    with pytest.raises(LeaseNotFoundError):
        lessor.keepalive(1, 10.0)  # its revocation is already decided
    with pytest.raises(LeaseNotFoundError):
        lessor.keepalive(2, 0.0)


def test_time_to_live_reports_remaining_granted_and_keys() -> None:
    lessor = leader()
    lessor.grant(1, 10, now=0.0)
    lessor.attach(1, "b")
    lessor.attach(1, "a")
    ttl = lessor.time_to_live(1, 3.5, keys=True)
    assert (ttl.ttl, ttl.granted_ttl, ttl.keys) == (6, 10, ["a", "b"])
    assert lessor.time_to_live(1, 3.5).keys is None
    assert lessor.time_to_live(1, 30.0).ttl == 0


def test_time_to_live_of_an_unknown_lease_is_minus_one_as_in_etcd() -> None:
    ttl = Lessor().time_to_live(9, 0.0)
    assert (ttl.id, ttl.ttl, ttl.granted_ttl) == (9, -1, 0)


def test_followers_never_report_expired_leases() -> None:
    lessor = Lessor()
    lessor.grant(1, 2, now=0.0)
    assert lessor.expired(1_000.0) == []


def test_expired_names_leases_past_their_deadline_earliest_first() -> None:
    lessor = leader()
    lessor.grant(1, 30, now=0.0)
    lessor.grant(2, 10, now=0.0)
    lessor.grant(3, 20, now=0.0)
    assert lessor.expired(9.0) == []
    assert lessor.expired(25.0) == [2, 3]
    assert lessor.expired(40.0, limit=1) == [2]  # a cap on how many at once; 2 and 3 are due again
    assert lessor.expired(40.0) == [3, 1]


def test_an_expired_lease_is_named_again_only_after_the_retry_interval() -> None:
    lessor = leader()
    lessor.grant(1, 10, now=0.0)
    assert lessor.expired(10.0) == [1]
    assert lessor.expired(11.0) == []  # its lease_expire command is in flight
    assert lessor.expired(13.0) == [1]  # that proposal was lost: try again


def test_promote_gives_every_lease_a_fresh_ttl() -> None:
    lessor = Lessor()
    lessor.grant(1, 10, now=0.0)  # applied on a follower: no deadline
    lessor.promote(100.0)
    assert lessor.expired(109.0) == []
    assert lessor.expired(110.0) == [1]


def test_demote_forgets_deadlines() -> None:
    lessor = leader()
    lessor.grant(1, 10, now=0.0)
    lessor.demote()
    assert lessor.expired(50.0) == []
    lessor.promote(50.0, extend=1.0)
    assert lessor.expired(60.5) == []
    assert lessor.expired(61.0) == [1]


def test_a_lease_granted_without_a_clock_starts_when_the_leader_first_looks() -> None:
    lessor = leader()
    lessor.grant(1, 10)
    assert lessor.expired(5.0) == []
    assert lessor.expired(14.9) == []
    assert lessor.expired(15.0) == [1]


def test_state_and_restore_keep_ids_and_ttls() -> None:
    lessor = Lessor()
    lessor.grant(3, 10)
    lessor.grant(1, 60)
    copy = Lessor()
    copy.restore(lessor.state())
    assert copy.state() == lessor.state() == [[1, 60], [3, 10]]
