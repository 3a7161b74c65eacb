"""`ringscope hist`: in-kernel counts and log2 histograms, printed
periodically and at the end, like bcc's funccount, funclatency and runqlat."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from types import FrameType

from ..errors import BadInput
from ..sources.hist import Histogram
from ..sources.hist_query import HistQuery, parse_query, spec_params
from ..sources.hist_snapshot import HistSnapshot


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "hist",
        help="in-kernel counts and latency histograms",
        description="Aggregate in BPF maps (no per-event ring traffic). EVENT: tracepoint:SYS:NAME, "
        "uprobe:BIN:FUNC, uretprobe:BIN:FUNC (latency), usdt:BIN:PROVIDER:NAME, or runqlat (run-queue latency).",
    )
    p.add_argument("-e", "--event", required=True,
                   help="the event to aggregate; parameters may follow as in /api/hist: EVENT?by=comm&latency=1")  # fmt: skip
    p.add_argument("--by", help="group by: comm, pid, tid, a tracepoint field, or argN (uprobe, USDT)")
    p.add_argument("--latency", action="store_true",
                   help="histogram of the latency: uprobe entry to return, syscall entry to exit")  # fmt: skip
    p.add_argument("--value", help="histogram of a value: a tracepoint field, argN, or ret (uretprobe)")
    p.add_argument("--max-labels", help="keys kept in the kernel; the events of others count as 'other'")
    p.add_argument("-p", "--pid", help="only this process")
    p.add_argument("-i", "--interval", type=float, help="print a snapshot of each interval of S seconds")
    p.add_argument("--duration", type=float, help="stop after S seconds")
    p.add_argument("--json", action="store_true", help="one JSON object per snapshot")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARGS: run CMD and aggregate its events")
    p.set_defaults(func=run)


class _Stop(Exception):
    pass


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _spawn_held(cmd: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    """CMD, held before exec until the probes are attached (its pid is
    needed first). Returns the process and the fd that releases it.

    A shell waits for the go byte on the pipe, then execs CMD in its place (same
    pid). Not a preexec_fn that blocks: Popen waits for the child's exec, so
    a child blocked before exec would deadlock the parent inside Popen()."""
    if shutil.which(cmd[0]) is None:
        raise BadInput(f"cannot run {cmd[0]!r}: command not found")
    r, w = os.pipe()
    try:
        gate = f'read -r _ <&{r} || exit 126; exec {r}<&- "$@"'
        proc = subprocess.Popen(["/bin/sh", "-c", gate, "sh", *cmd], pass_fds=(r,))
    except OSError as e:
        os.close(w)
        raise BadInput(f"cannot run {cmd[0]!r}: {e.strerror}") from None
    finally:
        os.close(r)
    return proc, w


def _check(args: argparse.Namespace) -> list[str]:
    if args.cmd and args.cmd[0] != "--":
        raise BadInput(f"unexpected argument {args.cmd[0]!r} (put the command after --)")
    cmd = [c for c in args.cmd[1:]] if args.cmd else []
    for name in ("interval", "duration"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise BadInput(f"bad {name} {value}: must be positive")
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
    cmd = _check(args)
    hist = Histogram(_query(args))
    proc, release = None, -1
    if cmd:
        proc, release = _spawn_held(cmd)
        hist.pid = proc.pid
    old = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with hist:
            if proc is not None:
                os.write(release, b"go\n")  # `read` wants a whole line
                os.close(release)
                release = -1
            if not args.json:
                print(f"Tracing {args.event}... Hit Ctrl-C to end.", file=sys.stderr, flush=True)
            _loop(hist, args, proc)
            _emit(hist.snapshot(), args.json, time.strftime("%H:%M:%S") + " total")
    finally:
        signal.signal(signal.SIGTERM, old)
        if release >= 0:
            os.close(release)
        if proc is not None:
            _reap(proc)
    return 0


def _loop(hist: Histogram, args: argparse.Namespace, proc: subprocess.Popen[bytes] | None) -> None:
    start = time.monotonic()
    deadline = None if args.duration is None else start + args.duration
    next_tick = None if args.interval is None else start + args.interval
    last: HistSnapshot | None = None
    try:
        while True:
            now = time.monotonic()
            if (deadline is not None and now >= deadline) or (proc is not None and proc.poll() is not None):
                return
            if next_tick is not None and now >= next_tick:
                snap = hist.snapshot()
                _emit(snap.minus(last), args.json, time.strftime("%H:%M:%S"))
                last, next_tick = snap, next_tick + args.interval
            wake = min(t for t in (deadline, next_tick, now + 0.1) if t is not None)
            time.sleep(max(0.0, wake - time.monotonic()))
    except (KeyboardInterrupt, _Stop):
        return


def _reap(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
