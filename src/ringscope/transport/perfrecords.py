"""Decoding the records of a sampling perf event's ring: PERF_RECORD_SAMPLE
(ip, tid, time, cpu, period, callchain, user registers, user stack) and the
side-band records that say what each process has mapped and who it is
(MMAP2, COMM, FORK, EXIT), plus LOST.

The record layouts are the kernel's ABI, documented field by field in
include/uapi/linux/perf_event.h (enum perf_event_type); the kernel writes
them piecewise (perf_output_sample, perf_event_mmap_output), so no struct
for them exists in BTF. Type numbers and sample flags do come from BTF.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache

from .._perf.attr import constants

__all__ = [
    "Comm",
    "Lost",
    "Mmap",
    "Record",
    "Sample",
    "SampleFormat",
    "Task",
    "decode",
]

# PERF_RECORD_MISC_* are #defines, not enums: not in BTF (uapi perf_event.h).
MISC_CPUMODE_MASK = 7
MISC_USER = 2
MISC_COMM_EXEC = 1 << 13  # COMM: the task exec'd
MISC_MMAP_BUILD_ID = 1 << 14  # MMAP2: build id instead of maj/min/ino


@dataclass(frozen=True, slots=True)
class SampleFormat:
    """What a sample record holds beyond the fixed IP|TID|TIME|CPU|PERIOD:
    the raw callchain, `regs` (count of user registers, their mask's
    population), a user stack copy."""

    callchain: bool
    nregs: int
    stack: bool

    @property
    def sample_type(self) -> int:
        c = constants()
        t = 0
        for name in ("IP", "TID", "TIME", "CPU", "PERIOD"):
            t |= c[f"PERF_SAMPLE_{name}"]
        if self.callchain:
            t |= c["PERF_SAMPLE_CALLCHAIN"]
        if self.nregs:
            t |= c["PERF_SAMPLE_REGS_USER"]
        if self.stack:
            t |= c["PERF_SAMPLE_STACK_USER"]
        return t


# sample_id_all trailer of side-band records for IP|TID|TIME|CPU|PERIOD:
# {u32 pid, tid}, u64 time, {u32 cpu, res} (only TID, TIME, ID, STREAM_ID,
# CPU, IDENTIFIER are in it).
_ID_TRAILER = struct.Struct("<IIQII")


@dataclass(slots=True)
class Sample:
    time: int
    cpu: int
    pid: int
    tid: int
    period: int
    ip: int
    user: bool  # sampled in user mode
    callchain: tuple[int, ...]  # raw, PERF_CONTEXT_* markers included
    regs: tuple[int, ...]  # user registers in mask order; empty: none (kernel thread)
    stack: bytes  # the user stack from the sampled sp up


@dataclass(frozen=True, slots=True)
class Mmap:
    time: int
    pid: int
    tid: int
    start: int
    length: int
    pgoff: int
    path: str
    build_id: str | None


@dataclass(frozen=True, slots=True)
class Comm:
    time: int
    pid: int
    tid: int
    comm: str
    exec: bool


@dataclass(frozen=True, slots=True)
class Task:
    time: int
    fork: bool  # FORK, else EXIT
    pid: int
    ppid: int
    tid: int
    ptid: int


@dataclass(frozen=True, slots=True)
class Lost:
    time: int
    count: int


Record = Sample | Mmap | Comm | Task | Lost


@cache
def _types() -> dict[str, int]:
    c = constants()
    return {
        n: c[f"PERF_RECORD_{n}"] for n in ("SAMPLE", "MMAP2", "COMM", "FORK", "EXIT", "LOST", "LOST_SAMPLES")
    }


def _cstr(raw: bytes, off: int, end: int) -> str:
    return raw[off:end].split(b"\0", 1)[0].decode(errors="replace")


def _trailer_time(raw: bytes) -> int:
    return int(_ID_TRAILER.unpack_from(raw, len(raw) - _ID_TRAILER.size)[2])


def _sample(raw: bytes, misc: int, fmt: SampleFormat) -> Sample:
    ip, pid, tid, time, cpu, _res, period = struct.unpack_from("<QIIQIIQ", raw, 8)
    off = 48
    chain: tuple[int, ...] = ()
    if fmt.callchain:
        (nr,) = struct.unpack_from("<Q", raw, off)
        chain = struct.unpack_from(f"<{nr}Q", raw, off + 8)
        off += 8 + 8 * nr
    regs: tuple[int, ...] = ()
    if fmt.nregs:
        (abi,) = struct.unpack_from("<Q", raw, off)
        off += 8
        if abi:
            regs = struct.unpack_from(f"<{fmt.nregs}Q", raw, off)
            off += 8 * fmt.nregs
    stack = b""
    if fmt.stack:
        (size,) = struct.unpack_from("<Q", raw, off)
        if size:
            # data[size], then dyn_size: how much of it the kernel filled.
            (dyn,) = struct.unpack_from("<Q", raw, off + 8 + size)
            stack = raw[off + 8 : off + 8 + min(dyn, size)]
    user = misc & MISC_CPUMODE_MASK == MISC_USER
    return Sample(time, cpu, pid, tid, period, ip, user, chain, regs, stack)


def _mmap2(raw: bytes, misc: int) -> Mmap:
    pid, tid, start, length, pgoff = struct.unpack_from("<IIQQQ", raw, 8)
    bid = None
    if misc & MISC_MMAP_BUILD_ID:
        n = raw[40]
        bid = raw[44 : 44 + min(n, 20)].hex() or None
    # then u32 prot, u32 flags, the NUL-padded file name, the id trailer
    path = _cstr(raw, 72, len(raw) - _ID_TRAILER.size)
    return Mmap(_trailer_time(raw), pid, tid, start, length, pgoff, path, bid)


def decode(raw: bytes, fmt: SampleFormat) -> Record | None:
    """One record (header included) -> its dataclass; None for the types
    the profiler does not use (THROTTLE, ...)."""
    typ, misc, _size = struct.unpack_from("<IHH", raw, 0)
    t = _types()
    if typ == t["SAMPLE"]:
        return _sample(raw, misc, fmt)
    if typ == t["MMAP2"]:
        return _mmap2(raw, misc)
    if typ == t["COMM"]:
        pid, tid = struct.unpack_from("<II", raw, 8)
        return Comm(
            _trailer_time(raw),
            pid,
            tid,
            _cstr(raw, 16, len(raw) - _ID_TRAILER.size),
            bool(misc & MISC_COMM_EXEC),
        )
    if typ in (t["FORK"], t["EXIT"]):
        pid, ppid, tid, ptid, time = struct.unpack_from("<IIIIQ", raw, 8)
        return Task(time, typ == t["FORK"], pid, ppid, tid, ptid)
    if typ == t["LOST"]:  # u64 id, u64 lost
        return Lost(_trailer_time(raw), struct.unpack_from("<Q", raw, 16)[0])
    if typ == t["LOST_SAMPLES"]:  # u64 lost
        return Lost(_trailer_time(raw), struct.unpack_from("<Q", raw, 8)[0])
    return None
