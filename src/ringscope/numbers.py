"""Numbers typed by people (command-line values, query parameters), read one
way everywhere: ASCII decimal digits only.

Python's int() and float() accept far more than a person means: digits of
any script (a fullwidth 1 is pid 1, Arabic-Indic digits are pid 12),
underscores (`int("1_0") == 10`), surrounding whitespace, and for float()
`nan` and `inf`. A pid typed with a fullwidth digit must not silently name
pid 1, and a duration of `nan` must not mean "forever", so every value a
user gives goes through here instead.
"""

from __future__ import annotations

import math
import re

from .errors import BadInput

__all__ = ["parse_float", "parse_int", "parse_seconds"]

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_int(text: str | int, what: str, lo: int | None = None, hi: int | None = None) -> int:
    """`text` as a decimal integer in [lo, hi]. BadInput names `what`."""
    if isinstance(text, bool) or not isinstance(text, int | str):
        raise BadInput(f"bad {what} {text!r}: not a number")
    if isinstance(text, str):
        if not _INT.fullmatch(text):
            raise BadInput(f"bad {what} {text!r}: not a number (ASCII digits only)")
        value = int(text)
    else:
        value = text
    if lo is not None and value < lo:
        raise BadInput(f"bad {what} {text!r}: must be {'positive' if lo == 1 else f'at least {lo}'}")
    if hi is not None and value > hi:
        raise BadInput(f"bad {what} {text!r}: must be at most {hi}")
    return value


def parse_float(text: str | float, what: str) -> float:
    """`text` as a finite decimal number (no nan, inf or Unicode digits)."""
    if isinstance(text, str):
        if not _FLOAT.fullmatch(text):
            raise BadInput(f"bad {what} {text!r}: not a finite decimal number (ASCII digits only)")
        value = float(text)
    else:
        value = float(text)
    if not math.isfinite(value):
        raise BadInput(f"bad {what} {text!r}: not a finite number")
    return value


def parse_seconds(text: str | float, what: str = "duration", hi: float | None = None) -> float:
    """A strictly positive, finite number of seconds (`-0` and `0` are refused)."""
    value = parse_float(text, what)
    if value <= 0:
        raise BadInput(f"bad {what} {text!r}: must be more than 0 seconds")
    if hi is not None and value > hi:
        raise BadInput(f"bad {what} {text!r}: at most {hi:g} seconds")
    return value
