"""The replicated state machine: commands applied by index, leases expired by command, watch events
handed back, and snapshots that restore the very same state."""

from __future__ import annotations

import pytest

from services.etcd.mvcc import (
    ALL_KEYS,
    CompactRequest,
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    KVStateMachine,
    LeaseExpireRequest,
    LeaseGrantRequest,
    LeaseRevokeRequest,
    NotPrimaryError,
    PutRequest,
    RangeRequest,
    TxnRequest,
    encode_command,
    prefix_range_end,
)
from tests.unit.etcd.harness import Member, outcome

# --- apply ----------------------------------------------------------------------------------------------


def test_apply_returns_wire_results_with_the_header_revision() -> None:
    m = Member()
    assert outcome(m.apply(PutRequest("a", "1"))) == {"header": {"revision": 2}}
    assert outcome(m.apply(PutRequest("a", "2", prev_kv=True))) == {
        "header": {"revision": 3},
        "prev_kv": {
            "key": "a",
            "value": "1",
            "create_revision": 2,
            "mod_revision": 2,
            "version": 1,
            "lease": 0,
        },
    }
    assert outcome(m.apply(DeleteRangeRequest("a"))) == {"header": {"revision": 4}, "deleted": 1}
    assert m.sm.applied_index == 3


def test_an_empty_entry_only_moves_the_applied_index() -> None:
    m = Member()
    result = m.apply(b"")
    assert (result.response, result.error, m.sm.applied_index, m.sm.revision) == (None, None, 1, 1)


def test_an_entry_already_applied_changes_nothing() -> None:
    m = Member()
    m.apply(PutRequest("a", "1"))
    again = m.sm.apply(1, encode_command(PutRequest("a", "2")))
    assert again.response is None and m.range()[0].value == "1"


def test_a_failing_command_is_an_error_result_and_changes_nothing() -> None:
    m = Member()
    m.apply(PutRequest("a", "1"))
    before = m.sm.snapshot()
    result = m.apply(PutRequest("b", "1", lease=77))
    assert outcome(result) == ("error", 404, "etcdserver: requested lease not found")
    with pytest.raises(Exception, match="requested lease not found"):
        result.unwrap()
    assert m.sm.applied_index == 2
    assert m.sm.snapshot().replace(b'"applied_index":2', b'"applied_index":1') == before


def test_a_corrupt_entry_is_a_bad_request_result_on_every_member() -> None:
    a, b = Member(), Member()
    assert outcome(a.apply(b"\x00garbage")) == outcome(b.apply(b"\x00garbage"))
    assert outcome(a.apply(b"{}"))[1] == 400


def test_compaction_is_replicated_and_its_errors_are_results() -> None:
    m = Member()
    for i in range(4):
        m.apply(PutRequest("a", str(i)))  # revisions 2..5
    assert outcome(m.apply(CompactRequest(4))) == {"header": {"revision": 5}}
    assert outcome(m.apply(CompactRequest(4))) == ("error", 410, "mvcc: required revision has been compacted")
    assert outcome(m.apply(CompactRequest(9))) == (
        "error",
        400,
        "mvcc: required revision is a future revision",
    )


def test_txn_command_applies_at_one_revision() -> None:
    m = Member()
    txn = TxnRequest(
        [Compare("a", CompareTarget.CREATE_REVISION, CompareResult.EQUAL, 0)],
        [PutRequest("a", "1"), PutRequest("b", "1")],
        [RangeRequest("a")],
    )
    assert outcome(m.apply(txn)) == {
        "header": {"revision": 2},
        "succeeded": True,
        "responses": [{"put": {}}] * 2,
    }
    second = outcome(m.apply(txn))
    assert second["succeeded"] is False and second["header"] == {"revision": 2}
    assert second["responses"][0]["range"]["count"] == 1


# --- leases ---------------------------------------------------------------------------------------------


def test_lease_grant_without_id_takes_one_from_the_raft_index() -> None:
    m = Member()
    m.apply(PutRequest("a", "1"))
    assert outcome(m.apply(LeaseGrantRequest(30))) == {"header": {"revision": 2}, "id": 2, "ttl": 30}
    assert outcome(m.apply(LeaseGrantRequest(1, id=3)))["ttl"] == 2  # raised to the minimum
    assert outcome(m.apply(LeaseGrantRequest(30)))["id"] == 4
    assert outcome(m.apply(LeaseGrantRequest(30, id=3)))[1] == 409


def test_lease_expiry_deletes_the_attached_keys_in_one_revision() -> None:
    leader = Member()
    leader.sm.promote(now=0.0)
    lease_id = outcome(leader.apply(LeaseGrantRequest(10), now=0.0))["id"]
    for key in ["b", "a", "c"]:
        leader.apply(PutRequest(key, "v", lease=lease_id), now=1.0)
    leader.apply(PutRequest("c", "no lease"), now=1.0)  # detaches c
    watch = leader.sm.watches.watch(ALL_KEYS, ALL_KEYS)
    assert leader.sm.expired_leases(9.0) == []
    expired = leader.sm.expired_leases(10.0)
    assert expired == [lease_id]
    result = leader.apply(LeaseExpireRequest(expired), now=10.0)
    assert outcome(result) == {"header": {"revision": 6}, "revoked": [lease_id]}
    assert [(ev.type.value, ev.kv.key, ev.revision) for r in result.watch_responses for ev in r.events] == [
        ("DELETE", "a", 6),
        ("DELETE", "b", 6),
    ]
    assert result.watch_responses[0].watch_id == watch
    assert [kv.key for kv in leader.range()] == ["c"]
    assert leader.sm.lease_time_to_live(lease_id, 10.0).ttl == -1


def test_lease_expire_skips_leases_already_gone() -> None:
    m = Member()
    m.apply(LeaseGrantRequest(10, id=5))
    m.apply(LeaseRevokeRequest(5))
    assert outcome(m.apply(LeaseExpireRequest([5]))) == {"header": {"revision": 1}, "revoked": []}


def test_lease_revoke_deletes_keys_and_unknown_lease_is_404() -> None:
    m = Member()
    m.apply(LeaseGrantRequest(10, id=5))
    m.apply(PutRequest("k", "v", lease=5))
    assert outcome(m.apply(LeaseRevokeRequest(5))) == {"header": {"revision": 3}, "id": 5, "ttl": 0}
    assert m.range() == []
    assert outcome(m.apply(LeaseRevokeRequest(5))) == ("error", 404, "etcdserver: requested lease not found")


def test_keepalive_and_time_to_live_are_leader_local() -> None:
    leader, follower = Member(), Member()
    leader.sm.promote(0.0)
    for m in (leader, follower):
        m.apply(LeaseGrantRequest(10, id=1), now=0.0)
        m.apply(PutRequest("k", "v", lease=1), now=0.0)
    assert leader.sm.lease_keepalive(1, 5.0).to_wire() == {"header": {"revision": 2}, "id": 1, "ttl": 10}
    assert leader.sm.lease_time_to_live(1, 7.0, keys=True).to_wire() == {
        "header": {"revision": 2},
        "id": 1,
        "ttl": 8,
        "granted_ttl": 10,
        "keys": ["k"],
    }
    with pytest.raises(NotPrimaryError):
        follower.sm.lease_keepalive(1, 5.0)
    assert follower.sm.expired_leases(1_000.0) == []


def test_a_new_leader_gives_every_lease_a_fresh_ttl() -> None:
    m = Member()
    m.apply(LeaseGrantRequest(10, id=1), now=0.0)  # granted while a follower
    m.sm.promote(now=500.0)
    assert m.sm.expired_leases(509.0) == []
    assert m.sm.expired_leases(510.0) == [1]
    m.sm.demote()
    assert m.sm.expired_leases(600.0) == []


# --- snapshots ------------------------------------------------------------------------------------------


def populated() -> Member:
    m = Member()
    m.apply(LeaseGrantRequest(60, id=7))
    for i in range(6):
        m.apply(PutRequest(f"k{i % 3}", f"v{i}", lease=7 if i % 2 else 0))
    m.apply(DeleteRangeRequest("k1"))
    m.apply(CompactRequest(4))
    m.apply(PutRequest("z", "ü ✓"))
    return m


def test_snapshot_restore_yields_the_same_ranges_revision_and_leases() -> None:
    a = populated()
    b = Member()
    b.sm.restore(a.sm.snapshot())
    assert (b.sm.revision, b.sm.compact_revision, b.sm.applied_index) == (a.sm.revision, 4, a.index)
    for rev in range(4, a.sm.revision + 1):
        assert b.range(revision=rev) == a.range(revision=rev), rev
    assert b.sm.snapshot() == a.sm.snapshot()
    assert b.sm.lease_time_to_live(7, 0.0, keys=True) == a.sm.lease_time_to_live(7, 0.0, keys=True)
    b.index = a.index
    assert outcome(b.apply(PutRequest("k0", "next"))) == outcome(a.apply(PutRequest("k0", "next")))


def test_restore_after_compacting_at_a_delete_keeps_the_key_deleted() -> None:
    a = Member()
    a.apply(PutRequest("a", "1"))
    a.apply(PutRequest("b", "1"))
    a.apply(DeleteRangeRequest("a"))  # revision 4
    a.apply(CompactRequest(4))  # the tombstone at 4 is kept, and is now a's oldest record
    b = Member()
    b.sm.restore(a.sm.snapshot())
    assert [kv.key for kv in b.range()] == ["b"]
    assert b.range("a", None, revision=4) == []
    w = b.sm.watches.watch("a", start_revision=4)
    assert [(ev.type.value, ev.revision) for r in b.sm.watches.sync() for ev in r.events] == [("DELETE", 4)]
    b.index = a.index
    assert outcome(b.apply(PutRequest("a", "2"))) == outcome(a.apply(PutRequest("a", "2")))
    assert b.range("a", None) == a.range("a", None)
    assert b.sm.watches.is_synced(w)


def test_restore_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="snapshot format"):
        KVStateMachine().restore(b'{"format":99}')


def test_watchers_catch_up_across_a_restore_without_gaps() -> None:
    leader, member = Member(), Member()
    w = member.sm.watches.watch("k", prefix_range_end("k"))
    for i in range(3):
        leader.apply(PutRequest(f"k{i}", "v"))
        member.apply(PutRequest(f"k{i}", "v"))
    for i in range(3, 6):
        leader.apply(PutRequest(f"k{i}", "v"))  # the member misses these and gets a snapshot
    member.sm.restore(leader.sm.snapshot())
    responses = member.sm.watches.sync()
    assert [ev.kv.key for r in responses for ev in r.events] == ["k3", "k4", "k5"]
    assert member.sm.watches.is_synced(w)


def test_a_watcher_behind_a_restored_compaction_is_cancelled() -> None:
    leader, member = Member(), Member()
    w = member.sm.watches.watch("k")
    for i in range(4):
        leader.apply(PutRequest("k", str(i)))
    leader.apply(CompactRequest(4))
    member.sm.restore(leader.sm.snapshot())
    (cancel,) = member.sm.watches.sync()
    assert (cancel.watch_id, cancel.canceled, cancel.compact_revision) == (w, True, 4)
