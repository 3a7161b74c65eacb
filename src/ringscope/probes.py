"""The one owner of a session's kernel objects: the shared maps, one BPF
object per source family, the links, and the transport's reader.

    probes = Probes(specs, ring_size=1 << 24)
    probes.open()          # check capabilities, probe features, create the
                           # shared maps, load the objects, open the reader
    probes.set_filter(...) # before attach: nothing flows that is not wanted
    probes.attach()
    ...
    probes.close()         # every link, reader, object and map, in reverse order

The shared maps (the ring, the per-type drop counters, the filter, the
followed tree) are created once and every object reuses them
(bpf_map__reuse_fd), so events from all families share one ring and one
order. What is special about a source (its rodata, how its probes attach)
is in the source's own module, behind the EventSpec hooks; this module
never asks which source it has. It does not read the stream (stream.py).
Not thread-safe: one thread drives it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import ExitStack

import numpy as np

from . import caps, features
from ._libbpf import BpfObject, Link, Map
from .btf import Btf
from .errors import require_caps
from .events.spec import EventSpec, LoadOptions
from .filters import Filter
from .objects import object_path
from .transport.base import Reader
from .transport.choice import choose_transport
from .transport.perfbuf import PerfReader
from .transport.ringbuf import RingReader
from .transport.sizing import default_wakeup
from .transport.topology import possible_cpus

__all__ = ["FOLLOW_MAX", "Probes"]

FOLLOW_MAX = 16384  # processes in a followed tree
_U32 = 4


class Probes:
    """Loads and attaches `specs` (plus the `helpers` given to open(): specs
    whose programs are needed but whose events are not asked for, such as
    the followed tree's). A spec's tag, passed to its hooks, is its index in
    `specs`."""

    def __init__(
        self,
        specs: Sequence[EventSpec],
        *,
        ring_size: int,
        wakeup_bytes: int | None = None,
        transport: str | None = None,
        options: LoadOptions | None = None,
    ) -> None:
        self.specs = list(specs)
        self.helpers: list[EventSpec] = []
        self.ring_size = ring_size
        self.wakeup_bytes = default_wakeup(ring_size) if wakeup_bytes is None else wakeup_bytes
        self.transport = transport  # "ringbuf", "perfbuf" or None (automatic until open())
        self.options = options or LoadOptions()
        self.objects: dict[str, BpfObject] = {}
        self.links: list[Link] = []
        self.reader: Reader | None = None
        self.btf: Btf | None = None  # of the first object: the shared structs (events.h)
        self.filter: Filter | None = None  # the last filter written (set_filter)
        self.tracefs = True  # whether this process can read tracefs (set by open())
        self._maps: dict[str, Map] = {}
        self._stack = ExitStack()

    # -- lifecycle -----------------------------------------------------------

    def open(self, helpers: Sequence[EventSpec] = ()) -> None:
        """Load everything and open the reader; attach() comes after the
        filter is written. On failure everything made so far is closed."""
        self.helpers = [h for h in helpers if h not in self.specs]
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        require_caps("tracing", *caps.TRACING)
        feats = features.probe()
        features.require(feats.btf)
        self.tracefs = feats.tracefs.available
        self.transport = choose_transport(self.transport, feats)
        for spec in (*self.specs, *self.helpers):
            require_caps(spec.name, *spec.capabilities)
            for name in spec.requires:
                features.require(getattr(feats, name))
        stems = list(dict.fromkeys(s.obj for s in (*self.specs, *self.helpers)))
        for stem in stems:
            self.objects[stem] = self._stack.enter_context(BpfObject.open(object_path(stem)))
        self.btf = self.objects[stems[0]].btf
        self._create_shared_maps(self.btf)
        for obj in self.objects.values():
            self._load(obj)
        # Before attach: a perf output finds no ring until its fd is in rs_perf.
        self.reader = self._open_reader()
        self._stack.callback(self.reader.close)

    def _create_shared_maps(self, btf: Btf) -> None:
        drops = btf.struct_layout("rs_drops").size
        filt = btf.struct_layout("rs_filter").size
        ring: tuple[str, str, int, int, int] = ("ringbuf", "rs_ring", 0, 0, self.ring_size)
        if self.transport == "perfbuf":
            # The programs never touch rs_ring (the verifier prunes that
            # branch), but every object names it: a one-slot array stands
            # in, also where the kernel has no ringbuf.
            ring = ("array", "rs_ring", _U32, 8, 1)
        for kind, name, k, v, n in (
            ring,
            ("percpu_array", "rs_drops", _U32, drops, 1),
            ("array", "rs_filter", _U32, filt, 1),
            ("hash", "rs_follow", _U32, 1, FOLLOW_MAX),
        ):
            self._maps[name] = self._stack.enter_context(Map.create(kind, name, k, v, n))
        if self.transport == "perfbuf":
            self._maps["rs_perf"] = self._stack.enter_context(
                Map.create("perf_event_array", "rs_perf", _U32, _U32, possible_cpus())
            )

    def _load(self, obj: BpfObject) -> None:
        mine = [(tag, s) for tag, s in enumerate(self.specs) if s.obj == obj.name]
        mine += [(-1, h) for h in self.helpers if h.obj == obj.name]
        wanted = {p for _, s in mine for p in s.programs_for(self.tracefs)}
        for prog in obj.programs.values():
            prog.set_autoload(prog.name in wanted)
        perfbuf = self.transport == "perfbuf"
        obj.set_rodata(rs_wakeup_bytes=self.wakeup_bytes, rs_use_perfbuf=int(perfbuf))
        if not perfbuf and "rs_heap" in obj.maps:
            obj.set_max_entries("rs_heap", 1)  # the perf path's scratch: unused, keep it small
        for tag, spec in mine:
            spec.configure(obj, tag, self.options)
        for name, shared in self._maps.items():
            obj.reuse_map(name, shared)
        obj.load()

    def _open_reader(self) -> Reader:
        if self.transport == "perfbuf":
            return PerfReader(self._maps["rs_perf"], self.ring_size)
        return RingReader.open(self._maps["rs_ring"], self.wakeup_bytes)

    def attach(self) -> None:
        """Attach every event's programs. Each link is owned from the moment
        it exists, so a failure part-way leaves nothing attached after close()."""
        by_section: dict[str, set[str]] = {}
        for tag, spec in enumerate(self.specs):
            links = spec.attach(self.objects[spec.obj], tag, self._attach_pid())
            if links is None:
                by_section.setdefault(spec.obj, set()).update(spec.programs_for(self.tracefs))
                continue
            for link in links:
                self.links.append(self._stack.enter_context(link))
        for helper in self.helpers:
            by_section.setdefault(helper.obj, set()).update(helper.programs_for(self.tracefs))
        for stem, names in by_section.items():
            for name in sorted(names):
                self.links.append(self._stack.enter_context(self.objects[stem].program(name).attach()))

    def _attach_pid(self) -> int | None:
        """The pid a probe may be attached to alone (uprobes): the filter's,
        unless it follows a tree (children have other pids)."""
        flt = self.filter
        return None if flt is None or flt.follow else flt.pid

    def detach(self) -> None:
        """Stop the kernel side producing (close every link) while the ring
        and the counters stay readable."""
        for link in reversed(self.links):
            link.close()
        self.links.clear()

    def close(self) -> None:
        """Detach and free everything, in reverse order. Idempotent."""
        self.links.clear()
        self.objects.clear()
        self.reader = None
        self._maps.clear()
        self._stack.close()

    # -- run-time control and counters ------------------------------------------

    def btfs(self) -> dict[str, Btf]:
        """Each loaded object's BTF, by stem, in load order (the decoder's)."""
        return {stem: obj.btf for stem, obj in self.objects.items()}

    def now_ns(self) -> int:
        """The clock loss records are stamped with: the kernel's
        CLOCK_MONOTONIC, which event timestamps (bpf_ktime_get_ns) use too."""
        return time.monotonic_ns()

    def exhausted(self) -> bool:
        """Never: the kernel side may always produce more until detached."""
        return False

    @property
    def truncated(self) -> str | None:
        """Never: only a capture file can stop short."""
        return None

    def type_codes(self) -> dict[str, int]:
        """Every loaded event's type code (its bit in the filter's type mask),
        by the name that stands for its code."""
        assert self.btf is not None, "probes are not open"
        enum = self.btf.enum_values("rs_event_type")
        return {s.generic().name: enum[s.enum] for s in self.specs}

    def set_filter(self, flt: Filter, type_mask: int) -> None:
        """Write the in-kernel filter (takes effect for the next event)."""
        assert self.btf is not None, "probes are not open"
        self.filter = flt
        self._maps["rs_filter"].update(bytes(_U32), flt.encode(self.btf, type_mask))

    def follow(self, pid: int) -> None:
        """Add `pid` to the followed tree."""
        self._maps["rs_follow"].update(pid.to_bytes(_U32, "little"), b"\1")

    def drops_by_code(self) -> list[int]:
        """Failed reserves so far, per event type code, summed over CPUs."""
        per_cpu = self._maps["rs_drops"].percpu_values(bytes(_U32))
        total = np.sum([np.frombuffer(v, dtype=np.uint64) for v in per_cpu], axis=0)
        return [int(c) for c in total.tolist()]

    def skipped_runs(self) -> int:
        """Runs of our programs the kernel skipped because the program was
        already running on that CPU (its recursion_misses counter)."""
        total = 0
        for obj in self.objects.values():
            for prog in obj.programs.values():
                if not prog.autoload:
                    continue
                with open(f"/proc/self/fdinfo/{prog.fd}", "rb") as f:
                    for line in f:
                        if line.startswith(b"recursion_misses:"):
                            total += int(line.split()[1])
        return total
