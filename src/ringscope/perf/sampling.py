"""The low-overhead aggregation mode (`record --aggregate`), the eBPF way:
a sampling perf event per placement runs bpf/profile.bpf.c on every
overflow, which aggregates {pid, kernel stack, user stack, comm} -> count
in kernel maps. User space only snapshots memory maps of the sampled
processes while they live and reads the maps once at the end, so a process
that exits between snapshots loses its names: the default mode
(ringsampler.py) takes its maps from the perf stream instead."""

from __future__ import annotations

import os
import struct
import time
from typing import Any

from .. import caps
from .._libbpf import BpfObject, Link
from .._perf import syscall
from .._perf.attr import PerfEventAttr
from ..closing import Closing
from ..errors import BadInput, NotSupported, error_from_errno, require_caps
from ..events.layout import struct_dtype
from ..objects import object_path
from ..symbols import Kallsyms, build_id, read_maps
from ..symbols.maps import Mapping
from ..symbols.vdso import VDSO, own_vdso
from .events import EventDesc, parse_event
from .legacy import AggSample, from_aggregated
from .profile import Profile
from .ringsampler import default_event, one_event, sample_rate, set_rate
from .target import Target

__all__ = ["Profiler"]

_EFAULT = -14


class Profiler(Closing):
    """Samples `event` on `target` and aggregates stacks in the kernel.
    Owns the BPF object, the perf fds and the links; close() releases
    them in reverse order. Use from one thread."""

    def __init__(
        self,
        target: Target,
        event: str | None = None,
        *,
        freq: int | None = 99,
        period: int | None = None,
        callchain: bool = True,
    ) -> None:
        require_caps("record --aggregate", *caps.TRACING)
        self.target = target
        self.event: EventDesc = parse_event(one_event(event or default_event()))
        if self.event.kind in ("tracepoint", "tool"):
            raise BadInput(
                f"--aggregate samples hardware and software events, not {self.event.kind} '{self.event.name}'"
            )
        (self.freq, self.period), self.callchain = sample_rate(freq, period), callchain
        self._fds: list[int] = []
        self._links: list[Link] = []
        self.maps: dict[int, dict[Mapping, None]] = {}
        self._last_full = 0.0
        self._obj = BpfObject.open(object_path("profile"))
        try:
            self._obj.set_rodata(rs_prof_callchain=int(callchain))
            self._obj.load()
            self._open_events()
        except BaseException:
            self.close()
            raise

    def _attr(self) -> bytes:
        attr = PerfEventAttr(
            type=self.event.type, config=self.event.config, disabled=1, inherit=int(self.target.inherit),
            enable_on_exec=int(self.target.enable_on_exec),
            exclude_user=int(self.event.exclude_user), exclude_kernel=int(self.event.exclude_kernel),
        )  # fmt: skip
        set_rate(attr, self.freq, self.period)
        return bytes(attr)

    def _open_events(self) -> None:
        prog = self._obj.program("rs_profile")
        attr = self._attr()
        for pid, cpu in self.target.placements:
            try:
                fd = syscall.open_event(attr, pid, cpu)
            except OSError as e:
                err = e.errno or 22
                if err in (2, 95, 19):  # ENOENT, EOPNOTSUPP, ENODEV
                    raise NotSupported(
                        f"event '{self.event.name}' is not supported on this machine (no hardware PMU?)"
                    ) from None
                if err == 3:  # ESRCH
                    raise BadInput(f"no such process: {pid}") from None
                raise error_from_errno(f"perf_event_open {self.event.name}", err) from None
            try:
                link = prog.attach_perf_event(fd)
            except BaseException:
                os.close(fd)
                raise
            # libbpf's perf link owns the fd from here: destroying the link
            # closes it. We keep the number only for enable/disable ioctls.
            self._links.append(link)
            self._fds.append(fd)

    def enable(self) -> None:
        for fd in self._fds:
            syscall.enable(fd)

    def disable(self) -> None:
        for fd in self._fds:
            syscall.disable(fd)

    def _pids(self) -> list[int]:
        return [struct.unpack("<I", k)[0] for k in self._obj.map("rs_prof_pids").keys()]  # noqa: SIM118 - a BPF map, not a dict

    def snapshot_maps(self, pids: list[int] | None = None) -> None:
        """Remember the executable mappings of sampled processes (all of
        them by default). Call periodically: a process that exits takes
        its maps with it."""
        for pid in self._pids() if pids is None else pids:
            known = self.maps.setdefault(pid, {})
            for m in read_maps(pid):
                known.setdefault(m, None)

    def poll(self) -> None:
        """Snapshot maps of newly sampled processes at once, and of all of
        them again every so often (libraries are mapped after the first
        sample: the loader runs before libc is there). Few processes are
        re-read often, many less often, to bound the cost under -a."""
        pids = self._pids()
        now = time.monotonic()
        if now - self._last_full >= (0.1 if len(pids) <= 16 else 1.0):
            self._last_full = now
            self.snapshot_maps(pids)
        else:
            self.snapshot_maps([p for p in pids if p not in self.maps])

    def _stats(self) -> dict[str, int]:
        names = self._obj.btf.enum_values("rs_prof_stat")
        stats = self._obj.map("rs_prof_stats")
        out = {}
        for name, idx in names.items():
            if name.endswith("_MAX"):
                continue
            per_cpu = stats.percpu_values(struct.pack("<I", idx))
            out[name.removeprefix("RS_PROF_").lower()] = sum(struct.unpack("<Q", v)[0] for v in per_cpu)
        return out

    def lost(self) -> int:
        """Samples dropped so far because the counts map was full."""
        return self._stats().get("lost_key", 0)

    def _stack(self, stack_id: int, cache: dict[int, list[int]]) -> list[int]:
        if stack_id < 0:
            return []
        if stack_id not in cache:
            raw = self._obj.map("rs_prof_stacks").lookup(struct.pack("<I", stack_id)) or b""
            addrs = struct.unpack(f"<{len(raw) // 8}Q", raw)
            cache[stack_id] = [a for a in addrs if a]
        return cache[stack_id]

    def samples(self) -> list[AggSample]:
        key_t = struct_dtype(self._obj.btf, "rs_prof_key")
        stacks: dict[int, list[int]] = {}
        out = []
        for k, v in self._obj.map("rs_prof_counts").items():
            key = _row(key_t, k)
            ks, us = self._stack(key["kstack"], stacks), self._stack(key["ustack"], stacks)
            if not self.callchain and key["ip"]:
                # Without -g the key holds the sampled ip: kernel addresses
                # have the top bit set on every 64-bit arch we support.
                ks, us = ([key["ip"]], []) if key["ip"] >> 63 else ([], [key["ip"]])
            comm = key["comm"].split(b"\0", 1)[0].decode(errors="replace")
            out.append(AggSample(key["pid"], comm, struct.unpack("<Q", v)[0], ks, us))
        return out

    def profile(self, meta: dict[str, Any]) -> Profile:
        """Read the kernel maps into a Profile (kernel frames named now)."""
        samples = self.samples()
        self.snapshot_maps()
        ksyms = Kallsyms.load()
        kaddrs = {a for s in samples for a in s.kstack}
        names = {a: ksyms.lookup(a) for a in kaddrs}
        used = {m.path for ms in self.maps.values() for m in ms if m.path.startswith("/")}
        bids = {p: build_id(p) for p in sorted(used)}
        sizes = {m.end - m.start for ms in self.maps.values() for m in ms if m.path == VDSO}
        if (vdso := own_vdso()) is not None and sizes <= {vdso.size}:
            bids[VDSO] = vdso.build_id  # the same image in every 64-bit process (vdso.py)
        doc = from_aggregated(
            samples,
            {pid: list(ms) for pid, ms in self.maps.items() if ms},
            bids,
            {a: n for a, n in names.items() if n},
            meta,
            self._stats(),
        )
        return Profile.from_json(doc)

    def close(self) -> None:
        for link in reversed(self._links):
            link.close()
        self._links.clear()
        self._fds.clear()
        self._obj.close()


def _row(dtype: Any, raw: bytes) -> dict[str, Any]:
    import numpy as np

    rec = np.frombuffer(raw, dtype=dtype, count=1)[0]
    return {name: (rec[name].item() if hasattr(rec[name], "item") else rec[name]) for name in dtype.names}
