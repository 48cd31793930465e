"""Contract: leases — grant, keys attached, revoke and expiry deleting them in one revision, keepalive, TTL.

Every test revokes the leases it attached keys to, so no lease expires later inside another test's
revision arithmetic.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from services.etcd.client.api import KVClient, LeaseExistsError, LeaseNotFoundError
from tests.integration.etcd_contract import WAIT, eventually, next_events

UNKNOWN_LEASE = 0x7EADBEEF


async def revision_now(kv: KVClient) -> int:
    return (await kv.range("/contract/no-such-key")).header.revision


async def test_grant_returns_a_new_id_and_the_ttl_asked_for(kv: KVClient) -> None:
    first = await kv.lease_grant(30)
    second = await kv.lease_grant(30)
    assert first.id != 0 and second.id not in (0, first.id)
    assert first.ttl == 30
    ttl = await kv.lease_ttl(first.id)
    assert ttl.granted_ttl == 30 and 28 <= ttl.ttl <= 30


async def test_a_ttl_below_the_minimum_is_raised_to_it(kv: KVClient) -> None:
    # A lease must outlive a leader election (etcd: 1.5 election timeouts, rounded up: 2 s by default),
    # so a 1 s lease is granted the minimum instead.
    granted = await kv.lease_grant(1)
    assert granted.ttl >= 2
    assert (await kv.lease_ttl(granted.id)).granted_ttl == granted.ttl


async def test_grant_with_a_chosen_id_uses_it_once(kv: KVClient) -> None:
    chosen = 0x1234_5678_9ABC
    granted = await kv.lease_grant(30, id=chosen)
    assert granted.id == chosen
    with pytest.raises(LeaseExistsError) as raised:
        await kv.lease_grant(30, id=chosen)
    assert raised.value.code == 409
    await kv.lease_revoke(chosen)


async def test_keys_put_with_a_lease_carry_its_id_and_ttl_lists_them(kv: KVClient, prefix: str) -> None:
    lease = await kv.lease_grant(30)
    try:
        await kv.put(prefix + "b", "2", lease=lease.id)
        await kv.put(prefix + "a", "1", lease=lease.id)
        assert [x.lease for x in (await kv.range(prefix, prefix=True)).kvs] == [lease.id, lease.id]
        listed = await kv.lease_ttl(lease.id, keys=True)
        assert (listed.id, sorted(listed.keys)) == (lease.id, [prefix + "a", prefix + "b"])
        assert (await kv.lease_ttl(lease.id)).keys == []
    finally:
        await kv.lease_revoke(lease.id)


async def test_revoke_deletes_the_attached_keys_in_one_revision(kv: KVClient, prefix: str) -> None:
    lease = await kv.lease_grant(30)
    await kv.put(prefix + "a", "1", lease=lease.id)
    await kv.put(prefix + "b", "2", lease=lease.id)
    await kv.put(prefix + "kept", "3")
    before = await revision_now(kv)
    async with await kv.watch(prefix, prefix=True) as watch:
        revoked = await kv.lease_revoke(lease.id)
        events = await next_events(watch, 2)
    assert revoked.revision == before + 1
    assert sorted((e.type, e.kv.key, e.kv.mod_revision) for e in events) == [
        ("DELETE", prefix + "a", before + 1),
        ("DELETE", prefix + "b", before + 1),
    ]
    assert [x.key for x in (await kv.range(prefix, prefix=True)).kvs] == [prefix + "kept"]


async def test_revoking_a_lease_without_keys_writes_nothing(kv: KVClient) -> None:
    lease = await kv.lease_grant(30)
    before = await revision_now(kv)
    assert (await kv.lease_revoke(lease.id)).revision == before


async def test_a_revoked_lease_is_gone(kv: KVClient, prefix: str) -> None:
    lease = await kv.lease_grant(30)
    await kv.lease_revoke(lease.id)
    assert (await kv.lease_ttl(lease.id)).ttl == -1
    with pytest.raises(LeaseNotFoundError):
        await kv.lease_keepalive(lease.id)
    with pytest.raises(LeaseNotFoundError):
        await kv.put(prefix + "k", "v", lease=lease.id)
    with pytest.raises(LeaseNotFoundError):
        await kv.lease_revoke(lease.id)


async def test_an_expired_lease_deletes_its_keys_in_one_revision(kv: KVClient, prefix: str) -> None:
    lease = await kv.lease_grant(1)
    await kv.put(prefix + "a", "1", lease=lease.id)
    await kv.put(prefix + "b", "2", lease=lease.id)
    async with await kv.watch(prefix, prefix=True) as watch:
        events = await next_events(watch, 2, timeout=lease.ttl + WAIT)
    assert {e.type for e in events} == {"DELETE"}
    assert sorted(e.kv.key for e in events) == [prefix + "a", prefix + "b"]
    assert len({e.kv.mod_revision for e in events}) == 1
    assert (await kv.range(prefix, prefix=True)).kvs == []
    assert (await kv.lease_ttl(lease.id)).ttl == -1


async def test_keepalive_renews_the_lease_to_its_granted_ttl(kv: KVClient) -> None:
    lease = await kv.lease_grant(5)
    await asyncio.sleep(1.2)
    assert (await kv.lease_ttl(lease.id)).ttl <= 4
    assert await kv.lease_keepalive(lease.id) == 5
    assert (await kv.lease_ttl(lease.id)).ttl >= 4
    await kv.lease_revoke(lease.id)


async def test_a_lease_kept_alive_outlives_its_ttl_with_its_keys(kv: KVClient, prefix: str) -> None:
    lease = await kv.lease_grant(2)
    await kv.put(prefix + "k", "v", lease=lease.id)
    deadline = time.monotonic() + lease.ttl + 1.5
    while time.monotonic() < deadline:
        await kv.lease_keepalive(lease.id)
        await asyncio.sleep(0.5)
    assert [x.value for x in (await kv.range(prefix + "k")).kvs] == ["v"]
    await kv.lease_revoke(lease.id)


async def test_a_put_without_the_lease_detaches_the_key(kv: KVClient, prefix: str) -> None:
    lease = await kv.lease_grant(30)
    await kv.put(prefix + "k", "1", lease=lease.id)
    await kv.put(prefix + "k", "2")
    assert (await kv.lease_ttl(lease.id, keys=True)).keys == []
    await kv.lease_revoke(lease.id)
    [kv_] = (await kv.range(prefix + "k")).kvs
    assert (kv_.value, kv_.lease) == ("2", 0)


async def test_unknown_leases_are_not_found(kv: KVClient, prefix: str) -> None:
    with pytest.raises(LeaseNotFoundError) as raised:
        await kv.lease_revoke(UNKNOWN_LEASE)
    assert (raised.value.code, raised.value.message) == (404, "etcdserver: requested lease not found")
    with pytest.raises(LeaseNotFoundError):
        await kv.lease_keepalive(UNKNOWN_LEASE)
    with pytest.raises(LeaseNotFoundError):
        await kv.put(prefix + "k", "v", lease=UNKNOWN_LEASE)
    assert (await kv.range(prefix + "k")).kvs == []


async def test_the_ttl_of_an_unknown_lease_is_minus_one(kv: KVClient) -> None:
    result = await kv.lease_ttl(UNKNOWN_LEASE)
    assert (result.id, result.ttl, result.keys) == (UNKNOWN_LEASE, -1, [])


async def test_remaining_ttl_counts_down(kv: KVClient) -> None:
    lease = await kv.lease_grant(10)

    async def counted_down() -> bool:
        return (await kv.lease_ttl(lease.id)).ttl <= 8

    await eventually(counted_down, timeout=5)
    await kv.lease_revoke(lease.id)
