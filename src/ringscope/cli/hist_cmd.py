"""`ringscope hist`: in-kernel counts and log2 histograms, printed
periodically and at the end, like bcc's funccount, funclatency and runqlat."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from types import FrameType

from .. import tracefs
from ..command import Command, exit_status
from ..errors import BadInput
from ..filters import parse_pid
from ..sources.hist import RUNQLAT, Histogram, HistSnapshot
from .values import seconds


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "hist",
        help="in-kernel counts and latency histograms",
        description=f"Aggregate in BPF maps (no per-event ring traffic). EVENT: {FORMS}.",
    )
    p.add_argument("-e", "--event", required=True, help="the event to aggregate")
    p.add_argument("--by", help="group by: comm, pid, tid, a tracepoint field, or argN (uprobe)")
    p.add_argument("--latency", action="store_true", help="histogram of function latency (uprobe/uretprobe)")
    p.add_argument("-p", "--pid", help="only this process")
    p.add_argument(
        "-i", "--interval", type=seconds("interval"), help="print a snapshot of each interval of S seconds"
    )
    p.add_argument("--duration", type=seconds(), help="stop after S seconds")
    p.add_argument("--json", action="store_true", help="one JSON object per snapshot")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARGS: run CMD and aggregate its events")
    p.set_defaults(func=run)


class _Stop(Exception):
    pass


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Stop


FORMS = (
    "tracepoint:SYS:NAME (or SYS:NAME; wildcards if they match one), uprobe:BIN:FUNC, "
    "uretprobe:BIN:FUNC (latency), runqlat"
)


def _event(text: str) -> str:
    """The one event hist aggregates, in a form it takes (a stream event
    such as `exec` is a `trace`/`serve` event, not an aggregation point)."""
    event = text.strip()
    if event in RUNQLAT:
        return event
    if ":" not in event:
        raise BadInput(
            f"hist -e {event!r}: hist takes {FORMS}; stream events like {event!r} are for trace and serve"
        )
    names = tracefs.expand(event) or [event]
    if len(names) != 1:
        shown = ", ".join(n.removeprefix("tracepoint:") for n in names[:4]) + (
            ", ..." if len(names) > 4 else ""
        )
        raise BadInput(f"hist aggregates one event; {event!r} matches {len(names)}: {shown}")
    return names[0]


def _check(args: argparse.Namespace) -> list[str]:
    if args.cmd and args.cmd[0] != "--":
        raise BadInput(f"unexpected argument {args.cmd[0]!r} (put the command after --)")
    if args.cmd == ["--"]:
        raise BadInput("no command given after -- (leave out -- to aggregate the whole system)")
    cmd = list(args.cmd[1:]) if args.cmd else []
    if cmd and args.pid:
        raise BadInput("use either -p PID or -- CMD, not both")
    return cmd


def _emit(snap: HistSnapshot, as_json: bool, title: str) -> None:
    if as_json:
        print(json.dumps(snap.as_dict()), flush=True)
    else:
        print(f"{title}\n{snap.render()}\n", flush=True)


def run(args: argparse.Namespace) -> int:
    argv = _check(args)
    pid = parse_pid(args.pid) if args.pid is not None else None
    event = _event(args.event)
    hist = Histogram(event, by=args.by, latency=args.latency, pid=pid)
    cmd = None
    if argv:
        cmd = Command(argv)
        hist.pid = cmd.pid
    old = signal.signal(signal.SIGTERM, _on_sigterm)
    stopped_by = None
    try:
        with hist:
            if cmd is not None:
                cmd.go()
            if not args.json:
                print(f"Tracing {args.event}... Hit Ctrl-C to end.", file=sys.stderr, flush=True)
            stopped_by = _loop(hist, args, cmd)
            _emit(hist.snapshot(), args.json, time.strftime("%H:%M:%S") + " total")
        # The one exit-status rule (ringscope.command.exit_status).
        return exit_status(cmd, stopped_by)
    finally:
        signal.signal(signal.SIGTERM, old)
        if cmd is not None:
            cmd.close()


def _loop(hist: Histogram, args: argparse.Namespace, cmd: Command | None) -> int | None:
    """Print intervals until the end; returns the signal that ended it, if one did."""
    start = time.monotonic()
    deadline = None if args.duration is None else start + args.duration
    next_tick = None if args.interval is None else start + args.interval
    last: HistSnapshot | None = None
    try:
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return None
            if next_tick is not None and now >= next_tick:
                snap = hist.snapshot()
                _emit(snap.minus(last), args.json, time.strftime("%H:%M:%S"))
                last, next_tick = snap, next_tick + args.interval
            wake = min(t for t in (deadline, next_tick, now + 0.1) if t is not None)
            timeout = max(0.0, wake - time.monotonic())
            if cmd is not None and cmd.wait(timeout) is not None:
                return None
            if cmd is None:
                time.sleep(timeout)
    except KeyboardInterrupt:
        return signal.SIGINT
    except _Stop:
        return signal.SIGTERM
