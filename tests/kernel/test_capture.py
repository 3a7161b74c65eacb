"""`trace -w` on the real kernel, replayed with `trace -i`: byte for byte
the same output (seq and loss records included), for every event type,
with either transport, in both formats.

These runs also make the capture files the no-root tier reads
(tests/data/*.rscap with the live NDJSON beside them): run this module with
RINGSCOPE_UPDATE_TEST_DATA=1 to write them again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import need
from tests.kernel.test_uprobe import PROG_C

RINGSCOPE = [sys.executable, "-m", "ringscope"]
DATA = Path(__file__).parent.parent / "data"
PY = "/usr/bin/python3"

SOCKETS = """
import socket, subprocess
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
cli = socket.create_connection(srv.getsockname())
conn, _ = srv.accept()
conn.sendall(b"x"); cli.recv(1)
for s in (conn, cli, srv): s.close()
subprocess.run(["/bin/true"])
"""
GC = "import gc; gc.disable(); [gc.collect(g) for g in (0, 1, 2)]"
FLOOD = """
import os
for _ in range(3000):
    try: os.open("/nonexistent/ringscope-capture", 0)
    except OSError: pass
"""


@dataclass(frozen=True)
class Case:
    name: str
    events: str
    cmd: list[str]
    options: tuple[str, ...] = ()


def _cases(prog: Path) -> list[Case]:
    dynamic = ",".join((
        "tracepoint:syscalls:sys_enter_openat", "tracepoint:sched:sched_process_exec",
        f"uprobe:{prog}:rs_add", f"uretprobe:{prog}:rs_add", f"usdt:{PY}:python:gc__start",
    ))  # fmt: skip
    return [
        Case(
            "static",
            "exec,exit,fork,open,connect,accept,sched_switch,sched_wakeup",
            [PY, "-S", "-c", SOCKETS],
        ),
        Case("syscall", "syscall", ["/bin/true"]),
        Case("dynamic", dynamic, ["sh", "-c", f"echo g | {prog} 3 >/dev/null; {PY} -S -c '{GC}'"]),
        Case("lost", "open", [PY, "-S", "-c", FLOOD], ("--ring-size", "4K")),
    ]


@pytest.fixture(scope="module")
def prog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(shutil.which("gcc") is not None, "gcc is needed to build the probed program")
    d = tmp_path_factory.mktemp("capture")
    (d / "prog.c").write_text(PROG_C)
    subprocess.run(["gcc", "-O1", "-g", "-fPIE", "-pie", "-o", d / "prog", d / "prog.c"], check=True)
    return d / "prog"


def _ringscope(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*RINGSCOPE, *args], capture_output=True, timeout=120, check=False)


def _live(case: Case, out: Path, fmt: str = "json", *extra: str) -> tuple[Path, bytes]:
    """Trace `case` live with -w; (the capture, what trace printed)."""
    cap = out / f"{case.name}.rscap"
    printed = out / f"{case.name}.{fmt}.out"
    p = _ringscope("trace", "-e", case.events, "--format", fmt, *case.options, *extra,
                   "-w", str(cap), "-o", str(printed), "--", *case.cmd)  # fmt: skip
    assert p.returncode == 0, p.stderr.decode()
    return cap, printed.read_bytes()


def _replay(cap: Path, fmt: str = "json") -> bytes:
    p = _ringscope("trace", "-i", str(cap), "--format", fmt)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout


def test_every_event_type_replays_byte_for_byte(prog: Path, tmp_path: Path) -> None:
    need(Path(PY).exists(), "Debian's /usr/bin/python3 (its USDT probes)")
    seen: set[str] = set()
    for case in _cases(prog):
        cap, live = _live(case, tmp_path)
        assert _replay(cap) == live, case.name
        seen |= {json.loads(line)["type"].split(":")[0] for line in live.splitlines()}
        if os.environ.get("RINGSCOPE_UPDATE_TEST_DATA") == "1":
            shutil.copy(cap, DATA / cap.name)
            (DATA / f"{case.name}.ndjson").write_bytes(live)
    want = {"exec", "exit", "fork", "open", "connect", "accept", "sched_switch", "sched_wakeup", "syscall",
            "tracepoint", "uprobe", "uretprobe", "usdt", "lost"}  # fmt: skip
    assert want <= seen, want - seen


def test_text_and_perfbuf_replay_byte_for_byte(prog: Path, tmp_path: Path) -> None:
    case = _cases(prog)[0]
    cap, live = _live(case, tmp_path, "text")
    assert _replay(cap, "text") == live
    cap, live = _live(case, tmp_path, "json", "--transport", "perfbuf")
    assert _replay(cap) == live


def test_a_capture_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    for target, why in ((tmp_path / "no" / "x.rscap", "No such file or directory"), (tmp_path, "Is a directory"),
                        (Path("/dev/full"), "No space left on device")):  # fmt: skip
        p = _ringscope(
            "trace", "-e", "open", "-w", str(target), "-o", os.devnull, "--", "/bin/cat", "/etc/hostname"
        )
        lines = p.stderr.decode().strip().splitlines()
        assert p.returncode == 1 and len(lines) == 1, (target, p.stderr)
        assert lines[0].startswith(f"ringscope: error: cannot write {target}") and why in lines[0]


OPENS = """
import os, sys
sys.stdin.read(1)
for i in range(50):
    try: os.open(f"/nonexistent/serve-capture-{i}", 0)
    except OSError: pass
"""


def test_serve_capture_saves_what_the_clients_were_served(tmp_path: Path) -> None:
    cap = tmp_path / "served.rscap"
    with (
        subprocess.Popen([sys.executable, "-c", OPENS], stdin=subprocess.PIPE) as child,
        subprocess.Popen([*RINGSCOPE, "serve", "-e", "open", "-p", str(child.pid), "--port", "0",
                          "--capture", str(cap)], stderr=subprocess.PIPE, text=True) as server,
    ):  # fmt: skip
        assert server.stderr is not None and child.stdin is not None
        try:
            m = re.search(r"serving on (http://\S+?)/ ", server.stderr.readline())
            assert m, "serve did not start"
            with urllib.request.urlopen(f"{m[1]}/events.ndjson?limit=50", timeout=60) as r:
                child.stdin.write(b"g")
                child.stdin.close()
                served = [json.loads(line) for line in r.read().splitlines()]
        finally:
            server.send_signal(signal.SIGTERM)
            server.stderr.read()
            assert server.wait(60) == 0
    events = [r for r in served if r["type"] == "open"]
    assert len(events) == 50 and served[-1]["type"] == "end"
    replayed = [json.loads(line) for line in _replay(cap).splitlines()]
    assert [r for r in replayed if r["type"] == "open"][:50] == events


def test_a_writer_killed_while_live_leaves_a_capture_that_replays(tmp_path: Path) -> None:
    cap = tmp_path / "killed.rscap"
    loop = "import os, time\nwhile True:\n    os.close(os.open('/etc/hostname', 0)); time.sleep(0.01)"
    with subprocess.Popen([*RINGSCOPE, "trace", "-e", "open", "-w", str(cap), "-o", os.devnull, "--",
                           sys.executable, "-c", loop], stderr=subprocess.DEVNULL) as tracer:  # fmt: skip
        children: list[int] = []
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not cap.exists():
                time.sleep(0.1)
            time.sleep(2)  # a POLLS block every 0.5 s while events flow
            children = [
                int(p) for p in Path(f"/proc/{tracer.pid}/task/{tracer.pid}/children").read_text().split()
            ]
        finally:
            tracer.kill()  # no END block, maybe a block half written
            for pid in children:  # the traced loop: its tracer can no longer stop it
                os.kill(pid, signal.SIGKILL)
    p = _ringscope("trace", "-i", str(cap), "--format", "json")
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert sum(r.get("path") == "/etc/hostname" for r in rows) > 10  # the loop's, up to the kill
