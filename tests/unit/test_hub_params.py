"""Query parameters: every bad value is refused with the parameter's name."""

from __future__ import annotations

import pytest

from ringscope.hub import ClientFilter
from ringscope.server.params import BadParam, parse_subscription

KNOWN = ("open", "exec")


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"types": "open,bogus"}, "types"),
        ({"types": ""}, "types"),
        ({"pid": "abc"}, "pid"),
        ({"pid": "0"}, "pid"),
        ({"tid": "-1"}, "tid"),
        ({"uid": "x"}, "uid"),
        ({"comm": "a" * 16}, "comm"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1e3"}, "limit"),
        ({"policy": "drop-all"}, "policy"),
        ({"batch": "0"}, "batch"),
        ({"batch": "100000"}, "batch"),
        ({"pids": "1"}, "pids"),
    ],
)
def test_bad_values_name_the_parameter(query: dict[str, str], param: str) -> None:
    with pytest.raises(BadParam) as e:
        parse_subscription(query, KNOWN)
    assert e.value.param == param
    assert param in str(e.value)


def test_good_query() -> None:
    q = {
        "types": "open,exec",
        "pid": "12",
        "comm": "bash",
        "limit": "5",
        "policy": "drop-newest",
        "batch": "3",
    }
    sub = parse_subscription(q, KNOWN)
    assert sub.filter == ClientFilter(types=frozenset({"open", "exec"}), pid=12, comm="bash")
    assert (sub.limit, sub.policy, sub.batch) == (5, "drop-newest", 3)
