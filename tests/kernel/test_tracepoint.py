"""Any tracepoint by name, on the real kernel: the generic program copies the
raw record, Python decodes it with the tracefs format file. Every test
triggers its own events and filters to its own pid."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable

import pytest

from ringscope.errors import BadInput
from ringscope.events.spec import Row
from ringscope.filters import Filter
from ringscope.session import Session

SYS_PREAD64 = 17  # x86_64


def collect(names: list[str], trigger: Callable[[], None], done: Callable[[list[Row]], bool]) -> list[Row]:
    """Open a session on our own pid, run `trigger`, read until `done`."""
    rows: list[Row] = []
    with Session(names, filter=Filter(pid=os.getpid())) as s:
        trigger()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not done(rows):
            for row in s.events(duration=0.05):
                rows.append(row)
    assert not [r for r in rows if r["type"] == "lost"]
    return rows


def test_sched_process_fork_parent_and_child_pids() -> None:
    children: list[int] = []

    def fork() -> None:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        children.append(pid)

    def seen(rows: list[Row]) -> bool:
        return any(r.get("child_pid") in children for r in rows)

    rows = collect(["tracepoint:sched:sched_process_fork"], fork, seen)
    (ev,) = [r for r in rows if r["child_pid"] in children]
    assert ev["type"] == "tracepoint:sched:sched_process_fork"
    assert ev["parent_pid"] == os.getpid() == ev["pid"]
    assert ev["child_pid"] == children[0]
    # __data_loc strings (6.x kernels) or char arrays (older): decoded either way
    assert isinstance(ev["child_comm"], str) and ev["child_comm"] == ev["comm"]
    assert "common_pid" not in ev and "seq" in ev and "ts_ns" in ev


def test_sys_enter_openat_filename_is_read_from_user_memory() -> None:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ringscope-openat-probe")

        def open_missing() -> None:
            with pytest.raises(FileNotFoundError):
                os.open(path, os.O_RDONLY | os.O_CLOEXEC)

        rows = collect(
            ["syscalls:sys_enter_openat"], open_missing, lambda rows: any(r["filename"] == path for r in rows)
        )
    (ev,) = [r for r in rows if r["filename"] == path]
    assert ev["type"] == "tracepoint:syscalls:sys_enter_openat"
    assert ev["flags"] & os.O_CLOEXEC
    assert ev["dfd"] == -100  # AT_FDCWD: `int` in an 8-byte slot the format calls unsigned
    assert ev["tid"] == os.getpid()


def test_array_field_raw_syscalls_args() -> None:
    fd, name = tempfile.mkstemp()
    os.write(fd, b"x" * 64)

    def pread() -> None:
        os.pread(fd, 7, 12345)

    def is_ours(r: Row) -> bool:
        return bool(r["id"] == SYS_PREAD64 and r["args"][0] == fd)

    try:
        rows = collect(["tracepoint:raw_syscalls:sys_enter"], pread, lambda rows: any(map(is_ours, rows)))
    finally:
        os.close(fd)
        os.unlink(name)
    ev = next(r for r in rows if is_ours(r))
    assert ev["args"][2:4] == [7, 12345]
    assert len(ev["args"]) == 6


def test_two_tracepoints_share_the_program_and_stay_apart() -> None:
    def work() -> None:
        os.getppid()
        fd = os.open("/dev/null", os.O_RDONLY)
        os.close(fd)

    def both(rows: list[Row]) -> bool:
        return {r["type"] for r in rows} >= {
            "tracepoint:syscalls:sys_enter_getppid",
            "tracepoint:syscalls:sys_enter_close",
        }

    rows = collect(["syscalls:sys_enter_getppid", "syscalls:sys_enter_close"], work, both)
    seqs = [r["seq"] for r in rows]
    assert seqs == sorted(seqs)
    closes = [r for r in rows if r["type"] == "tracepoint:syscalls:sys_enter_close"]
    assert all("fd" in r and "filename" not in r for r in closes)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tracepoint:sched:no_such_tracepoint", "unknown tracepoint 'sched:no_such_tracepoint'"),
        ("nosuchsys:nosuchtp", "unknown tracepoint"),
        ("tracepoint:sched", "malformed tracepoint spec"),
        ("tracepoint:../..:x", "bad tracepoint name"),
    ],
)
def test_bad_tracepoints_are_bad_input(spec: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        Session([spec])
