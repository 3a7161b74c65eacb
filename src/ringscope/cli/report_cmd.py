"""`ringscope report`: read a profile and print it, like `perf report`."""

from __future__ import annotations

import argparse
import sys

from ..errors import BadInput
from ..perf import report
from ..perf.profile import Profile
from .record_cmd import DEFAULT_FILE

__all__ = ["register", "run"]

FORMATS = ("text", "folded", "speedscope", "svg")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="show a profile (like perf report)")
    p.add_argument("-i", "--input", default=DEFAULT_FILE, metavar="FILE", help=f"default {DEFAULT_FILE}")
    p.add_argument("-s", "--sort", default="comm,dso,sym", help="comma list of comm, dso, sym")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("-g", "--call-graph", action="store_true", help="text: show the call chains of each entry")
    p.add_argument("-n", "--limit", type=int, default=0, metavar="N", help="text: only the N hottest entries")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=run)


def render(profile: Profile, args: argparse.Namespace) -> str:
    if args.format == "folded":
        return report.folded(profile)
    if args.format == "speedscope":
        return report.speedscope(profile) + "\n"
    if args.format == "svg":
        from ..perf.flamegraph import svg

        return svg(report.resolve(profile), title=f"{profile.meta.get('event')} {profile.meta.get('target')}")
    return report.text(profile, args.sort, callgraph=args.call_graph, limit=args.limit)


def run(args: argparse.Namespace) -> int:
    report.parse_sort(args.sort)  # bad keys fail before reading the file
    out = render(Profile.load(args.input), args)
    if args.output:
        try:
            with open(args.output, "w") as f:
                f.write(out)
        except OSError as e:
            raise BadInput(f"cannot write {args.output}: {e.strerror}") from None
    else:
        sys.stdout.write(out)
    return 0
