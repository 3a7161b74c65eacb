"""`ringscope list`: what can be traced here, and whether this kernel can."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..catalog import stream_events
from ..perf.catalog import catalog as perf_catalog


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("list", help="list events and whether this machine supports them")
    p.add_argument("--json", action="store_true", help="one JSON object per event, per line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    entries: list[dict[str, Any]] = stream_events() + perf_catalog()
    if args.json:
        for e in entries:
            print(json.dumps(e))
        return 0
    out = sys.stdout
    out.write("Stream events (ringscope trace/serve -e):\n")
    for e in entries:
        if e["kind"] != "stream":
            continue
        state = "" if e["available"] else f"  <not supported: {e['reason']}>"
        out.write(f"  {e['name']:<24} {e['description']}{state}\n")
    _write_perf(out, [e for e in entries if e["kind"] != "stream"])
    return 0


def _write_perf(out: Any, entries: list[dict[str, Any]]) -> None:
    """perf list's layout: `name  [Kind event]`, unusable ones marked."""
    out.write("\nPerf events (ringscope stat/record -e):\n")
    for e in entries:
        state = "" if e["available"] else f"  <not supported: {e['reason']}>"
        out.write(f"  {e['name']:<44} [{e['description']}]{state}\n")
