"""serve holds only what it uses: at start it drops every capability but
the ones serving needs, with --drop-caps it gives them all up once attached
and bound (and still streams), and the systemd unit that runs it so parses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson

from ringscope import caps
from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]
RINGSCOPE = [sys.executable, "-m", "ringscope"]
ME = os.getpid()


@contextlib.contextmanager
def serving(*argv: str, log: Path) -> Iterator[tuple[int, int]]:
    """`ringscope serve ARGV` on an ephemeral port: (its pid, its port)."""
    need(os.geteuid() == 0, "ringscope serve attaches BPF programs: needs root")
    with log.open("w") as err:
        p = subprocess.Popen(
            [*RINGSCOPE, "serve", "--port", "0", *argv], stdout=subprocess.DEVNULL, stderr=err
        )
    try:
        deadline = time.monotonic() + 60
        while not (m := re.search(r"127\.0\.0\.1:(\d+)/", log.read_text())):
            assert p.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield p.pid, int(m[1])
    finally:
        p.terminate()
        p.wait(30)


def _caps_of_every_thread(pid: int) -> set[tuple[int, int, int, int]]:
    """(effective, permitted, inheritable, ambient) of each thread of `pid`."""
    out = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = dict(
            line.split(":\t", 1) for line in (task / "status").read_text().splitlines() if ":\t" in line
        )
        out.add(tuple(int(fields[k], 16) for k in ("CapEff", "CapPrm", "CapInh", "CapAmb")))  # type: ignore[arg-type]
    return out


async def _one_open(port: int) -> dict[str, object]:
    """One open event of this process, through the server's NDJSON stream."""
    path = f"/tmp/ringscope-priv-{uuid.uuid4().hex}"
    url = f"http://127.0.0.1:{port}/events.ndjson?types=open&pid={ME}&limit=1"
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        line = asyncio.ensure_future(r.content.readline())
        for _ in range(100):  # until the kernel filter for this client is in place
            with contextlib.suppress(FileNotFoundError):
                os.open(path, os.O_RDONLY)
            if (await asyncio.wait({line}, timeout=0.1))[0]:
                break
        row = orjson.loads(await line)
    assert row["path"] == path
    return dict(row)


async def test_serve_keeps_only_what_serving_needs(tmp_path: Path) -> None:
    with serving("-e", "open", log=tmp_path / "serve.log") as (pid, port):
        held = _caps_of_every_thread(pid)
        wanted = 0
        for c in (*caps.TRACING, caps.CAP_SYSLOG, caps.CAP_SYS_PTRACE):
            wanted |= 1 << c
        assert held == {(wanted, wanted, wanted, 0)}, held
        await _one_open(port)


async def test_drop_caps_gives_everything_up_and_still_streams(tmp_path: Path) -> None:
    with serving("-e", "open", "--drop-caps", log=tmp_path / "serve.log") as (pid, port):
        assert _caps_of_every_thread(pid) == {(0, 0, 0, 0)}
        await _one_open(port)  # new clients change the kernel filter through the map fds it holds
        async with aiohttp.ClientSession() as http:
            for path in ("/api/hist?event=runqlat&duration=0.1", "/api/profile?duration=0.1"):
                async with http.get(f"http://127.0.0.1:{port}{path}") as r:
                    assert r.status == 503
                    assert "--drop-caps" in (await r.json())["error"]
            async with http.post(f"http://127.0.0.1:{port}/api/aggregates", json={"spec": "runqlat"}) as r:
                assert r.status == 503
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 200
        assert _caps_of_every_thread(pid) == {(0, 0, 0, 0)}  # threads started since have none either


def test_the_systemd_unit_parses(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd is part of Debian"
    unit = (ROOT / "contrib" / "ringscope.service").read_text()
    exe = shutil.which("ringscope", path=str(Path(sys.executable).parent))
    assert exe is not None
    # verify checks that ExecStart exists: point it at this checkout's ringscope.
    (tmp_path / "ringscope.service").write_text(
        re.sub(r"^ExecStart=\S+", f"ExecStart={exe}", unit, flags=re.M)
    )
    out = subprocess.run([analyze, "verify", str(tmp_path / "ringscope.service")],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    problems = [ln for ln in out.stderr.splitlines() if "ringscope.service" in ln]
    assert out.returncode == 0 and problems == [], out.stderr
    for key in ("DynamicUser=yes", "AmbientCapabilities=CAP_BPF CAP_PERFMON", "NoNewPrivileges=yes",
                "CapabilityBoundingSet=CAP_BPF CAP_PERFMON", "ProtectSystem=strict"):  # fmt: skip
        assert key in unit, key
