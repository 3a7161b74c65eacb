"""Tracing with CAP_BPF + CAP_PERFMON only, as a user who cannot read tracefs.

The stream events whose usual programs sit on tracefs tracepoints (open,
connect, accept, sched_switch, sched_wakeup) have twins on BTF tracepoints,
which attach without tracefs: a session that cannot read tracefs loads them
instead. Here they must make the very events the tracefs programs make, for
the same actions; and a real non-root user holding only the two
capabilities must be able to trace, with one clear line for what it cannot.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ringscope import features
from ringscope.events.records import Chunk
from ringscope.filters import Filter
from ringscope.session import Session
from ringscope.sources.syscalls import syscall_number

ME = os.getpid()
NOBODY = 65534
RINGSCOPE = [sys.executable, "-m", "ringscope"]


@pytest.fixture(params=["tracefs", "btf"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "btf":
        real = features.probe()
        unreadable = dataclasses.replace(
            real, tracefs=features.Feature("tracefs", False, "not readable (test)")
        )
        monkeypatch.setattr(features, "probe", lambda: unreadable)
    yield request.param


def _rows(s: Session, until: float = 0.2) -> list[dict[str, Any]]:
    time.sleep(until)
    s.detach()
    return [r for item in s.poll(0, flush=True) if isinstance(item, Chunk) for r in item.rows()]


def _openat2(path: bytes, flags: int) -> int:
    """openat2(2) through syscall(2): Python has no wrapper."""
    how = (ctypes.c_uint64 * 3)(flags, 0, 0)  # struct open_how: flags, mode, resolve
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.syscall(syscall_number("openat2"), -100, path, ctypes.byref(how), ctypes.sizeof(how)))


def _workload(tmp: Path) -> None:
    for name in ("a", "b c"):
        fd = os.open(tmp / name, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
    fd = _openat2(str(tmp / "a").encode(), os.O_RDONLY)
    if fd >= 0:
        os.close(fd)
    for fam, addr in ((socket.AF_INET, ("127.0.0.1", 9)), (socket.AF_INET6, ("::1", 9))):
        with socket.socket(fam, socket.SOCK_STREAM) as sock:
            sock.connect_ex(addr)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client = socket.create_connection(server.getsockname())
        conn, _ = server.accept()
        conn.close()
        client.close()
    for _ in range(5):
        time.sleep(0.002)  # blocked in S: switched out, then woken


def _kept(rows: list[dict[str, Any]], tid: int) -> dict[str, set[tuple[Any, ...]]]:
    """What each event type says about the workload, without times and fds."""
    out: dict[str, set[tuple[Any, ...]]] = {}
    for r in rows:
        t = r["type"]
        if r["pid"] != ME and t != "sched_wakeup":
            continue
        if t == "open":
            key: tuple[Any, ...] = (r["path"], r["flags"], r["mode"], r["syscall"], r["ret"] >= 0)
        elif t in ("connect", "accept"):
            key = (r["family"], r["addr"], r["port"] if t == "connect" else None, r["ret"] >= 0)
        elif t == "sched_switch" and r["prev_pid"] == tid:
            key = (r["prev_comm"], r["prev_state"])
        elif t == "sched_wakeup" and r["target_pid"] == tid:
            key = (r["target_comm"], r["target_cpu"] in os.sched_getaffinity(0))
        else:
            continue
        out.setdefault(t, set()).add(key)
    return out


EVENTS = ["open", "connect", "accept", "sched_switch", "sched_wakeup"]
SEEN: dict[str, dict[str, set[tuple[Any, ...]]]] = {}


def test_btf_programs_make_the_events_the_tracefs_ones_make(mode: str, tmp_path: Path) -> None:
    tmp = tmp_path / "work"
    tmp.mkdir()
    tid = threading.get_native_id()
    # Everyone's events: a wakeup is made by the waker (here the timer), not by us.
    with Session(EVENTS, filter=Filter(), ring_size=1 << 26) as s:
        assert s.probes.tracefs == (mode == "tracefs")
        loaded = {p.name for obj in s.objects.values() for p in obj.programs.values() if p.autoload}
        assert any(n.endswith(("_btf", "_sys_enter")) for n in loaded) == (mode == "btf")
        _workload(tmp)
        rows = _rows(s)
    kept = _kept(rows, tid)
    for t in EVENTS:
        assert kept.get(t), f"no {t} event in {mode} mode"
    cloexec = os.O_CLOEXEC  # Python adds it to every os.open()
    assert (str(tmp / "b c"), os.O_WRONLY | os.O_CREAT | cloexec, 0o600, "openat", True) in kept["open"]
    assert (str(tmp / "a"), os.O_RDONLY, 0, "openat2", True) in kept["open"]
    assert ("AF_INET6", "::1", 9, False) in kept["connect"]
    assert ("AF_INET", "127.0.0.1", None, True) in kept["accept"]
    assert {state for _, state in kept["sched_switch"]} & {1}  # S: our sleeps
    # Between modes, compare what the workload did (not the tmp directory's
    # name, the ephemeral ports, or libbpf opening tracefs while attaching).
    kept["open"] = {(Path(k[0]).name, *k[1:]) for k in kept["open"] if k[0].startswith(str(tmp))}
    kept["connect"] = {k for k in kept["connect"] if k[2] == 9}
    SEEN[mode] = {t: v for t, v in kept.items() if t != "sched_switch"}
    if len(SEEN) == 2:
        assert SEEN["tracefs"] == SEEN["btf"]


def _as_nobody(*argv: str, caps: str = "+bpf,+perfmon") -> subprocess.CompletedProcess[str]:
    setpriv = shutil.which("setpriv")
    assert setpriv is not None, "setpriv (util-linux) is part of Debian"
    cmd = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", f"--inh-caps={caps}",
           f"--ambient-caps={caps}", *RINGSCOPE, *argv]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/", check=False)


def test_a_user_with_only_cap_bpf_and_cap_perfmon_can_trace() -> None:
    marker = f"/nonexistent/ringscope-{uuid.uuid4().hex}"
    p = _as_nobody("trace", "-e", "exec,exit,open,connect,syscall,sched_switch", "--format", "json", "--",
                   "/bin/sh", "-c", f"cat {marker}; exit 3")  # fmt: skip
    assert p.returncode == 3, p.stderr  # the command's own status
    types = {line.split('"type":"', 1)[1].split('"', 1)[0] for line in p.stdout.splitlines()}
    assert {"exec", "exit", "open", "syscall", "sched_switch"} <= types, p.stderr
    assert marker in p.stdout
    assert p.stderr.strip().splitlines()[-1].endswith("lost 0 in the kernel, 0 in the daemon")


@pytest.mark.parametrize(
    ("argv", "caps", "expect"),
    [
        (["trace", "-e", "open", "-n", "1"], "-all", "tracing needs CAP_BPF and CAP_PERFMON"),
        (["trace", "-e", "open", "-n", "1"], "+bpf", "tracing needs CAP_PERFMON"),
        (["trace", "-e", "sched:sched_process_fork", "-n", "1"], "+bpf,+perfmon", "needs read access to /sys/kernel/tracing"),
        (["trace", "-e", "uprobe:libc:getpid", "-n", "1"], "+bpf,+perfmon", "uprobe:libc:getpid needs CAP_SYS_ADMIN"),
        (["hist", "-e", "uretprobe:libc:getpid", "--duration", "0.1"], "+bpf,+perfmon", "needs CAP_SYS_ADMIN"),
    ],
)  # fmt: skip
def test_what_a_user_cannot_do_is_one_line_naming_it(argv: list[str], caps: str, expect: str) -> None:
    p = _as_nobody(*argv, caps=caps)
    assert p.returncode == 1, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ringscope: error: ") and expect in lines[0], p.stderr


@pytest.mark.parametrize(("keep", "want"), [("caps.CAP_BPF, caps.CAP_PERFMON", 0xC000000000), ("", 0)])
def test_drop_gives_capabilities_up_for_good(keep: str, want: int) -> None:
    code = (
        "from ringscope import caps\n"
        f"caps.drop(frozenset({{{keep}}}))\n"
        "print(open('/proc/self/status').read())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    sets = {k: int(v, 16) for k, v in (ln.split(":\t") for ln in out.splitlines() if ln.startswith("Cap"))}
    assert sets["CapEff"] == sets["CapPrm"] == sets["CapInh"] == sets["CapBnd"] == want
    assert sets["CapAmb"] == 0
