"""A tracing session: the whole kernel-to-Python pipeline behind one object.

    with Session(["exec", "open"], filter=Filter(pid=1234)) as s:
        for event in s.events():
            print(event)

Lifetime: __enter__ (or open()) probes features, creates the shared maps,
loads one BPF object per source family, writes the filter, and attaches;
close() detaches and frees everything, in reverse order, on every path.
Not thread-safe: one thread drives a session.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import ExitStack
from types import TracebackType
from typing import Self

import numpy as np

from . import features, tracefs
from ._libbpf import BpfObject, Link, Map
from .btf import Btf
from .errors import BadInput, PermissionDenied
from .events.decode import Decoder
from .events.records import Chunk, Item, Lost
from .filters import Filter
from .objects import object_path
from .perfbuf import PerfReader, possible_cpus
from .ringbuf import RingReader
from .sources import DEFAULT_EVENTS, EVENTS, EventSpec, Row, dynamic
from .transport import choose_transport

__all__ = ["DEFAULT_RING_SIZE", "Session", "check_ring_size", "resolve_events"]

DEFAULT_RING_SIZE = 1 << 24  # 16 MiB
MIN_RING_SIZE = 1 << 12
FOLLOW_MAX = 16384
SKIP_CHECK_INTERVAL = 0.1  # seconds between reads of the programs' recursion_misses


def _expanded(names: Iterable[str]) -> Iterator[str]:
    """`sched:sched_process_*` -> one name per matching tracepoint."""
    for name in names:
        yield from tracefs.expand(name.strip()) or [name]


def resolve_events(names: Iterable[str]) -> list[EventSpec]:
    specs = []
    for name in _expanded(names):
        name = name.strip()
        if not name:
            continue
        spec = dynamic.resolve(name) if name not in EVENTS and dynamic.is_dynamic(name) else EVENTS.get(name)
        if spec is None:
            raise BadInput(f"unknown event {name!r} (see ringscope list)")
        if spec not in specs:
            specs.append(spec)
    if not specs:
        raise BadInput("no events selected")
    return specs


def check_ring_size(size: int) -> int:
    if size < MIN_RING_SIZE:
        raise BadInput(f"ring size {size} is too small (minimum {MIN_RING_SIZE} bytes)")
    if size & (size - 1):
        raise BadInput(f"ring size {size} is not a power of two")
    return size


class Session:
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
        self.specs = resolve_events(events)
        self.ring_size = check_ring_size(ring_size)
        # Wake the reader early enough that a burst never fills the ring
        # while it sleeps: a quarter of the ring.
        self.wakeup_bytes = wakeup_bytes if wakeup_bytes is not None else ring_size // 4
        self.drain_interval = drain_interval
        self.syscall_id = syscall_id
        # "ringbuf", "perfbuf" or None (automatic); resolved by open().
        self.transport = transport
        self.filter = filter or Filter(exclude_pid=os.getpid())
        self.objects: dict[str, BpfObject] = {}
        self.links: list[Link] = []
        self.reader: RingReader | PerfReader | None = None
        self.decoder: Decoder | None = None
        self.delivered = 0
        self.lost = {"kernel": 0, "daemon": 0}
        self._kernel_drops: dict[str, int] = {}
        self._prog_fds: list[int] = []  # owned by the objects; read for skipped runs
        self.skipped = 0  # program runs the kernel skipped so far (see skipped_runs())
        self._next_skip_check = 0.0
        self._stack = ExitStack()
        self._maps: dict[str, Map] = {}
        self._btf: Btf | None = None

    # -- lifecycle -----------------------------------------------------------

    def open(self) -> Self:
        """Load and attach everything. Idempotent: a session opens once."""
        if self.reader is not None:
            return self
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def _open(self) -> None:
        if os.geteuid() != 0:
            raise PermissionDenied("tracing needs root (or CAP_BPF and CAP_PERFMON)")
        feats = features.probe()
        self.transport = choose_transport(self.transport, feats)
        features.require(feats.btf)
        stems = list(dict.fromkeys(s.obj for s in self.specs))
        if self.filter.follow and "process" not in stems:
            stems.append("process")  # the fork program grows the followed tree
        btfs = {stem: Btf.from_elf(object_path(stem)) for stem in stems}
        self._btf = next(iter(btfs.values()))
        self._create_shared_maps(self._btf)
        self.decoder = Decoder(list(btfs.values()), self.specs)
        self.set_filter(self.filter)
        for stem in stems:
            self._load(stem)
        self.reader = self._open_reader()
        self._attach_all()

    def _create_shared_maps(self, btf: Btf) -> None:
        u32 = 4
        drops = btf.struct_layout("rs_drops").size
        filt = btf.struct_layout("rs_filter").size
        ring: tuple[str, str, int, int, int] = ("ringbuf", "rs_ring", 0, 0, self.ring_size)
        if self.transport == "perfbuf":
            # The programs never touch rs_ring (the verifier prunes that
            # branch), but every object names it: a one-slot array stands
            # in, also where the kernel has no ringbuf.
            ring = ("array", "rs_ring", u32, 8, 1)
        for kind, name, k, v, n in (
            ring,
            ("percpu_array", "rs_drops", u32, drops, 1),
            ("array", "rs_filter", u32, filt, 1),
            ("hash", "rs_follow", u32, 1, FOLLOW_MAX),
        ):
            self._maps[name] = self._stack.enter_context(Map.create(kind, name, k, v, n))
        if self.transport == "perfbuf":
            self._maps["rs_perf"] = self._stack.enter_context(
                Map.create("perf_event_array", "rs_perf", u32, u32, possible_cpus())
            )

    def _open_reader(self) -> RingReader | PerfReader:
        # Before attach: a perf output finds no ring until its fd is in rs_perf.
        if self.transport == "perfbuf":
            return self._stack.enter_context(PerfReader(self._maps["rs_perf"], self.ring_size))
        return self._stack.enter_context(
            RingReader(self._maps["rs_ring"].fd, self.ring_size, self.wakeup_bytes)
        )

    def _load(self, stem: str) -> None:
        obj = self._stack.enter_context(BpfObject.open(object_path(stem)))
        wanted = {p for s in self.specs if s.obj == stem for p in s.programs}
        if stem == "process" and self.filter.follow:
            wanted |= {"handle_fork", "handle_exit"}
        for prog in obj.programs.values():
            prog.set_autoload(prog.name in wanted)
        rodata: dict[str, int | bytes] = {"rs_wakeup_bytes": self.wakeup_bytes}
        rodata["rs_use_perfbuf"] = int(self.transport == "perfbuf")
        if self.transport != "perfbuf" and "rs_heap" in obj.maps:
            obj.set_max_entries("rs_heap", 1)  # the perf path's scratch: unused, keep it small
        if stem == "syscalls" and self.syscall_id is not None:
            rodata["rs_syscall_id"] = self.syscall_id
        obj.set_rodata(**rodata)
        for name, shared in self._maps.items():
            obj.reuse_map(name, shared)
        if "handle_fork" in wanted:
            features.require(features.probe().tp_btf)
        for tag, spec in enumerate(self.specs):  # dynamic events: tag = index in specs
            if isinstance(spec, dynamic.DynamicSpec) and spec.obj == stem:
                spec.prepare(obj, tag)
        obj.load()
        self.objects[stem] = obj

    def _attach_all(self) -> None:
        pid = None if self.filter.follow else self.filter.pid
        for tag, spec in enumerate(self.specs):
            if isinstance(spec, dynamic.DynamicSpec):
                for link in spec.attach(self.objects[spec.obj], tag, pid):
                    self.links.append(self._stack.enter_context(link))
        dynamic_objs = {s.obj for s in self.specs if isinstance(s, dynamic.DynamicSpec)}
        for obj in self.objects.values():
            if obj.name in dynamic_objs:
                continue
            for prog in obj.programs.values():
                if prog.autoload:
                    self.links.append(self._stack.enter_context(prog.attach()))
        self._prog_fds = [p.fd for obj in self.objects.values() for p in obj.programs.values() if p.autoload]

    def detach(self) -> None:
        """Stop the kernel side producing (close every link) while the ring
        and the counters stay readable: a final poll(flush=True) after this
        reads everything produced, and every drop, up to the detach."""
        for link in reversed(self.links):
            link.close()
        self.links.clear()

    def close(self) -> None:
        """Detach and free everything. Idempotent. Whatever was produced
        since the last poll is freed unread: detach() and poll() first."""
        self._prog_fds.clear()
        self.links.clear()
        self.objects.clear()
        self.reader = None
        self._maps.clear()
        self._stack.close()

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- run-time control ----------------------------------------------------

    @property
    def type_mask(self) -> int:
        assert self.decoder is not None
        mask = 0
        for code in self.decoder.by_code:
            mask |= 1 << code
        return mask

    def set_filter(self, flt: Filter, type_mask: int | None = None) -> None:
        """Change the in-kernel filter while events flow."""
        assert self._btf is not None
        self.filter = flt
        mask = self.type_mask if type_mask is None else type_mask
        self._maps["rs_filter"].update(b"\0\0\0\0", flt.encode(self._btf, mask))

    def follow(self, pid: int) -> None:
        """Add `pid` to the followed tree (trace -- CMD does this before exec)."""
        self._maps["rs_follow"].update(pid.to_bytes(4, "little"), b"\1")

    # -- reading -------------------------------------------------------------

    def poll(self, timeout: float | None = None, *, flush: bool = False) -> list[Item]:
        """Wait up to `timeout` seconds (default: the drain interval) for
        events, then drain the ring: chunks of events, then any loss.
        flush=True for the last poll of a stream: the perf buffer transport
        then also hands on what its reorder window still holds (the newest
        ~1 ms), which would otherwise be dropped at close."""
        assert self.reader is not None and self.decoder is not None, "session is not open"
        self.reader.wait(self.drain_interval if timeout is None else timeout)
        chunks: list[Chunk] = []
        reader = self.reader
        runs = reader.drain(flush=True) if flush and isinstance(reader, PerfReader) else reader.drain()
        for run in runs:
            chunks.extend(self.decoder.chunks(run))
        self.delivered += sum(len(c) for c in chunks)
        items: list[Item] = [*chunks, *self._losses(check_skipped=flush)]
        return items

    def _losses(self, *, check_skipped: bool = False) -> list[Lost]:
        assert self.decoder is not None
        out = [*self._skipped_loss(check_skipped)]
        drops = self.kernel_drops()
        delta = {k: v - self._kernel_drops.get(k, 0) for k, v in drops.items()}
        delta = {k: v for k, v in delta.items() if v}
        if delta:
            self._kernel_drops = drops
            n = sum(delta.values())
            self.lost["kernel"] += n
            out.append(Lost(self.decoder.take_seq(), "kernel", n, time.monotonic_ns(), {"by_type": delta}))
        if self.decoder.unknown:
            n, self.decoder.unknown = self.decoder.unknown, 0
            self.lost["daemon"] += n
            out.append(
                Lost(self.decoder.take_seq(), "daemon", n, time.monotonic_ns(), {"reason": "undecodable"})
            )
        return out

    def _skipped_loss(self, force: bool) -> list[Lost]:
        """A record for new skipped runs. Its `count` is 0: a skipped run may
        have been filtered out anyway, and the exact identity (delivered +
        sum(count) == produced) must hold; `skipped_runs` is the bound."""
        now = time.monotonic()
        if not force and now < self._next_skip_check:
            return []
        self._next_skip_check = now + SKIP_CHECK_INTERVAL
        skipped = self.skipped_runs()
        n, self.skipped = skipped - self.skipped, skipped
        if n <= 0:
            return []
        assert self.decoder is not None
        why = "program runs skipped by the kernel (recursion): up to skipped_runs events may be missing"
        return [
            Lost(
                self.decoder.take_seq(), "kernel", 0, time.monotonic_ns(), {"skipped_runs": n, "reason": why}
            )
        ]

    def skipped_runs(self) -> int:
        """Runs of our programs the kernel skipped because the program was
        already running on that CPU (its recursion_misses counter). Each may
        or may not have been an event: reported beside the exact loss count,
        never added to it."""
        total = 0
        for fd in self._prog_fds:
            with open(f"/proc/self/fdinfo/{fd}", "rb") as f:
                for line in f:
                    if line.startswith(b"recursion_misses:"):
                        total += int(line.split()[1])
        return total

    def kernel_drops(self) -> dict[str, int]:
        """Failed reserves so far, per event type, summed over CPUs."""
        assert self.decoder is not None
        per_cpu = self._maps["rs_drops"].percpu_values(b"\0\0\0\0")
        total = np.sum([np.frombuffer(v, dtype=np.uint64) for v in per_cpu], axis=0)
        names = {code: spec.name for code, (_, spec) in self.decoder.by_code.items()}
        return {names.get(i, str(i)): int(c) for i, c in enumerate(total.tolist()) if c}

    def ring_fill(self) -> float:
        assert self.reader is not None
        return self.reader.pending() / self.ring_size

    def events(self, *, limit: int | None = None, duration: float | None = None) -> Iterator[Row]:
        """Iterate decoded events (dicts) and loss records, in stream order,
        for `duration` seconds or `limit` events. The session stays attached
        and can be read again; to read everything up to an end, detach()
        and then poll(flush=True)."""
        deadline = None if duration is None else time.monotonic() + duration
        n = 0
        while deadline is None or time.monotonic() < deadline:
            for item in self.poll():
                rows = item.rows() if isinstance(item, Chunk) else [item.row()]
                for row in rows:
                    yield row
                    if row["type"] != "lost":
                        n += 1
                        if limit is not None and n >= limit:
                            return

    async def aevents(self, *, limit: int | None = None) -> AsyncIterator[Row]:
        """The async adapter: wakes on the ring fd or the drain timer."""
        assert self.reader is not None
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        fd = self.reader.fileno()  # kept: the session may be closed before we are finalised
        loop.add_reader(fd, wake.set)
        n = 0
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.drain_interval)
                wake.clear()
                for item in self.poll(0):
                    for row in item.rows() if isinstance(item, Chunk) else [item.row()]:
                        yield row
                        if row["type"] != "lost":
                            n += 1
                            if limit is not None and n >= limit:
                                return
        finally:
            loop.remove_reader(fd)
