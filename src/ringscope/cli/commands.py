"""The subcommands, in the order `ringscope --help` lists them, with their
one-line help: the one place that names them. Each is the module
cli/<name>_cmd.py, with register(subparsers) and run(args) -> int; main.py
imports only the one that runs."""

from __future__ import annotations

__all__ = ["COMMANDS", "DEFAULT_PROFILE"]

COMMANDS = {
    "list": "list events and whether this machine supports them",
    "trace": "stream kernel events to stdout",
    "serve": "serve live events over HTTP (SSE, WebSocket, NDJSON) with a dashboard",
    "stat": "count events (like perf stat)",
    "record": "sample stacks into a profile (like perf record)",
    "report": "show a profile (like perf report)",
    "script": "every sample as text, in perf script's format",
    "top": "live view of the hottest symbols (like perf top)",
    "hist": "in-kernel counts and latency histograms",
    "convert": "export a capture file to Parquet (one file per event type)",
}

DEFAULT_PROFILE = "ringscope.profile"  # what record writes and report, script read, unless told
