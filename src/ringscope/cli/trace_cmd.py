"""`ringscope trace`: stream events to stdout, like perf trace / execsnoop."""

from __future__ import annotations

import argparse
import contextlib
import errno
import math
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import BinaryIO

from .. import caps, encode
from ..capture import CaptureWriter
from ..command import Command, exit_status
from ..errors import BadInput, RingscopeError, require_caps
from ..events.mixed import Mixed
from ..events.records import Chunk, Lost
from ..session import Session
from ..transport.sizing import MAX_RING_SIZE
from ..watch import ProcessWatch
from .commands import COMMANDS
from .nats_options import add_export_options, exporter_from_args
from .options import add_session_options, check_replay_args, event_names, filter_from_args, ring_size
from .values import count, seconds


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("trace", help=COMMANDS["trace"],
                       description="Stream kernel events. `-- CMD ARGS` traces CMD and its children.")  # fmt: skip
    add_session_options(p)
    p.add_argument("-n", "--count", type=count("count"), help="stop after COUNT events")
    p.add_argument("--duration", type=seconds(), help="stop after S seconds")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text, or json (NDJSON)")
    p.add_argument("-o", "--output", help="write events to FILE instead of standard output "
                                          "(the traced command's own output stays on the terminal)")  # fmt: skip
    p.add_argument("-w", "--write", metavar="FILE",
                   help="also save what comes off the ring to capture FILE (replay it with -i)")  # fmt: skip
    p.add_argument("-i", "--input", metavar="FILE",
                   help="replay capture FILE instead of tracing (needs no privilege)")  # fmt: skip
    add_export_options(p)
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


class Output:
    """Where events go: FILE (created or truncated) or standard output. Each
    write() is one poll's output, written through and flushed; a failed
    write is one RingscopeError (a reader that went away is BrokenPipeError,
    which main() turns into a quiet exit)."""

    def __init__(self, path: str | None) -> None:
        self.name = path or "standard output"
        self._own = path is not None
        try:
            self._f: BinaryIO = open(path, "wb", buffering=1 << 20) if path else sys.stdout.buffer  # noqa: SIM115
        except OSError as e:
            raise RingscopeError(f"cannot write {path}: {e.strerror}") from None

    def write(self, data: bytes) -> None:
        try:
            self._f.write(data)
            self._f.flush()
        except OSError as e:
            if isinstance(e, BrokenPipeError) or e.errno == errno.EPIPE:
                raise BrokenPipeError from None
            raise RingscopeError(f"cannot write {self.name}: {e.strerror}") from None

    def close(self) -> None:
        if self._own:
            with contextlib.suppress(OSError):
                self._f.close()


def run(args: argparse.Namespace) -> int:
    cmd_argv = _command(args)
    if cmd_argv and args.pid:
        raise BadInput("use either -p PID or -- CMD, not both")
    if args.input is not None:
        check_replay_args(args, cmd_argv)
        if args.write is not None:
            raise BadInput("-w and -i go apart: a capture is already a capture")
        session = Session.replay(args.input)
    else:
        session = Session(event_names(args), filter=filter_from_args(args), ring_size=ring_size(args),
                          transport=args.transport)  # fmt: skip
    try:
        return _run(session, args, cmd_argv)
    finally:
        session.close()  # a replay holds its file from Session.replay() on


def _run(session: Session, args: argparse.Namespace, cmd_argv: list[str]) -> int:
    exporter = exporter_from_args(args)
    out = Output(args.output)
    writer = None
    cmd = None
    watch = None
    try:
        if exporter is not None:
            exporter.start(wait=True)  # an unreachable server is one line and exit 1, before tracing
        if args.write is not None:
            writer = CaptureWriter.open(args.write)  # before CMD starts: a bad path is one line, not a trace
        if args.input is None and not cmd_argv and session.filter.pid is not None:
            # -p: the run ends with the process (the rule of ringscope.watch).
            watch = ProcessWatch(session.filter.pid)
        if cmd_argv:
            require_caps("tracing", *caps.TRACING)  # before CMD starts, not after
            cmd = Command(cmd_argv)
            session.filter = session.filter.with_pid(cmd.pid, follow=True)
        with stop_on_signals() as stop, session:
            if writer is not None:
                writer.begin_session(session)
                session.tap(writer)
            if cmd is not None:
                session.follow(cmd.pid)
                cmd.go()
            _loop(
                session, args, cmd, stop, out, exporter.offer_items if exporter is not None else None, watch
            )
        # The one exit-status rule: the command's status, 128 + the signal that stopped us, or 0.
        return exit_status(cmd, stop.signum)
    finally:
        if cmd is not None:
            cmd.close()
        if watch is not None:
            watch.close()
        out.close()
        if writer is not None:
            writer.close()
        if exporter is not None:
            exporter.close()


CHUNK_EVENTS = 8192  # events encoded at once: bounds the encoder's scratch memory


def _loop(session: Session, args: argparse.Namespace, proc: Command | None, stop: StopFlag,
          out: Output, export: Callable[[list[Chunk | Mixed | Lost]], None] | None = None,
          watch: ProcessWatch | None = None) -> int:  # fmt: skip
    """Poll, encode each type once per poll (columnar, a Mixed batch), write
    each poll's output in stream order in one write, until the count, the
    duration, the command or a signal ends the run; then detach and drain
    to the end."""
    text = args.format == "text"
    if text:
        out.write(encode.text_header().encode() + b"\n")
    deadline = None if args.duration is None else time.monotonic() + args.duration
    left = args.count
    shown = 0
    while left is None or left > 0:
        done = stop.set or (proc is not None and proc.poll() is not None) or session.exhausted
        done = done or (watch is not None and watch.gone())
        if deadline is not None and time.monotonic() >= deadline:
            done = True
        if done:
            # Detach first, so the last drain reads everything produced
            # (the command's exit included) and every drop.
            session.detach()
        parts: list[bytes] = []
        items = session.poll(0 if done else 0.05, flush=done, mixed=True)
        if export is not None:
            export(items)  # every item, whatever -n shows
        for item in items:
            if isinstance(item, Lost):
                parts.append(encode.text_row(item.row()) if text else encode.row_json(item.row()) + b"\n")
                continue
            if left is not None:
                if left <= 0:
                    continue
                if len(item) > left:
                    item = item.window(0, left) if isinstance(item, Mixed) else item.split(left)[0]
                left -= len(item)
            shown += len(item)
            parts += _encoded(item, text)
        if parts:
            out.write(b"".join(parts))
        if done:
            break
    print(_summary(session, shown), file=sys.stderr)
    if session.truncated:
        print(f"ringscope: {session.truncated}: replayed up to there", file=sys.stderr)
    return 0


def _encoded(item: Chunk | Mixed, text: bool) -> list[bytes]:
    """The events of `item` in stream order, encoded a piece at a time."""
    if isinstance(item, Mixed):
        mixed = encode.text_mixed if text else encode.ndjson_mixed
        return [mixed(m) for m in item.pieces(CHUNK_EVENTS)]
    return [encode.text(c) if text else encode.ndjson(c) for c in item.pieces(CHUNK_EVENTS)]


def _summary(session: Session, shown: int) -> str:
    lost = session.lost
    line = f"ringscope: {shown} events, lost {lost['kernel']} in the kernel, {lost['daemon']} in the daemon"
    if session.skipped:
        line += f" ({session.skipped} program runs skipped by the kernel)"
    if lost["kernel"]:
        # The ring filled faster than it was read: a ring that holds the
        # whole burst, every event delivered and lost at the size the
        # delivered ones took, keeps it even if the reader stalls for all
        # of it, so the hint works the first time (a ring sized for the
        # excess alone did not: the reader does not drain while it fills).
        per_event = session.delivered_bytes / session.delivered if session.delivered else _MIN_RECORD
        need = (session.delivered + lost["kernel"]) * per_event
        size = min(MAX_RING_SIZE, 1 << max(0, math.ceil(math.log2(need))))
        if size > session.ring_size:
            line += f"; the ring filled: try --ring-size {_size_text(size)}"
        else:
            line += "; the ring filled: the consumer could not keep up (try -o FILE, or fewer events)"
    return line


_MIN_RECORD = 64  # ring bytes of the smallest event (header included), when none was delivered


def _size_text(size: int) -> str:
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift}{unit}"
    return str(size)
