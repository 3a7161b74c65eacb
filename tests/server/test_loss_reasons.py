"""Each loss reason produced on purpose by a real client, and counted under
that reason only (drop-oldest, disconnect and send-timeout are in
test_backpressure.py): a replay gap (counted in events, or unknown), a
client that leaves with events queued, shutdown with a stalled client, and
drop-newest. A finished `limit` stream tells an EventSource to stop."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import aiohttp
import orjson

from ringscope.hub import REASONS, Hub, Replay
from ringscope.server import ServerState
from tests.server.conftest import Server, held_flood, make_runner, open_session, release
from tests.server.test_streams import read_sse

N = 20_000


async def event_seqs(resp: aiohttp.ClientResponse, total: int) -> list[int]:
    """The seqs of the first `total` events of an NDJSON stream (no loss expected)."""
    seqs: list[int] = []
    async with asyncio.timeout(30):
        async for line in resp.content:
            if b'"type":"lost"' in line:
                assert orjson.loads(line)["count"] == 0, line
            elif line.startswith(b'{"seq":'):
                seqs.append(int(line[7 : line.index(b",")]))
                if len(seqs) == total:
                    return seqs
    raise AssertionError(f"stream ended after {len(seqs)} events")


def only(lost: dict[str, int], reason: str) -> int:
    """lost[reason], after checking that no other reason counted anything."""
    assert set(lost) <= set(REASONS)
    others = {r: n for r, n in lost.items() if r != reason and n}
    assert not others, f"counted under other reasons: {others}"
    return lost.get(reason, 0)


async def status(server: Server) -> dict[str, Any]:
    code, doc = await server.get_json("/api/status")
    assert code == 200
    return doc  # type: ignore[no-any-return]


def stalled(server: Server, path: str) -> socket.socket:
    """A client that sends its request and never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path.encode())
    return sock


async def wait_for(cond: Any, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.02)


async def test_replay_gap_is_counted_in_matching_events_not_as_a_drop(server: Server) -> None:
    server.state.hub.replay = Replay(100)
    server.state.client_queue = N + 100
    proc = held_flood(N)
    try:
        async with server.http.get(server.url + f"/events.ndjson?types=syscall&pid={proc.pid}") as keep:
            release(proc)
            seqs = await event_seqs(keep, N)  # the reference: every event, no loss
            after = seqs[10]
            headers = {"Last-Event-ID": str(after)}
            q = "/events?types=syscall&limit=1"
            async with server.http.get(server.url + q, headers=headers) as r:
                (msg,) = await read_sse(r, 1)
            gap = orjson.loads(msg["data"])
            assert (gap["reason"], gap["first_seq"]) == ("replay-gap", after + 1)
            # Counted in the events this filter matched, which were the
            # flood's (loss records take seqs too, and are not counted).
            expect = sum(1 for seq in seqs if after < seq <= gap["last_seq"])
            assert gap["count"] == expect == gap["by_type"]["syscall"] > 0
            doc = await status(server)
            assert only(doc["lost"]["client"], "replay-gap") == gap["count"]
            assert doc["replay_gaps_unknown"] == 0

            # With a filter on fields the server no longer has: unknown.
            q = f"/events?types=syscall&pid={proc.pid}&limit=1"
            async with server.http.get(server.url + q, headers=headers) as r:
                (msg,) = await read_sse(r, 1)
            unknown = orjson.loads(msg["data"])
            assert unknown["reason"] == "replay-gap" and unknown["count"] is None and unknown["note"]
            doc = await status(server)
            assert only(doc["lost"]["client"], "replay-gap") == gap["count"]
            assert doc["replay_gaps_unknown"] == 1
    finally:
        proc.wait(10)


async def test_a_client_that_leaves_with_events_queued_departed(server: Server) -> None:
    server.state.client_queue = N + 100  # no back-pressure: leaving is the only way to lose
    hub = server.state.hub
    # Clients that come and go while nothing is queued lose nothing.
    for _ in range(20):
        async with server.http.get(server.url + "/events.ndjson?types=syscall&pid=1"):
            pass
    await wait_for(lambda: not hub.subscribers)
    assert only((await status(server))["lost"]["client"], "departed") == 0
    proc = held_flood(N)
    sock = stalled(server, f"/events.ndjson?types=syscall&pid={proc.pid}")
    try:
        await wait_for(lambda: len(hub.subscribers) == 1)
        (sub,) = hub.subscribers.values()
        release(proc)
        await wait_for(lambda: sub.depth > 1000)
        sock.close()
        await wait_for(lambda: not hub.subscribers)
    finally:
        sock.close()
        proc.wait(10)
    assert sub.matched == sub.delivered + sub.lost_total
    assert only(sub.lost_by_reason(), "departed") > 0 and sub.dropped == 0
    assert only((await status(server))["lost"]["client"], "departed") == sub.lost_total


async def test_shutdown_with_a_stalled_client_keeps_its_grace() -> None:
    with open_session() as session:
        # More than the socket buffers between server and client can hold.
        n = 10 * N
        state = ServerState(hub=Hub.for_session(session), session=session, client_queue=n + 100)
        state.shutdown_grace = 0.5
        runner, url = await make_runner(state)
        server = Server(url, state, None)  # type: ignore[arg-type]
        proc = held_flood(n)
        sock = stalled(server, f"/events.ndjson?types=syscall&pid={proc.pid}")
        try:
            await wait_for(lambda: len(state.hub.subscribers) == 1)
            (sub,) = state.hub.subscribers.values()
            release(proc)
            await wait_for(lambda: proc.poll() is not None and sub.depth > 1000)
            await asyncio.sleep(0.3)  # every buffer between us and the client is full
            queued = sub.depth
            t0 = time.monotonic()
            await runner.cleanup()
            took = time.monotonic() - t0
        finally:
            sock.close()
            proc.wait(10)
    assert took < state.shutdown_grace + 1.5, took
    assert sub.closed == "shutdown" and sub.matched == sub.delivered + sub.lost_total
    assert only(sub.lost_by_reason(), "shutdown") >= queued > 1000


def read_accounted(sock: socket.socket, total: int) -> tuple[int, list[dict[str, Any]]]:
    """Read a raw chunked NDJSON response until events + losses == total:
    (events, client loss records). Every write is whole lines, so chunk
    boundaries fall between lines."""
    sock.settimeout(10)
    buf = b""
    events, losses, accounted = 0, [], 0
    while accounted < total:
        data = sock.recv(1 << 20)
        assert data, "stream ended early"
        buf += data
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if b'"type":"syscall"' in line:
                events += 1
                accounted += 1
            elif b'"type":"lost"' in line:
                row = orjson.loads(line[line.index(b"{") :])
                accounted += row["count"]
                if row["stage"] == "client":
                    losses.append(row)
    return events, losses


async def test_drop_newest_is_its_own_reason(server: Server) -> None:
    server.state.client_queue = 256  # far less than the socket buffers hold
    proc = held_flood(N)
    sock = stalled(server, f"/events.ndjson?types=syscall&pid={proc.pid}&policy=drop-newest")
    try:
        await wait_for(lambda: len(server.state.hub.subscribers) == 1)
        (sub,) = server.state.hub.subscribers.values()
        release(proc)
        await wait_for(lambda: proc.poll() is not None and sub.lost_total > 0)
        _events, losses = await asyncio.get_running_loop().run_in_executor(None, read_accounted, sock, N)
    finally:
        sock.close()
        proc.wait(10)
    assert losses and {x["reason"] for x in losses} == {"drop-newest"}
    assert only(sub.lost_by_reason(), "drop-newest") == sum(x["count"] for x in losses)


async def test_a_finished_limit_stream_tells_eventsource_to_stop(server: Server) -> None:
    async with server.http.get(server.url + "/events?types=open&limit=1") as r:
        with open("/etc/hostname", "rb"):
            pass
        msgs = await read_sse(r, 2)
    assert msgs[-1]["event"] == "end" and msgs[-1]["id"] == "end"
    assert orjson.loads(msgs[-1]["data"])["reason"] == "limit"
    # What an EventSource sends when it reconnects: the last id it saw.
    async with server.http.get(
        server.url + "/events?types=open&limit=1", headers={"Last-Event-ID": "end"}
    ) as r:
        assert r.status == 204
