"""Output that cannot be written is one line and exit 1 with the real
errno, never a silent exit 0 or a traceback: `record -o` (whose target,
when not a regular file, is written in place, never replaced: renaming a
temp file over /dev/full once turned the device node into a regular
file), and standard output on a full device for every command."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

RINGSCOPE = str(Path(sys.executable).parent / "ringscope")


def _record(out: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RINGSCOPE, "record", "-o", out, "--", "true"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize(
    ("out", "why"),
    [
        ("/dev/full", "No space left on device"),
        ("/nonexistent/x.profile", "No such file or directory"),
        ("/proc/version", "Input/output error"),
    ],
)
def test_write_error_is_one_line_exit_1(out: str, why: str) -> None:
    res = _record(out)
    assert res.returncode == 1, res.stderr
    assert res.stderr.strip() == f"ringscope: error: cannot write {out}: {why}"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode), "/dev/full was replaced"


def test_a_fifo_is_written_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE) as reader:
        res = _record(str(fifo))
        data, _ = reader.communicate(timeout=30)
    assert res.returncode == 0, res.stderr
    assert data[:2] == b"\x1f\x8b" and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_symlink_stays_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real.profile").write_bytes(b"old")
    link = tmp_path / "link.profile"
    link.symlink_to("real.profile")
    assert _record(str(link)).returncode == 0
    assert link.is_symlink() and (tmp_path / "real.profile").read_bytes()[:2] == b"\x1f\x8b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.profile", "real.profile"]


@pytest.mark.parametrize(("out", "why"), [("/nonexistent/x.profile", "No such file or directory"),
                                          ("/tmp", "Is a directory")])  # fmt: skip
def test_a_bad_path_fails_before_the_command_runs(out: str, why: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    res = subprocess.run([RINGSCOPE, "record", "-o", out, "--", "touch", str(marker)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert res.returncode == 1 and res.stderr.strip() == f"ringscope: error: cannot write {out}: {why}"
    assert not marker.exists()


STDOUT_RUNS = [
    ["list"],
    ["--version"],
    ["trace", "--help"],
    ["trace", "-e", "exec", "--", "true"],
    ["trace", "--format", "json", "-e", "exec", "--", "true"],
    ["hist", "-e", "sched:sched_process_exit", "--", "true"],
    ["hist", "--json", "-e", "sched:sched_process_exit", "--", "true"],
]


@pytest.mark.parametrize("argv", STDOUT_RUNS, ids=[" ".join(a) for a in STDOUT_RUNS])
def test_a_full_stdout_is_one_line_exit_1(argv: list[str]) -> None:
    with open("/dev/full", "w") as full:
        res = subprocess.run([RINGSCOPE, *argv], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert res.returncode == 1, res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("ringscope: error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0], res.stderr
    assert "Traceback" not in res.stderr
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
