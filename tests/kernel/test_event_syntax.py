"""One event syntax in every subcommand: tracepoint wildcards in trace,
stat, record and hist, hist's answer to a form it does not take, and
`list`'s perf-style filters and probe-point listings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ringscope.errors import BadInput
from ringscope.sources import resolve_events
from ringscope.sources.usdt import read_notes
from tests.conftest import need

RINGSCOPE = str(Path(sys.executable).parent / "ringscope")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RINGSCOPE, *args], capture_output=True, text=True, timeout=120)


def test_session_expands_tracepoint_globs() -> None:
    names = [s.name for s in resolve_events(["exec", "sched:sched_process_*", "tp:sched:sched_process_*"])]
    assert names[0] == "exec"
    assert {"tracepoint:sched:sched_process_exec", "tracepoint:sched:sched_process_fork",
            "tracepoint:sched:sched_process_exit"} <= set(names)  # fmt: skip
    assert len(names) == len(set(names))  # the second pattern adds nothing new
    with pytest.raises(BadInput, match="no tracepoint matches 'sched:nosuch_\\*'"):
        resolve_events(["sched:nosuch_*"])


def test_trace_with_globs() -> None:
    res = _run("trace", "--format", "json", "-e", "sched:sched_process_*,syscalls:sys_enter_open*",
               "--", "sh", "-c", "cat /etc/hostname >/dev/null; true")  # fmt: skip
    assert res.returncode == 0, res.stderr
    types = {json.loads(line)["type"] for line in res.stdout.splitlines()}
    assert {"tracepoint:sched:sched_process_exec", "tracepoint:sched:sched_process_fork",
            "tracepoint:syscalls:sys_enter_openat"} <= types, types  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["record", "-e", "sched:sched_process_*", "--", "true"], "record samples on one event; 'sched:sched_process_*' matches"),
        (["record", "-e", "cpu-cl*", "--", "true"], "wildcards match tracepoints only"),
        (["stat", "-e", "sched:nosuch_*", "--", "true"], "no tracepoint matches 'sched:nosuch_*'"),
        (["hist", "-e", "sched:sched_process_*", "--", "true"], "hist aggregates one event; 'sched:sched_process_*' matches"),
        (["hist", "-e", "exec"], "hist takes tracepoint:SYS:NAME (or SYS:NAME"),
        (["hist", "-e", "exec"], "uretprobe:BIN:FUNC (latency), runqlat"),
        (["list", "uprobe:/no/such/binary:*"], "no such binary"),
    ],
)  # fmt: skip
def test_one_clear_line(args: list[str], message: str) -> None:
    res = _run(*args)
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("ringscope: error: ") and res.stderr.count("\n") == 1, res.stderr
    assert message in res.stderr, res.stderr


def test_hist_takes_a_glob_that_names_one_tracepoint() -> None:
    res = _run("hist", "--json", "-e", "sched:sched_process_exe[c]", "--", "true")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout.splitlines()[-1])
    assert doc["event"] == "tracepoint:sched:sched_process_exec" and doc["total"] >= 1


def _listed(*filters: str) -> list[dict[str, object]]:
    res = _run("list", "--json", *filters)
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def test_list_filters() -> None:
    assert {e["kind"] for e in _listed("sw")} == {"software"}
    assert {e["kind"] for e in _listed("hw")} == {"hardware"}
    assert {e["kind"] for e in _listed("cache")} == {"cache"}
    assert {e["name"] for e in _listed("tool")} == {"duration_time", "user_time", "system_time"}
    tps = _listed("tracepoint")
    assert {e["kind"] for e in tps} == {"tracepoint"} and len(tps) > 100
    sched = _listed("sched:*")
    assert sched and all(str(e["name"]).startswith("sched:") for e in sched)
    assert {e["kind"] for e in _listed("sw", "stream")} == {"software", "stream"}
    text = _run("list", "sw").stdout
    assert "task-clock" in text and "Stream events" not in text and "cycles" not in text


def test_list_probe_points() -> None:
    funcs = _listed("uprobe:/bin/bash:*")
    need(bool(funcs), "bash with a symbol table")
    names = {str(e["name"]) for e in funcs}
    assert "uprobe:/bin/bash:main" in names or any(n.startswith("uprobe:/bin/bash:") for n in names)
    assert all(e["kind"] == "uprobe" for e in funcs)
    some = _listed("uprobe:libc:mallo*")
    assert "uprobe:libc:malloc" in {e["name"] for e in some}
    py = Path("/usr/bin/python3")
    need(py.exists() and bool(read_notes(py.resolve())), "Debian's python3 with USDT probes")
    probes = {str(e["name"]) for e in _listed(f"usdt:{py}")}
    assert f"usdt:{py}:python:gc__start" in probes
    assert {str(e["name"]) for e in _listed(f"usdt:{py}:python:gc*")} == {
        f"usdt:{py}:python:gc__start", f"usdt:{py}:python:gc__done"}  # fmt: skip
