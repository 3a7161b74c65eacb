"""Subscription query parameters: parsed and checked before a stream starts,
so a bad value is a 400 naming the parameter, never a broken stream."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from ..errors import BadInput
from ..hub import POLICIES, ClientFilter, Policy
from ..numbers import parse_int

__all__ = ["BadParam", "Subscription", "parse_filter", "parse_subscription", "single_valued"]

MAX_BATCH = 10000
_FILTER_KEYS = ("types", "pid", "tid", "uid", "comm")
_KEYS = (*_FILTER_KEYS, "limit", "policy", "batch")


class BadParam(BadInput):
    """A query parameter (or subscription field) with a bad value."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"bad parameter {param!r}: {message}")
        self.param = param


@dataclass(frozen=True)
class Subscription:
    filter: ClientFilter
    limit: int | None = None
    policy: Policy = "drop-oldest"
    batch: int = 1


def _int(name: str, text: str, lo: int, hi: int) -> int:
    try:
        value = parse_int(text, name)
    except BadInput:  # not ASCII decimal: `pid=١٢` is not pid 12
        raise BadParam(name, f"{text!r} is not an integer") from None
    if not lo <= value <= hi:
        raise BadParam(name, f"{value} is out of range [{lo}, {hi}]")
    return value


def _types(text: str, known: Collection[str]) -> frozenset[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise BadParam("types", "empty list")
    unknown = [t for t in names if t not in known]
    if unknown:
        raise BadParam("types", f"unknown or not traced: {', '.join(unknown)} (traced: {', '.join(known)})")
    return frozenset(names)


def _comm(text: str) -> str:
    if not text or len(text.encode()) > 15:
        raise BadParam("comm", "must be 1 to 15 bytes (the kernel truncates comm to 15)")
    return text


def parse_filter(q: Mapping[str, str], known_types: Collection[str]) -> ClientFilter:
    """The filter part of a query (also used by WebSocket subscription messages)."""
    return ClientFilter(
        types=_types(q["types"], known_types) if "types" in q else None,
        pid=_int("pid", q["pid"], 1, 0x3FFFFFFF) if "pid" in q else None,
        tid=_int("tid", q["tid"], 1, 0x3FFFFFFF) if "tid" in q else None,
        uid=_int("uid", q["uid"], 0, 0xFFFFFFFE) if "uid" in q else None,
        comm=_comm(q["comm"]) if "comm" in q else None,
    )


def single_valued(q: Mapping[str, str]) -> None:
    """Refuse a key given more than once: a query's mapping would silently
    keep its first value (`types=open&types=exec` meaning only open)."""
    seen: set[str] = set()
    for key, _ in q.items():  # a MultiDict's items() has a pair per value (its keys() not)
        if key in seen:
            raise BadParam(key, "given more than once")
        seen.add(key)


def parse_subscription(
    q: Mapping[str, str], known_types: Collection[str], *, max_limit: int = 1 << 62
) -> Subscription:
    """A whole stream request. Unknown parameters are refused too: a typo
    (`pids=`) silently meaning "everything" is worse than a 400."""
    single_valued(q)
    for key in q:
        if key not in _KEYS:
            raise BadParam(key, f"unknown parameter (known: {', '.join(_KEYS)})")
    policy = q.get("policy", "drop-oldest")
    if policy not in POLICIES:
        raise BadParam("policy", f"{policy!r} is not one of {', '.join(POLICIES)}")
    return Subscription(
        filter=parse_filter(q, known_types),
        limit=_int("limit", q["limit"], 1, max_limit) if "limit" in q else None,
        policy=policy,  # narrowed to Policy by the check above
        batch=_int("batch", q["batch"], 1, MAX_BATCH) if "batch" in q else 1,
    )
