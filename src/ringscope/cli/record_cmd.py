"""`ringscope record`: sample stacks into a profile file, like `perf record`."""

from __future__ import annotations

import argparse
import sys

from .. import caps
from ..errors import RingscopeError, require_caps
from ..outfile import check_writable
from ..perf.callgraph import FP, NONE, parse_callgraph
from ..perf.record import DEFAULT_FREQ, record
from .commands import COMMANDS, DEFAULT_PROFILE
from .values import count, seconds, target_argv

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("record", help=COMMANDS["record"])
    rate = p.add_mutually_exclusive_group()
    rate.add_argument(
        "-F",
        "--freq",
        type=count("frequency"),
        metavar="HZ",
        help=f"samples per second (default {DEFAULT_FREQ}, as top)",
    )
    rate.add_argument(
        "-c", "--count", type=count("period"), metavar="PERIOD", help="sample every PERIOD events"
    )
    p.add_argument("-e", "--event", help="event to sample on (default: cycles, or cpu-clock without a PMU)")
    p.add_argument("-g", dest="g", action="store_true", help="record call chains (--call-graph fp)")
    p.add_argument("--call-graph", metavar="fp|dwarf[,SIZE]",
                   help="how user stacks are taken: frame pointers, or registers + SIZE bytes of user "
                        "stack (default 8192) unwound with DWARF CFI")  # fmt: skip
    p.add_argument(
        "--aggregate",
        action="store_true",
        help="count stacks in the kernel (BPF), the low-overhead mode: no per-sample records",
    )
    p.add_argument("-p", "--pid", type=count("pid"), help="profile an existing process")
    p.add_argument("-a", "--all-cpus", action="store_true", help="profile every CPU")
    p.add_argument(
        "-o", "--output", default=DEFAULT_PROFILE, metavar="FILE", help=f"default {DEFAULT_PROFILE}"
    )
    p.add_argument("--duration", type=seconds(), metavar="S", help="stop after S seconds")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARGS: run and profile a command")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    argv = target_argv(args, "profile")
    # Before recording, so neither costs a run; privileges first, as they
    # would be without the check (a user who may not record learns that).
    if args.aggregate:
        require_caps("record --aggregate", *caps.TRACING)
    else:
        require_caps("record", caps.CAP_PERFMON)
    try:
        check_writable(args.output)
    except OSError as e:
        raise RingscopeError(f"cannot write {args.output}: {e.strerror}") from None
    cg = parse_callgraph(args.call_graph) if args.call_graph else (FP if args.g else NONE)
    profile, code = record(
        args.event, pid=args.pid, system_wide=args.all_cpus, argv=argv or None,
        freq=args.freq if args.freq is not None else (None if args.count else DEFAULT_FREQ),
        period=args.count, callgraph=cg, duration=args.duration, aggregate=args.aggregate,
    )  # fmt: skip
    try:
        profile.save(args.output)
    except OSError as e:
        raise RingscopeError(f"cannot write {args.output}: {e.strerror}") from None
    st = profile.stats
    lost = st.get("lost", 0) + st.get("lost_key", 0)
    print(f"[ ringscope record: {profile.total} samples ({lost} lost) of {profile.meta['event']}, "
          f"{len(profile.stacks)} stacks, written to {args.output} ]", file=sys.stderr)  # fmt: skip
    return code  # the one exit-status rule (ringscope.command.exit_status)
