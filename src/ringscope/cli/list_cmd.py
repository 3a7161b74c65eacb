"""`ringscope list`: what can be traced here, and whether this kernel can.
Takes perf list's filters: a kind (hw, sw, cache, tool, tracepoint, and
stream for ringscope's own events), a name glob (`'sched:*'`; a word
without wildcards matches names containing it), or a binary's probe points
(`uprobe:/usr/bin/bash:*`, `usdt:/path/to/bin`)."""

from __future__ import annotations

import argparse
import json
import sys
from fnmatch import fnmatchcase
from typing import Any

from ..catalog import PROBE_KINDS, probe_points, stream_events
from ..perf.catalog import KINDS
from ..perf.catalog import catalog as perf_catalog
from ..tracefs import has_wildcard
from .commands import COMMANDS

__all__ = ["register", "run"]

# perf list's names for the kinds, and ringscope's stream events.
KIND_FILTERS = {
    "hw": "hardware", "hardware": "hardware", "sw": "software", "software": "software",
    "cache": "cache", "hwcache": "cache", "tool": "tool", "tracepoint": "tracepoint",
    "stream": "stream",
}  # fmt: skip


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("list", help=COMMANDS["list"],
                       description="List events. FILTER: hw, sw, cache, tool, tracepoint, stream, a name "
                                   "glob ('sched:*'), uprobe:BINARY[:GLOB] or usdt:BINARY[:GLOB].")  # fmt: skip
    p.add_argument("filters", nargs="*", metavar="FILTER", help="what to list (default: everything)")
    p.add_argument("--json", action="store_true", help="one JSON object per event, per line")
    p.set_defaults(func=run)


def _matches(name: str, word: str) -> bool:
    return fnmatchcase(name, word) if has_wildcard(word) else word in name


def _entries(filters: list[str]) -> list[dict[str, Any]]:
    """The catalogue entries the filters select, in catalogue order."""
    points = [e for f in filters if f.partition(":")[0] in PROBE_KINDS for e in probe_points(f)]
    rest = [f for f in filters if f.partition(":")[0] not in PROBE_KINDS]
    if filters and not rest:
        return points
    kinds = {KIND_FILTERS[f] for f in rest if f in KIND_FILTERS}
    globs = [f for f in rest if f not in KIND_FILTERS]
    wanted = set(KINDS) | {"stream"} if globs or not rest else kinds
    entries = (stream_events() if "stream" in wanted else []) + perf_catalog(wanted & set(KINDS))
    if rest:
        entries = [e for e in entries if e["kind"] in kinds or any(_matches(e["name"], g) for g in globs)]
    return entries + points


def run(args: argparse.Namespace) -> int:
    entries = _entries(list(args.filters))
    if args.json:
        for e in entries:
            print(json.dumps(e))
        return 0
    out = sys.stdout
    stream = [e for e in entries if e["kind"] == "stream"]
    if stream:
        out.write("Stream events (ringscope trace/serve -e):\n")
        for e in stream:
            state = "" if e["available"] else f"  <not supported: {e['reason']}>"
            out.write(f"  {e['name']:<24} {e['description']}{state}\n")
    perf = [e for e in entries if e["kind"] not in ("stream", *PROBE_KINDS)]
    if perf:
        _write_perf(out, perf, blank=bool(stream))
    points = [e for e in entries if e["kind"] in PROBE_KINDS]
    if points:
        _write_perf(
            out, points, blank=bool(stream or perf), title="Probe points (ringscope trace/serve/hist -e)"
        )
    return 0


def _write_perf(out: Any, entries: list[dict[str, Any]], blank: bool,
                title: str = "Perf events (ringscope stat/record -e)") -> None:  # fmt: skip
    """perf list's layout: `name  [Kind event]`, unusable ones marked."""
    out.write(("\n" if blank else "") + f"{title}:\n")
    for e in entries:
        state = "" if e["available"] else f"  <not supported: {e['reason']}>"
        out.write(f"  {e['name']:<44} [{e['description']}]{state}\n")
