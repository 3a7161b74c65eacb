"""Every HTTP route answers any query string in JSON, without a traceback in
the server's log: the real `ringscope serve`, raw bytes on a socket.

The property test generates query strings (raw bytes, percent-escapes that
are not UTF-8, fullwidth digits, nan, unknown keys) for every route: each
request gets a status line within seconds, an error status carries a JSON
body with an `error`, nothing is a 5xx, and the log stays clean."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import IN_CI, need

ROUTES = ["/", "/healthz", "/metrics", "/api/status", "/api/hist", "/events", "/events.ndjson", "/ws"]
MAIN = "import sys; from ringscope.cli.main import main; sys.exit(main())"


@dataclass
class Serve:
    port: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    need(os.geteuid() == 0, "ringscope serve attaches BPF programs: needs root")
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("w") as err:
        p = subprocess.Popen([sys.executable, "-c", MAIN, "serve", "--port", "0", "-e", "exec,open"],
                             stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (m := re.search(r"127\.0\.0\.1:(\d+)/", log.read_text())):
            assert p.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield Serve(int(m[1]), log)
    finally:
        p.terminate()
        p.wait(30)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def _get(port: int, target: bytes, timeout: float = 10.0) -> Answer:
    """One GET with a raw request target; the body is read when the answer
    has a length, else (a live stream) left after the headers."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        length = int(headers.get("content-length", "-1"))
        while 0 <= len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    return Answer(status, headers, body)


def _check(serve: Serve, target: bytes) -> Answer:
    a = _get(serve.port, target)
    assert a.status < 500 or a.status == 501, (target, a)  # 501: a probe this kernel lacks
    if a.status >= 400:
        assert a.headers.get("content-type", "").startswith("application/json"), (target, a)
        assert "error" in json.loads(a.body), (target, a)
    return a


NOT_UTF8 = [
    b"comm=\xff",
    b"pid=\xd9\xa1\xd9\xa2",
    b"comm=%ff",
    b"types=%C3%28",
    b"event=%80runqlat",
    b"x=\xc0\xaf",
]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("query", NOT_UTF8, ids=repr)
def test_query_that_is_not_utf8_is_a_json_400(serve: Serve, route: str, query: bytes) -> None:
    a = _check(serve, route.encode() + b"?" + query)
    assert a.status == 400, a
    assert "Traceback" not in serve.log_text()


@pytest.mark.parametrize("value", ["%EF%BC%91", "%D9%A1%D9%A2"])  # fullwidth 1, Arabic-Indic 12
@pytest.mark.parametrize("route", ["/events.ndjson", "/events"])
def test_pid_in_other_digits_is_refused(serve: Serve, route: str, value: str) -> None:
    a = _check(serve, f"{route}?pid={value}".encode())
    assert a.status == 400 and json.loads(a.body)["param"] == "pid"


def test_plain_get_on_the_websocket_route(serve: Serve) -> None:
    a = _check(serve, b"/ws")
    assert a.status == 400 and json.loads(a.body)["param"] == "Upgrade"


KEYS = [
    "types",
    "pid",
    "tid",
    "uid",
    "comm",
    "limit",
    "policy",
    "batch",
    "event",
    "by",
    "latency",
    "duration",
]
VALUES = ["exec", "open", "exec,open", "1", "\uff11", "\u0661\u0662", "nan", "-0", "0", "0.1", "1", "-1",
          "99999999999999999999", "drop-oldest", "disconnect", "sometimes", "runqlat", "sched:sched_switch",
          "uprobe:libc:malloc", "pid", "comm", ""]  # fmt: skip
TEXT = st.text(max_size=6)


def _encode(text: str, how: str) -> bytes:
    raw = text.encode("utf-8", "surrogatepass")
    return {
        "raw": raw,
        "quoted": quote_from_bytes(raw).encode(),
        "latin1": text.encode("latin-1", "replace"),
    }[how]


PAIR = st.tuples(st.sampled_from(KEYS) | TEXT, st.sampled_from(VALUES) | TEXT,
                 st.sampled_from(["raw", "quoted", "latin1"]))  # fmt: skip
QUERY = st.one_of(
    st.binary(max_size=24),
    st.lists(PAIR, max_size=4).map(
        lambda ps: b"&".join(_encode(k, h) + b"=" + _encode(v, h) for k, v, h in ps)
    ),
)


@settings(max_examples=int(120 * float(os.environ.get("RINGSCOPE_PROPERTY_SCALE", "1"))), deadline=None, database=None, derandomize=IN_CI,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(route=st.sampled_from(ROUTES), query=QUERY)
def test_any_query_string_gets_a_json_answer(serve: Serve, route: str, query: bytes) -> None:
    _check(serve, route.encode() + b"?" + query)
    log = serve.log_text()
    assert "Traceback" not in log and "Error handling request" not in log, log[-2000:]
