"""Stopping the hub hands on what is still in the ring (and, with the perf
buffer, in its reorder window) before the streams end: nothing triggered
before shutdown is lost without a trace."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import orjson
import pytest

from ringscope.hub import Hub, View
from ringscope.server.params import ClientFilter
from tests.conftest import need
from tests.server.conftest import open_session, touch_paths


@pytest.mark.parametrize("transport", ["ringbuf", "perfbuf"])
async def test_stop_flushes_pending_events(transport: str) -> None:
    with open_session(transport=transport) as session:
        hub = Hub.for_session(session)
        hub.start()
        sub = hub.subscribe(ClientFilter(types=frozenset({"open"}), pid=os.getpid()))
        paths = touch_paths(3)
        await hub.stop()  # at once: the events are still in the ring or the merge window
        assert session.links == []  # detached before the final drain
        rows = [
            orjson.loads(line) for e in sub.take() if isinstance(e, View) for line in e.ndjson().splitlines()
        ]
    assert set(paths) <= {r.get("path") for r in rows}
    assert sub.closed == "shutdown"


OPENS = """
import os, sys
sys.stdin.read(1)
for _ in range(300_000):
    try:
        os.open("/nonexistent/ringscope-shutdown-test", os.O_RDONLY)
    except OSError:
        pass
"""


async def test_sigint_with_a_stalled_client_keeps_the_grace_period() -> None:
    """`ringscope serve` stops within its 2 s grace although a client has
    stopped reading, and says nothing on stderr but its two lines."""
    from tests.server.test_security import MAIN, free_port

    need(os.geteuid() == 0, "needs root")
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", MAIN, "serve", "-e", "open", "--port", str(port), stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    opens = subprocess.Popen([sys.executable, "-c", OPENS], stdin=subprocess.PIPE)
    sock = socket.socket()
    try:
        line = await asyncio.wait_for(proc.stderr.readline(), 30)
        assert b"serving on" in line
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /events.ndjson?types=open&pid=%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % opens.pid)
        await asyncio.sleep(0.5)  # subscribed
        assert opens.stdin is not None
        opens.stdin.write(b"g")
        opens.stdin.close()
        await asyncio.get_running_loop().run_in_executor(None, opens.wait, 30)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
        took = time.monotonic() - t0
        rest = (await proc.stderr.read()).decode()
    finally:
        sock.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        opens.kill()
        opens.wait()
    assert took < 2.0 + 1.5, took
    assert rest.strip() == "ringscope: shutting down", rest
