"""Numbers people type are read as ASCII decimal only, everywhere."""

from __future__ import annotations

import math

import pytest

from ringscope.errors import BadInput
from ringscope.filters import parse_pid
from ringscope.numbers import parse_float, parse_int, parse_seconds
from ringscope.server.params import BadParam, parse_filter

FULLWIDTH_1 = "\uff11"
ARABIC_12 = "\u0661\u0662"
NOT_INTS = [FULLWIDTH_1, ARABIC_12, "1_0", " 5", "5 ", "0x10", "1.0", "", "+", "\u00b2", "abc", "\udcff"]


@pytest.mark.parametrize("text", NOT_INTS)
def test_only_ascii_decimal_integers(text: str) -> None:
    with pytest.raises(BadInput, match="not a number"):
        parse_int(text, "count")


def test_integers_and_ranges() -> None:
    assert parse_int("42", "n") == 42 and parse_int("-3", "n") == -3 and parse_int("+7", "n") == 7
    with pytest.raises(BadInput, match="must be positive"):
        parse_int("0", "n", 1)
    with pytest.raises(BadInput, match="at most 9"):
        parse_int("10", "n", 0, 9)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e999", FULLWIDTH_1, "1_0", "", " 1"])
def test_floats_are_finite_ascii(text: str) -> None:
    with pytest.raises(BadInput):
        parse_float(text, "duration")


@pytest.mark.parametrize("text", ["0", "-0", "-1", "0.0", "nan", "inf"])
def test_seconds_are_positive_and_finite(text: str) -> None:
    with pytest.raises(BadInput, match="bad duration"):
        parse_seconds(text)


def test_seconds() -> None:
    assert parse_seconds("0.25") == 0.25 and parse_seconds("1e-3") == 0.001 and parse_seconds(".5") == 0.5
    assert not math.isnan(parse_seconds("2"))
    with pytest.raises(BadInput, match="at most 60"):
        parse_seconds("61", hi=60)


@pytest.mark.parametrize("text", [FULLWIDTH_1, ARABIC_12])
def test_pid_in_the_cli_and_over_http(text: str) -> None:
    assert int(text) in (1, 12)  # what Python alone would have made of it
    with pytest.raises(BadInput, match="bad pid"):
        parse_pid(text)
    with pytest.raises(BadParam, match="'pid'"):
        parse_filter({"pid": text}, ["exec"])
