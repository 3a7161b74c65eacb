"""`ringscope top`: the hottest symbols, live, like `perf top`. A rich
Live table on a terminal (q or Ctrl-C quits); plain tables, one per
refresh, when stdout is not a terminal (batch mode)."""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import sys
import termios
import time
import tty
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..errors import BadInput
from ..perf.callgraph import FP, NONE, parse_callgraph
from ..perf.ringsampler import RingSampler
from ..perf.target import Target
from ..perf.top import TopSampler, TopSnapshot
from .commands import COMMANDS
from .values import count

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("top", help=COMMANDS["top"])
    p.add_argument(
        "-F",
        "--freq",
        type=count("frequency"),
        default=999,
        metavar="HZ",
        help="samples per second (default 999)",
    )
    p.add_argument("-e", "--event", help="event to sample on (default: cycles, or cpu-clock without a PMU)")
    p.add_argument("-p", "--pid", type=count("pid"), help="only this process")
    p.add_argument("-a", "--all-cpus", action="store_true", help="every CPU (the default)")
    p.add_argument("-d", "--delay", type=float, default=1.0, metavar="S", help="refresh every S seconds")
    p.add_argument("-n", "--iterations", type=count("iterations"), metavar="N", help="exit after N refreshes")
    p.add_argument("--rows", type=count("rows"), default=25, help="symbols shown")
    p.add_argument("-g", dest="g", action="store_true", help="sample call chains (--call-graph fp)")
    p.add_argument("--call-graph", metavar="fp|dwarf[,SIZE]", help="as for record")
    p.set_defaults(func=run)


def _table(snap: TopSnapshot, title: str) -> Table:
    t = Table(title=title, caption=f"{snap.interval_samples} samples this refresh, {snap.total_samples} total, "
              f"{snap.lost} lost  (q or Ctrl-C quits)", expand=False)  # fmt: skip
    for col, justify in (("Overhead", "right"), ("Samples", "right"), ("Command", "left"),
                         ("Shared Object", "left"), ("Symbol", "left")):  # fmt: skip
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in snap.rows:
        mark = "[k]" if r.kernel else "[.]"
        # Text, not str: "[k]" and "[unknown]" would be read as rich markup.
        t.add_row(f"{r.share:6.2f}%", str(r.samples), Text(r.comm), Text(r.dso), Text(f"{mark} {r.symbol}"))
    return t


@contextlib.contextmanager
def _keys() -> Iterator[int | None]:
    """stdin in cbreak mode when it is a terminal, so `q` needs no Enter."""
    if not sys.stdin.isatty():
        yield None
        return
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


def _wait(fd: int | None, seconds: float, tick: Callable[[], object]) -> bool:
    """Sleep up to `seconds`, calling `tick` every 0.1 s (the rings are
    drained while we wait: a dwarf ring holds a quarter second);
    True when the user pressed q."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        step = min(left, 0.1)
        if fd is None:
            time.sleep(step)
        else:
            ready, _, _ = select.select([fd], [], [], step)
            if ready and os.read(fd, 32).lower().count(b"q"):
                return True
        tick()
    return False


def run(args: argparse.Namespace) -> int:
    if args.pid is not None and args.all_cpus:
        raise BadInput("-p and -a are exclusive")
    if args.delay < 0.1:
        raise BadInput("-d: the refresh delay must be at least 0.1 s")
    cg = parse_callgraph(args.call_graph) if args.call_graph else (FP if args.g else NONE)
    target = Target.process(args.pid) if args.pid is not None else Target.system_wide()
    seeds = [args.pid] if args.pid is not None else [int(p) for p in os.listdir("/proc") if p.isdigit()]
    console = Console()
    with RingSampler(target, args.event, freq=args.freq, callgraph=cg) as prof:
        sampler = TopSampler(prof, seeds)
        prof.enable()
        title = f"ringscope top: {prof.event.name} at {args.freq} Hz, {target.label}"
        count = 0
        with _keys() as fd:
            live = Live(console=console, auto_refresh=False) if console.is_terminal else None
            with live if live is not None else contextlib.nullcontext():
                while args.iterations is None or count < args.iterations:
                    try:
                        quit_ = _wait(fd, args.delay, prof.collect)
                    except KeyboardInterrupt:
                        break
                    table = _table(sampler.snapshot(args.rows), title)
                    if live is not None:
                        live.update(table, refresh=True)
                    else:
                        console.print(table)
                    count += 1
                    if quit_:
                        break
    return 0
