"""A real server on 127.0.0.1 over a real Session, in the test's loop, and
helpers that make the kernel produce events the test can recognise."""

from __future__ import annotations

import contextlib
import os
import ssl
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from ringscope.filters import Filter
from ringscope.hub import Hub
from ringscope.server import JsonErrorRunner, ServerState, make_app
from ringscope.session import Session
from ringscope.sources.syscalls import syscall_number
from tests.conftest import need

EVENTS = ["open", "exec", "syscall"]


@dataclass
class Server:
    url: str
    state: ServerState
    http: aiohttp.ClientSession

    async def get_json(self, path: str, **kw: Any) -> tuple[int, Any]:
        async with self.http.get(self.url + path, **kw) as r:
            return r.status, await r.json(content_type=None)


async def make_runner(
    state: ServerState, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, str]:
    """Start the app on an ephemeral port; returns the runner and base URL."""
    runner = JsonErrorRunner(make_app(state), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"{'https' if tls else 'http'}://{host}:{port}"


def open_session(**kw: Any) -> Session:
    need(os.geteuid() == 0, "server tests read the real kernel: need root")
    # The test process is both server and event source: do not exclude it.
    return Session(EVENTS, filter=Filter(), syscall_id=syscall_number("getppid"), **kw)


@pytest.fixture
def client_queue() -> int:
    """Events queued per client; a module overrides it with its own fixture."""
    return 4096


@pytest.fixture
async def server(client_queue: int) -> AsyncIterator[Server]:
    with open_session() as session:
        state = ServerState(
            hub=Hub.for_session(session), session=session, keepalive=0.5, client_queue=client_queue
        )
        runner, url = await make_runner(state)
        async with aiohttp.ClientSession() as http:
            yield Server(url, state, http)
        await runner.cleanup()


def touch_paths(n: int) -> list[str]:
    """Open n unique paths (that do not exist) from this process."""
    paths = [f"/tmp/ringscope-test-{uuid.uuid4().hex}" for _ in range(n)]
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            os.open(p, os.O_RDONLY)
    return paths


def ndjson(body: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in body.splitlines() if line.strip()]


FLOOD = """
import os, sys, time
sys.stdin.read(1)
n, pause = int(sys.argv[1]), float(sys.argv[2])
g = os.getppid
for i in range(0, n, 1000):
    for _ in range(min(1000, n - i)):
        g()
    if pause:
        time.sleep(pause)
"""


def held_flood(n: int, pause: float = 0.0) -> subprocess.Popen[bytes]:
    """A child that calls getppid() n times once released (write to stdin),
    sleeping `pause` s after every 1000, so a client can subscribe to its
    pid before the first event."""
    return subprocess.Popen([sys.executable, "-c", FLOOD, str(n), str(pause)], stdin=subprocess.PIPE)


def release(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(b"x")
    proc.stdin.close()
