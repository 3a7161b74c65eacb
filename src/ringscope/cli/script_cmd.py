"""`ringscope script`: every sample of a profile as text, like `perf script`."""

from __future__ import annotations

import argparse

from ..perf.profile import Profile
from ..perf.script import script_lines
from .commands import COMMANDS, DEFAULT_PROFILE
from .output import write_output

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("script", help=COMMANDS["script"])
    p.add_argument(
        "-i", "--input", default=DEFAULT_PROFILE, metavar="FILE", help=f"default {DEFAULT_PROFILE}"
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    write_output("".join(script_lines(Profile.load(args.input))), args.output)
    return 0
