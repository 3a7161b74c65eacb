"""`trace|stat|record|hist -- CMD` starts the command with exactly the fds
ringscope was started with (a shell's `3>out.txt` works, as under perf),
none of ringscope's own, and nothing of the launcher shows in the data:
after the go, the first syscall traced under the command's pid is its
execve."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

RINGSCOPE = str(Path(sys.executable).parent / "ringscope")
RUNS = {
    "trace": ["trace", "-e", "exit"],
    "stat": ["stat", "-e", "task-clock"],
    "record": ["record", "-o", "{tmp}/p.profile"],
    "hist": ["hist", "-e", "sched:sched_process_exit"],
}
# The command: which fds it holds, and which one its first open() gets.
PROBE = (
    "import json, os\n"
    "def held(fd):\n"
    "    try:\n"
    "        os.fstat(fd)\n"
    "        return True\n"
    "    except OSError:\n"
    "        return False\n"
    "fds = [fd for fd in range(1024) if held(fd)]\n"
    "first = os.open('/dev/null', os.O_RDONLY)\n"
    "os.write(7, json.dumps([fds, first]).encode())\n"
)


def _shell(run: list[str], tmp: Path, command: list[str]) -> subprocess.CompletedProcess[str]:
    """ringscope started by a shell with fd 7 redirected to a file."""
    argv = [RINGSCOPE, *(a.replace("{tmp}", str(tmp)) for a in run), "--", *command]
    return subprocess.run(["sh", "-c", f'exec "$@" 7>{tmp}/seven', "sh", *argv],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize("command", list(RUNS))
def test_the_command_gets_the_inherited_fds_and_no_others(command: str, tmp_path: Path) -> None:
    res = _shell(RUNS[command], tmp_path, [sys.executable, "-c", PROBE])
    assert res.returncode == 0, res.stderr
    fds, first = json.loads((tmp_path / "seven").read_text())
    assert fds == [0, 1, 2, 7]
    assert first == 3


@pytest.mark.parametrize("command", list(RUNS))
def test_a_shell_redirection_reaches_the_command(command: str, tmp_path: Path) -> None:
    res = _shell(RUNS[command], tmp_path, ["sh", "-c", "echo hi >&7"])
    assert res.returncode == 0, res.stderr
    assert "Bad file descriptor" not in res.stderr
    assert (tmp_path / "seven").read_text() == "hi\n"


def test_no_launcher_syscalls_in_the_trace(tmp_path: Path) -> None:
    res = subprocess.run([RINGSCOPE, "trace", "--format", "json", "-e", "syscall", "--", "/bin/true"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert res.returncode == 0, res.stderr
    names = [json.loads(line)["name"] for line in res.stdout.splitlines()]
    assert names[0] == "execve", names[:5]


@pytest.mark.parametrize("command", list(RUNS))
@pytest.mark.parametrize(("path", "status"), [("/nonexistent/cmd", 127), ("/proc/version", 126)])
def test_a_command_that_cannot_run_exits_as_a_shell_says(
    command: str, path: str, status: int, tmp_path: Path
) -> None:
    res = _shell(RUNS[command], tmp_path, [path])
    assert res.returncode == status, res.stderr
    assert res.stderr.startswith("ringscope: error: cannot run") and res.stderr.count("\n") == 1


def test_the_exit_duration_counts_from_the_exec_not_the_hold() -> None:
    """The command waits held while the tracer attaches: its lifetime in
    the exit event is its program's, from the exec (the exec event's time)."""
    res = subprocess.run([RINGSCOPE, "trace", "--format", "json", "-e", "exec,exit", "--", "/bin/true"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert res.returncode == 0, res.stderr
    rows = {r["type"]: r for r in map(json.loads, res.stdout.splitlines())}
    lived = rows["exit"]["ts_ns"] - rows["exec"]["ts_ns"]
    assert abs(rows["exit"]["duration_ns"] - lived) < 1_000_000, rows
