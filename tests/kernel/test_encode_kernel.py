"""The columnar NDJSON encoder on real records, both transports: every
static event type, triggered by the test (odd argv, odd paths, IPv4, IPv6
and unix sockets), encodes to the bytes orjson makes of Chunk.rows()."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import orjson
import pytest

from ringscope.events.encode import encode_ndjson
from ringscope.events.records import Chunk
from ringscope.filters import Filter
from ringscope.session import Session
from ringscope.sources import EVENTS

ME = os.getpid()


def _workload(tmp: Path) -> None:
    subprocess.run([b"/bin/true", b"", b'q"uote', b"back\\slash", b"\xff\xfe", b"tab\there"], check=True)
    for name in ('a"b', "new\nline", "caf\u00e9", "\x01ctl"):
        with contextlib.suppress(OSError):
            os.close(os.open(tmp / name, os.O_RDONLY))
    for fam, addr in ((socket.AF_INET, ("127.0.0.1", 9)), (socket.AF_INET6, ("::1", 9))):
        with socket.socket(fam, socket.SOCK_STREAM) as s, contextlib.suppress(OSError):
            s.connect(addr)
    with socket.socket(socket.AF_UNIX) as s, contextlib.suppress(OSError):
        s.connect(str(tmp / "nosock"))
    time.sleep(0.01)


@pytest.mark.parametrize("transport", ["ringbuf", "perfbuf"])
def test_real_records_encode_like_orjson_of_rows(transport: str) -> None:
    s = Session(sorted(EVENTS), filter=Filter(pid=ME, follow=True), transport=transport)
    with s, tempfile.TemporaryDirectory() as tmp:
        s.follow(ME)
        seen: set[str] = set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not {"exec", "exit", "fork", "open", "connect"} <= seen:
            _workload(Path(tmp))
            for item in s.poll(0.05, flush=True):
                if not isinstance(item, Chunk):
                    continue
                seen.add(item.spec.name)
                want = b"".join(orjson.dumps(r) + b"\n" for r in item.rows())
                assert encode_ndjson(item) == want, item.spec.name
    assert {"exec", "exit", "fork", "open", "connect", "syscall"} <= seen
