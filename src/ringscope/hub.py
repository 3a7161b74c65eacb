"""One ring reader -> N subscribers, with bounded per-client queues.

The reader runs in the asyncio loop: it wakes on the ring fd (or the drain
timer), drains the ring once, and offers every chunk to every subscriber.
Each subscriber filters the chunk on its numpy columns and queues a *view*
(the chunk plus the indices it wants). The JSON for a chunk is made once, the
first time any client needs it, and the bytes are shared by every client.

A subscriber's queue is bounded in events. When it is full the subscriber's
policy applies (drop-oldest, drop-newest, disconnect) and every dropped event
is counted; the client later reads one `lost` record (stage "client") with
the count and the first and last seq it missed. Offering never awaits, so a
slow client cannot slow the reader or the other clients.

Kernel work follows demand: whenever the set of subscribers or their filters
change, the union of wanted types (and a pid every client agrees on) is
written to the in-kernel filter map via Session.set_filter.

Not thread-safe: everything runs on one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import orjson

from .events.encode import encode_ndjson, json_default
from .events.encode import encode_rows as encode_rows  # re-exported: the row path's encoder
from .events.records import Chunk, Item, Lost
from .filters import Filter

if TYPE_CHECKING:
    from .session import Session

__all__ = [
    "POLICIES",
    "Block",
    "ClientFilter",
    "ClientLoss",
    "Entry",
    "Hub",
    "Notice",
    "Policy",
    "Subscriber",
    "View",
]

Policy = Literal["drop-oldest", "drop-newest", "disconnect"]
POLICIES: tuple[Policy, ...] = ("drop-oldest", "drop-newest", "disconnect")
DEFAULT_CLIENT_QUEUE = 65536  # events
DEFAULT_REPLAY = 10000  # events kept for Last-Event-ID resume
MAX_NOTICES = 64  # unread control rows (WebSocket acks) per client


class HubSession(Protocol):
    """What the hub needs from a Session (the seam unit tests replace)."""

    filter: Filter
    drain_interval: float

    @property
    def lost(self) -> dict[str, int]: ...

    def poll(self, timeout: float | None = None, *, flush: bool = False) -> list[Item]: ...
    def set_filter(self, flt: Filter, type_mask: int | None = None) -> None: ...
    def detach(self) -> None: ...
    def kernel_drops(self) -> dict[str, int]: ...
    def ring_fill(self) -> float: ...


class Block:
    """A run of stream items of one type (a Chunk, or one loss record),
    encoded lazily and at most once. `cache` holds renderings made by the
    server (SSE, WebSocket) so they too are made once and shared."""

    __slots__ = ("_lines", "_starts", "cache", "chunk", "count", "is_event", "lost", "seq0", "type")

    def __init__(self, item: Item) -> None:
        self.chunk: Chunk | None = item if isinstance(item, Chunk) else None
        self.lost: Lost | None = item if isinstance(item, Lost) else None
        self.is_event = self.chunk is not None
        if isinstance(item, Chunk):
            self.type = item.spec.name
            self.seq0 = item.seq0
            self.count = len(item)
        else:
            self.type = "lost"
            self.seq0 = item.seq
            self.count = 1
        self._lines: list[bytes] | None = None
        self._starts: np.ndarray | None = None
        self.cache: dict[Any, Any] = {}

    @property
    def last_seq(self) -> int:
        return self.seq0 + self.count - 1

    def ndjson(self) -> bytes:
        """Every item as NDJSON, made on first use and shared."""
        blob: bytes | None = self.cache.get("ndjson")
        if blob is None:
            if self.chunk is not None:
                blob = encode_ndjson(self.chunk)
            else:
                assert self.lost is not None
                blob = orjson.dumps(self.lost.row(), default=json_default) + b"\n"
            self.cache["ndjson"] = blob
        return blob

    def lines(self) -> list[bytes]:
        """One JSON object per item, without newline (for partial views,
        SSE and WebSocket frames)."""
        if self._lines is None:
            self._lines = self.ndjson()[:-1].split(b"\n")
        return self._lines

    def ndjson_of(self, idx: np.ndarray) -> bytes:
        """The NDJSON of the items at positions `idx` (ascending): one slice
        of the shared bytes per run of consecutive positions."""
        blob = self.ndjson()
        if not len(idx):
            return b""
        if self._starts is None:
            # A newline only ever ends a line: in a JSON string it is escaped.
            ends = np.flatnonzero(np.frombuffer(blob, np.uint8) == ord("\n")) + 1
            self._starts = np.concatenate([[0], ends])
        cut = np.flatnonzero(np.diff(idx) != 1) + 1
        first = idx[np.concatenate([[0], cut])]
        last = idx[np.concatenate([cut - 1, [len(idx) - 1]])]
        spans = zip(self._starts[first].tolist(), self._starts[last + 1].tolist(), strict=True)
        return b"".join([blob[a:b] for a, b in spans])


def _merge_lost(old: Lost, new: Lost) -> Lost:
    """One loss record for two: counts (and per-type counts) summed, the
    later seq and time kept, the first seq remembered."""
    detail = {**old.detail, **new.detail}
    a, b = old.detail.get("by_type"), new.detail.get("by_type")
    if isinstance(a, dict) and isinstance(b, dict):
        detail["by_type"] = {k: a.get(k, 0) + b.get(k, 0) for k in {*a, *b}}
    detail["first_seq"] = old.detail.get("first_seq", old.seq)
    return Lost(new.seq, new.stage, old.count + new.count, new.ts_ns, detail)


@dataclass(frozen=True, slots=True)
class View:
    """The items of `block` one client wants: all of them (idx None) or the
    positions in `idx`."""

    block: Block
    idx: np.ndarray | None = None

    def __len__(self) -> int:
        return self.block.count if self.idx is None else len(self.idx)

    @property
    def is_event(self) -> bool:
        return self.block.is_event

    def seqs(self) -> np.ndarray:
        if self.idx is None:
            return np.arange(self.block.seq0, self.block.seq0 + self.block.count)
        return self.idx + self.block.seq0

    def positions(self) -> Iterable[int]:
        return range(self.block.count) if self.idx is None else self.idx.tolist()

    def first_seq(self) -> int:
        return self.block.seq0 if self.idx is None else self.block.seq0 + int(self.idx[0])

    def last_seq(self) -> int:
        return self.block.last_seq if self.idx is None else self.block.seq0 + int(self.idx[-1])

    def head(self, n: int) -> View:
        return View(self.block, np.arange(n) if self.idx is None else self.idx[:n])

    def tail(self, n: int) -> View:
        count = len(self)
        return View(self.block, np.arange(count - n, count) if self.idx is None else self.idx[count - n :])

    def ndjson(self) -> bytes:
        if self.idx is None:
            return self.block.ndjson()
        return self.block.ndjson_of(self.idx)


@dataclass(slots=True)
class ClientLoss:
    """Events this client missed, reported in-stream when it catches up."""

    count: int
    first_seq: int
    last_seq: int
    reason: str

    def merge(self, count: int, first: int, last: int) -> None:
        self.count += count
        self.first_seq = min(self.first_seq, first)
        self.last_seq = max(self.last_seq, last)

    def row(self) -> dict[str, Any]:
        return {"type": "lost", "stage": "client", "count": self.count, "first_seq": self.first_seq,
                "last_seq": self.last_seq, "ts_ns": time.monotonic_ns(), "reason": self.reason}  # fmt: skip


@dataclass(slots=True)
class Notice:
    """A control row in one client's stream (a subscription ack, an error),
    queued so that it stays in order with the events around it."""

    doc: dict[str, Any]

    def row(self) -> dict[str, Any]:
        return self.doc


Entry = View | ClientLoss | Notice


# -- per-client filter ---------------------------------------------------------


@dataclass(frozen=True)
class ClientFilter:
    """What one client wants. None means any. Applied in the hub on the
    chunk's numpy columns; its union across clients narrows the kernel side."""

    types: frozenset[str] | None = None
    pid: int | None = None
    tid: int | None = None
    uid: int | None = None
    comm: str | None = None

    def wants(self, type_name: str) -> bool:
        return self.types is None or type_name in self.types

    def select(self, chunk: Chunk) -> np.ndarray | None:
        """Indices of matching events, or None when every event matches."""
        recs = chunk.records
        mask: np.ndarray | None = None
        for col, val in (("pid", self.pid), ("tid", self.tid), ("uid", self.uid)):
            if val is not None:
                m = recs[col] == val
                mask = m if mask is None else mask & m
        if self.comm is not None:
            m = recs["comm"] == self.comm.encode()
            mask = m if mask is None else mask & m
        if mask is None or bool(mask.all()):
            return None
        return np.flatnonzero(mask)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["types"] = None if self.types is None else sorted(self.types)
        return d


# -- a subscriber -------------------------------------------------------------


@dataclass(eq=False)
class Subscriber:
    """One client's queue. The hub offers views without ever awaiting; the
    client's writer task awaits `take()`, writes, then reports `sent()`.
    Counters satisfy, at all times, matched == delivered + dropped + depth +
    sending; once unsubscribed, matched == delivered + dropped."""

    id: int
    kind: str  # "sse", "ws", "ndjson", or "api" for in-process users
    peer: str
    filter: ClientFilter
    policy: Policy = "drop-oldest"
    max_queue: int = DEFAULT_CLIENT_QUEUE
    limit: int | None = None
    batch: int = 1
    queue: deque[Entry] = field(default_factory=deque)
    depth: int = 0  # events queued
    sending: int = 0  # events taken by the writer and not yet written
    matched: int = 0
    delivered: int = 0
    dropped: int = 0
    lost_records: int = 0
    closed: str | None = None  # why the stream ends: "limit", "shutdown", "queue overflow", ...
    connected_at: float = field(default_factory=time.time)
    on_overflow: Callable[[], None] | None = None  # the server's hook to cut a stalled connection
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    # -- producer side (the hub) --

    def offer(self, view: View) -> None:
        if self.closed is not None:
            return
        n = len(view)
        if not view.is_event:
            self._push_loss(view)
            return
        self.matched += n
        room = self.max_queue - self.depth
        if n > room:
            if self.policy == "disconnect":
                self._overflow_disconnect(view)
                return
            if self.policy == "drop-newest":
                if room > 0:
                    self._push(view.head(room))
                self._drop_tail(view.tail(n - room))
                return
            # drop-oldest: make room from the front, then keep at most the newest max_queue
            if n > self.max_queue:
                self._drop_head_view(view.head(n - self.max_queue))
                view = view.tail(self.max_queue)
                n = self.max_queue
            self._evict(n - (self.max_queue - self.depth))
        self._push(view)

    def _push_loss(self, view: View) -> None:
        """Queue a kernel/daemon loss record. Consecutive ones (a client that
        reads nothing in between) merge into one with the summed count, so
        a stalled client's queue stays bounded while the kernel drops."""
        tail = self.queue[-1] if self.queue else None
        new = view.block.lost
        if isinstance(tail, View) and tail.block.lost is not None and new is not None:
            old = tail.block.lost
            if old.stage == new.stage:
                self.queue[-1] = View(Block(_merge_lost(old, new)))
                self._wake.set()
                return
        self.queue.append(view)
        self._wake.set()

    def _push(self, view: View) -> None:
        self.queue.append(view)
        self.depth += len(view)
        self._wake.set()

    def _drop_tail(self, view: View) -> None:
        self.dropped += len(view)
        tail = self.queue[-1] if self.queue else None
        if isinstance(tail, ClientLoss):
            tail.merge(len(view), view.first_seq(), view.last_seq())
        else:
            self.queue.append(ClientLoss(len(view), view.first_seq(), view.last_seq(), "drop-newest"))
        self._wake.set()

    def _head_loss(self) -> ClientLoss:
        head = self.queue[0] if self.queue else None
        if isinstance(head, ClientLoss):
            return head
        loss = ClientLoss(0, 1 << 62, -1, "drop-oldest")
        self.queue.appendleft(loss)
        return loss

    def _drop_head_view(self, view: View) -> None:
        self.dropped += len(view)
        self._head_loss().merge(len(view), view.first_seq(), view.last_seq())

    def _evict(self, need: int) -> None:
        """Drop the oldest queued events until `need` fit (drop-oldest).
        Kernel and daemon loss records are never dropped: they keep their place."""
        loss = self._head_loss()
        self.queue.popleft()
        kept: list[Entry] = []
        while need > 0 and self.queue:
            entry = self.queue.popleft()
            if isinstance(entry, ClientLoss):
                loss.merge(entry.count, entry.first_seq, entry.last_seq)
                continue
            if isinstance(entry, Notice) or not entry.is_event:
                kept.append(entry)
                continue
            k = min(need, len(entry))
            gone = entry.head(k)
            if k < len(entry):
                self.queue.appendleft(entry.tail(len(entry) - k))
            loss.merge(k, gone.first_seq(), gone.last_seq())
            self.depth -= k
            self.dropped += k
            need -= k
        self.queue.extendleft(reversed(kept))
        if loss.count:
            self.queue.appendleft(loss)

    def _overflow_disconnect(self, view: View) -> None:
        """Policy "disconnect": everything queued is dropped with the new
        events, reported in one loss record, and the stream ends."""
        views = [e for e in self.queue if isinstance(e, View) and e.is_event]
        first = views[0].first_seq() if views else view.first_seq()
        loss = ClientLoss(self.depth + len(view), first, view.last_seq(), "disconnect")
        for e in self.queue:
            if isinstance(e, ClientLoss):
                loss.merge(e.count, e.first_seq, e.last_seq)
        self.dropped += self.depth + len(view)
        self.depth = 0
        self.queue.clear()
        self.queue.append(loss)
        self.closed = "queue overflow"
        self._wake.set()
        if self.on_overflow is not None:
            self.on_overflow()

    def notify(self, doc: dict[str, Any]) -> None:
        """Queue a control row for this client, after what is queued now.
        A client that keeps sending requests without reading the answers
        is cut rather than allowed to grow its queue without bound."""
        if sum(isinstance(e, Notice) for e in self.queue) >= MAX_NOTICES:
            self.close("too many unread control messages")
            return
        self.queue.append(Notice(doc))
        self._wake.set()

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
        self._wake.set()

    # -- consumer side (the client's writer) --

    async def wait(self, timeout: float | None) -> bool:
        """Wait until something is queued or the stream is closed. False on timeout."""
        if self.queue or self.closed is not None:
            return True
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def take(self, max_events: int = 1 << 30) -> list[Entry]:
        """Pop queued entries (about `max_events` events), honouring `limit`."""
        out: list[Entry] = []
        budget = max_events
        while self.queue and budget > 0 and not self.done:
            entry = self.queue.popleft()
            if not isinstance(entry, View):
                self.lost_records += isinstance(entry, ClientLoss)
                out.append(entry)
                continue
            if entry.is_event:
                n = len(entry)
                if self.limit is not None and self.delivered + self.sending + n > self.limit:
                    keep = self.limit - self.delivered - self.sending
                    # The rest were matched but will never be sent: not a loss, the client asked to stop.
                    self.matched -= n - keep
                    self.depth -= n - keep
                    entry = entry.head(keep)
                    n = keep
                self.depth -= n
                self.sending += n
                budget -= n
            out.append(entry)
        if self.done:
            self.close("limit")
        return out

    def sent(self, n: int) -> None:
        """The writer wrote `n` taken events: only now are they delivered."""
        self.sending -= n
        self.delivered += n

    def abandon(self) -> None:
        """The client is gone: what is queued or was being written never
        reaches it, so it counts as dropped."""
        self.dropped += self.depth + self.sending
        self.depth = self.sending = 0
        self.queue.clear()
        self.close("disconnect")

    @property
    def done(self) -> bool:
        return self.limit is not None and self.delivered + self.sending >= self.limit

    def drained_and_closed(self) -> bool:
        """True when the stream should end: closed, with nothing left to send
        (overflow-disconnects end at once, with what is queued discarded)."""
        return self.closed is not None and (not self.queue or self.done)

    def status(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "peer": self.peer, "filter": self.filter.as_dict(),
                "policy": self.policy, "max_queue": self.max_queue, "limit": self.limit, "batch": self.batch,
                "queue_depth": self.depth, "sending": self.sending, "matched": self.matched,
                "delivered": self.delivered, "dropped": self.dropped, "connected_at": self.connected_at}  # fmt: skip


# -- the hub ------------------------------------------------------------------

IDLE_INTERVAL = 0.25  # seconds between polls with no subscribers
BLOCK_MAX = 2048  # events per Block: bounds the loop time one encode takes, and its memory


def _split(items: list[Item]) -> Iterator[Item]:
    """Big chunks (a full ring drained at once) become blocks of BLOCK_MAX,
    so writers interleave with encoding instead of waiting for all of it."""
    for item in items:
        if isinstance(item, Chunk) and len(item) > BLOCK_MAX:
            for i in range(0, len(item), BLOCK_MAX):
                yield Chunk(item.layout, item.spec, item.seq0 + i, item.records[i : i + BLOCK_MAX])
        else:
            yield item


class Hub:
    """Fans the session's stream out to subscribers. Owns no kernel objects
    (the Session does); start() runs the reader task, stop() ends it and
    closes every stream with `reason`."""

    def __init__(
        self, session: HubSession, codes: dict[str, int], fd: int, *, replay: int = DEFAULT_REPLAY
    ) -> None:
        self.session = session
        self.base_filter = session.filter
        self.codes = codes  # event type name -> enum rs_event_type value (its type_mask bit)
        self.fd = fd  # readable when the kernel wakes the reader
        self.subscribers: dict[int, Subscriber] = {}
        self.replay_max = replay
        self._replay: deque[Block] = deque()
        self._replay_events = 0
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._kernel_state: tuple[Filter, int] | None = None
        self.produced: Counter[str] = Counter()
        self.delivered: Counter[str] = Counter()
        self.client_dropped_total = 0  # including clients that have left
        self.polls = 0
        self.batch_sizes: deque[int] = deque(maxlen=4096)  # events per drain, for /metrics
        self.started = time.time()
        self.error: str | None = None  # set if the reader task died
        self.update_demand()

    @classmethod
    def for_session(cls, session: Session, *, replay: int = DEFAULT_REPLAY) -> Hub:
        """A hub over an open Session (which stays owned by the caller)."""
        assert session.decoder is not None and session.reader is not None, "session is not open"
        codes = {spec.name: code for code, (_, spec) in session.decoder.by_code.items()}
        return cls(session, codes, session.reader.fileno(), replay=replay)

    # -- subscribers --

    def subscribe(
        self,
        flt: ClientFilter,
        *,
        kind: str = "api",
        peer: str = "",
        policy: Policy = "drop-oldest",
        max_queue: int = DEFAULT_CLIENT_QUEUE,
        limit: int | None = None,
        batch: int = 1,
        resume_after: int | None = None,
    ) -> Subscriber:
        """Register a client. With `resume_after` (a Last-Event-ID), events
        after that seq still in the replay window are queued first; a gap
        before the window is reported as a client-stage loss."""
        if self._task is not None:
            # What waits in the ring was produced before this client came:
            # it goes to the clients already there (and the replay window).
            self.pump()
        sub = Subscriber(next(self._ids), kind, peer, flt, policy, max_queue, limit, batch)
        if resume_after is not None:
            self._replay_into(sub, resume_after)
        self.subscribers[sub.id] = sub
        self.update_demand()
        self._wake.set()  # leave the idle poll interval now
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        if self.subscribers.pop(sub.id, None) is not None:
            sub.abandon()
            self.client_dropped_total += sub.dropped
            self.update_demand()

    def change_filter(self, sub: Subscriber, flt: ClientFilter) -> None:
        sub.filter = flt
        self.update_demand()

    def _replay_into(self, sub: Subscriber, after: int) -> None:
        oldest = self._replay[0].seq0 if self._replay else None
        if oldest is not None and after + 1 < oldest:
            # Seqs that left the window: how many of them matched this
            # filter is unknowable now, so this counts stream positions.
            sub.queue.append(ClientLoss(oldest - after - 1, after + 1, oldest - 1, "replay window"))
            sub.dropped += oldest - after - 1
            sub.matched += oldest - after - 1
        for block in self._replay:
            if block.last_seq <= after:
                continue
            view = self._view_for(sub, block)
            if view is None:
                continue
            if block.seq0 <= after:
                seqs = view.seqs()
                keep = np.flatnonzero(seqs > after)
                if not len(keep):
                    continue
                base = np.arange(block.count) if view.idx is None else view.idx
                view = View(block, base[keep])
            sub.offer(view)

    # -- demand -> kernel filter --

    def update_demand(self) -> None:
        """Narrow the kernel side to what subscribers want, if it changed."""
        subs = [s for s in self.subscribers.values() if s.closed is None]
        mask = 0
        for s in subs:
            names = self.codes.keys() if s.filter.types is None else s.filter.types
            for name in names:
                if name in self.codes:
                    mask |= 1 << self.codes[name]
        flt = self.base_filter
        # The kernel filter holds one value per field: narrow a field only
        # when every client asks for the same value (and the CLI did not).
        for name in ("pid", "comm", "uid"):
            values = {getattr(s.filter, name) for s in subs}
            if getattr(flt, name) is None and len(values) == 1 and None not in values:
                flt = replace(flt, **{name: values.pop()})
        if flt.pid != self.base_filter.pid:
            flt = replace(flt, follow=False)
        state = (flt, mask)
        if state != self._kernel_state:
            self.session.set_filter(flt, type_mask=mask)
            self._kernel_state = state

    @property
    def kernel_filter(self) -> dict[str, Any]:
        flt, mask = self._kernel_state or (self.base_filter, 0)
        types = sorted(n for n, c in self.codes.items() if mask >> c & 1)
        return {**asdict(flt), "types": types}

    # -- the reader --

    def start(self) -> None:
        assert self._task is None, "hub already started"
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ringscope-hub")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        fd = self.fd
        loop.add_reader(fd, self._wake.set)
        try:
            while True:
                # Nobody listening means the kernel filter lets nothing
                # through: no need to poll the ring every millisecond.
                idle = not self.subscribers
                timeout = IDLE_INTERVAL if idle else self.session.drain_interval
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                self._wake.clear()
                self.pump()
        except Exception as e:
            # A dead reader must not leave streams hanging: end them, saying why.
            self.error = f"reader failed: {e}"
            for sub in self.subscribers.values():
                sub.close(self.error)
            raise
        finally:
            loop.remove_reader(fd)

    def pump(self, *, flush: bool = False) -> int:
        """Drain the ring once and offer everything to every subscriber.
        Returns the number of events read. flush=True for the last pump:
        the perf buffer transport then hands on its reorder window too."""
        items = self.session.poll(0, flush=flush)
        self.polls += 1
        n = 0
        for item in _split(items):
            block = Block(item)
            if block.is_event:
                n += block.count
                self.produced[block.type] += block.count
            self._remember(block)
            for sub in list(self.subscribers.values()):
                view = self._view_for(sub, block)
                if view is not None:
                    sub.offer(view)
        if n:
            self.batch_sizes.append(n)
        return n

    def _view_for(self, sub: Subscriber, block: Block) -> View | None:
        if not block.is_event:
            return View(block)
        if not sub.filter.wants(block.type):
            return None
        idx = self._select(block, sub.filter)
        if idx is None:
            return View(block)
        return View(block, idx) if len(idx) else None

    @staticmethod
    def _select(block: Block, flt: ClientFilter) -> np.ndarray | None:
        # Many clients often share one filter: compute each selection once per block.
        key = ("sel", flt.pid, flt.tid, flt.uid, flt.comm)
        if key not in block.cache:
            assert block.chunk is not None
            block.cache[key] = flt.select(block.chunk)
        sel: np.ndarray | None = block.cache[key]
        return sel

    def _remember(self, block: Block) -> None:
        self._replay.append(block)
        self._replay_events += block.count
        while self._replay and self._replay_events - self._replay[0].count >= self.replay_max:
            self._replay_events -= self._replay.popleft().count

    async def stop(self, reason: str = "shutdown") -> None:
        """Stop reading and close every stream with `reason`."""
        if self._task is not None:
            self._task.cancel()
            # A reader that died has already said why (self.error).
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
            if self.error is None:
                # Stop production, then hand on everything still in the ring
                # (and, with the perf buffer, in its reorder window) and the
                # last drops before the final frames.
                self.session.detach()
                self.pump(flush=True)
        for sub in self.subscribers.values():
            sub.close(reason)

    # -- observability --

    def note_delivered(self, sub: Subscriber, entries: Iterable[Entry]) -> None:
        """`entries`, taken from `sub`, were written to its socket."""
        n = 0
        for e in entries:
            if isinstance(e, View) and e.is_event:
                self.delivered[e.block.type] += len(e)
                n += len(e)
        sub.sent(n)

    def iter_subscribers(self) -> Iterator[Subscriber]:
        return iter(list(self.subscribers.values()))

    def status(self) -> dict[str, Any]:
        client_lost = self.client_dropped_total + sum(s.dropped for s in self.subscribers.values())
        oldest = self._replay[0].seq0 if self._replay else None
        return {
            "reader_error": self.error,
            "kernel_filter": self.kernel_filter,
            "produced": dict(self.produced),
            "delivered": dict(self.delivered),
            "lost": {**self.session.lost, "client": client_lost},
            "kernel_drops": self.session.kernel_drops(),
            "ring_fill": self.session.ring_fill(),
            "replay_window": {"events": self._replay_events, "max": self.replay_max, "oldest_seq": oldest},
            "clients": [s.status() for s in self.subscribers.values()],
        }
