"""argparse types for numbers on the command line, so every subcommand
reads them one way (ringscope.numbers: ASCII digits only, finite, in
range) and a bad one is a usage error naming the option."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

from ..errors import BadInput
from ..numbers import parse_int, parse_seconds

__all__ = ["count", "integer", "seconds"]


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
