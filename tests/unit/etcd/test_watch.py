"""Watchers: history replayed in bounded batches, then live events, once each and in order."""

from __future__ import annotations

from services.etcd.mvcc import ALL_KEYS, Event, KVStore, WatchableStore, WatchResponse, prefix_range_end


class Harness:
    """A store and its watchers, with every write handed to the watchers as the state machine does."""

    def __init__(self, batch_revisions: int = 1000) -> None:
        self.kv = KVStore()
        self.watches = WatchableStore(self.kv, batch_revisions=batch_revisions)
        self.sent: list[WatchResponse] = []

    def put(self, key: str, value: str) -> None:
        self.kv.put(key, value)
        self.sent += self.watches.notify(self.kv.drain_events())

    def delete(self, key: str, range_end: str | None = None) -> None:
        self.kv.delete_range(key, range_end)
        self.sent += self.watches.notify(self.kv.drain_events())

    def sync_all(self) -> None:
        while self.watches.has_unsynced:
            self.sent += self.watches.sync()

    def events(self, watch_id: int) -> list[Event]:
        return [ev for r in self.sent if r.watch_id == watch_id for ev in r.events]

    def seen(self, watch_id: int) -> list[tuple[str, str, int]]:
        return [(ev.type.value, ev.kv.key, ev.revision) for ev in self.events(watch_id)]


def test_a_watch_from_now_gets_each_change_as_it_is_applied() -> None:
    h = Harness()
    h.put("a", "0")
    w = h.watches.watch("a")
    assert h.watches.is_synced(w) and not h.watches.has_unsynced
    h.put("a", "1")
    h.put("b", "1")
    h.delete("a")
    assert h.seen(w) == [("PUT", "a", 3), ("DELETE", "a", 5)]


def test_a_watch_from_a_past_revision_replays_history_in_order_then_goes_live() -> None:
    h = Harness()
    for i in range(5):
        h.put("k", str(i))  # revisions 2..6
    w = h.watches.watch("k", start_revision=3, prev_kv=True)
    assert not h.watches.is_synced(w)
    h.put("k", "5")  # revision 7, applied while the watcher is still behind
    h.sync_all()
    h.put("k", "6")  # revision 8, live
    assert [ev.revision for ev in h.events(w)] == [3, 4, 5, 6, 7, 8]
    assert [(ev.kv.value, ev.prev_kv.value if ev.prev_kv else None) for ev in h.events(w)] == [
        ("1", "0"),
        ("2", "1"),
        ("3", "2"),
        ("4", "3"),
        ("5", "4"),
        ("6", "5"),
    ]


def test_catch_up_goes_in_bounded_batches_without_gaps_or_repeats() -> None:
    h = Harness(batch_revisions=3)
    for i in range(10):
        h.put(f"k{i}", "v")  # revisions 2..11
    w = h.watches.watch("k", prefix_range_end("k"), start_revision=2)
    batches = 0
    while h.watches.has_unsynced:
        h.sent += h.watches.sync()
        batches += 1
        h.put("x", "noise")  # writes between batches do not disturb it
    assert batches == 5  # revisions 2..15 (ten puts, then noise while catching up), 3 per batch
    assert [ev.kv.key for ev in h.events(w)] == [f"k{i}" for i in range(10)]
    assert max(len(r.events) for r in h.sent if r.watch_id == w) == 3


def test_watchers_see_only_their_key_range_or_prefix() -> None:
    h = Harness()
    one = h.watches.watch("b")
    rng = h.watches.watch("b", "d")
    pfx = h.watches.watch("b", prefix_range_end("b"))
    every = h.watches.watch(ALL_KEYS, ALL_KEYS)
    for key in ["a", "b", "ba", "c", "d"]:
        h.put(key, "v")
    assert [k for _, k, _ in h.seen(one)] == ["b"]
    assert [k for _, k, _ in h.seen(rng)] == ["b", "ba", "c"]
    assert [k for _, k, _ in h.seen(pfx)] == ["b", "ba"]
    assert [k for _, k, _ in h.seen(every)] == ["a", "b", "ba", "c", "d"]


def test_prev_kv_is_sent_only_to_watchers_that_asked() -> None:
    h = Harness()
    h.put("a", "1")
    with_prev = h.watches.watch("a", prev_kv=True)
    without = h.watches.watch("a")
    h.delete("a")
    (deleted,) = h.events(with_prev)
    assert deleted.to_wire() == {
        "type": "DELETE",
        "kv": {"key": "a", "value": "", "create_revision": 0, "mod_revision": 3, "version": 0, "lease": 0},
        "prev_kv": {
            "key": "a",
            "value": "1",
            "create_revision": 2,
            "mod_revision": 2,
            "version": 1,
            "lease": 0,
        },
    }
    assert h.events(without)[0].prev_kv is None


def test_a_delete_of_a_range_is_one_revision_of_several_events() -> None:
    h = Harness()
    for key in ["a", "b", "c"]:
        h.put(key, "v")
    w = h.watches.watch(ALL_KEYS, ALL_KEYS)
    h.delete("a", "c")
    assert h.seen(w) == [("DELETE", "a", 5), ("DELETE", "b", 5)]
    assert len([r for r in h.sent if r.watch_id == w]) == 1


def test_a_watch_whose_start_is_compacted_is_cancelled_with_the_compact_revision() -> None:
    h = Harness()
    for i in range(5):
        h.put("a", str(i))
    h.kv.compact(4)
    w = h.watches.watch("a", start_revision=3)
    h.sync_all()
    (cancel,) = [r for r in h.sent if r.watch_id == w]
    assert cancel.to_wire() == {"watch_id": w, "compact_revision": 4, "canceled": True}
    assert len(h.watches) == 0


def test_a_watch_at_the_compact_revision_still_sees_a_delete_made_there() -> None:
    h = Harness()
    h.put("a", "1")
    h.put("b", "1")
    h.delete("a")  # revision 4
    h.kv.compact(4)
    w = h.watches.watch(ALL_KEYS, ALL_KEYS, start_revision=4)
    h.sync_all()
    assert h.seen(w) == [("DELETE", "a", 4)]


def test_replayed_prev_kv_below_the_compact_revision_is_left_out_as_in_etcd() -> None:
    h = Harness()
    h.put("a", "1")  # 2
    h.put("a", "2")  # 3
    h.kv.compact(3)
    w = h.watches.watch("a", start_revision=3, prev_kv=True)
    h.sync_all()
    assert [(ev.kv.value, ev.prev_kv) for ev in h.events(w)] == [("2", None)]


def test_a_watch_from_a_future_revision_waits_for_it() -> None:
    h = Harness()
    w = h.watches.watch("a", start_revision=4)
    for i in range(4):
        h.put("a", str(i))  # revisions 2..5
    assert [rev for _, _, rev in h.seen(w)] == [4, 5]


def test_cancel_stops_events() -> None:
    h = Harness()
    w = h.watches.watch("a")
    h.put("a", "1")
    assert h.watches.cancel(w) and not h.watches.cancel(w)
    h.put("a", "2")
    assert len(h.events(w)) == 1


def test_progress_goes_to_synced_watchers_only() -> None:
    h = Harness()
    h.put("a", "1")
    live = h.watches.watch("a")
    behind = h.watches.watch("a", start_revision=1)
    progress = h.watches.progress()
    assert [(r.watch_id, r.revision, r.events) for r in progress] == [(live, 2, [])]
    assert behind not in [r.watch_id for r in progress]
    assert progress[0].to_wire() == {"watch_id": live, "header": {"revision": 2}, "events": []}


def test_unsync_all_then_catch_up_repeats_nothing() -> None:
    h = Harness()
    w = h.watches.watch("a")
    h.put("a", "1")
    h.watches.unsync_all()
    assert not h.watches.is_synced(w)
    h.put("a", "2")  # not delivered live: the watcher is unsynced
    h.sync_all()
    h.put("a", "3")
    assert [rev for _, _, rev in h.seen(w)] == [2, 3, 4]
