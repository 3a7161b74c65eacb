"""`ringscope serve --aggregate/--config` as a real process: aggregates from
both are in /metrics at once, promtool-clean; a bad one is one line on
stderr and exit 2 before anything is loaded."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import need
from tests.server.test_aggregates import promtool_clean, samples, series

MAIN = "import sys; from ringscope.cli.main import main; sys.exit(main())"
ME = os.getpid()


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", MAIN, "serve", "--port", "0", *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (["--aggregate", "nosuch:thing"], None, "unknown tracepoint 'nosuch:thing'"),
        (["--aggregate", "runqlat?by=bogus"], None, "cannot group by 'bogus'"),
        (["--aggregate", "runqlat?max_labels=-1"], None, "bad max_labels"),
        (["--aggregate", "runqlat", "--aggregate", "runqlat"], None, "already exists"),
        ([], "[[aggregate]]\nevent = 'runqlat'\ncolour = 'red'\n", "aggregate 1: unknown parameter 'colour'"),
        ([], "aggregates = ['runqlat']\n", "unknown key 'aggregates'"),
        ([], "[[aggregate\n", "not valid TOML"),
        ([], "aggregate = [3]\n", "expected a spec string or a table"),
    ],
)
def test_bad_aggregate_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], config: str | None, message: str
) -> None:
    if config is not None:
        (tmp_path / "rs.toml").write_text(config)
        args = [*args, "--config", str(tmp_path / "rs.toml")]
    res = run_serve(*args)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1 and lines[0].startswith("ringscope: error: ") and message in lines[0], res.stderr


def test_missing_config_file_is_exit_2(tmp_path: Path) -> None:
    res = run_serve("--config", str(tmp_path / "nope.toml"))
    assert res.returncode == 2 and "No such file" in res.stderr


async def test_config_and_flags_together_in_metrics(tmp_path: Path) -> None:
    need(os.geteuid() == 0, "serve loads BPF programs: needs root")
    (tmp_path / "rs.toml").write_text(
        f"[[aggregate]]\nspec = 'syscalls:sys_enter_getppid?by=comm&pid={ME}'\n\n"
        "[[aggregate]]\nevent = 'runqlat'\nby = 'comm'\nmax_labels = 8\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", MAIN, "serve", "-e", "exec", "--port", "0", "--config", str(tmp_path / "rs.toml"),
        "--aggregate", f"syscalls:sys_enter_getppid?latency=1&pid={ME}", stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        m = re.search(r"serving on (http://\S+)/", line)
        assert m, line
        for _ in range(42):
            os.getppid()
        async with aiohttp.ClientSession() as http, http.get(m[1] + "/metrics") as r:
            text = await r.text()
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    promtool_clean(text)
    s = samples(text)
    assert sum(series(s, "ringscope_syscalls_total", syscall="getppid").values()) == 42
    assert series(s, "ringscope_syscall_latency_seconds_count", syscall="getppid") == {
        frozenset({("syscall", "getppid")}): 42
    }
    runq = series(s, "ringscope_runqlat_seconds_count")
    assert len(runq) <= 9 and frozenset({("comm", "other")}) in runq
