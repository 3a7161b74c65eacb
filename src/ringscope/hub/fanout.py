"""The fan-out: one reader -> N subscribers, with replay and demand.

The reader runs in the asyncio loop: it wakes on the ring fd (or the drain
timer), drains the ring once, and offers every block to every subscriber.
Each subscriber filters the block on its numpy columns and queues a *view*
(the block plus the indices it wants). Offering never awaits, so a slow
client cannot slow the reader or the other clients.

Kernel work follows demand: whenever the set of subscribers or their filters
change, the union of wanted types (and a pid every client agrees on) is
written to the in-kernel filter map via Session.set_filter.

Not thread-safe: everything runs on one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..events.records import Chunk, Item
from ..filters import Filter
from .blocks import Block, View
from .filter import ClientFilter
from .subscriber import DEFAULT_CLIENT_QUEUE, ClientLoss, Entry, Policy, Subscriber

if TYPE_CHECKING:
    from ..session import Session

__all__ = ["BLOCK_MAX", "DEFAULT_REPLAY", "Hub", "HubSession"]

DEFAULT_REPLAY = 10000  # events kept for Last-Event-ID resume


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


IDLE_INTERVAL = 0.25  # seconds between polls with no subscribers
BLOCK_MAX = 2048  # events per Block: bounds the loop time one encode takes, and its memory


def _split(items: list[Item]) -> Iterator[Item]:
    """Big chunks (a full ring drained at once) become blocks of BLOCK_MAX,
    so writers interleave with encoding instead of waiting for all of it."""
    for item in items:
        if isinstance(item, Chunk):
            yield from item.pieces(BLOCK_MAX)
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
        self.ended: str | None = None  # why stop() ended the streams: later ones end at once
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
        if self.ended is not None:
            sub.close(self.ended)  # nothing more will come (a replayed capture that ended)
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
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops
                # a cancel (stop()) that lands as the wake-up does, and stop()
                # then waits for ever (seen with a replay's always-ready fd).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
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
        """Stop reading and close every stream with `reason` (and every
        stream that subscribes later)."""
        self.ended = reason
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
