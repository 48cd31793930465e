"""The asyncio driver of one Raft member: ticks, feeds messages, and handles each ``Ready`` safely.

For every ``Ready`` the order is (etcd-io/raft README, "Usage"):

1. **persist** — snapshot file, then one WAL write of the snapshot marker, entries and hard state with a
   single fsync (group commit: everything that arrived while the previous fsync ran goes in one batch);
2. **send** the messages, which may promise what step 1 made durable (a vote, an append);
3. **apply** the snapshot and committed entries to the state machine, answer the proposals and reads
   that waited on them;
4. **advance** the node.

File I/O runs in a worker thread so the loop keeps receiving while the disk works; the in-memory Raft
storage is only touched on the loop, between ``ready()`` and ``advance()``.

Proposals carry a small envelope — the proposing member and a sequence number — so the member that
proposed can answer its caller when the entry is applied, even if it was committed through another
leader. The state machine sees only the payload.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from services.etcd.raft.config import Config, ReadIndexDroppedError, RequestDroppedError, Role, SoftState
from services.etcd.raft.durable import DurableState
from services.etcd.raft.node import RawNode, Ready, Status
from services.etcd.raft.storage import MemoryStorage
from services.etcd.raft.types import NONE, Entry, EntryType, HardState, Message, MessageType, Snapshot
from services.etcd.raftio.transport import Transport
from shared.logging import get_logger

log = get_logger(__name__)

_SEQ = struct.Struct(">Q")
_IDS = random.SystemRandom()


class StateMachine(Protocol):
    """What Raft replicates into. ``apply`` must be deterministic: same entries, same state, same result."""

    def apply(self, index: int, data: bytes) -> Any:
        """Apply one committed command; the return value answers the proposer."""
        ...

    def snapshot(self) -> bytes:
        """The whole state as of the last applied entry."""
        ...

    def restore(self, data: bytes) -> None:
        """Replace the whole state with a snapshot's."""
        ...


class NoLeaderError(Exception):
    """The request cannot be served now: no leader is known, or it changed under the request."""

    def __init__(self, message: str, leader: str = NONE) -> None:
        super().__init__(message)
        self.leader = leader


@dataclass(frozen=True, slots=True)
class DriverConfig:
    tick_interval: float = 0.05
    """Seconds per Raft tick; the leader heartbeats every ``heartbeat_ticks``."""
    election_ticks: int = 10
    """Election timeout in ticks, randomised in [n, 2n): 500–1000 ms with the defaults."""
    heartbeat_ticks: int = 1
    snapshot_entries: int = 10_000
    """Take a snapshot after this many applied entries since the last one."""
    catch_up_entries: int = 5_000
    """Entries kept behind a snapshot, so a slightly lagging follower catches up without one."""
    max_inflight: int = 256
    max_bytes_per_msg: int = 1 << 20
    segment_bytes: int = 64 << 20

    def __post_init__(self) -> None:
        if self.tick_interval <= 0:
            raise ValueError("tick_interval must be positive")
        if self.snapshot_entries < 1 or self.catch_up_entries < 0:
            raise ValueError("snapshot_entries must be ≥ 1 and catch_up_entries ≥ 0")


def proposal_sequence() -> Iterator[int]:
    """This process's proposal numbers: counting up from a random start.

    A member that restarts replays entries it proposed in its previous life; were the numbers to restart
    at 1, a replayed entry could answer a new proposal with the same number — acknowledging a write
    before it is applied, with another write's revision. A random 62-bit start makes that collision
    as unlikely as a UUID's."""
    return itertools.count(_IDS.getrandbits(62) + 1)


def wrap_proposal(origin: str, seq: int, payload: bytes) -> bytes:
    name = origin.encode()
    return bytes([len(name)]) + name + _SEQ.pack(seq) + payload


def unwrap_proposal(data: bytes) -> tuple[str, int, bytes]:
    size = data[0]
    origin = data[1 : 1 + size].decode()
    (seq,) = _SEQ.unpack_from(data, 1 + size)
    return origin, seq, data[1 + size + _SEQ.size :]


_LEADER_REPLICATION = frozenset({MessageType.APP, MessageType.HEARTBEAT, MessageType.SNAP})


def split_messages(messages: Sequence[Message]) -> tuple[list[Message], list[Message]]:
    """Messages that may go out before this Ready is persisted, and those that must wait for it.

    A leader's appends, heartbeats and snapshots promise nothing about its own disk: the leader counts
    itself towards a quorum only once its entries are durable (the core's self-acknowledgement comes after
    ``advance``). So they are sent first and the leader's fsync overlaps the followers' (etcd-io/raft
    README: "the leader can write to its disk in parallel with replicating"). Votes and append responses
    promise durable state, and wait.
    """
    early = [m for m in messages if m.type in _LEADER_REPLICATION]
    late = [m for m in messages if m.type not in _LEADER_REPLICATION]
    return early, late


def _retrieve(future: asyncio.Future[int]) -> None:
    """Mark a shared read round's failure as seen, so a round nobody waits on any more logs nothing."""
    if not future.cancelled():
        future.exception()


class RaftMember:
    """One member of a Raft group: durable state in ``data_dir``, messages through ``transport``."""

    def __init__(
        self,
        member_id: str,
        voters: Sequence[str],
        data_dir: Path,
        state_machine: StateMachine,
        transport: Transport,
        config: DriverConfig | None = None,
        *,
        rng: random.Random | None = None,
        on_soft_state: Callable[[SoftState], None] | None = None,
    ) -> None:
        self.id = member_id
        self.voters = tuple(voters)
        self.data_dir = Path(data_dir)
        self.state_machine = state_machine
        self.transport = transport
        self.config = config or DriverConfig()
        self._rng = rng
        self._on_soft_state = on_soft_state
        self.soft_state = SoftState()
        self.applied = 0
        self._snapshot_index = 0
        self._storage = MemoryStorage(self.voters)
        self._node: RawNode | None = None
        self._durable: DurableState | None = None
        self._inbox: list[Message] = []
        self._wake = asyncio.Event()
        self._seq = proposal_sequence()
        self._proposals: dict[int, asyncio.Future[Any]] = {}
        self._reads: dict[bytes, asyncio.Future[int]] = {}
        self._read_batch: asyncio.Future[int] | None = None
        self._applied_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._unsynced_hard_state: HardState | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.fatal: BaseException | None = None

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._durable, restart = await asyncio.to_thread(
            DurableState.open, self.data_dir, segment_size=self.config.segment_bytes
        )
        restart.rebuild(self._storage)
        if restart.snapshot is not None:
            self.state_machine.restore(restart.snapshot.data)
            self.applied = self._snapshot_index = restart.snapshot.metadata.index
        self._node = RawNode(
            Config(
                id=self.id,
                storage=self._storage,
                election_tick=self.config.election_ticks,
                heartbeat_tick=self.config.heartbeat_ticks,
                applied=self.applied,
                max_inflight_msgs=self.config.max_inflight,
                max_size_per_msg=self.config.max_bytes_per_msg,
                rng=self._rng,
            )
        )
        await self.transport.start(self._receive, self._report_snapshot)
        self._task = asyncio.create_task(self._run(), name=f"raft-{self.id}")
        log.info(
            "raft member started",
            member=self.id,
            term=restart.hard_state.term,
            commit=restart.hard_state.commit,
            snapshot=self._snapshot_index,
            entries=len(restart.entries),
        )

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with suppress(asyncio.CancelledError):
                await self._task
        await self.transport.close()
        if self._durable is not None:
            self._durable.close()
        self._fail_waiters(NoLeaderError("member stopped"))

    # --- requests -------------------------------------------------------------------------------------

    @property
    def node(self) -> RawNode:
        if self._node is None:
            raise RuntimeError("member not started")
        return self._node

    @property
    def leader(self) -> str:
        return self.soft_state.lead

    @property
    def term(self) -> int:
        return self._node.raft.term if self._node is not None else 0

    @property
    def is_leader(self) -> bool:
        return self.soft_state.role == Role.LEADER

    def status(self) -> Status:
        return self.node.status()

    async def propose(self, payload: bytes, timeout: float = 5.0) -> Any:
        """Replicate ``payload``; return what the state machine's ``apply`` returned for it.

        Raises NoLeaderError when no leader is known, TimeoutError when the entry was not applied in
        time (it may still be applied later: the outcome is then unknown, as with etcd).
        """
        self._check_running()
        seq = next(self._seq)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._proposals[seq] = future
        try:
            self.node.propose(wrap_proposal(self.id, seq, payload))
            self._wake.set()
            async with asyncio.timeout(timeout):
                return await future
        except RequestDroppedError as error:
            raise NoLeaderError(str(error), error.leader) from None
        finally:
            self._proposals.pop(seq, None)

    async def read_index(self, timeout: float = 5.0) -> int:
        """Wait until a linearizable read may run here; return the index it is consistent with.

        Reads that arrive together share one ReadIndex round (etcd batches them the same way): every
        caller that arrived before the round was issued may use its answer, because the leader
        confirmed its leadership after all of them arrived.
        """
        self._check_running()
        if self._read_batch is None:
            self._read_batch = asyncio.get_running_loop().create_future()
            self._read_batch.add_done_callback(_retrieve)
            self._wake.set()
        batch = self._read_batch
        async with asyncio.timeout(timeout):
            # Shielded: one caller's timeout must not cancel the round the others wait on.
            index = await asyncio.shield(batch)
            await self.wait_applied(index)
            return index

    async def wait_applied(self, index: int) -> None:
        if self.applied >= index:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._applied_waiters.append((index, future))
        await future

    def transfer_leadership(self, to: str) -> None:
        self.node.transfer_leadership(to)
        self._wake.set()

    def campaign(self) -> None:
        self.node.campaign()
        self._wake.set()

    def _check_running(self) -> None:
        if self.fatal is not None:
            raise RuntimeError(f"raft member {self.id} stopped after a fatal error") from self.fatal
        if self._stopping:
            raise NoLeaderError("member is stopping")

    # --- transport callbacks --------------------------------------------------------------------------

    def _receive(self, message: Message) -> None:
        if message.to != self.id:
            return
        self._inbox.append(message)
        self._wake.set()

    def _report_snapshot(self, member: str, delivered: bool) -> None:
        if self._node is not None:
            self._node.report_snapshot(member, delivered)
            self._wake.set()

    # --- the loop -------------------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.config.tick_interval
        next_tick = loop.time() + interval
        try:
            while not self._stopping:
                with suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, next_tick - loop.time())):
                        await self._wake.wait()
                self._wake.clear()
                if loop.time() >= next_tick:
                    self.node.tick()
                    # After a long stall (a paused process) tick once, not once per missed interval:
                    # a burst of ticks would fire elections the stall itself did not warrant.
                    next_tick = max(next_tick + interval, loop.time())
                self._step_inbox()
                self._issue_read_batch()
                while self.node.has_ready() and not self._stopping:
                    await self._handle_ready(self.node.ready())
                await self._maybe_snapshot()
        except Exception as error:
            # Persisting failed (disk full, I/O error): continuing could acknowledge what is not durable.
            self.fatal = error
            log.exception("raft member failed", member=self.id)
            self._fail_waiters(NoLeaderError(f"raft member failed: {error!r}"))
            raise

    def _issue_read_batch(self) -> None:
        batch, self._read_batch = self._read_batch, None
        if batch is None:
            return
        context = wrap_proposal(self.id, next(self._seq), b"")
        try:
            self.node.read_index(context)
        except ReadIndexDroppedError as error:
            batch.set_exception(NoLeaderError(str(error), error.leader))
            return
        # Rounds lost in the network are never answered; forget the finished ones as new ones go out.
        self._reads = {ctx: f for ctx, f in self._reads.items() if not f.done()}
        self._reads[context] = batch

    def _step_inbox(self) -> None:
        inbox, self._inbox = self._inbox, []
        for message in inbox:
            try:
                self.node.step(message)
            except (ValueError, RequestDroppedError) as error:
                log.debug("raft message refused", member=self.id, type=message.type, error=str(error))

    async def _handle_ready(self, rd: Ready) -> None:
        if rd.soft_state is not None:
            self._soft_state_changed(rd.soft_state)
        early, late = split_messages(rd.messages)
        if early:
            await self.transport.send(early)
        await self._persist(rd)
        if late:
            await self.transport.send(late)
        if rd.snapshot is not None:
            self.state_machine.restore(rd.snapshot.data)
            self.applied = self._snapshot_index = rd.snapshot.metadata.index
            log.info("raft snapshot restored", member=self.id, index=self.applied, from_leader=self.leader)
        for entry in rd.committed_entries:
            self._apply(entry)
        for read in rd.read_states:
            future = self._reads.pop(read.context, None)
            if future is not None and not future.done():
                future.set_result(read.index)
        self._wake_applied_waiters()
        self.node.advance(rd)

    async def _persist(self, rd: Ready) -> None:
        if rd.hard_state is not None:
            self._unsynced_hard_state = rd.hard_state
        if rd.must_sync or rd.entries or rd.snapshot is not None:
            hard_state, self._unsynced_hard_state = self._unsynced_hard_state, None
            await asyncio.to_thread(self._write, rd.snapshot, rd.entries, hard_state)
        # A commit-index-only change waits for the next fsync: it is recoverable from the leader.
        if rd.snapshot is not None:
            self._storage.apply_snapshot(rd.snapshot)
        if rd.entries:
            self._storage.append(rd.entries)
        if rd.hard_state is not None:
            self._storage.set_hard_state(rd.hard_state)

    def _write(self, snapshot: Snapshot | None, entries: Sequence[Entry], hard: HardState | None) -> None:
        assert self._durable is not None
        self._durable.persist(hard, entries, snapshot)

    def _apply(self, entry: Entry) -> None:
        self.applied = entry.index
        if entry.type != EntryType.NORMAL or not entry.data:
            return  # a new leader's no-op
        origin, seq, payload = unwrap_proposal(entry.data)
        # An exception here is a bug in the state machine, and it may have changed part of the state:
        # it propagates and stops the member (as etcd panics) rather than let replicas diverge. Refused
        # commands are results, not exceptions.
        result = self.state_machine.apply(entry.index, payload)
        if origin != self.id:
            return
        future = self._proposals.get(seq)
        if future is not None and not future.done():
            future.set_result(result)

    def _wake_applied_waiters(self) -> None:
        waiting = []
        for index, future in self._applied_waiters:
            if future.done():
                continue
            if index <= self.applied:
                future.set_result(None)
            else:
                waiting.append((index, future))
        self._applied_waiters = waiting

    def _soft_state_changed(self, soft: SoftState) -> None:
        previous, self.soft_state = self.soft_state, soft
        if previous.lead != soft.lead:
            log.info("raft leader changed", member=self.id, leader=soft.lead or "none", role=soft.role)
            # A read-index request in flight to the old leader is lost with it; fail fast so the
            # caller retries rather than waiting out its timeout.
            reads, self._reads = self._reads, {}
            for future in reads.values():
                if not future.done():
                    future.set_exception(NoLeaderError("leader changed", soft.lead))
        if self._on_soft_state is not None:
            self._on_soft_state(soft)

    async def _maybe_snapshot(self) -> None:
        if self.applied - self._snapshot_index < self.config.snapshot_entries:
            return
        index = self.applied
        snapshot = self._storage.create_snapshot(index, self.state_machine.snapshot())
        # Persisting the snapshot also releases the WAL segments it covers; memory keeps a tail of
        # entries behind it so that a follower lagging a little catches up without a snapshot.
        await asyncio.to_thread(self._write, snapshot, (), None)
        self._snapshot_index = index
        compact_to = index - self.config.catch_up_entries
        if compact_to > self._storage.first_index():
            self._storage.compact(compact_to)
        log.info("raft snapshot taken", member=self.id, index=index, bytes=len(snapshot.data))

    def _fail_waiters(self, error: Exception) -> None:
        batch = [self._read_batch] if self._read_batch is not None else []
        for future in [*self._proposals.values(), *self._reads.values(), *batch]:
            if not future.done():
                future.set_exception(error)
        for _, waiter in self._applied_waiters:
            if not waiter.done():
                waiter.set_exception(error)
        self._applied_waiters = []
