"""The stream: what a Reader hands on, decoded into Chunks numbered in
stream order, with every loss as a Lost record in the same order.

The kernel counts nothing when a reserve fails, so the BPF programs count
their own drops per type; the stream reads those counters (KernelCounters)
on every poll and turns an increase into a `lost` record of stage "kernel".
Records it cannot decode become a "daemon" loss. Program runs the kernel
skipped (recursion) are reported beside the exact count, never in it.

The stream owns neither the reader nor the counters (probes.py does, or a
capture file). Loss records are stamped with `clock` (the producer's
CLOCK_MONOTONIC, read once per poll). A `tap` sees every poll as it was
read (the capture writer): its Runs, the counters and the clock, which is
all a replay needs to make the same stream again (transport/capture.py).
Not thread-safe: one thread polls.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, Protocol, overload

from .events.decode import Decoder
from .events.mixed import Batch, Mixed
from .events.records import Chunk, Item, Lost
from .transport.base import Reader, Run, Window
from .transport.capture import PollRecord

__all__ = ["KernelCounters", "Stream", "Tap"]

SKIP_CHECK_INTERVAL = 100_000_000  # ns between reads of the programs' recursion_misses
SKIPPED_WHY = "program runs skipped by the kernel (recursion): up to skipped_runs events may be missing"


class KernelCounters(Protocol):
    """Counters the producer keeps beside the records."""

    def drops_by_code(self) -> list[int]: ...  # failed reserves, indexed by event type code
    def skipped_runs(self) -> int: ...  # program runs the kernel skipped


class Tap(Protocol):
    """Sees every poll of a stream, after the counters are read and before
    its items are handed on. Must not keep `poll.runs` past the call
    without copying (Chunks are views of them)."""

    def polled(self, poll: PollRecord) -> None: ...


class Stream:
    """Reads `reader` through `decoder`; loss from `counters`."""

    def __init__(
        self,
        reader: Reader,
        decoder: Decoder,
        counters: KernelCounters,
        *,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.reader = reader
        self.decoder = decoder
        self.counters = counters
        self.clock = clock
        self.tap: Tap | None = None
        self.delivered = 0  # events decoded (handed on by poll, or held for the next)
        self.delivered_bytes = 0  # the ring space they took, headers included
        self.lost = {"kernel": 0, "daemon": 0}
        self.skipped = 0  # program runs the kernel skipped so far
        self._kernel_drops: dict[str, int] = {}
        self._next_skip_check = 0
        self._held: list[Item] = []

    @overload
    def poll(self, timeout: float, *, flush: bool = False, mixed: Literal[False] = False) -> list[Item]: ...
    @overload
    def poll(self, timeout: float, *, flush: bool = False, mixed: Literal[True]) -> list[Batch]: ...

    def poll(self, timeout: float, *, flush: bool = False, mixed: bool = False) -> list[Item] | list[Batch]:
        """Wait up to `timeout` seconds for records, then drain: chunks of
        events, then any loss, in stream order (items held back by hold()
        come first). flush=True for the last poll of a stream (see Reader.drain).

        mixed=True: the events of the drain come as one Mixed batch (one
        part per type, seqs in stream order) instead of one Chunk per run of
        one type, which is one Chunk per event when types interleave."""
        if self._held:
            timeout = 0
        self.reader.wait(timeout)
        if mixed:
            return self._poll_mixed(flush)
        runs = self.reader.drain(flush=flush)
        chunks: list[Chunk] = []
        for run in runs:
            chunks.extend(self.decoder.chunks(run))
        self.delivered += sum(len(c) for c in chunks)
        self.delivered_bytes += sum(len(run.data) for run in runs)
        items, self._held = [*self._held, *chunks, *self._after_drain(runs, flush)], []
        return items

    def _poll_mixed(self, flush: bool) -> list[Batch]:
        # A tap stores Runs in stream order: read those and gather them here
        # (as fast as before for a capture, no faster).
        if self.tap is None:
            runs, window = None, self.reader.gather(flush=flush)
        else:
            runs = self.reader.drain(flush=flush)
            window = Window.of(runs)
        batch = self.decoder.mixed(window)
        self.delivered += len(batch)
        self.delivered_bytes += sum(len(group.data) for group in window.groups)
        events: list[Mixed] = [batch] if len(batch) else []
        out: list[Batch] = [*self._held, *events, *self._after_drain(runs or [], flush)]
        self._held = []
        return out

    def _after_drain(self, runs: list[Run], flush: bool) -> list[Lost]:
        """Read the counters, show the poll to the tap, make the loss records."""
        now = self.clock()
        skipped = self._read_skipped(now, force=flush)
        drops = self.counters.drops_by_code()
        if self.tap is not None:
            self.tap.polled(PollRecord(now, runs, drops, skipped, flush))
        return self._losses(now, drops, skipped)

    def hold(self, items: list[Item]) -> None:
        """Give back items a reader did not consume (an iterator that stopped
        at its limit): the next poll returns them first, so nothing read is lost."""
        self._held = [*items, *self._held]

    def kernel_drops(self) -> dict[str, int]:
        """Failed reserves so far, per event type name."""
        return self._by_name(self.counters.drops_by_code())

    def _by_name(self, counts: list[int]) -> dict[str, int]:
        names = {code: spec.name for code, (_, spec) in self.decoder.by_code.items()}
        return {names.get(i, str(i)): c for i, c in enumerate(counts) if c}

    def ring_fill(self) -> float:
        return self.reader.pending() / self.reader.size

    def _losses(self, now: int, counts: list[int], skipped: int | None) -> list[Lost]:
        out = self._skipped_loss(now, skipped)
        drops = self._by_name(counts)
        delta = {k: v - self._kernel_drops.get(k, 0) for k, v in drops.items()}
        delta = {k: v for k, v in delta.items() if v}
        if delta:
            self._kernel_drops = drops
            n = sum(delta.values())
            self.lost["kernel"] += n
            out.append(self._lost(now, "kernel", n, {"by_type": delta}))
        if self.decoder.unknown:
            n, self.decoder.unknown = self.decoder.unknown, 0
            self.lost["daemon"] += n
            out.append(self._lost(now, "daemon", n, {"reason": "undecodable"}))
        return out

    def _read_skipped(self, now: int, *, force: bool) -> int | None:
        """The programs' skipped runs, read at most every SKIP_CHECK_INTERVAL
        (it costs a /proc read per program) unless forced; None when not read."""
        if not force and now < self._next_skip_check:
            return None
        self._next_skip_check = now + SKIP_CHECK_INTERVAL
        return self.counters.skipped_runs()

    def _skipped_loss(self, now: int, skipped: int | None) -> list[Lost]:
        """A record for new skipped runs. Its `count` is 0: a skipped run may
        have been filtered out anyway, and the exact identity (delivered +
        sum(count) == produced) must hold; `skipped_runs` is the bound."""
        if skipped is None:
            return []
        n, self.skipped = skipped - self.skipped, skipped
        if n <= 0:
            return []
        return [self._lost(now, "kernel", 0, {"skipped_runs": n, "reason": SKIPPED_WHY})]

    def _lost(self, now: int, stage: str, count: int, detail: dict[str, object]) -> Lost:
        return Lost(self.decoder.take_seq(), stage, count, now, detail)
