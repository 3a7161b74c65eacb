"""A tracing session: the whole kernel-to-Python pipeline behind one object.

    with Session(["exec", "open"], filter=Filter(pid=1234)) as s:
        for event in s.events():
            print(event)

A Session joins the two halves of the pipeline: Probes (probes.py), which
owns every kernel object, and Stream (stream.py), which reads and decodes.
Session.replay(path) puts a capture file (capture/replay.py) where the
Probes were: the same Stream reads it, with no privilege at all.
Lifetime: __enter__ (or open()) checks capabilities, probes features, creates
the shared maps, loads one BPF object per source family, writes the filter
and attaches; close() detaches and frees everything, in reverse order, on
every path. Not thread-safe: one thread drives a session.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Literal, Protocol, Self, overload

from ._libbpf import BpfObject, Link
from .btf import Btf
from .capture.replay import Replay
from .closing import Closing
from .events.decode import Decoder
from .events.mixed import Batch
from .events.records import Chunk, Item
from .events.spec import EventSpec, LoadOptions, Row
from .filters import Filter
from .probes import Probes
from .sources import DEFAULT_EVENTS, FOLLOW, resolve_events
from .stream import Stream, Tap
from .transport.base import Reader
from .transport.sizing import DEFAULT_RING_SIZE, check_ring_size

__all__ = ["Producer", "Session"]


class Producer(Protocol):
    """What a session reads: the kernel (Probes) or a capture file (Replay).
    It owns the reader and keeps the counters and the clock the stream reads."""

    specs: list[EventSpec]
    objects: dict[str, BpfObject]
    links: list[Link]
    transport: str | None
    ring_size: int
    wakeup_bytes: int

    @property
    def reader(self) -> Reader | None: ...
    @property
    def truncated(self) -> str | None: ...  # where a capture file stops short

    def open(self, helpers: Sequence[EventSpec] = ()) -> None: ...
    def btfs(self) -> dict[str, Btf]: ...
    def attach(self) -> None: ...
    def detach(self) -> None: ...
    def close(self) -> None: ...
    def type_codes(self) -> dict[str, int]: ...
    def set_filter(self, flt: Filter, type_mask: int) -> None: ...
    def follow(self, pid: int) -> None: ...
    def drops_by_code(self) -> list[int]: ...
    def skipped_runs(self) -> int: ...
    def now_ns(self) -> int: ...
    def exhausted(self) -> bool: ...


class Session(Closing):
    """One tracing pipeline. See the module docstring."""

    def __init__(
        self,
        events: Iterable[str] = DEFAULT_EVENTS,
        *,
        filter: Filter | None = None,
        ring_size: int = DEFAULT_RING_SIZE,
        wakeup_bytes: int | None = None,
        drain_interval: float = 0.001,
        syscall_id: int | None = None,
        transport: str | None = None,
    ) -> None:
        probes = Probes(
            resolve_events(events),
            ring_size=check_ring_size(ring_size),
            wakeup_bytes=wakeup_bytes,
            transport=transport,
            options=LoadOptions(syscall_id=syscall_id),
        )
        self._setup(probes, filter or Filter(exclude_pid=os.getpid()), drain_interval)

    def _setup(self, producer: Producer, flt: Filter, drain_interval: float) -> None:
        self.probes: Producer = producer
        self.specs = producer.specs
        self.filter = flt
        self.drain_interval = drain_interval
        self.stream: Stream | None = None
        self._tap: Tap | None = None

    @classmethod
    def replay(cls, path: str | Path, *, speed: float = 0.0, drain_interval: float = 0.001) -> Session:
        """A session over a capture file instead of the kernel: the same
        stream (seq, loss records) the capture was made from, read at
        `speed` (0: as fast as it is polled; 1: the recorded pace). Needs
        no privilege. BadInput for a file that is not a readable capture."""
        session = cls.__new__(cls)
        session._setup(Replay(path, speed=speed), Filter(), drain_interval)
        return session

    # -- lifecycle -----------------------------------------------------------

    def open(self) -> Self:
        """Load and attach everything. Idempotent: a session opens once."""
        if self.stream is not None:
            return self
        try:
            # The filter may have changed since __init__ (trace -- CMD follows its pid).
            self.probes.open(helpers=[FOLLOW] if self.filter.follow else [])
            assert self.probes.reader is not None
            btfs = list(self.probes.btfs().values())
            self.stream = Stream(
                self.probes.reader, Decoder(btfs, self.specs), self.probes, clock=self.probes.now_ns
            )
            self.stream.tap = self._tap
            self.set_filter(self.filter)
            self.probes.attach()
        except BaseException:
            self.close()
            raise
        return self

    def detach(self) -> None:
        """Stop the kernel side producing (close every link) while the ring
        and the counters stay readable: a final poll(flush=True) after this
        reads everything produced, and every drop, up to the detach."""
        self.probes.detach()

    def close(self) -> None:
        """Detach and free everything. Idempotent. Whatever was produced
        since the last poll is freed unread: detach() and poll() first."""
        self.stream = None
        self.probes.close()

    def __enter__(self) -> Self:
        return self.open()

    def tap(self, tap: Tap | None) -> None:
        """Show every poll to `tap` (a capture writer) from now on, or stop."""
        self._tap = tap
        if self.stream is not None:
            self.stream.tap = tap

    # -- what the session holds ------------------------------------------------

    def btfs(self) -> dict[str, Btf]:
        """The BTF of each object the events are decoded with, by name."""
        return self.probes.btfs()

    @property
    def truncated(self) -> str | None:
        """Where a replayed capture file stops inside a block (a writer
        killed mid-block), once the replay got there; else None."""
        return self.probes.truncated

    @property
    def exhausted(self) -> bool:
        """True when one more poll(flush=True) reads everything that will
        ever come (a capture at its last poll); never for the kernel."""
        return self.probes.exhausted()

    def _stream(self) -> Stream:
        assert self.stream is not None, "session is not open"
        return self.stream

    @property
    def reader(self) -> Reader | None:
        return self.probes.reader

    @property
    def decoder(self) -> Decoder | None:
        return None if self.stream is None else self.stream.decoder

    @property
    def objects(self) -> dict[str, BpfObject]:
        return self.probes.objects

    @property
    def links(self) -> list[Link]:
        return self.probes.links

    @property
    def transport(self) -> str | None:
        return self.probes.transport

    @property
    def ring_size(self) -> int:
        return self.probes.ring_size

    @property
    def wakeup_bytes(self) -> int:
        return self.probes.wakeup_bytes

    @property
    def delivered(self) -> int:
        return 0 if self.stream is None else self.stream.delivered

    @property
    def delivered_bytes(self) -> int:
        return 0 if self.stream is None else self.stream.delivered_bytes

    @property
    def lost(self) -> dict[str, int]:
        return {"kernel": 0, "daemon": 0} if self.stream is None else self.stream.lost

    @property
    def skipped(self) -> int:
        return 0 if self.stream is None else self.stream.skipped

    # -- run-time control ----------------------------------------------------

    @property
    def type_mask(self) -> int:
        mask = 0
        for code in self.probes.type_codes().values():
            mask |= 1 << code
        return mask

    def set_filter(self, flt: Filter, type_mask: int | None = None) -> None:
        """Change the in-kernel filter while events flow."""
        self.filter = flt
        self.probes.set_filter(flt, self.type_mask if type_mask is None else type_mask)

    def follow(self, pid: int) -> None:
        """Add `pid` to the followed tree (trace -- CMD does this before exec)."""
        self.probes.follow(pid)

    # -- reading -------------------------------------------------------------

    @overload
    def poll(self, timeout: float | None = None, *, flush: bool = False,
             mixed: Literal[False] = False) -> list[Item]: ...  # fmt: skip
    @overload
    def poll(
        self, timeout: float | None = None, *, flush: bool = False, mixed: Literal[True]
    ) -> list[Batch]: ...

    def poll(self, timeout: float | None = None, *, flush: bool = False,
             mixed: bool = False) -> list[Item] | list[Batch]:  # fmt: skip
        """Wait up to `timeout` seconds (default: the drain interval) for
        events, then drain the ring: chunks of events, then any loss.
        flush=True for the last poll of a stream: the perf buffer transport
        then also hands on what its reorder window still holds (the newest
        ~1 ms), which would otherwise be dropped at close. mixed=True: the
        events come as one Mixed batch per drain (see Stream.poll)."""
        wait = self.drain_interval if timeout is None else timeout
        if mixed:
            return self._stream().poll(wait, flush=flush, mixed=True)
        return self._stream().poll(wait, flush=flush)

    def kernel_drops(self) -> dict[str, int]:
        """Failed reserves so far, per event type, summed over CPUs."""
        return self._stream().kernel_drops()

    def skipped_runs(self) -> int:
        """Runs of our programs the kernel skipped because the program was
        already running on that CPU. Each may or may not have been an event:
        reported beside the exact loss count, never added to it."""
        return self.probes.skipped_runs()

    def ring_fill(self) -> float:
        return self._stream().ring_fill()

    def events(self, *, limit: int | None = None, duration: float | None = None) -> Iterator[Row]:
        """Iterate decoded events (dicts) and loss records, in stream order,
        for `duration` seconds or `limit` events. The session stays attached
        and can be read again: what was read past the limit is kept for the
        next read. To read everything up to an end, detach() and then
        poll(flush=True)."""
        deadline = None if duration is None else time.monotonic() + duration
        left = limit
        while deadline is None or time.monotonic() < deadline:
            items = self.poll()
            for i, item in enumerate(items):
                rows, rest = _take_rows(item, left)
                yield from rows
                if left is not None:
                    left -= sum(r["type"] != "lost" for r in rows)
                    if left <= 0:
                        self._stream().hold([*rest, *items[i + 1 :]])
                        return

    async def aevents(self, *, limit: int | None = None) -> AsyncIterator[Row]:
        """The async adapter: wakes on the ring fd or the drain timer.
        What was read past the limit is kept for the next read, as events() does."""
        reader = self._stream().reader
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        fd = reader.fileno()  # kept: the session may be closed before we are finalised
        loop.add_reader(fd, wake.set)
        left = limit
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.drain_interval)
                wake.clear()
                items = self.poll(0)
                for i, item in enumerate(items):
                    rows, rest = _take_rows(item, left)
                    for row in rows:
                        yield row
                    if left is not None:
                        left -= sum(r["type"] != "lost" for r in rows)
                        if left <= 0:
                            self._stream().hold([*rest, *items[i + 1 :]])
                            return
        finally:
            loop.remove_reader(fd)


def _take_rows(item: Item, limit: int | None) -> tuple[list[Row], list[Item]]:
    """The rows of `item` up to `limit` events, and what is left of it."""
    if not isinstance(item, Chunk):
        return [item.row()], []
    if limit is not None and len(item) > limit:
        head, tail = item.split(max(limit, 0))
        return head.rows(), [tail]
    return item.rows(), []
