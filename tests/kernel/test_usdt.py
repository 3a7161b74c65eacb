"""USDT probes from .note.stapsdt, on Debian's /usr/bin/python3 (built with
dtrace probes behind semaphores): gc__start carries the generation, read
from the stack (a register-relative operand)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from ringscope.errors import BadInput
from ringscope.filters import Filter
from ringscope.session import Session
from ringscope.sources.usdt import read_notes
from tests.conftest import need

PY = Path("/usr/bin/python3")
# Automatic collections off: one of them landing first would reorder the
# generations the test expects (seen in CI: 0, 0, 1).
CODE = "import sys, gc; gc.disable(); sys.stdin.read(1); [gc.collect(g) for g in (0, 1, 2)]"


def _has_gc_probe() -> bool:
    try:
        return any(n.name == "gc__start" for n in read_notes(PY.resolve()))
    except BadInput:
        return False


def test_python_gc_probes_carry_the_generation() -> None:
    need(PY.exists() and _has_gc_probe(), "Debian's python3 with USDT probes (.note.stapsdt)")
    specs = [f"usdt:{PY}:python:gc__start", f"usdt:{PY}:python:gc__done"]
    rows = []
    with subprocess.Popen([str(PY), "-c", CODE], stdin=subprocess.PIPE) as p:
        assert p.stdin is not None
        with Session(specs, filter=Filter(pid=p.pid)) as s:
            p.stdin.write(b"g")
            p.stdin.close()
            assert p.wait(10) == 0
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and len(rows) < 6:
                rows.extend(r for r in s.events(duration=0.05) if r["type"] != "lost")
    starts = [r for r in rows if r["type"].endswith(":gc__start")]
    dones = [r for r in rows if r["type"].endswith(":gc__done")]
    assert [r["args"] for r in starts[:3]] == [[0], [1], [2]]
    assert len(dones) >= 3 and all(r["pid"] == p.pid for r in rows)
    assert all(len(r["args"]) == 1 for r in rows)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("usdt:/bin/true:python:gc__start", "has no USDT probes"),
        (f"usdt:{PY}:python:no_such_probe", "no USDT probe python:no_such_probe"),
        ("usdt:python:gc__start", "malformed probe spec"),
        ("usdt:/no/such/bin:p:n", "no such binary"),
    ],
)
def test_bad_usdt_specs(spec: str, message: str) -> None:
    if "no_such_probe" in spec:
        need(PY.exists() and _has_gc_probe(), "Debian's python3 with USDT probes")
    with pytest.raises(BadInput, match=message):
        Session([spec])
