"""`-p PID`: every subcommand that watches a process ends, with status 0,
shortly after the process exits (one rule: ringscope.watch), including
when the process is a zombie nobody has reaped yet."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

RINGSCOPE = str(Path(sys.executable).parent / "ringscope")
RUNS = {
    "trace": ["trace", "-e", "exit"],
    "hist": ["hist", "-e", "sched:sched_process_exit"],
    "stat": ["stat", "-e", "task-clock"],
    "record": ["record", "-o", "{tmp}/p.profile"],
}
LIFE_S = 1.0


@pytest.mark.parametrize("command", list(RUNS))
def test_the_run_ends_with_the_process(command: str, tmp_path: Path) -> None:
    with subprocess.Popen(["sleep", str(LIFE_S)]) as target:
        argv = [RINGSCOPE, *(a.replace("{tmp}", str(tmp_path)) for a in RUNS[command]), "-p", str(target.pid)]
        started = time.monotonic()
        try:
            res = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{command} -p still running 30 s after its process exited")
        took = time.monotonic() - started
    assert res.returncode == 0, res.stderr
    assert took < LIFE_S + 10, f"{command} -p ended {took:.1f} s after the start"
    if command == "trace":
        assert " exit " in res.stdout and str(target.pid) in res.stdout
