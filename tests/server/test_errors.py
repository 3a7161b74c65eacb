"""Every error the server answers is JSON, from the router, the handlers and
aiohttp's HTTP parser alike; none of them logs a traceback (a client could
fill the log)."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest

from ringscope.server.security import loopback_hosts
from tests.server.conftest import Server

H = b"Host: 127.0.0.1\r\nConnection: close\r\n"
CASES = [
    ("unknown path", b"GET /nope HTTP/1.1\r\n" + H + b"\r\n", 404),
    ("unknown static file", b"GET /static/nope.js HTTP/1.1\r\n" + H + b"\r\n", 404),
    ("method not allowed", b"POST /metrics HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n\r\n", 405),
    ("bad parameter", b"GET /events.ndjson?pid=x HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("request line too long", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n", 431),
    ("header too long", b"GET / HTTP/1.1\r\n" + H + b"X-A: " + b"a" * 9000 + b"\r\n\r\n", 431),
    ("no Host header", b"GET /api/status HTTP/1.1\r\nConnection: close\r\n\r\n", 400),
    (
        "foreign Host header",
        b"GET /api/status HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        421,
    ),
    ("bad HTTP version", b"GET / HTTP/9.9\r\n" + H + b"\r\n", 400),
    ("TLS on the plain port", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", 400),
    ("bad header", b"GET / HTTP/1.1\r\n" + H + b"Bad Header: x\r\n\r\n", 400),
]


async def raw(server: Server, request: bytes) -> tuple[int, dict[str, str], bytes]:
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize(("what", "request_bytes", "status"), CASES, ids=[c[0] for c in CASES])
async def test_every_error_is_json(
    server: Server, caplog: pytest.LogCaptureFixture, what: str, request_bytes: bytes, status: int
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    server.state.allowed_hosts = loopback_hosts(port)
    caplog.set_level(logging.DEBUG)
    got, headers, body = await raw(server, request_bytes)
    assert got == status, body
    assert headers["Content-Type"].startswith("application/json")
    doc = orjson.loads(body)
    assert isinstance(doc["error"], str) and 0 < len(doc["error"]) < 300
    if status == 405:
        assert headers["Allow"] == "GET,HEAD"
    noisy = [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    assert not noisy, [r.getMessage() for r in noisy]
