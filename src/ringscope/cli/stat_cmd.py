"""`ringscope stat`: counting mode, like `perf stat`. Output goes to stderr
(or -o FILE), as perf's does, so the command's own stdout stays clean."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from ..errors import BadInput
from ..perf import statfmt
from ..perf.counting import Reading
from ..perf.stat import StatResult, stat
from .options import target_argv

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("stat", help="count events (like perf stat)")
    p.add_argument(
        "-e",
        "--event",
        action="append",
        dest="events",
        metavar="EVENTS",
        help="comma-separated events; {a,b} is a group (default: perf's set)",
    )
    p.add_argument("-p", "--pid", type=int, help="count an existing process")
    p.add_argument("-a", "--all-cpus", action="store_true", help="count every CPU, system wide")
    p.add_argument("-I", "--interval-print", type=int, metavar="MS", help="print deltas every MS ms")
    p.add_argument("-x", "--field-separator", metavar="SEP", help="CSV output with this separator")
    p.add_argument("-j", "--json", action="store_true", help="one JSON object per counter (perf stat -j)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stderr")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARGS: run and count a command")
    p.set_defaults(func=run)  # fmt: skip


def _render(
    args: argparse.Namespace, readings: list[Reading], wall_ns: int, label: str, ts: float | None,
    res: StatResult | None = None,
) -> str:  # fmt: skip
    rows = statfmt.rows(readings, wall_ns)
    if args.json:
        return statfmt.format_json(rows, ts)
    if args.field_separator is not None:
        return statfmt.format_csv(rows, args.field_separator, ts)
    user, sys_ = (res.user_s, res.sys_s) if res is not None else (None, None)
    return statfmt.format_text(rows, label, wall_ns, ts, user, sys_)


def _check(args: argparse.Namespace) -> list[str]:
    argv = target_argv(args, "count")
    if args.interval_print is not None and args.interval_print < 10:
        raise BadInput(f"-I {args.interval_print}: the interval must be at least 10 ms")
    if args.field_separator is not None and args.json:
        raise BadInput("-x and --json are exclusive")
    return argv


def run(args: argparse.Namespace) -> int:
    argv = _check(args)
    out: TextIO = open(args.output, "w") if args.output else sys.stderr  # noqa: SIM115
    try:
        if args.interval_print and not (args.json or args.field_separator is not None):
            print("#           time             counts unit events", file=out)

        def interval(readings: list[Reading], span_ns: int, ts: float) -> None:
            print(_render(args, readings, span_ns, "", ts), file=out, flush=True)

        res = stat(
            args.events, pid=args.pid, system_wide=args.all_cpus, argv=argv or None,
            interval_ms=args.interval_print, on_interval=interval,
        )  # fmt: skip
        if not args.interval_print:
            print(_render(args, res.readings, res.wall_ns, res.label, None, res), file=out)
    finally:
        if out is not sys.stderr:
            out.close()
    # perf stat exits with the command's status (0 when it was only a timer).
    return res.exit_code if res.exit_code is not None and res.exit_code > 0 else 0
