"""argparse types for numbers on the command line, so every subcommand
reads them one way (ringscope.numbers: ASCII digits only, finite, in
range) and a bad one is a usage error naming the option; and the
perf-style target (-p PID | -a | -- CMD), checked."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

from ..errors import BadInput
from ..numbers import parse_float, parse_int, parse_seconds

__all__ = ["count", "integer", "number", "seconds", "target_argv"]


T = TypeVar("T")


def _typed(parse: Callable[[str], T], name: str) -> Callable[[str], T]:
    def convert(text: str) -> T:
        try:
            return parse(text)
        except BadInput as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    convert.__name__ = name  # argparse names the type in some messages
    return convert


def integer(what: str, lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """A decimal integer in [lo, hi]."""
    return _typed(lambda t: parse_int(t, what, lo, hi), what)


def count(what: str) -> Callable[[str], int]:
    """A count of at least 1."""
    return integer(what, 1)


def seconds(what: str = "duration", hi: float | None = None) -> Callable[[str], float]:
    """A finite number of seconds above 0 (not nan, inf, 0 or -0)."""
    return _typed(lambda t: parse_seconds(t, what, hi), what)


def number(what: str) -> Callable[[str], float]:
    """A finite decimal number (the caller checks its range)."""
    return _typed(lambda t: parse_float(t, what), what)


def target_argv(args: argparse.Namespace, verb: str) -> list[str]:
    """The command after `--` of a perf-style target (-p PID | -a | -- CMD),
    checked: -p and -a exclude each other, and one of the three is given."""
    argv = list(args.cmd)
    if argv and argv[0] == "--":
        argv = argv[1:]
        if not argv:
            raise BadInput("no command given after --")
    if args.pid is not None and args.all_cpus:
        raise BadInput("-p and -a are exclusive")
    if args.pid is None and not args.all_cpus and not argv:
        raise BadInput(f"nothing to {verb}: give -p PID, -a or -- CMD")
    return argv
