"""In-kernel aggregates on the real kernel: the label cap folds the rest
into `other` exactly, syscall latency pairs entries with exits, value
histograms hold each value in its log2 slot, USDT probes count, and runqlat
sees a CPU-bound competitor. Every workload is this test's own (filtered to
its pid or its child's)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ringscope.sources.hist import Histogram
from ringscope.sources.hist_query import parse_spec
from ringscope.sources.hist_snapshot import HistSnapshot
from ringscope.sources.usdt import read_notes
from tests.conftest import need

ME = os.getpid()
PR_SET_NAME = 15
PY = Path("/usr/bin/python3")
SPIN = "import sys, time\nsys.stdin.read(1)\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end: pass"


def _named_calls(names: list[str], calls: int) -> None:
    """One thread per name, one after the other, each renaming itself (its
    comm) and calling getppid() `calls` times."""
    libc = ctypes.CDLL(None, use_errno=True)

    def work(name: str) -> None:
        libc.prctl(PR_SET_NAME, name.encode(), 0, 0, 0)
        for _ in range(calls):
            os.getppid()

    for name in names:
        t = threading.Thread(target=work, args=(name,))
        t.start()
        t.join()


def test_label_cap_folds_the_rest_into_other_exactly() -> None:
    names, calls = [f"rs-cap-{i}" for i in range(10)], 37
    capped = parse_spec(f"syscalls:sys_enter_getppid?by=comm&max_labels=4&pid={ME}")
    with (
        Histogram(capped) as small,
        Histogram(parse_spec(f"syscalls:sys_enter_getppid?by=comm&pid={ME}")) as big,
    ):
        _named_calls(names, calls)
        a, b = small.snapshot(), big.snapshot()
    assert {r.key: r.count for r in b.rows} == dict.fromkeys(names, calls) and b.other is None
    assert [r.key for r in a.rows] == names[:4] or sorted(str(r.key) for r in a.rows) == names[:4]
    assert a.other is not None and a.other.key == "other" and a.other.count == 6 * calls
    assert a.overflow == 6 * calls and b.overflow == 0
    assert a.total == b.total == 10 * calls


def test_syscall_latency_pairs_each_entry_with_its_exit() -> None:
    with Histogram(parse_spec(f"syscalls:sys_enter_getppid?latency=1&pid={ME}")) as h:
        for _ in range(500):
            os.getppid()
        snap = h.snapshot()
    (row,) = snap.rows
    assert snap.kind == "log2" and snap.unit == "nsecs"
    assert row.count == 500 == sum(row.slots) and 0 < row.sum < 500 * 1_000_000


def test_latency_of_every_syscall_labelled_by_name() -> None:
    with Histogram(parse_spec(f"raw_syscalls:sys_enter?latency=1&by=id&pid={ME}")) as h:
        for _ in range(300):
            os.getppid()
        rows = {r.key: r for r in h.snapshot().rows}
    assert rows["getppid"].count == 300 and sum(rows["getppid"].slots) == 300


def test_value_histogram_puts_each_read_size_in_its_slot() -> None:
    sizes = [1, 3, 100, 4096, 4097, 70000]
    with Histogram(parse_spec(f"syscalls:sys_exit_read?value=ret&pid={ME}")) as h:
        fd = os.open("/dev/zero", os.O_RDONLY)
        try:
            for n in sizes:
                os.read(fd, n)
        finally:
            os.close(fd)
        snap = h.snapshot()
    (row,) = snap.rows
    assert snap.unit == "bytes" and row.sum == sum(sizes) and row.count == len(sizes)
    expected = [0] * 64
    for n in sizes:
        expected[n.bit_length() - 1] += 1
    assert list(row.slots) == expected


def _python_with_usdt() -> bool:
    try:
        return PY.exists() and any(n.name == "gc__start" for n in read_notes(PY.resolve()))
    except Exception:
        return False


def test_usdt_counts_by_argument() -> None:
    need(_python_with_usdt(), "Debian's python3 with USDT probes (.note.stapsdt)")
    # os._exit: the interpreter's own collections at shutdown would count too.
    code = "import os, sys, gc; gc.disable(); sys.stdin.read(1); [gc.collect(g) for g in (0, 1, 1, 2, 2, 2)]; os._exit(0)"
    with subprocess.Popen([str(PY), "-c", code], stdin=subprocess.PIPE) as p:
        assert p.stdin is not None
        with Histogram(parse_spec(f"usdt:{PY}:python:gc__start?by=arg0&pid={p.pid}")) as h:
            p.stdin.write(b"g")
            p.stdin.close()
            assert p.wait(10) == 0
            snap = h.snapshot()
    assert {r.key: r.count for r in snap.rows} == {0: 1, 1: 2, 2: 3}


def _runqlat_under(competitor: bool) -> HistSnapshot:
    """runqlat of a CPU-bound process, alone or sharing its CPU with another."""
    cpu = max(os.sched_getaffinity(0))
    procs = [subprocess.Popen([sys.executable, "-c", SPIN, "0.6"], stdin=subprocess.PIPE)]
    if competitor:
        procs.append(subprocess.Popen([sys.executable, "-c", SPIN, "1.5"], stdin=subprocess.PIPE))
    try:
        for p in procs:
            os.sched_setaffinity(p.pid, {cpu})
        with Histogram(parse_spec(f"runqlat?pid={procs[0].pid}")) as h:
            for p in procs:
                assert p.stdin is not None
                p.stdin.write(b"g")
                p.stdin.close()
            assert procs[0].wait(10) == 0
            return h.snapshot()
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_runqlat_has_a_tail_under_a_cpu_bound_competitor() -> None:
    (row,) = _runqlat_under(competitor=True).rows
    over_1ms = sum(row.slots[20:])  # slot 20 starts at 2^20 ns = 1.05 ms
    assert over_1ms >= 10, row.slots
    assert row.count == sum(row.slots)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("usdt:/usr/bin/python3:python:gc__start?latency=1", "no return to time"),
        ("uprobe:libc:malloc?value=arg9", "must be arg0..arg4"),
        ("uprobe:libc:malloc?value=ret", "must be arg0..arg4"),
        ("uretprobe:libc:malloc?value=arg0", "takes value=ret"),
        ("syscalls:sys_enter_read?value=buf", "not an integer field"),
        ("runqlat?value=x", "value= does not apply"),
        ("kprobe:vfs_read", "not supported|aggregates take tracepoints"),
    ],
)
def test_bad_aggregates(spec: str, message: str) -> None:
    from ringscope.errors import RingscopeError

    if spec.startswith("usdt:"):
        need(_python_with_usdt(), "Debian's python3 with USDT probes")
    with pytest.raises(RingscopeError, match=message):
        Histogram(parse_spec(spec))


@pytest.mark.parametrize("n", [0, 1, 999, 1000])
def test_map_dump_reads_every_entry_in_one_batch_lookup(n: int) -> None:
    import struct

    from ringscope._libbpf import Map

    with Map.create("hash", "rs_dump_test", 8, 16, 1000) as m:
        for i in range(n):
            m.update(struct.pack("<Q", i * 7), struct.pack("<QQ", i, i * i))
        keys, vals, count = m.dump()
    assert count == n and len(keys) == 8 * n and len(vals) == 16 * n
    got = {
        struct.unpack_from("<Q", keys, 8 * j)[0]: struct.unpack_from("<QQ", vals, 16 * j) for j in range(n)
    }
    assert got == {i * 7: (i, i * i) for i in range(n)}
