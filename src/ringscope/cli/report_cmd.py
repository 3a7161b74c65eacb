"""`ringscope report`: read a profile and print it, like `perf report`."""

from __future__ import annotations

import argparse
import sys

from ..errors import BadInput
from ..perf import report
from ..perf.profile import Profile
from ..perf.report import SORT_KEYS
from .commands import COMMANDS, DEFAULT_PROFILE
from .output import write_output
from .values import count

__all__ = ["register", "run"]

FORMATS = ("text", "folded", "speedscope", "svg", "pprof")


def _percent(text: str) -> float:
    try:
        v = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage") from None
    if not 0 <= v <= 100:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 100")
    return v


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help=COMMANDS["report"])
    p.add_argument(
        "-i", "--input", default=DEFAULT_PROFILE, metavar="FILE", help=f"default {DEFAULT_PROFILE}"
    )
    p.add_argument("-s", "--sort", default="comm,dso,sym", help=f"comma list of {', '.join(SORT_KEYS)}")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="pprof: gzipped profile.proto for go tool pprof")  # fmt: skip
    p.add_argument("-g", "--call-graph", action="store_true", help="text: show the call chains of each entry")
    p.add_argument("--children", action="store_true",
                   help="text: inclusive overhead (the entry or anything it calls), then self")  # fmt: skip
    p.add_argument("--percent-limit", type=_percent, default=0.0, metavar="PCT",
                   help="text: hide entries under PCT percent")  # fmt: skip
    p.add_argument("-n", "--limit", type=count("limit"), metavar="N", help="text: only the N hottest entries")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    # perf users type it out of habit; there is no TUI to opt out of.
    p.add_argument(
        "--stdio", action="store_true", help="accepted for perf compatibility: output is always text"
    )
    p.set_defaults(func=run)


def render(profile: Profile, args: argparse.Namespace) -> str | bytes:
    if args.format == "folded":
        return report.folded(profile)
    if args.format == "speedscope":
        return report.speedscope(profile) + "\n"
    if args.format == "svg":
        from ..perf.flamegraph import svg

        return svg(report.resolve(profile), title=f"{profile.meta.get('event')} {profile.meta.get('target')}")
    if args.format == "pprof":
        from ..perf.pprof import pprof

        return pprof(profile)
    return report.text(profile, args.sort, callgraph=args.call_graph, limit=args.limit or 0,
                       children=args.children, percent_limit=args.percent_limit)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    report.parse_sort(args.sort)  # bad keys fail before reading the file
    out = render(Profile.load(args.input), args)
    if args.format == "pprof" and not args.output and sys.stdout.isatty():
        raise BadInput("--format pprof writes binary data: give -o FILE or redirect stdout")
    write_output(out, args.output)
    return 0
