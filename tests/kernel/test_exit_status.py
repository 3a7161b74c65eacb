"""One exit-status rule for `trace|stat|record|hist -- CMD` (the command's
status as a shell reports it; 130 after Ctrl-C on a system-wide run), and a
command that never outlives its tracer, even one killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

RINGSCOPE = str(Path(sys.executable).parent / "ringscope")
# Each subcommand's options for a run on a command (hist needs an event).
RUNS = {
    "trace": ["trace", "-e", "exec,exit"],
    "stat": ["stat", "-e", "task-clock"],
    "record": ["record", "-F", "99", "-o", "{tmp}/p.profile"],
    "hist": ["hist", "-e", "sched:sched_process_exit"],
}
# ... and on the whole system, until Ctrl-C.
SYSTEM_WIDE = {
    "trace": ["trace", "-e", "exec"],
    "stat": ["stat", "-a", "-e", "cpu-clock"],
    "record": ["record", "-a", "-F", "99", "-o", "{tmp}/p.profile"],
    "hist": ["hist", "-e", "sched:sched_process_exit"],
}


def _argv(template: list[str], tmp: Path) -> list[str]:
    return [RINGSCOPE, *(a.replace("{tmp}", str(tmp)) for a in template)]


@pytest.mark.parametrize("command", list(RUNS))
@pytest.mark.parametrize(("script", "status"), [("exit 3", 3), ("kill -9 $$", 137), ("kill -TERM $$", 143)])
def test_the_commands_status_as_a_shell_reports_it(
    command: str, script: str, status: int, tmp_path: Path
) -> None:
    res = subprocess.run([*_argv(RUNS[command], tmp_path), "--", "sh", "-c", script],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert res.returncode == status, res.stderr
    assert "Traceback" not in res.stderr


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _perf_or_bpf_fds(pid: int) -> bool:
    """True once the process holds a perf event or a BPF link: it is counting."""
    try:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return any(t in ("anon_inode:[perf_event]", "anon_inode:bpf_link") for t in links)


def _wait_for(cond: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("command", list(SYSTEM_WIDE))
def test_ctrl_c_on_a_system_wide_run_is_130(command: str, tmp_path: Path) -> None:
    with subprocess.Popen(_argv(SYSTEM_WIDE[command], tmp_path), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True) as p:  # fmt: skip
        try:
            _wait_for(lambda: _perf_or_bpf_fds(p.pid))
            time.sleep(0.2)
            p.send_signal(signal.SIGINT)
            _, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
    assert p.returncode == 130, err
    assert "Traceback" not in err


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")  # dead, waiting for init to reap it


@pytest.mark.parametrize("command", list(RUNS))
def test_command_dies_with_its_tracer(command: str, tmp_path: Path) -> None:
    with subprocess.Popen([*_argv(RUNS[command], tmp_path), "--", "sleep", "60"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as p:  # fmt: skip
        try:
            _wait_for(lambda: bool(_children(p.pid)) and _perf_or_bpf_fds(p.pid))
            (child,) = _children(p.pid)
            _wait_for(lambda: Path(f"/proc/{child}/comm").read_text().strip() == "sleep")  # it was let go
            p.kill()  # kill -9: no handler of ours runs
            p.wait(10)
            _wait_for(lambda: _gone(child), timeout=5)
        finally:
            if p.poll() is None:
                p.kill()
