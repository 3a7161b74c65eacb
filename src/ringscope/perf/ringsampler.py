"""Sampling the perf way: one sampling perf event per (task, CPU) with the
side-band records on (mmap2, comm, task, build_id), read from the per-CPU
perf rings (transport/perfring.py). Every sample comes with its time, CPU,
pid/tid and period, and every mapping, exec, fork and exit is in the same
stream, so a process that lives 3 ms is as well symbolized as a daemon.

The BPF aggregation mode (sampling.py) stays as the low-overhead mode:
it keeps counts only, in the kernel.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time

from .. import caps
from .._perf import syscall
from .._perf.attr import PerfEventAttr, constants
from ..closing import Closing
from ..errors import BadInput, NotSupported, error_from_errno, require_caps
from ..transport.perfmmap import PAGE
from ..transport.perfrecords import Record, SampleFormat
from ..transport.perfring import SampleRings
from ..transport.topology import online_cpus
from .callgraph import FP, CallGraph
from .events import EventDesc, expand, parse_event
from .target import Target

__all__ = ["DWARF_REGS", "RingSampler", "check_rate", "default_event", "one_event"]

_HW_PMU = "/sys/bus/event_source/devices/cpu"
_MAX_RATE = "/proc/sys/kernel/perf_event_max_sample_rate"
_CLOCK_MONOTONIC = 1  # timestamps on the clock the rest of ringscope stamps with
# The user registers a DWARF unwind needs to start, in perf's mask order.
DWARF_REGS = {"x86_64": ("BP", "SP", "IP")}


def default_event() -> str:
    """perf record's default: cycles where a PMU exists, else cpu-clock."""
    return "cycles" if os.path.exists(_HW_PMU) else "cpu-clock"


def check_rate(freq: int) -> None:
    try:
        with open(_MAX_RATE) as f:
            limit = int(f.read())
    except (OSError, ValueError):
        return
    if freq > limit:
        raise BadInput(f"-F {freq}: above kernel.perf_event_max_sample_rate ({limit})")


def sample_rate(freq: int | None, period: int | None) -> tuple[int | None, int | None]:
    """(freq, period), checked, with exactly one set: a period wins, as in perf."""
    if period is None and (freq is None or freq <= 0):
        raise BadInput("the sampling frequency (-F) must be positive")
    if period is not None and period <= 0:
        raise BadInput("the sampling period (-c) must be positive")
    if period is None and freq is not None:
        check_rate(freq)
    return (None if period else freq), period


def set_rate(attr: PerfEventAttr, freq: int | None, period: int | None) -> None:
    if period:
        attr["sample_period"] = period
    else:
        attr["freq"] = 1
        attr["sample_freq"] = freq or 99


def one_event(event: str) -> str:
    """The one event a name names (tracepoint wildcards included)."""
    names = expand(event)
    if len(names) != 1:
        shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
        raise BadInput(f"record samples on one event; '{event}' matches {len(names)}: {shown}")
    return names[0]


def _regs_mask() -> int:
    names = DWARF_REGS.get(platform.machine())
    if names is None:
        raise NotSupported(f"--call-graph dwarf is not supported on {platform.machine()} yet")
    c = constants()
    return sum(1 << c[f"PERF_REG_X86_{n}"] for n in names)


def _ring_pages(cg: CallGraph) -> int:
    # A dwarf sample is ~SIZE bytes: at 1 kHz a CPU writes 8 MB/s, so its
    # ring holds ~0.25 s of it. fp samples are ~1 KB.
    return (2 << 20 if cg.mode == "dwarf" else 512 << 10) // PAGE


class RingSampler(Closing):
    """Samples `event` on `target` into per-CPU perf rings. Owns the perf
    fds and the rings; close() releases them. Use from one thread.

    Rate: `period` events per sample, else `freq` samples a second;
    tracepoints default to every hit (period 1) as in perf."""

    def __init__(
        self,
        target: Target,
        event: str | None = None,
        *,
        freq: int | None = 99,
        period: int | None = None,
        callgraph: CallGraph = FP,
    ) -> None:
        require_caps("record", caps.CAP_PERFMON)
        self.target, self.callgraph = target, callgraph
        self.event: EventDesc = parse_event(one_event(event or default_event()))
        if self.event.kind == "tool":
            raise BadInput(f"cannot sample on '{self.event.name}': it is not a perf event")
        if self.event.kind == "tracepoint" and period is None:
            period, freq = 1, None
        self.freq, self.period = sample_rate(freq, period)
        nregs = 3 if callgraph.mode == "dwarf" else 0
        self.fmt = SampleFormat(callgraph.enabled, nregs, callgraph.mode == "dwarf")
        self._fds: list[int] = []
        self.records: list[Record] = []
        self.rings: SampleRings | None = None
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        self.started = time.monotonic_ns()

    def _attr(self) -> bytes:
        ev, cg, pages = self.event, self.callgraph, _ring_pages(self.callgraph)
        attr = PerfEventAttr(
            type=ev.type, config=ev.config, disabled=1, inherit=int(self.target.inherit),
            enable_on_exec=int(self.target.enable_on_exec), sample_type=self.fmt.sample_type,
            exclude_user=int(ev.exclude_user), exclude_kernel=int(ev.exclude_kernel),
            mmap=1, mmap2=1, comm=1, comm_exec=1, task=1, sample_id_all=1,
            use_clockid=1, clockid=_CLOCK_MONOTONIC, watermark=1, wakeup_watermark=pages * PAGE // 4,
        )  # fmt: skip
        with contextlib.suppress(NotSupported):  # build ids in MMAP2: Linux 5.12+
            attr["build_id"] = 1
        set_rate(attr, self.freq, self.period)
        if cg.mode == "dwarf":
            # The kernel walks its own part; the user part is unwound later
            # from the registers and stack copy, as perf does.
            attr["exclude_callchain_user"] = 1
            attr["sample_regs_user"] = _regs_mask()
            attr["sample_stack_user"] = cg.stack_size
        return bytes(attr)

    def _placements(self) -> list[tuple[int, int]]:
        # An inherited per-task event cannot be mmap'ed (all children
        # would write one ring): per-task targets get one event per CPU.
        cpus = online_cpus()
        out = []
        for pid, cpu in self.target.placements:
            out.extend([(pid, c) for c in cpus] if cpu < 0 else [(pid, cpu)])
        return out

    def _open_one(self, attr: bytes, pid: int, cpu: int) -> int:
        try:
            return syscall.open_event(attr, pid, cpu)
        except OSError as e:
            err = e.errno or 22
            if err in (2, 95, 19):  # ENOENT, EOPNOTSUPP, ENODEV
                raise NotSupported(
                    f"event '{self.event.name}' is not supported for sampling on this machine (no hardware PMU?)"
                ) from None
            if err == 3:  # ESRCH
                raise BadInput(f"no such process: {pid}") from None
            raise error_from_errno(f"perf_event_open {self.event.name}", err) from None

    def _open(self) -> None:
        attr = self._attr()
        leaders: dict[int, int] = {}  # cpu -> the fd whose ring that CPU's events share
        followers: list[tuple[int, int]] = []  # (fd, cpu): the other threads' events
        for pid, cpu in self._placements():
            fd = self._open_one(attr, pid, cpu)
            self._fds.append(fd)
            if cpu in leaders:
                followers.append((fd, cpu))
            else:
                leaders[cpu] = fd
        self.rings = SampleRings(list(leaders.values()), _ring_pages(self.callgraph), self.fmt)
        # Only into a ring that exists: the kernel refuses (EINVAL) to
        # redirect to an event not mmap'ed yet (-p of a threaded process).
        for fd, cpu in followers:
            syscall.set_output(fd, leaders[cpu])

    def enable(self) -> None:
        for fd in self._fds:
            syscall.enable(fd)

    def disable(self) -> None:
        for fd in self._fds:
            syscall.disable(fd)

    def wait(self, timeout: float) -> None:
        if self.rings is not None:
            self.rings.wait(timeout)

    def collect(self) -> list[Record]:
        """Move what the rings hold into `records`; return the new ones."""
        new = self.rings.read() if self.rings is not None else []
        self.records.extend(new)
        return new

    def close(self) -> None:
        if self.rings is not None:
            self.rings.close()
            self.rings = None
        for fd in reversed(self._fds):
            os.close(fd)
        self._fds.clear()
