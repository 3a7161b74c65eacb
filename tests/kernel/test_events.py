"""Each stream event type: the test triggers its own event, filtered to its
own pid (or its own command tree), and checks the decoded fields."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from ringscope.events.records import Chunk, Lost
from ringscope.filters import Filter
from ringscope.session import Session
from ringscope.sources.syscalls import syscall_number
from tests.kernel.collect import collect, of_type

ME = os.getpid()


def _follow_session(events: list[str]) -> Session:
    s = Session(events, filter=Filter(pid=ME, follow=True))
    s.open()
    s.follow(ME)
    return s


def _header_ok(r: dict[str, object], pid: int) -> None:
    assert r["pid"] == pid
    assert isinstance(r["tid"], int) and r["tid"] > 0
    assert r["uid"] == os.getuid()
    assert isinstance(r["ts_ns"], int) and 0 < r["ts_ns"] <= time.monotonic_ns()
    assert isinstance(r["cpu"], int) and 0 <= r["cpu"] < (os.cpu_count() or 1)
    assert r["cgroup_id"] > 0


def test_exec_exit_fork_of_a_child() -> None:
    tag = f"rs-{uuid.uuid4().hex[:8]}"
    s = _follow_session(["exec", "exit", "fork"])
    with s:
        child = subprocess.run(["/bin/sh", "-c", "exit 3", tag], check=False)
        assert child.returncode == 3
        rows = collect(s, lambda rows: any(r["type"] == "exit" and r["exit_code"] == 3 for r in rows))
    execs = [r for r in of_type(rows, "exec") if tag in r["argv"]]
    assert len(execs) == 1
    e = execs[0]
    assert e["filename"] == "/bin/sh"
    assert e["argv"] == ["/bin/sh", "-c", "exit 3", tag]
    assert e["ppid"] == ME
    assert e["comm"] == "sh"
    _header_ok(e, e["pid"])
    forks = [r for r in of_type(rows, "fork") if r["child_pid"] == e["pid"]]
    assert forks and forks[0]["pid"] == ME
    exits = [r for r in of_type(rows, "exit") if r["pid"] == e["pid"]]
    assert len(exits) == 1
    assert exits[0]["exit_code"] == 3 and exits[0]["signal"] == 0
    assert exits[0]["ppid"] == ME
    assert 0 < exits[0]["duration_ns"] < 60e9


def test_exit_by_signal() -> None:
    s = _follow_session(["exit"])
    with s:
        proc = subprocess.Popen(["/bin/sleep", "30"])
        time.sleep(0.05)
        proc.kill()
        proc.wait()
        rows = collect(s, lambda rows: any(r["pid"] == proc.pid for r in rows))
    ex = [r for r in rows if r["type"] == "exit" and r["pid"] == proc.pid]
    assert ex and ex[0]["signal"] == 9


def test_open_unique_path(tmp_path: Path) -> None:
    path = tmp_path / f"open-{uuid.uuid4().hex}"
    with Session(["open"], filter=Filter(pid=ME)) as s:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        os.close(fd)
        missing = str(path) + ".missing"
        with contextlib.suppress(FileNotFoundError):
            os.open(missing, os.O_RDONLY)
        rows = collect(s, lambda rows: any(r.get("path") == missing for r in rows))
    mine = {r["path"]: r for r in of_type(rows, "open")}
    created = mine[str(path)]
    _header_ok(created, ME)
    assert created["ret"] == fd
    assert created["flags"] & (os.O_WRONLY | os.O_CREAT | os.O_TRUNC) == os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    assert "O_CREAT" in created["flags_str"] and created["flags_str"].startswith("O_WRONLY")
    assert created["mode"] == 0o640
    assert created["syscall"] == "openat"
    assert mine[missing]["ret"] == -errno.ENOENT


def test_connect_to_a_closed_port_v4_and_v6() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free, and nobody listens on it
    with Session(["connect"], filter=Filter(pid=ME)) as s:
        for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            with socket.socket(fam) as c:
                assert c.connect_ex((addr, port)) == errno.ECONNREFUSED
        rows = collect(s, lambda rows: len(of_type(rows, "connect")) >= 2)
    got = {(r["family"], r["addr"], r["port"], r["ret"]) for r in of_type(rows, "connect")}
    assert ("AF_INET", "127.0.0.1", port, -errno.ECONNREFUSED) in got
    assert ("AF_INET6", "::1", port, -errno.ECONNREFUSED) in got


def test_accept_peer_address() -> None:
    with socket.socket() as srv, Session(["accept"], filter=Filter(pid=ME)) as s:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        with socket.create_connection(srv.getsockname()) as c:
            conn, peer = srv.accept()
            conn.close()
            rows = collect(s, lambda rows: bool(of_type(rows, "accept")))
            assert c.getsockname() == peer
    a = of_type(rows, "accept")[0]
    assert (a["family"], a["addr"], a["port"]) == ("AF_INET", "127.0.0.1", peer[1])
    assert a["ret"] >= 0


def test_sched_switch_and_wakeup() -> None:
    with Session(["sched_switch", "sched_wakeup"], filter=Filter(pid=ME)) as s:
        ev = threading.Event()
        t = threading.Thread(target=lambda: (time.sleep(0.02), ev.set()))
        t.start()
        ev.wait()  # sleep: we switch out, the thread wakes us
        t.join()
        time.sleep(0.01)
        rows = collect(
            s, lambda rows: bool(of_type(rows, "sched_switch")) and bool(of_type(rows, "sched_wakeup"))
        )
    sw = of_type(rows, "sched_switch")
    assert any(r["prev_pid"] in (ME, t.native_id) and r["prev_comm"] for r in sw)
    assert all(r["pid"] == ME for r in sw)
    wk = of_type(rows, "sched_wakeup")
    assert any(r["target_pid"] in (ME, t.native_id) for r in wk)


def test_syscall_id_return_and_duration() -> None:
    nr = syscall_number("getppid")
    assert nr is not None
    with Session(["syscall"], filter=Filter(pid=ME), syscall_id=nr) as s:
        for _ in range(5):
            os.getppid()
        rows = collect(s, lambda rows: len(rows) >= 5)
    calls = of_type(rows, "syscall")
    assert len(calls) == 5
    for r in calls:
        assert (r["id"], r["name"], r["ret"]) == (nr, "getppid", os.getppid())
        assert 0 < r["duration_ns"] < 10e6


async def test_async_iterator(tmp_path: Path) -> None:
    path = str(tmp_path / "async")
    with Session(["open"], filter=Filter(pid=ME)) as s:
        open(path, "w").close()
        agen = s.aevents()
        async with contextlib.aclosing(agen):
            async for ev in agen:
                if ev["path"] == path:
                    break
    assert ev["type"] == "open" and ev["pid"] == ME and ev["ret"] >= 0


def test_skipped_runs_are_read_from_every_program(monkeypatch: pytest.MonkeyPatch) -> None:
    with Session(["open", "exec"], filter=Filter(pid=ME)) as s:
        loaded = [p for obj in s.objects.values() for p in obj.programs.values() if p.autoload]
        assert len(loaded) == 5  # four open programs and the exec one
        assert s.skipped_runs() == 0  # the kernel's recursion_misses, read from fdinfo
        assert [i for i in s.poll(0, flush=True) if isinstance(i, Lost) and i.stage == "kernel"] == []
        # Skipped runs are reported, but never added to the exact loss count.
        monkeypatch.setattr(s.probes, "skipped_runs", lambda: 7)
        lost = [i for i in s.poll(0, flush=True) if isinstance(i, Lost)]
        assert [(x.stage, x.count, x.detail["skipped_runs"]) for x in lost] == [("kernel", 0, 7)]
        assert s.lost["kernel"] == 0 and s.skipped == 7


def test_exited_threads_do_not_exhaust_the_entry_map() -> None:
    """exit() never reaches sys_exit, so each exiting thread leaves its
    entry behind; more exits than the map holds must not silence later calls."""
    nr = syscall_number("getppid")
    with Session(["syscall"], filter=Filter(pid=ME), ring_size=1 << 26) as s:
        for i in range(11_000):
            t = threading.Thread(target=int)
            t.start()
            t.join()
            if i % 500 == 0:
                s.poll(0)
        s.poll(0)
        os.getppid()
        rows = collect(s, lambda rows: any(r["id"] == nr for r in rows))
    assert any(r["id"] == nr and r["pid"] == ME for r in rows)
    assert s.lost["kernel"] == 0


def test_events_with_a_duration_can_be_called_again(tmp_path: Path) -> None:
    with Session(["open"], filter=Filter(pid=ME)) as s:
        for name in ("first", "second"):
            path = str(tmp_path / name)
            open(path, "w").close()
            assert path in {r.get("path") for r in s.events(duration=0.3)}


def _rest(s: Session) -> list[int]:
    """Seqs of every event still to be read, after the kernel side stopped."""
    s.detach()
    return [
        int(q) for item in s.poll(0, flush=True) if isinstance(item, Chunk) for q in item.columns()["seq"]
    ]


def test_events_limit_keeps_what_it_read_past_the_limit() -> None:
    nr = syscall_number("getppid")
    with Session(["syscall"], filter=Filter(pid=ME), syscall_id=nr) as s:
        for _ in range(1000):
            os.getppid()
        time.sleep(0.05)
        first = [r["seq"] for r in s.events(limit=10)]
        rest = _rest(s)
        assert s.lost == {"kernel": 0, "daemon": 0}
    assert len(first) == 10
    assert first + rest == list(range(1000))


async def test_aevents_limit_keeps_what_it_read_past_the_limit() -> None:
    nr = syscall_number("getppid")
    with Session(["syscall"], filter=Filter(pid=ME), syscall_id=nr) as s:
        for _ in range(1000):
            os.getppid()
        time.sleep(0.05)
        agen = s.aevents(limit=10)
        async with contextlib.aclosing(agen):
            first = [r["seq"] async for r in agen]
        rest = _rest(s)
    assert first + rest == list(range(1000))


@pytest.mark.parametrize(
    ("event", "tracepoint"), [("open", "syscalls:sys_enter_openat"), ("sched_switch", "sched:sched_switch")]
)
def test_perf_still_sees_a_tracepoint_we_are_attached_to(event: str, tracepoint: str) -> None:
    """A program on a tracefs tracepoint that returned 0 would hide every hit
    of it from perf users of the whole system while we trace."""
    perf = shutil.which("perf")
    assert perf is not None, "Debian linux-perf is in APT_PACKAGES"
    with Session([event], filter=Filter(pid=ME)):
        out = subprocess.run([perf, "stat", "-x,", "-e", tracepoint, "--", "/bin/sleep", "0.01"],
                             capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    counted = int(out.stderr.strip().splitlines()[-1].split(",")[0])
    assert counted > 0, out.stderr
