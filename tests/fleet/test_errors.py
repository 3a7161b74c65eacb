"""Bad URLs, unreachable servers and refused credentials: one clear line
and the right exit code; serve keeps serving locally while it retries."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import need

from .conftest import RINGSCOPE, SPEC, Nats, Serve, free_port

pytestmark = pytest.mark.fleet


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RINGSCOPE, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("url", ["http://127.0.0.1:4222", "nats://", "nats://h:notaport", "nats://u:p@h:4222",
                                 "nats://h:4222/path", "nats://h:99999", "nats ://h"])  # fmt: skip
@pytest.mark.parametrize("command", ["trace", "serve"])
def test_a_bad_url_is_one_line_and_exit_2(command: str, url: str) -> None:
    flag = "--export" if command == "trace" else "--from"
    p = _run(command, flag, url)
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("ringscope: error: bad ")
    assert "p@" not in p.stderr  # never echo credentials


def test_a_bad_host_name_is_exit_2() -> None:
    p = _run("trace", "--export", "nats://127.0.0.1:4222", "--host-name", "a.b")
    assert p.returncode == 2 and "bad --host-name" in p.stderr and p.stderr.count("\n") == 1


def test_trace_to_an_unreachable_server_is_one_line_and_exit_1() -> None:
    need(os.geteuid() == 0, "trace needs root")
    p = _run("trace", "-e", SPEC, "--export", f"nats://127.0.0.1:{free_port()}", "--", "/bin/true")
    assert p.returncode == 1, p.stderr
    assert p.stderr.count("\n") == 1, p.stderr
    assert "cannot connect to NATS at nats://127.0.0.1:" in p.stderr and "connection refused" in p.stderr


def test_serve_from_an_unreachable_server_is_exit_1() -> None:
    p = _run("serve", "--from", f"nats://127.0.0.1:{free_port()}")
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "cannot connect to NATS" in p.stderr


def test_auth_failure_is_one_clear_line(tmp_path: Path) -> None:
    need(os.geteuid() == 0, "trace needs root")
    token = tmp_path / "token"
    token.write_text("right-token-123456\n")
    wrong = tmp_path / "wrong"
    wrong.write_text("wrong-token\n")
    port = free_port()
    server = subprocess.Popen(["nats-server", "-js", "-sd", str(tmp_path / "js"), "-p", str(port), "-a",
                               "127.0.0.1", "--auth", "right-token-123456"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        Nats(tmp_path, port).start  # noqa: B018 (the port is the one started above)
        time.sleep(0.5)
        url = f"nats://127.0.0.1:{port}"
        p = _run("trace", "-e", SPEC, "--export", url, "--nats-token-file", str(wrong), "--", "/bin/true")
        assert p.returncode == 1 and "authorization" in p.stderr.lower(), p.stderr
        assert "wrong-token" not in p.stderr
        p = _run("trace", "-e", SPEC, "--export", url, "--nats-token-file", str(token), "-o", os.devnull,
                 "--", "/bin/true")  # fmt: skip
        assert p.returncode == 0, p.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)


def test_serve_keeps_serving_while_the_export_retries() -> None:
    need(os.geteuid() == 0, "serve traces the kernel: need root")
    s = Serve("-e", SPEC, "--export", f"nats://127.0.0.1:{free_port()}", "--host-name", "lonely")
    try:
        deadline = time.monotonic() + 10
        while "retrying" not in "".join(s.lines) and time.monotonic() < deadline:
            assert s.proc.stderr is not None
            s.lines.append(s.proc.stderr.readline())
        assert any("export: cannot connect to NATS" in line and "retrying" in line for line in s.lines)
        assert s.get("/healthz")["ok"]
        status = s.get("/api/status")
        assert status["export"]["connected"] is False and status["lost"]["export"] == 0
    finally:
        s.stop()
