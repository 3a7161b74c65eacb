"""Loopback by default, bearer token when asked (constant-time, header
only), TLS with a certificate, and a graceful SIGTERM."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from ringscope.errors import BadInput
from ringscope.hub import Hub
from ringscope.server import ServerState
from ringscope.server.security import check_bind, loopback_hosts
from tests.server.conftest import Server, make_runner, open_session, touch_paths

TOKEN = "s3cret-token-for-tests-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


MAIN = "import sys; from ringscope.cli.main import main; sys.exit(main())"


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args], capture_output=True, text=True, timeout=timeout
    )


def test_non_loopback_bind_needs_a_token() -> None:
    with pytest.raises(BadInput, match="without --token"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", TOKEN)
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    r = run_cli("serve", "--host", "0.0.0.0", "--port", str(free_port()))
    assert r.returncode == 2
    assert r.stderr.startswith("ringscope: error: refusing to bind '0.0.0.0'")


def test_negative_replay_is_refused() -> None:
    r = run_cli("serve", "--replay", "-1", "--port", str(free_port()))
    assert r.returncode == 2
    assert r.stderr.startswith("ringscope: error: bad --replay -1")


def test_a_host_that_is_not_text_is_bad_input() -> None:
    for extra in ((), ("--token", TOKEN)):
        r = run_cli("serve", "--host", "\udcff", "--port", str(free_port()), *extra)
        assert r.returncode == 2, extra
        assert r.stderr.startswith("ringscope: error: bad --host") and r.stderr.count("\n") == 1


@pytest.fixture
async def token_server() -> AsyncIterator[str]:
    with open_session() as session:
        state = ServerState(hub=Hub.for_session(session), session=session, token=TOKEN)
        runner, url = await make_runner(state)
        yield url
        await runner.cleanup()


async def test_wrong_or_missing_token_gets_401(token_server: str) -> None:
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            async with http.get(token_server + "/api/status", headers=headers) as r:
                assert r.status == 401
                assert (await r.json())["param"] == "Authorization"
                assert TOKEN not in await r.text()
        async with http.get(token_server + "/events.ndjson?token=" + TOKEN) as r:
            assert r.status in (400, 401)  # never accepted in the URL
        good = {"Authorization": f"Bearer {TOKEN}"}
        async with http.get(token_server + "/api/status", headers=good) as r:
            assert r.status == 200
        async with http.get(token_server + "/healthz") as r:
            assert r.status == 200
        async with http.get(token_server + "/") as r:
            assert r.status == 200  # the page itself holds no data; it asks for the token


async def test_a_token_that_is_not_utf8_gets_401(token_server: str) -> None:
    host, port = token_server.removeprefix("http://").split(":")
    for given in (b"\xff\xfe", "\u00e9".encode(), TOKEN.encode() + b"\xff"):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + given
                     + b"\r\nConnection: close\r\n\r\n")  # fmt: skip
        reply = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await writer.wait_closed()
        assert reply.startswith(b"HTTP/1.1 401 "), (given, reply[:200])


def test_token_must_be_printable_ascii() -> None:
    for token in ("\u00e9" * 16, "with space " + TOKEN, TOKEN + "\x7f"):
        r = run_cli("serve", "--token", token, "--port", str(free_port()))
        assert r.returncode == 2, token
        assert r.stderr == "ringscope: error: --token must be printable ASCII without spaces\n"


def make_cert(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    with open_session() as session:
        state = ServerState(hub=Hub.for_session(session), session=session)
        runner, url = await make_runner(state, tls=server_ctx)
        try:
            assert url.startswith("https://")
            async with aiohttp.ClientSession() as http:
                async with http.get(url + "/healthz", ssl=client_ctx) as r:
                    assert r.status == 200
                async with http.get(
                    url + f"/events.ndjson?types=open&pid={os.getpid()}&limit=1", ssl=client_ctx
                ) as r:
                    touch_paths(1)
                    body = await asyncio.wait_for(r.read(), 5)
                assert orjson.loads(body.splitlines()[0])["type"] == "open"
        finally:
            await runner.cleanup()


async def test_sigterm_ends_streams_with_a_final_frame() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", MAIN,
        "serve", "-e", "open", "--port", str(port), stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        line = await asyncio.wait_for(proc.stderr.readline(), 30)
        assert f"serving on http://127.0.0.1:{port}/" in line.decode()
        stream = f"http://127.0.0.1:{port}/events.ndjson?types=open&pid={os.getpid()}"
        async with aiohttp.ClientSession() as http, http.get(stream) as r:
            touch_paths(2)
            await asyncio.sleep(0.2)
            proc.terminate()
            body = await asyncio.wait_for(r.read(), 10)
        rows = [orjson.loads(x) for x in body.splitlines()]
        assert rows[-1] == {"type": "end", "reason": "shutdown", "delivered": len(rows) - 1, "dropped": 0,
                            "lost": {}}  # fmt: skip
        assert len(rows) >= 3
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_loopback_server_refuses_foreign_host_names() -> None:
    # DNS rebinding: a page at http://evil.example:PORT/ resolved to 127.0.0.1.
    with open_session() as session:
        state = ServerState(hub=Hub.for_session(session), session=session)
        runner, url = await make_runner(state)
        port = int(url.rsplit(":", 1)[1])
        state.allowed_hosts = loopback_hosts(port)
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(url + "/api/status", headers={"Host": f"evil.example:{port}"}) as r:
                    assert r.status == 421 and (await r.json())["param"] == "Host"
                async with http.get(url + "/api/status") as r:
                    assert r.status == 200
                async with http.get(f"http://localhost:{port}/healthz") as r:
                    assert r.status == 200
        finally:
            await runner.cleanup()


async def test_cross_site_browser_requests_get_403(server: Server) -> None:
    ours = server.url
    evil = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    for path, headers in (
        ("/api/hist?event=runqlat&duration=0.5", evil),  # would attach BPF programs as root
        ("/api/hist?event=runqlat&duration=0.5", {"Origin": "null"}),
        ("/events.ndjson?types=open", {"Sec-Fetch-Site": "cross-site"}),  # a no-cors request holds a slot
        ("/events?types=open", {"Sec-Fetch-Site": "same-site"}),
        ("/api/status", {"Origin": ours.replace("127.0.0.1", "localhost")}),
        ("/metrics", evil),
        ("/", evil),
    ):
        async with asyncio.timeout(5), server.http.get(ours + path, headers=headers) as r:
            assert r.status == 403, (path, headers)
            assert (await r.json())["param"] == "Origin"
    assert not server.state.hub.subscribers
    async with server.http.get(ours + "/healthz", headers=evil) as r:
        assert r.status == 200
    for headers in ({}, {"Sec-Fetch-Site": "none"}, {"Origin": ours, "Sec-Fetch-Site": "same-origin"}):
        async with server.http.get(ours + "/api/status", headers=headers) as r:
            assert r.status == 200, headers
