"""`ringscope top`: batch output names the hot function; `q` quits the live view."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import need
from tests.kernel.perf_workloads import HOT_C, build

RINGSCOPE = str(Path(sys.executable).parent / "ringscope")


@pytest.fixture(scope="module")
def hot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(shutil.which("gcc") is not None, "gcc is needed to build the workload")
    return build(HOT_C, tmp_path_factory.mktemp("top") / "hot")


def test_batch_mode_shows_hot_symbol(hot: Path) -> None:
    with subprocess.Popen([str(hot), "20"]) as proc:
        try:
            res = subprocess.run([RINGSCOPE, "top", "-p", str(proc.pid), "-n", "2", "-d", "0.5"],
                                 capture_output=True, text=True, timeout=60)  # fmt: skip
        finally:
            proc.kill()
    assert res.returncode == 0, res.stderr
    assert "hot_spin" in res.stdout and "Overhead" in res.stdout


def test_q_quits_live_view(hot: Path) -> None:
    with subprocess.Popen([str(hot), "20"]) as work:
        main, sub = pty.openpty()
        try:
            with subprocess.Popen([RINGSCOPE, "top", "-p", str(work.pid), "-d", "0.3"],
                                  stdin=sub, stdout=sub, stderr=sub) as top:  # fmt: skip
                screen = b""
                deadline = time.monotonic() + 30
                while b"hot_spin" not in screen and time.monotonic() < deadline:
                    if select.select([main], [], [], 0.5)[0]:
                        screen += os.read(main, 65536)
                assert b"hot_spin" in screen
                os.write(main, b"q")
                assert top.wait(timeout=10) == 0
        finally:
            os.close(main)
            os.close(sub)
            work.kill()


def test_bad_pid() -> None:
    res = subprocess.run([RINGSCOPE, "top", "-p", "999999999"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and "no such process" in res.stderr and res.stderr.count("\n") == 1
