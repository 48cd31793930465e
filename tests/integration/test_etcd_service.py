"""Our etcd service as processes on a real nats-server: bad input, no quorum, member loss, restarts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from nats.aio.client import Client

from services.etcd.client.api import EtcdError, UnavailableError, WatchEvent
from services.etcd.client.nats import NatsEtcdClient
from services.etcd.local_cluster import LocalEtcdCluster
from shared import bus, subjects
from shared.errors import ApiError

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalEtcdCluster]:
    with LocalEtcdCluster() as started:
        yield started


@pytest.fixture
async def client(cluster: LocalEtcdCluster) -> AsyncIterator[NatsEtcdClient]:
    kv = await NatsEtcdClient.connect(cluster.url)
    yield kv
    await kv.close()


@pytest.fixture
async def raw(cluster: LocalEtcdCluster) -> AsyncIterator[Client]:
    nc = await bus.connect(cluster.url, name="raw")
    yield nc
    await nc.close()


BAD_PUTS = [
    pytest.param(b'{"key": "a", "value": ', 400, "malformed JSON", id="malformed-json"),
    pytest.param(b'{"key": 7, "value": "x"}', 400, "key: must be a string", id="key-not-a-string"),
    pytest.param(b'{"key": "", "value": "x"}', 400, "key is not provided", id="empty-key"),
    pytest.param(b'["key", "a"]', 400, "object", id="not-an-object"),
    pytest.param(b'{"key": "a", "value": "x", "lease": 123456}', 404, "lease not found", id="unknown-lease"),
    pytest.param(b'{"key": "a", "value": "' + b"x" * (2 << 20) + b'"}', 413, "too large", id="oversized"),
]


@pytest.mark.parametrize(("body", "code", "message"), BAD_PUTS)
async def test_bad_put_gets_its_error_and_stores_nothing(
    client: NatsEtcdClient, raw: Client, body: bytes, code: int, message: str
) -> None:
    before = (await client.range("a")).header.revision
    with pytest.raises(ApiError) as caught:
        await bus.request(raw, subjects.etcd_kv("put"), body)
    assert caught.value.code == code
    assert message in caught.value.message
    after = await client.range("a")
    assert after.header.revision == before and after.kvs == []
    assert (await client.put("still-serving", "yes")).header.revision == before + 1


async def test_wrong_type_in_txn_compare_names_the_field(client: NatsEtcdClient, raw: Client) -> None:
    body = {"compare": [{"key": "k", "target": "version", "result": "=", "value": "one"}], "success": []}
    with pytest.raises(ApiError) as caught:
        await bus.request(raw, subjects.etcd_kv("txn"), body)
    assert caught.value.code == 400 and "value" in caught.value.message


async def test_full_restart_keeps_every_key_and_the_revision(tmp_path: object) -> None:
    with LocalEtcdCluster() as own:
        kv = await NatsEtcdClient.connect(own.url)
        for n in range(50):
            await kv.put(f"/keep/{n}", str(n))
        revision = (await kv.range("/keep/", prefix=True)).header.revision
        await kv.close()
        for process in own.members.values():
            process.kill()
        for process in own.members.values():
            await asyncio.to_thread(process.start)
        kv = await NatsEtcdClient.connect(own.url)
        result = await kv.range("/keep/", prefix=True)
        assert result.count == 50 and result.header.revision == revision
        assert (await kv.put("/keep/after", "x")).header.revision == revision + 1
        await kv.close()


async def test_no_quorum_fails_with_503_in_bounded_time_then_heals() -> None:
    with LocalEtcdCluster(extra_args=["--request-timeout", "2"]) as own:
        kv = await NatsEtcdClient.connect(own.url)
        await kv.put("q", "1")
        names = list(own.members)
        for name in names[:2]:
            own.members[name].kill()
        impatient = NatsEtcdClient(kv.nc, retry_for=0)
        started = time.monotonic()
        with pytest.raises(UnavailableError):
            await impatient.put("q", "2")
        assert time.monotonic() - started < 4.0
        for name in names[:2]:
            await asyncio.to_thread(own.members[name].start)
        assert (await kv.put("q", "3")).header.revision > 0
        assert (await kv.range("q")).kvs[0].value == "3"
        await kv.close()


async def test_watch_continues_without_gap_when_its_member_dies() -> None:
    with LocalEtcdCluster() as own:
        kv = await NatsEtcdClient.connect(own.url)
        watch = await kv.watch("/w/", prefix=True)
        serving = watch._watch_id.split("/")[0]  # type: ignore[attr-defined]
        seen: list[WatchEvent] = []

        async def consume() -> None:
            async for response in watch:
                seen.extend(response.events)
                if len(seen) >= 60:
                    return

        consumer = asyncio.create_task(consume())
        written = []
        for n in range(60):
            if n == 20:
                own.members[serving].kill()
            try:
                written.append((await kv.put(f"/w/{n}", str(n))).header.revision)
            except EtcdError:
                written.append((await kv.put(f"/w/{n}", str(n))).header.revision)
        await asyncio.wait_for(consumer, timeout=20)
        revisions = [event.kv.mod_revision for event in seen]
        assert revisions == sorted(set(revisions)), "events repeated or out of order"
        assert revisions == written
        await watch.cancel()
        await kv.close()


@pytest.mark.parametrize(
    ("subject", "body", "field"),
    [
        (subjects.etcd_kv("put"), {"key": "a", "value": "x", "range_end": "b"}, "range_end"),
        (subjects.etcd_kv("range"), {"key": "a", "sort_order": "DESCEND"}, "sort_order"),
        (subjects.etcd_lease("grant"), {"ttl": 5, "ttl_seconds": 5}, "ttl_seconds"),
        (
            subjects.etcd_kv("txn"),
            {"compare": [], "success": [{"put": {"key": "a", "value": "x", "ignore_value": True}}]},
            "success[0].put.ignore_value",
        ),
    ],
)
async def test_unknown_field_is_refused_naming_it(
    client: NatsEtcdClient, raw: Client, subject: str, body: dict[str, object], field: str
) -> None:
    before = (await client.range("a")).header.revision
    with pytest.raises(ApiError) as caught:
        await bus.request(raw, subject, body)
    assert caught.value.code == 400 and caught.value.message.startswith(f"{field}: unknown field")
    assert (await client.range("a")).header.revision == before


async def test_range_end_before_key_is_refused(client: NatsEtcdClient) -> None:
    with pytest.raises(EtcdError) as caught:
        await client.range("b", "a")
    assert caught.value.code == 400 and "before key" in caught.value.message


async def test_cancel_ends_a_watch_its_reader_is_waiting_on(client: NatsEtcdClient) -> None:
    watch = await client.watch("/quiet/", prefix=True)

    async def read() -> int:
        changes = 0
        async for response in watch:
            changes += len(response.events)
        return changes

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.1)
    await watch.cancel()
    assert await asyncio.wait_for(reader, timeout=1.0) == 0  # ended at once, having seen no change
