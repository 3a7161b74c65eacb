"""`ringscope hist`: in-kernel counts and log2 histograms, printed
periodically and at the end, like bcc's funccount, funclatency and runqlat."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from types import FrameType

from ..command import Command, exit_status
from ..errors import BadInput
from ..sources.hist import Histogram
from ..sources.hist_query import FORMS, HistQuery, parse_query, spec_params
from ..sources.hist_snapshot import HistSnapshot
from ..watch import ProcessWatch
from .commands import COMMANDS
from .values import seconds


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "hist",
        help=COMMANDS["hist"],
        description=f"Aggregate in BPF maps (no per-event ring traffic). EVENT: {FORMS}.",
    )
    p.add_argument("-e", "--event", required=True,
                   help="the event to aggregate; parameters may follow as in /api/hist: EVENT?by=comm&latency=1")  # fmt: skip
    p.add_argument("--by", help="group by: comm, pid, tid, a tracepoint field, or argN (uprobe, USDT)")
    p.add_argument("--latency", action="store_true",
                   help="histogram of the latency: uprobe entry to return, syscall entry to exit")  # fmt: skip
    p.add_argument("--value", help="histogram of a value: a tracepoint field, argN, or ret (uretprobe)")
    p.add_argument("--max-labels", help="keys kept in the kernel; the events of others count as 'other'")
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


def _query(args: argparse.Namespace) -> HistQuery:
    """-e EVENT?params, with the flags on top (the one parser of hist_query.py)."""
    params = spec_params(args.event)
    flags = {"by": args.by, "value": args.value, "max_labels": args.max_labels, "pid": args.pid,
             "latency": "1" if args.latency else None}  # fmt: skip
    params.update({k: v for k, v in flags.items() if v is not None})
    return parse_query(params)


def run(args: argparse.Namespace) -> int:
    argv = _check(args)
    hist = Histogram(_query(args))
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
            # -p: the run ends with the process (the rule of ringscope.watch).
            watch = ProcessWatch(hist.pid) if cmd is None and hist.pid is not None else None
            try:
                stopped_by = _loop(hist, args, cmd, watch)
            finally:
                if watch is not None:
                    watch.close()
            _emit(hist.snapshot(), args.json, time.strftime("%H:%M:%S") + " total")
        # The one exit-status rule (ringscope.command.exit_status).
        return exit_status(cmd, stopped_by)
    finally:
        signal.signal(signal.SIGTERM, old)
        if cmd is not None:
            cmd.close()


def _loop(hist: Histogram, args: argparse.Namespace, cmd: Command | None,
          watch: ProcessWatch | None) -> int | None:  # fmt: skip
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
            if watch is not None and watch.gone(timeout):
                return None
            if cmd is None and watch is None:
                time.sleep(timeout)
    except KeyboardInterrupt:
        return signal.SIGINT
    except _Stop:
        return signal.SIGTERM
