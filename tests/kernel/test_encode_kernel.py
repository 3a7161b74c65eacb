"""The columnar encoder on real records, both transports: every static event
type and dynamic ones (tracepoints with __data_loc and user strings,
uprobes), triggered by the test (odd argv, odd paths, IPv4, IPv6 and unix
sockets), encodes to the bytes orjson makes of Chunk.rows(), and to the SSE
and text each makes of them one row at a time."""

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

from ringscope.encode import ndjson as encode_ndjson
from ringscope.events.records import Chunk
from ringscope.filters import Filter
from ringscope.session import Session
from ringscope.sources import EVENTS
from tests.unit.test_encode import check_other_formats

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
    seen = _encode_until(sorted(EVENTS), transport, {"exec", "exit", "fork", "open", "connect"})
    assert {"exec", "exit", "fork", "open", "connect", "syscall"} <= seen


def _encode_until(events: list[str], transport: str, wanted: set[str]) -> set[str]:
    """Run the workload until every wanted type was seen (10 s at most),
    checking every chunk on the way; the types seen."""
    s = Session(events, filter=Filter(pid=ME, follow=True), transport=transport)
    seen: set[str] = set()
    with s, tempfile.TemporaryDirectory() as tmp:
        s.follow(ME)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not wanted <= seen:
            _workload(Path(tmp))
            os.getppid()
            for item in s.poll(0.05, flush=True):
                if not isinstance(item, Chunk):
                    continue
                seen.add(item.spec.name)
                want = b"".join(orjson.dumps(r) + b"\n" for r in item.rows())
                assert encode_ndjson(item) == want, item.spec.name
                check_other_formats(item)
    return seen


DYNAMIC = [
    "sched:sched_process_exec",  # __data_loc char[] filename
    "sched:sched_process_fork",
    "syscalls:sys_enter_openat",  # a user string (filename), read through its pointer
    "syscalls:sys_exit_openat",
    "uprobe:libc:getppid",
    "uretprobe:libc:getppid",
]
DYNAMIC_TYPES = [f"tracepoint:{d}" if d.startswith(("sched:", "syscalls:")) else d for d in DYNAMIC]


@pytest.mark.parametrize("transport", ["ringbuf", "perfbuf"])
def test_dynamic_records_encode_like_orjson_of_rows(transport: str) -> None:
    assert set(DYNAMIC_TYPES) <= _encode_until(DYNAMIC, transport, set(DYNAMIC_TYPES))
