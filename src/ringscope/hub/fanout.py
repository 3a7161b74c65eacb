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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from ..events.mixed import Batch, Mixed
from ..events.records import Chunk, Item, Lost
from ..filters import Filter
from .blocks import MIXED, Block, View
from .filter import ClientFilter
from .loss import REASONS, Reason
from .replay import Replay
from .stats import HubStats
from .subscriber import DEFAULT_CLIENT_QUEUE, Entry, Policy, Subscriber

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

    def poll(
        self, timeout: float | None = None, *, flush: bool = False, mixed: Literal[True]
    ) -> list[Batch]: ...
    def set_filter(self, flt: Filter, type_mask: int | None = None) -> None: ...
    def detach(self) -> None: ...
    def kernel_drops(self) -> dict[str, int]: ...
    def ring_fill(self) -> float: ...


IDLE_INTERVAL = 0.25  # seconds between polls with no subscribers
BLOCK_MAX = 2048  # events per Block: bounds the loop time one encode takes, and its memory


def _split(items: list[Batch]) -> Iterator[Item | Mixed]:
    """Big chunks (a full ring drained at once) become blocks of BLOCK_MAX,
    so writers interleave with encoding instead of waiting for all of it.
    A Mixed batch of one type is a plain Chunk block (Mixed.plain())."""
    for item in items:
        if isinstance(item, Mixed):
            item = item.plain()
        if isinstance(item, Chunk | Mixed):
            yield from item.pieces(BLOCK_MAX)
        else:
            yield item


class Hub:
    """Fans the session's stream out to subscribers. Owns no kernel objects
    (the Session does); start() runs the reader task, stop() ends it and
    closes every stream with `reason`.

    Every event type has one name everywhere: its spec's name (`open`,
    `tracepoint:sched:sched_process_fork`, ...), which is the JSON `type`,
    what `types=` selects and the metrics' label. `codes` maps each name to
    its kernel type code (its bit in the in-kernel type mask); events that
    share a code (all tracepoints, all uprobes) are told apart in the hub.
    The kernel counts drops per code: `drop_names` names each code's count
    (the event's own name when only one traced event has that code)."""

    def __init__(
        self,
        session: HubSession,
        codes: dict[str, int],
        fd: int,
        *,
        replay: int = DEFAULT_REPLAY,
        drop_names: dict[str, str] | None = None,
    ) -> None:
        self.session = session
        self.base_filter = session.filter  # the command line's; the kernel's follows demand
        self.codes = codes
        self.types = list(codes)
        self.drop_names = drop_names or {}
        self.fd = fd  # readable when the kernel wakes the reader
        self.subscribers: dict[int, Subscriber] = {}
        # Consumers that see every block and never drop silently (the export):
        # they want every type from the kernel, subscribers or not.
        self.taps: list[Callable[[Block], None]] = []
        self.replay = Replay(replay)
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._kernel_state: tuple[Filter, int] | None = None
        self.stats = HubStats(self.types)
        self.started = time.time()
        self.error: str | None = None  # set if the reader task died
        self.ended: str | None = None  # why stop() ended the streams: later ones end at once
        self.update_demand()

    @classmethod
    def for_session(cls, session: Session, *, replay: int = DEFAULT_REPLAY) -> Hub:
        """A hub over an open Session (which stays owned by the caller)."""
        assert session.reader is not None, "session is not open"
        by_code = session.probes.type_codes()  # keyed by the name that stands for each code
        codes = {spec.name: by_code[spec.generic().name] for spec in session.specs}
        sharing: dict[str, list[str]] = {}
        for spec in session.specs:
            sharing.setdefault(spec.generic().name, []).append(spec.name)
        drop_names = {
            code_name: names[0] if len(names) == 1 else code_name for code_name, names in sharing.items()
        }
        return cls(session, codes, session.reader.fileno(), replay=replay, drop_names=drop_names)

    @property
    def produced(self) -> dict[str, int]:
        return self.stats.produced

    @property
    def delivered(self) -> dict[str, int]:
        return self.stats.delivered

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
        self.stats.connections[kind] += 1
        if resume_after is not None:
            self._replay_into(sub, resume_after)
        self.subscribers[sub.id] = sub
        if self.ended is not None:
            sub.close(self.ended)  # nothing more will come (a replayed capture that ended)
        self.update_demand()
        self._wake.set()  # leave the idle poll interval now
        return sub

    def unsubscribe(self, sub: Subscriber, reason: Reason = "departed") -> None:
        """`sub` is gone: what it still had queued or in flight is lost for
        `reason` (the client left, or the server cut it or shut down)."""
        if self.subscribers.pop(sub.id, None) is not None:
            sub.cut(reason)
            self.stats.departed_lost.update(sub.lost)
            self.update_demand()

    def add_tap(self, tap: Callable[[Block], None]) -> None:
        """`tap` sees every block from now on (and the kernel produces every type)."""
        self.taps.append(tap)
        self.update_demand()

    def change_filter(self, sub: Subscriber, flt: ClientFilter) -> None:
        sub.filter = flt
        self.update_demand()

    def _replay_into(self, sub: Subscriber, after: int) -> None:
        gap = self.replay.gap(after, sub.filter)
        if gap is not None:
            for lost in gap.lost:
                sub.offer(View(Block(lost)))
            sub.tell(gap.loss)
            if gap.loss.exact:
                sub.matched += gap.loss.count
                for type_name, n in gap.loss.by_type.items():
                    sub.count_loss("replay-gap", type_name, n)
            else:
                self.stats.replay_gaps_unknown += 1
        for block in self.replay.after(after):
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
        mask = sum(1 << c for c in set(self.codes.values())) if self.taps else 0
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

    def collected(self) -> set[str]:
        """The types the kernel produces now (their code is in its type mask)."""
        mask = self._kernel_state[1] if self._kernel_state else 0
        return {n for n, c in self.codes.items() if mask >> c & 1}

    @property
    def kernel_filter(self) -> dict[str, Any]:
        flt = self._kernel_state[0] if self._kernel_state else self.base_filter
        return {**asdict(flt), "types": sorted(self.collected())}

    @property
    def running(self) -> bool:
        """True while the reader task runs and has not failed."""
        return self._task is not None and not self._task.done() and self.error is None

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
                idle = not self.subscribers and not self.taps
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
        items = self.session.poll(0, flush=flush, mixed=True)
        stats = self.stats
        stats.polls += 1
        n = 0
        produced = stats.produced
        for item in _split(items):
            block = Block(self._named_drops(item) if isinstance(item, Lost) else item)
            if block.is_event:
                n += block.count
                for t, k in block.type_counts().items():
                    produced[t] += k
            self.replay.remember(block)
            for tap in self.taps:
                tap(block)
            for sub in list(self.subscribers.values()):
                view = self._view_for(sub, block)
                if view is not None:
                    sub.offer(view)
        if n:
            stats.batches.observe(n)
        return n

    def _named_drops(self, lost: Lost) -> Lost:
        """A kernel loss record's per-type counts under the names clients know."""
        by_type = lost.detail.get("by_type")
        if not isinstance(by_type, dict) or not any(self.drop_names.get(k, k) != k for k in by_type):
            return lost
        named = {self.drop_names.get(k, k): v for k, v in by_type.items()}
        return Lost(lost.seq, lost.stage, lost.count, lost.ts_ns, {**lost.detail, "by_type": named})

    def kernel_drops(self) -> dict[str, int]:
        """Failed reserves per type code, by the names in `drop_names`, zero included."""
        out = dict.fromkeys(self.drop_names.values(), 0)
        for name, n in self.session.kernel_drops().items():
            out[self.drop_names.get(name, name)] = n
        return out

    def _view_for(self, sub: Subscriber, block: Block) -> View | None:
        if not block.is_event:
            return View(block)
        if block.type != MIXED and not sub.filter.wants(block.type):
            return None
        idx = self._select(block, sub.filter)
        if idx is None:
            return View(block)
        return View(block, idx) if len(idx) else None

    @staticmethod
    def _select(block: Block, flt: ClientFilter) -> np.ndarray | None:
        # Many clients often share one filter: compute each selection once per block.
        key: tuple[object, ...] = ("sel", flt.pid, flt.tid, flt.uid, flt.comm)
        if block.mixed is not None:  # several types: the type filter selects positions too
            key += (None if flt.types is None else frozenset(flt.types),)
        if key not in block.cache:
            if block.mixed is not None:
                block.cache[key] = flt.select_mixed(block.mixed)
            else:
                assert block.chunk is not None
                block.cache[key] = flt.select(block.chunk)
        sel: np.ndarray | None = block.cache[key]
        return sel

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
        delivered = self.stats.delivered
        for e in entries:
            if isinstance(e, View) and e.is_event:
                for t, k in e.type_counts().items():
                    delivered[t] += k
                n += len(e)
        sub.sent(n)

    def iter_subscribers(self) -> Iterator[Subscriber]:
        return iter(list(self.subscribers.values()))

    def client_lost(self) -> dict[tuple[Reason, str], int]:
        """Events lost by clients per (reason, type), departed ones included."""
        return self.stats.client_lost(s.lost for s in self.subscribers.values())

    def status(self) -> dict[str, Any]:
        lost = self.client_lost()
        by_reason = dict.fromkeys(REASONS, 0)
        by_type = dict.fromkeys(self.types, 0)
        for (reason, type_name), n in lost.items():
            by_reason[reason] += n
            by_type[type_name] = by_type.get(type_name, 0) + n
        drops = self.kernel_drops()
        collected = self.collected()
        types = {t: {"collected": t in collected, "produced": self.produced.get(t, 0),
                     "delivered": self.delivered.get(t, 0), "client_lost": by_type.get(t, 0),
                     "kernel_drops": drops.get(t)} for t in self.types}  # fmt: skip
        return {
            "reader": {"running": self.running, "error": self.error, "polls": self.stats.polls},
            "reader_error": self.error,
            "base_filter": asdict(self.base_filter),
            "kernel_filter": self.kernel_filter,
            "types": types,
            "produced": dict(self.produced),
            "delivered": dict(self.delivered),
            "lost": {**self.session.lost, "client": by_reason},
            "replay_gaps_unknown": self.stats.replay_gaps_unknown,
            "kernel_drops": drops,
            "ring_fill": self.session.ring_fill(),
            "replay_window": {
                "events": self.replay.events,
                "max": self.replay.max_events,
                "oldest_seq": self.replay.oldest_seq,
            },
            "clients": [s.status() for s in self.subscribers.values()],
        }
