"""Capture files: what writing one costs while live, how big it is, and
how fast it replays.

The burst is bench_trace's: N = 300,000 failing openat(2) calls from one
CPU, `ringscope trace -e open --format json -p PID -o /dev/null` on the
other. Same run, same burst, twice: without and with `-w FILE`; the
figures are the tracer's CPU per delivered event and the fraction
delivered. Then the file: bytes per event against the NDJSON of the same
events (what `trace -i FILE --format json` prints). Then the replay rate:
`trace -i FILE --format json -o /dev/null` (speed 0, the whole pipeline:
read, decompress, decode, encode, write; run in the bench's process, so
interpreter start-up is left out), events per second of wall time, against
the rate the burst was produced at.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_dynamic import build
from bench.bench_trace import SUMMARY, N, Run, _consume, _flood
from bench.report import Figure, Report
from ringscope.capture.format import BLOCK_HEADER, FILE_HEADER, Kind
from ringscope.cli.main import main

SECTION = "capture"
MIXED = (
    Path(__file__).parent.parent / "tests" / "data" / "static.rscap"
)  # 8 event types, from the kernel tests


def _poll_bytes(path: Path) -> int:
    """Bytes of a capture's POLLS blocks, headers included (the description left out)."""
    data, at, total = path.read_bytes(), FILE_HEADER.size, 0
    while at < len(data):
        stored, _raw, kind, _codec, _, _crc = BLOCK_HEADER.unpack_from(data, at)
        if kind == Kind.POLLS:
            total += BLOCK_HEADER.size + stored
        at += BLOCK_HEADER.size + stored
    return total


def _trace(exe: Path, capture: Path | None) -> Run:
    flood = _flood(exe)
    argv = [sys.executable, "-m", "ringscope", "trace", "-e", "open", "--format", "json", "-p", str(flood.pid),
            "-o", os.devnull]  # fmt: skip
    if capture is not None:
        argv += ["-w", str(capture)]
    producer_ns, cpu, err = _consume(argv, flood, stdout=subprocess.DEVNULL)
    m = SUMMARY.search(err.decode())
    if m is None:
        raise RuntimeError(f"no summary from ringscope: {err.decode()}")
    return Run(int(m[1]), int(m[2]), cpu, producer_ns)


def _replay(capture: Path, out: str) -> tuple[float, int]:
    """Wall seconds of `trace -i FILE --format json -o OUT`, run in this
    process (interpreter start-up is not the pipeline's), and the events it read."""
    err = io.StringIO()
    start = time.monotonic()
    with contextlib.redirect_stderr(err):
        code = main(["trace", "-i", str(capture), "--format", "json", "-o", out])
    wall = time.monotonic() - start
    m = SUMMARY.search(err.getvalue())
    if code != 0 or m is None:
        raise RuntimeError(f"trace -i failed: {err.getvalue()}")
    return wall, int(m[1])


def run(report: Report) -> None:
    exe = build()
    with tempfile.TemporaryDirectory(prefix="ringscope-bench-") as d:
        cap = Path(d) / "burst.rscap"
        plain = _trace(exe, None)
        captured = _trace(exe, cap)
        for name, r in (("trace -e open --format json", plain), ("the same with -w FILE", captured)):
            print(
                f"  {name}: {r.delivered:,}/{N:,} delivered, {r.cpu_per_event:.0f} ns CPU/event", flush=True
            )
        report.add(Figure(SECTION, "trace -w: consumer CPU", captured.cpu_per_event, "ns/event",
                          "trace without -w", plain.cpu_per_event, higher_is_better=False,
                          notes=f"write cost {captured.cpu_per_event - plain.cpu_per_event:.0f} ns/event"))  # fmt: skip
        report.add(Figure(SECTION, "trace -w: delivered", 100 * captured.fraction, "%", "trace without -w",
                          100 * plain.fraction, target="target >= 99 %",
                          notes=f"{captured.delivered:,} of {N:,}, {captured.lost:,} counted lost"))  # fmt: skip
        ndjson = Path(d) / "burst.ndjson"
        wall, events = _replay(cap, str(ndjson))
        size = cap.stat().st_size
        report.add(Figure(SECTION, "capture file size", size / events, "bytes/event", "NDJSON of the same events",
                          ndjson.stat().st_size / events, higher_is_better=False,
                          notes=f"{size:,} bytes for {events:,} events, zstd per block"))  # fmt: skip
        mixed = Path(d) / "mixed.ndjson"
        _, n = _replay(MIXED, str(mixed))
        report.add(Figure(SECTION, "capture size, mixed events", _poll_bytes(MIXED) / n, "bytes/event",
                          "NDJSON of the same events", mixed.stat().st_size / n, higher_is_better=False,
                          notes=f"{MIXED.name}: {n} events of 8 types; its description (BTF, formats) "
                                f"adds {MIXED.stat().st_size - _poll_bytes(MIXED):,} bytes once"))  # fmt: skip
        wall, events = _replay(cap, os.devnull)
        report.add(Figure(SECTION, "trace -i --format json to /dev/null", events / wall, "events/s",
                          "the burst's production rate", N / (captured.producer_ns / 1e9),
                          notes=f"{events:,} events in {wall:.2f} s"))  # fmt: skip
