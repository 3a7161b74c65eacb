"""`ringscope trace`: stream events to stdout, like perf trace / execsnoop."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from ..command import Command, exit_status
from ..errors import BadInput, PermissionDenied
from ..events.records import Chunk
from ..session import Session
from .format import text_header, to_json, to_text
from .options import add_session_options, event_names, filter_from_args, ring_size
from .values import count, seconds


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("trace", help="stream kernel events to stdout",
                       description="Stream kernel events. `-- CMD ARGS` traces CMD and its children.")  # fmt: skip
    add_session_options(p)
    p.add_argument("-n", "--count", type=count("count"), help="stop after COUNT events")
    p.add_argument("--duration", type=seconds(), help="stop after S seconds")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text, or json (NDJSON)")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARGS: run and trace CMD")
    p.set_defaults(func=run)


class StopFlag:
    """Set by SIGINT/SIGTERM. A flag rather than an exception, so a signal
    never lands in the middle of detaching."""

    def __init__(self) -> None:
        self.set = False
        self.signum: int | None = None  # the signal that stopped the run

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.set = True
        self.signum = signum


@contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    flag = StopFlag()
    old = {sig: signal.signal(sig, flag) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _command(args: argparse.Namespace) -> list[str]:
    """The command after --, checked (`trace --` alone is not "everything")."""
    if not args.cmd:
        return []
    if args.cmd[0] != "--":
        raise BadInput(f"unexpected argument {args.cmd[0]!r} (put the command after --)")
    if len(args.cmd) == 1:
        raise BadInput("no command given after -- (leave out -- to trace the whole system)")
    return list(args.cmd[1:])


def run(args: argparse.Namespace) -> int:
    cmd_argv = _command(args)
    if cmd_argv and args.pid:
        raise BadInput("use either -p PID or -- CMD, not both")
    flt = filter_from_args(args)
    session = Session(event_names(args), filter=flt, ring_size=ring_size(args), transport=args.transport)
    cmd = None
    if cmd_argv:
        if os.geteuid() != 0:
            raise PermissionDenied("tracing needs root (or CAP_BPF and CAP_PERFMON)")
        cmd = Command(cmd_argv)
        session.filter = flt.with_pid(cmd.pid, follow=True)
    try:
        with stop_on_signals() as stop, session:
            if cmd is not None:
                session.follow(cmd.pid)
                cmd.go()
            _loop(session, args, cmd, stop)
        # The one exit-status rule: the command's status, 128 + the signal that stopped us, or 0.
        return exit_status(cmd, stop.signum)
    finally:
        if cmd is not None:
            cmd.close()


def _loop(session: Session, args: argparse.Namespace, proc: Command | None, stop: StopFlag) -> int:
    out = sys.stdout
    render = to_json if args.format == "json" else to_text
    if args.format == "text":
        out.write(text_header() + "\n")
        out.flush()
    deadline = None if args.duration is None else time.monotonic() + args.duration
    left = args.count
    shown = 0
    while left is None or left > 0:
        done = stop.set or (proc is not None and proc.poll() is not None)
        if deadline is not None and time.monotonic() >= deadline:
            done = True
        if done:
            # Detach first, so the last drain reads everything produced
            # (the command's exit included) and every drop.
            session.detach()
        lines = []
        for item in session.poll(0 if done else 0.05, flush=done):
            rows = item.rows() if isinstance(item, Chunk) else [item.row()]
            for row in rows:
                if left is not None and row["type"] != "lost":
                    if left == 0:
                        break
                    left -= 1
                shown += row["type"] != "lost"
                lines.append(render(row))
        if lines:
            out.write("\n".join(lines) + "\n")
            out.flush()
        if done:
            break
    lost = session.lost
    skipped = f" ({session.skipped} program runs skipped by the kernel)" if session.skipped else ""
    print(
        f"ringscope: {shown} events, lost {lost['kernel']} in the kernel, {lost['daemon']} in the daemon{skipped}",
        file=sys.stderr,
    )
    return 0
