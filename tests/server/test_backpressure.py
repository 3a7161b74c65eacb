"""During a flood, a client that never reads does not stop the others; it
gets its loss record (or is cut, if its policy says so), every drop is
counted, memory stays bounded and /metrics shows it."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import orjson
import pytest

from tests.server.conftest import Server, held_flood, release

N = 200_000


@pytest.fixture
def client_queue() -> int:
    # A second of slack for the reading client on a busy 2-CPU machine; the
    # stalled ones still overflow it (N events are ~35 MB).
    return 65536


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def drain_exact(resp: aiohttp.ClientResponse, total: int, timeout: float = 30) -> dict[str, Any]:
    """Read until delivered + lost == total; returns the tallies."""
    t: dict[str, Any] = {"events": 0, "client": 0, "kernel": 0, "losses": []}
    async with asyncio.timeout(timeout):
        async for line in resp.content:
            # Substring tests, not a parse per line: the client shares the
            # server's CPU and must not be the bottleneck it measures.
            if b'"type":"lost"' in line:
                row = orjson.loads(line)
                t[row["stage"]] += row["count"]
                t["losses"].append(row)
            elif b'"type":"syscall"' in line:
                t["events"] += 1
            if t["events"] + t["client"] + t["kernel"] == total:
                return t
    raise AssertionError(f"stream ended before {total} were accounted: {t}")


async def test_stalled_client_never_stops_the_others(server: Server) -> None:
    # Paced so that a reading client keeps up: then any loss it saw would be
    # the stalled clients' doing.
    proc = held_flood(N, pause=0.02)
    try:
        q = f"/events.ndjson?types=syscall&pid={proc.pid}"
        async with (
            server.http.get(server.url + q + "&policy=drop-oldest") as stalled,
            server.http.get(server.url + q + "&policy=disconnect") as doomed,
            server.http.get(server.url + q) as reader,
        ):
            rss0 = rss_mb()
            release(proc)
            got = await drain_exact(reader, N)
            assert got["events"] == N, got  # the reader lost nothing while two others stalled
            assert rss_mb() - rss0 < 256

            _status, doc = await server.get_json("/api/status")
            clients = sorted(doc["clients"], key=lambda c: c["id"])
            # In subscription order: stalled, then doomed (gone once cut), then the reader.
            stalled_st, doomed_st, reader_st = clients
            assert stalled_st["policy"] == "drop-oldest" and stalled_st["lost"]["drop-oldest"] > 0
            assert set(stalled_st["lost"]) == {"drop-oldest"}  # counted under its reason only
            assert doomed_st["policy"] == "disconnect" and set(doomed_st["lost"]) == {"disconnect"}
            assert reader_st["lost"] == {} and reader_st["dropped"] == 0
            async with server.http.get(server.url + "/metrics") as m:
                metrics = await m.text()
            assert (
                'ringscope_client_lost_events_total{reason="drop-oldest",type="syscall"} 0.0' not in metrics
            )
            assert 'ringscope_client_lost_events_total{reason="departed",type="syscall"} 0.0' in metrics

            # Now the stalled client reads: a client-stage loss with the
            # seqs it missed, then the newest events; the sum is exact.
            late = await drain_exact(stalled, N)
            assert late["client"] > 0
            loss = next(r for r in late["losses"] if r["stage"] == "client")
            assert loss["first_seq"] <= loss["last_seq"] and loss["count"] > 0

            # The disconnect-policy client: once it reads, it gets what was
            # written before the overflow, then its loss and the end frame.
            body = await asyncio.wait_for(doomed.read(), 10)
            rows = [orjson.loads(line) for line in body.splitlines()]
            events = sum(1 for r in rows if r["type"] == "syscall")
            (loss,) = [r for r in rows if r["type"] == "lost" and r["stage"] == "client"]
            assert loss["reason"] == "disconnect" and rows[-1]["type"] == "end"
            assert rows[-1]["reason"] == "overflow" and rows[-1]["lost"] == {"disconnect": loss["count"]}
            assert events + loss["count"] + sum(r["count"] for r in rows if r.get("stage") == "kernel") <= N
    finally:
        proc.wait(10)


async def test_fast_client_accounting_is_exact(server: Server) -> None:
    proc = held_flood(N)
    try:
        async with server.http.get(server.url + f"/events.ndjson?types=syscall&pid={proc.pid}") as r:
            release(proc)
            got = await drain_exact(r, N)
        assert got["events"] + got["client"] + got["kernel"] == N
    finally:
        proc.wait(10)


async def test_a_send_that_times_out_cuts_the_client(server: Server) -> None:
    server.state.send_timeout = 0.5
    server.state.client_queue = N  # room for everything: the send timeout is the only reason to lose
    proc = held_flood(N)
    port = int(server.url.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /events.ndjson?types=syscall&pid=%d HTTP/1.1\r\nHost: t\r\n\r\n" % proc.pid)
        async with asyncio.timeout(5):
            while not server.state.hub.subscribers:
                await asyncio.sleep(0.01)
        (sub,) = server.state.hub.subscribers.values()
        release(proc)
        async with asyncio.timeout(10):
            while server.state.hub.subscribers:
                await asyncio.sleep(0.05)
        # What was queued, or taken for the write that timed out, is lost to
        # the send timeout (and to nothing else), not delivered.
        assert set(sub.lost_by_reason()) == {"send-timeout"}
        assert sub.matched == sub.delivered + sub.lost_total and sub.dropped > 0
        assert sub.closed == "send-timeout"
        async with server.http.get(server.url + "/metrics") as m:
            totals: dict[str, float] = {}
            for line in (await m.text()).splitlines():
                if line.startswith("ringscope_") and "_created" not in line:
                    name = line.split("{")[0].split(" ")[0]
                    totals[name] = totals.get(name, 0) + float(line.rsplit(" ", 1)[1])
        assert (
            totals["ringscope_events_delivered_total"] + totals["ringscope_client_lost_events_total"]
            == sub.matched
        )
    finally:
        sock.close()
        proc.wait(10)
