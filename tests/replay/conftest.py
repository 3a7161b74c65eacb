"""The no-root tier: capture files made by the kernel tests
(tests/kernel/test_capture.py), with the NDJSON the live run printed beside
each, driven through decode, encode, hub, server and the CLI as any user.
test_as_nobody.py runs this whole tier again as uid 65534."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from ringscope.cli.main import main

DATA = Path(__file__).parent.parent / "data"
CAPTURES = ("static", "syscall", "dynamic", "lost")
RINGSCOPE = [sys.executable, "-m", "ringscope"]


def capture(name: str) -> Path:
    return DATA / f"{name}.rscap"


def live_ndjson(name: str) -> bytes:
    """What `trace --format json` printed while the capture was made."""
    return (DATA / f"{name}.ndjson").read_bytes()


def rows(body: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in body.splitlines() if line.strip()]


def ringscope(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*RINGSCOPE, *args], capture_output=True, timeout=120, check=False)


def in_process(capsys: pytest.CaptureFixture[bytes], *args: str) -> tuple[int, bytes, bytes]:
    """The CLI run in this process (no interpreter start-up): exit code, stdout, stderr."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err
