"""The installed artefact at work: ringscope installed from the wheel into
a new venv, run away from the checkout with no compiler in PATH, traces,
counts, profiles and serves; installed from the sdist, it works the same
and its objects are the wheel's, byte for byte."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from ringscope import __version__
from tests.packaging import workload
from tests.packaging.artefacts import Venv

pytestmark = [pytest.mark.packaging, pytest.mark.usefixtures("root")]

BUSY = "import time\nt = time.process_time() + 0.3\nwhile time.process_time() < t: pass"


def _build_ids(venv: Venv) -> dict[str, str]:
    lines = venv.ringscope("--version").stdout.splitlines()
    return dict(re.findall(r"^  (\S+\.bpf\.o) +([0-9a-f]{40})  ", "\n".join(lines), re.M))


def test_no_compiler_and_not_the_checkout(wheel_venv: Venv) -> None:
    assert shutil.which("clang", path=wheel_venv.env()["PATH"]) is None
    out = wheel_venv.ringscope("--version").stdout.splitlines()
    assert out[0] == f"ringscope {__version__}"
    assert f"in {wheel_venv.path}/lib/" in out[1]  # the objects it loads are the venv's
    objects = out[2:]
    assert len(objects) == len(list(Path(__file__).parents[2].glob("bpf/*.bpf.c")))
    for line in objects:
        assert re.match(r"  \S+\.bpf\.o +[0-9a-f]{40}  .*clang version .*; pinned bpf/vmlinux/", line), line


def test_list_says_every_stream_event_runs_here(wheel_venv: Venv) -> None:
    events = wheel_venv.stream_events()
    assert events
    assert [e["name"] for e in events if not e["available"]] == []
    untriggered = {str(e["name"]) for e in events} - set(workload.EXPECT)
    assert not untriggered, f"no trigger in tests/packaging/workload.py for {untriggered}"


@pytest.fixture(scope="module")
def wheel_trace(wheel_venv: Venv) -> tuple[list[workload.Row], workload.Facts]:
    events = [str(e["name"]) for e in wheel_venv.stream_events()] + [workload.TRACEPOINT, workload.UPROBE]
    return wheel_venv.trace_workload(events)


@pytest.mark.parametrize("event", list(workload.EXPECT))
def test_each_event_delivers_its_own_trigger(
    event: str, wheel_trace: tuple[list[workload.Row], workload.Facts]
) -> None:
    rows, facts = wheel_trace
    assert workload.missing(rows, facts, [event]) == [], [r for r in rows if r["type"] == event][:5]


def test_stat(wheel_venv: Venv) -> None:
    err = wheel_venv.ringscope("stat", "-e", "task-clock,context-switches", "--", "/bin/true").stderr
    assert re.search(r"msec task-clock", err) and "context-switches" in err


def test_record_and_report(wheel_venv: Venv) -> None:
    profile = wheel_venv.home / "busy.profile"
    wheel_venv.ringscope(
        "record", "-F", "499", "-g", "-o", str(profile), "--", str(wheel_venv.python), "-c", BUSY
    )
    out = wheel_venv.ringscope("report", "-i", str(profile), "-n", "5").stdout
    assert "# Overhead" in out
    assert re.search(r"^ +\d+\.\d+% +python", out, re.M), out


def test_hist(wheel_venv: Venv) -> None:
    code = "import os\nfor _ in range(100): os.getppid()"
    out = wheel_venv.ringscope("hist", "-e", "syscalls:sys_enter_getppid", "--by", "comm",
                               "--", str(wheel_venv.python), "-c", code).stdout  # fmt: skip
    counts = [int(n) for n in re.findall(r"^python +(\d+)$", out, re.M)]
    assert counts and counts[0] >= 100, out


def _get(url: str, timeout: float = 10) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        body: bytes = r.read()
        return body


def test_serve(wheel_venv: Venv) -> None:
    server = wheel_venv.popen("serve", "--port", "0", "-e", "exec,exit")
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        m = re.search(r"serving on (http://127\.0\.0\.1:\d+)/", line)
        assert m, line + server.stderr.read() if server.poll() is not None else line
        base = m[1]
        assert json.loads(_get(f"{base}/healthz")) == {"ok": True}
        got: list[bytes] = []
        reader = threading.Thread(
            target=lambda: got.append(_get(f"{base}/events.ndjson?types=exec&comm=true&limit=1"))
        )
        reader.start()
        deadline = time.monotonic() + 10
        while reader.is_alive() and time.monotonic() < deadline:
            subprocess.run(["/bin/true"], check=True)  # exec events until the client has one
            reader.join(0.1)
        assert got, "no exec event over HTTP"
        rows = [json.loads(ln) for ln in got[0].splitlines()]
        assert rows[0]["type"] == "exec" and rows[0]["comm"] == "true"
        assert rows[-1]["type"] == "end"
        assert b"ringscope_events_delivered_total" in _get(f"{base}/metrics")
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    assert server.returncode == 0, err


def test_sdist_install_works_and_builds_the_same_objects(sdist_venv: Venv, wheel_venv: Venv) -> None:
    assert _build_ids(sdist_venv) == _build_ids(wheel_venv)  # reproducible, wherever built
    rows, facts = sdist_venv.trace_workload(["open", "exec"])
    assert workload.missing(rows, facts, ["open", "exec"]) == []
