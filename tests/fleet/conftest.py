"""The fleet tier: a real nats-server with JetStream per test (on a free
port of 127.0.0.1, storage in the test's tmp dir), real `ringscope serve
--export` hosts tracing their own flood child, and real readers."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need
from tests.server.conftest import FLOOD

RINGSCOPE = [sys.executable, "-m", "ringscope"]
SPEC = "syscalls:sys_enter_getppid"  # as -e takes it
EVENT = f"tracepoint:{SPEC}"  # its type name
SUBJECT_TYPE = "tracepoint_syscalls_sys_enter_getppid"  # and its subject token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Nats:
    """One nats-server -js. kill() and start() keep its port and storage."""

    store: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["nats-server", "-js", "-sd", str(self.store), "-p", str(self.port), "-a", "127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.05)
        raise AssertionError("nats-server did not start")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[Nats]:
    need(shutil.which("nats-server") is not None, "nats-server is not installed (make deps)")
    server = Nats(tmp_path / "js")
    server.start()
    yield server
    server.kill(signal.SIGTERM)


class Flood:
    """A child that calls getppid() n times once released."""

    def __init__(self, n: int, pause: float = 0.0) -> None:
        self.n = n
        self.proc = subprocess.Popen([sys.executable, "-c", FLOOD, str(n), str(pause)], stdin=subprocess.PIPE)

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"x")
        self.proc.stdin.close()

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        self.proc.kill()
        self.proc.wait()


class Serve:
    """`ringscope serve` in a child; url once it listens."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([*RINGSCOPE, "serve", "--port", "0", *args], stderr=subprocess.PIPE,
                                     text=True)  # fmt: skip
        assert self.proc.stderr is not None
        self.lines: list[str] = []
        for _ in range(5):
            line = self.proc.stderr.readline()
            self.lines.append(line)
            m = re.search(r" on (http://\S+?)/ ", line)
            if m:
                self.url = m[1]
                return
        raise AssertionError(f"serve did not start: {self.lines}")

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return json.loads(r.read())

    def stop(self) -> str:
        """SIGTERM; the rest of stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        assert self.proc.stderr is not None
        rest = self.proc.stderr.read()
        self.proc.stderr.close()
        assert self.proc.wait(30) == 0, rest
        return rest

    def export_status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.get("/api/status")["export"]
        return status


def host(nats_url: str, name: str, pid: int, *extra: str) -> Serve:
    need(os.geteuid() == 0, "exporting hosts trace the kernel: need root")
    return Serve("-e", SPEC, "-p", str(pid), "--export", nats_url, "--host-name", name, *extra)


def wait_settled(h: Serve, timeout: float = 60) -> dict[str, Any]:
    """The host's export counters once nothing is waiting or in flight."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = h.export_status()
        if last["produced"] and last["produced"] == last["delivered"] + last["lost"]:
            return last
        time.sleep(0.1)
    raise AssertionError(f"export did not settle: {last}")


def wait_until(cond: Any, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def stored(url: str) -> tuple[Counter[str], Counter[tuple[str, int]], int]:
    """Everything in the stream, read with a plain nats-py ordered consumer:
    events per host, how many times each (host, event seq) is stored, export
    loss reported per record sum."""
    import nats
    from nats.js.api import ConsumerConfig, DeliverPolicy

    nc = await nats.connect(url)
    js = nc.jetstream()
    info = await js.stream_info("RINGSCOPE")
    last = info.state.last_seq
    per_host: Counter[str] = Counter()
    seqs: Counter[tuple[str, int]] = Counter()
    export_lost = 0
    sub = await js.subscribe("ringscope.>", ordered_consumer=True,
                             config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL))  # fmt: skip
    try:
        while True:
            msg = await sub.next_msg(timeout=5)
            hostname, token = msg.subject.split(".")[1:]
            if token == SUBJECT_TYPE:
                for line in msg.data.splitlines():
                    row = json.loads(line)
                    per_host[hostname] += 1
                    seqs[hostname, row["seq"]] += 1
            elif token == "lost":
                for line in msg.data.splitlines():
                    row = json.loads(line)
                    if row.get("stage") == "export":
                        export_lost += row["count"]
            if msg.metadata.sequence.stream >= last:
                break
    finally:
        await sub.unsubscribe()
        await nc.close()
    return per_host, seqs, export_lost
