"""In-kernel histograms on the real kernel: counts must equal the calls the
test makes, exactly; latency histograms must hold every call."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ringscope.errors import BadInput
from ringscope.sources.hist import Histogram, HistSnapshot, collect
from tests.conftest import need
from tests.kernel.test_uprobe import CALLS, PROG_C

RINGSCOPE = str(Path(sys.executable).parent / "ringscope")
SYS_GETPPID = 110  # x86_64


@pytest.fixture(scope="module")
def prog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(shutil.which("gcc") is not None, "gcc is needed to build the probed program")
    d = tmp_path_factory.mktemp("hist")
    (d / "prog.c").write_text(PROG_C)
    subprocess.run(["gcc", "-O1", "-fPIE", "-pie", "-o", d / "prog", d / "prog.c"], check=True)
    return d / "prog"


def _run_prog(prog: Path, event: str, **kw: object) -> HistSnapshot:
    """Run the program (held on stdin) under a Histogram restricted to its pid."""
    with subprocess.Popen([str(prog), str(CALLS)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL) as child:
        assert child.stdin is not None
        try:
            with Histogram(event.replace("PROG", str(prog)), pid=child.pid, **kw) as h:  # type: ignore[arg-type]
                child.stdin.write(b"g")
                child.stdin.close()
                assert child.wait(10) == 0
                return h.snapshot()
        finally:
            child.stdin.close()


def test_tracepoint_count_is_exact() -> None:
    with Histogram("syscalls:sys_enter_getppid", pid=os.getpid()) as h:
        for _ in range(1234):
            os.getppid()
        snap = h.snapshot()
    assert snap.total == 1234 and snap.kind == "count" and snap.dropped == 0


def test_tracepoint_count_by_field() -> None:
    with Histogram("raw_syscalls:sys_enter", by="id", pid=os.getpid()) as h:
        for _ in range(321):
            os.getppid()
        rows = {r.key: r.count for r in h.snapshot().rows}
    assert rows[SYS_GETPPID] == 321
    assert len(rows) > 1  # other syscalls were counted under their own ids


def test_tracepoint_count_by_pid_and_comm() -> None:
    for by, key in (("pid", os.getpid()), ("tid", os.getpid())):
        with Histogram("syscalls:sys_enter_getppid", by=by, pid=os.getpid()) as h:
            for _ in range(50):
                os.getppid()
            assert [(r.key, r.count) for r in h.snapshot().rows] == [(key, 50)]


def test_uprobe_count_equals_calls(prog: Path) -> None:
    assert _run_prog(prog, "uprobe:PROG:rs_add").total == CALLS


def test_uprobe_count_by_argument(prog: Path) -> None:
    snap = _run_prog(prog, "uprobe:PROG:rs_add", by="arg0")
    assert sorted((r.key, r.count) for r in snap.rows) == [(i, 1) for i in range(CALLS)]


def test_uretprobe_latency_histogram_holds_every_call(prog: Path) -> None:
    snap = _run_prog(prog, "uretprobe:PROG:rs_add", by="comm")
    (row,) = snap.rows
    assert snap.kind == "log2" and snap.unit == "nsecs"
    assert row.key == "prog" and row.count == CALLS == sum(row.slots)
    assert row.sum > 0
    text = snap.render()
    assert "nsecs" in text and f"count: {CALLS}" in text


def test_uprobe_with_latency_flag_on_libc(prog: Path) -> None:
    snap = _run_prog(prog, "uprobe:libc:usleep", latency=True)
    (row,) = snap.rows
    assert row.count == 1 and row.sum >= 1_234_000  # usleep(1234) sleeps at least that long


def test_runqlat_sees_our_sleeps() -> None:
    with Histogram("runqlat", by="pid", pid=os.getpid()) as h:
        for _ in range(20):
            # Long enough to really block: a 1 ms sleep on a busy machine can
            # be woken before it has switched out, and then nothing is queued.
            time.sleep(0.005)
        snap = h.snapshot()
    rows = {r.key: r for r in snap.rows}
    assert rows[os.getpid()].count >= 20
    assert all(sum(r.slots) == r.count for r in snap.rows)


def test_collect_for_the_server() -> None:
    doc = collect("syscalls:sys_enter_getppid", by="comm", duration=0.1)
    assert doc["kind"] == "count" and doc["event"] == "syscalls:sys_enter_getppid"
    json.dumps(doc)


@pytest.mark.parametrize(
    ("event", "kw", "message"),
    [
        ("syscalls:sys_enter_getppid", {"latency": True}, "--latency needs"),
        ("syscalls:sys_enter_openat", {"by": "filename"}, "not an integer field"),
        ("syscalls:sys_enter_openat", {"by": "nosuch"}, "not an integer field"),
        ("runqlat", {"by": "arg0"}, "cannot group"),
        ("tracepoint:nosuch:thing", {}, "unknown tracepoint"),
    ],
)
def test_bad_hist_requests(event: str, kw: dict[str, object], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        Histogram(event, **kw)  # type: ignore[arg-type]


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([RINGSCOPE, "hist", *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_cli_runs_a_command_and_prints_exact_counts(prog: Path) -> None:
    # CMD inherits our stdin: the byte it waits for is already there.
    res = _cli(
        "-e", f"uprobe:{prog}:rs_add", "--by", "comm", "--json", "--", str(prog), str(CALLS), stdin="g"
    )
    assert res.returncode == 0, res.stderr
    final = json.loads(res.stdout.splitlines()[-1])
    assert final["interval"] is False
    assert final["rows"] == [{"key": "prog", "count": CALLS}]


def test_cli_latency_text_like_funclatency(prog: Path) -> None:
    res = _cli("-e", f"uretprobe:{prog}:rs_add", "--", str(prog), str(CALLS), stdin="g")
    assert res.returncode == 0, res.stderr
    assert "nsecs" in res.stdout and "distribution" in res.stdout and f"count: {CALLS}" in res.stdout


def test_cli_final_snapshot_text(prog: Path) -> None:
    res = _cli("-e", "syscalls:sys_enter_getppid", "--duration", "0.2", "-p", str(os.getpid()))
    assert res.returncode == 0, res.stderr
    assert "total" in res.stdout and "COUNT" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-e", "tracepoint:nosuch:thing"], "unknown tracepoint 'nosuch:thing'"),
        (["-e", "uprobe:/no/such/bin:f"], "no such binary"),
        (["-e", "syscalls:sys_enter_openat", "--by", "bogus"], "not an integer field"),
        (["-e", "bad:spec:here:x"], "malformed probe spec"),
        (["-e", "runqlat", "--interval", "0"], "bad interval"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(args: list[str], message: str) -> None:
    res = _cli(*args)
    assert res.returncode == 2
    assert (
        res.stderr.count("\n") == 1 and message in res.stderr and res.stderr.startswith("ringscope: error:")
    )


def test_collect_query_for_api_hist() -> None:
    from ringscope.server.hist_route import collect_query

    doc = collect_query({"event": "syscalls:sys_enter_getppid", "by": "pid", "duration": "0.05"})
    assert doc["by"] == "pid" and doc["kind"] == "count"
    for bad, message in (
        ({"event": "runqlat", "color": "red"}, "unknown parameter 'color'"),
        ({}, "missing parameter 'event'"),
        ({"event": "runqlat", "duration": "x"}, "bad duration"),
        ({"event": "runqlat", "duration": "100"}, "bad duration"),
        ({"event": "runqlat", "latency": "maybe"}, "bad latency"),
    ):
        with pytest.raises(BadInput, match=message):
            collect_query(bad)
