"""`ringscope stat`: counting mode, like `perf stat`. Output goes to stderr
(or -o FILE), as perf's does, so the command's own stdout stays clean."""

from __future__ import annotations

import argparse
import locale
import sys
from dataclasses import dataclass, replace
from typing import TextIO

from ..errors import BadInput, RingscopeError
from ..filters import parse_pid
from ..numbers import parse_int
from ..perf import statfmt
from ..perf.aggregate import aggregate, mean_groups, std_error
from ..perf.stat import Counts, StatResult, default_events, stat
from ..transport.topology import parse_cpu_list
from .commands import COMMANDS
from .values import target_argv

__all__ = ["register", "run"]

MAX_RUNS = 100_000
_AGGR_OPTIONS = {"cpu": "-A", "core": "--per-core", "socket": "--per-socket"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("stat", help=COMMANDS["stat"])
    p.add_argument("-e", "--event", action="append", dest="events", metavar="EVENTS",
                   help="comma-separated events; {a,b} is a group, {a,b}:u one with modifiers, "
                        "SYS:NAME* every matching tracepoint (default: perf's set)")  # fmt: skip
    p.add_argument("-p", "--pid", help="count an existing process")
    p.add_argument("-t", "--tid", metavar="TIDS", help="count these threads (comma-separated)")
    p.add_argument("-a", "--all-cpus", action="store_true", help="count every CPU, system wide")
    p.add_argument("-C", "--cpu", metavar="CPUS", help="count only these CPUs (0-3,5), system wide")
    p.add_argument("-G", "--cgroup", help="count only tasks of this cgroup (needs -a or -C)")
    aggr = p.add_mutually_exclusive_group()
    aggr.add_argument("-A", "--no-aggr", "--per-cpu", dest="aggr", action="store_const", const="cpu",
                      help="a count per CPU (needs -a or -C)")  # fmt: skip
    aggr.add_argument("--per-core", dest="aggr", action="store_const", const="core",
                      help="a count per core (needs -a or -C)")  # fmt: skip
    aggr.add_argument("--per-socket", dest="aggr", action="store_const", const="socket",
                      help="a count per socket (needs -a or -C)")  # fmt: skip
    p.add_argument("-d", "--detailed", action="count", default=0,
                   help="add cache events to the defaults (-dd, -ddd: more)")  # fmt: skip
    p.add_argument("-r", "--repeat", metavar="N", help="run N times; print means and their noise")
    p.add_argument("--no-big-num", dest="big_num", action="store_false",
                   help="no digit grouping in counts (the default groups by locale, as perf)")  # fmt: skip
    p.add_argument("-I", "--interval-print", metavar="MS", help="print deltas every MS ms")
    p.add_argument("-x", "--field-separator", metavar="SEP", help="CSV output with this separator")
    p.add_argument("-j", "--json", action="store_true", help="one JSON object per counter (perf stat -j)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stderr")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARGS: run and count a command")
    p.set_defaults(func=run, aggr="global")


@dataclass(frozen=True)
class _Plan:
    """The checked options."""

    argv: list[str]
    pid: int | None
    tids: list[int] | None
    cpus: list[int] | None
    runs: int
    interval_ms: int | None


def _system_wide(args: argparse.Namespace) -> bool:
    return bool(args.all_cpus or args.cpu is not None)


def _check(args: argparse.Namespace) -> _Plan:
    cpus = parse_cpu_list(args.cpu) if args.cpu is not None else None
    targets = [o for o, v in (("-p", args.pid), ("-t", args.tid), ("-a", args.all_cpus or None),
                              ("-C", args.cpu)) if v is not None]  # fmt: skip
    if len(targets) > 1 and targets != ["-a", "-C"]:
        raise BadInput(f"{' and '.join(targets)} are exclusive")
    argv = target_argv(_as_target(args), "count")
    if (args.aggr != "global" or args.cgroup is not None) and not _system_wide(args):
        opt = _AGGR_OPTIONS.get(args.aggr, "-G")
        raise BadInput(f"{opt} needs system-wide counting: add -a (or -C CPUS), as with perf")
    interval = parse_int(args.interval_print, "-I interval", 10) if args.interval_print is not None else None
    runs = parse_int(args.repeat, "-r count", 1, MAX_RUNS) if args.repeat is not None else 1
    if runs > 1 and interval is not None:
        raise BadInput("-r and -I are exclusive")
    if args.field_separator is not None and args.json:
        raise BadInput("-x and --json are exclusive")
    if args.field_separator == "":
        raise BadInput("-x: the separator is empty")
    tids = [parse_pid(t) for t in args.tid.split(",")] if args.tid is not None else None
    pid = parse_pid(args.pid) if args.pid is not None else None
    return _Plan(argv, pid, tids, cpus, runs, interval)


def _as_target(args: argparse.Namespace) -> argparse.Namespace:
    """The -p/-a/-- triple that target_argv checks (-t and -C count as -p and -a)."""
    pid = args.pid if args.pid is not None else args.tid
    return argparse.Namespace(cmd=args.cmd, pid=pid, all_cpus=_system_wide(args))


class _Output:
    """Where the counts go: stderr, or -o FILE opened before anything runs
    (so a bad path fails at once). Write errors (a full disk, /dev/full)
    are one runtime error, never a traceback."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        try:
            self.file: TextIO = open(path, "w") if path else sys.stderr  # noqa: SIM115 (closed in close())
        except OSError as e:
            raise RingscopeError(f"cannot write {path}: {e.strerror}") from None

    def write(self, text: str) -> None:
        try:
            print(text, file=self.file, flush=True)
        except OSError as e:
            raise RingscopeError(f"cannot write {self.path or 'stderr'}: {e.strerror}") from None

    def close(self) -> None:
        if self.file is sys.stderr:
            return
        try:
            self.file.close()
        except OSError as e:
            raise RingscopeError(f"cannot write {self.path}: {e.strerror}") from None


def _thousands(args: argparse.Namespace) -> str:
    """perf's big-num: the locale's digit-group separator, for text output only."""
    if not args.big_num or args.json or args.field_separator is not None:
        return ""
    old = locale.setlocale(locale.LC_NUMERIC)
    try:
        locale.setlocale(locale.LC_NUMERIC, "")
        return str(locale.localeconv()["thousands_sep"])
    except locale.Error:
        return ""
    finally:
        locale.setlocale(locale.LC_NUMERIC, old)


def _render(args: argparse.Namespace, rows: list[statfmt.Row], footer: statfmt.Footer | None,
            ts: float | None) -> str:  # fmt: skip
    if args.json:
        return statfmt.format_json(rows, ts)
    if args.field_separator is not None:
        return statfmt.format_csv(rows, args.field_separator, ts)
    return statfmt.format_text(rows, footer, ts, _thousands(args))


def _summary(args: argparse.Namespace, runs: list[StatResult]) -> str:
    walls = [r.wall_ns for r in runs]
    groups = mean_groups([aggregate(r.readings, r.per_cpu, args.aggr) for r in runs])
    last = runs[-1]
    once = len(runs) == 1
    footer = statfmt.Footer(
        last.label, sum(walls) / len(walls), len(runs), std_error(walls),
        last.user_s if once else None, last.sys_s if once else None,
    )  # fmt: skip
    if once:
        groups = [replace(g, noise=None) for g in groups]  # one run: no noise column
    return _render(args, statfmt.group_rows(groups, footer.wall_ns, args.cgroup or ""), footer, None)


def run(args: argparse.Namespace) -> int:
    plan = _check(args)
    events = args.events or default_events(args.detailed)
    out = _Output(args.output)
    try:
        if plan.interval_ms and not (args.json or args.field_separator is not None):
            out.write("#           time             counts unit events")

        def interval(counts: Counts, span_ns: int, ts: float) -> None:
            groups = aggregate(counts.readings, counts.per_cpu, args.aggr)
            out.write(_render(args, statfmt.group_rows(groups, span_ns, args.cgroup or ""), None, ts))

        runs: list[StatResult] = []
        for _ in range(plan.runs):
            res = stat(
                events, pid=plan.pid, tids=plan.tids, system_wide=args.all_cpus, cpus=plan.cpus,
                cgroup=args.cgroup, argv=plan.argv or None, interval_ms=plan.interval_ms, on_interval=interval,
            )  # fmt: skip
            runs.append(res)
            if res.interrupted:
                break  # Ctrl-C: no more runs, as perf
        if not plan.interval_ms:
            out.write(_summary(args, runs))
    finally:
        out.close()
    # The one exit-status rule (ringscope.command.exit_status), for the last run.
    return runs[-1].exit_status
