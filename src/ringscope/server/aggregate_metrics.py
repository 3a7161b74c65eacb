"""The aggregates in /metrics (Prometheus text format 0.0.4), read from
their BPF maps at scrape time.

A count is a counter per label set. A latency or a value is a histogram:
the kernel's log2 slots become cumulative `le` buckets, in seconds or bytes,
with `_sum` and `_count` exact. Slot j holds the integers in [2^j, 2^(j+1)),
so its bucket's `le` is the largest of them, 2^(j+1) - 1 (ns or bytes):
exact, where `le = 2^(j+1)` would count a 4096-byte read in the bucket
`le="8192"` only. Every series of a family has the same buckets, so they
can be summed by `le`; slots below the first bucket are in it (cumulative),
slots above the last only in `+Inf`.

Written here rather than through prometheus_client: its metric families
build an object per sample and format each one alone (5.9 s for 10
aggregates of 1,000 label sets with 33 buckets each); a template per
aggregate and one str.format() per series writes the same text 7x faster
(`make bench`, section aggregate). The text is format 0.0.4, appended to
the hub's metrics by the /metrics handler."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np

from ..sources.hist import HistData
from ..sources.hist_snapshot import OTHER
from .aggregate_names import MetricName
from .aggregates import Aggregate, AggregateSet

__all__ = ["BUCKETS", "exposition", "render_aggregates"]

# First and last exported slot per unit: 1 us .. 68.7 s; 1 byte .. 4 GiB.
BUCKETS = {"nsecs": (9, 35), "bytes": (0, 31), "": (0, 31)}
# Divisors to base units. A division, not a product with 1e-9: it is
# correctly rounded, so 1048575 ns prints as 0.001048575, not ...0000002.
_DIVISOR = {"nsecs": 1e9, "bytes": 1, "": 1}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _les(unit: str) -> list[str]:
    lo, hi = BUCKETS[unit]
    div = _DIVISOR[unit]
    return [
        repr(((1 << (j + 1)) - 1) / div) if div != 1 else str((1 << (j + 1)) - 1) for j in range(lo, hi + 1)
    ]


def _fixed(metric: MetricName) -> str:
    return ",".join(f'{k}="{_escape(v)}"' for k, v in metric.fixed)


def _braces(text: str) -> str:
    """Static text for a str.format() template."""
    return text.replace("{", "{{").replace("}", "}}")


def _template(metric: MetricName, unit: str) -> str:
    """One histogram series as a str.format() template: {0} is the label of
    `by` with a comma after it, {1} without, then {2}... the cumulative
    buckets, the sum and the count. One format() call per series: the fixed
    labels are in the template already (label values are arguments, never
    parsed as a template)."""
    fam, fixed = _braces(metric.family), _braces(_fixed(metric))
    dyn = metric.label is not None
    pre = fixed + "," if fixed else ""
    bucket_labels = pre + ("{0}" if dyn else "")
    plain = "{{" + pre + "{1}}}" if dyn else ("{{" + fixed + "}}" if fixed else "")
    les = [*_les(unit), "+Inf"]
    lines = [f'{fam}_bucket{{{{{bucket_labels}le="{le}"}}}} {{{i + 2}}}\n' for i, le in enumerate(les)]
    n = len(les) + 2
    lines.append(f"{fam}_sum{plain} {{{n}}}\n{fam}_count{plain} {{{n + 1}}}\n")
    return "".join(lines)


def _rows(agg: Aggregate, d: HistData) -> tuple[list[int | str | None], np.ndarray, np.ndarray, np.ndarray]:
    """Labels, counts, sums and slots per series, `other` last (when the
    aggregate has a label). A real label equal to "other" (a comm) is
    summed into it, so that no two series share labels."""
    labels = agg.hist.labels(d.keys)
    counts, sums, slots = d.count, d.sum, d.slots
    if agg.metric.label is None:
        if not labels:  # no event yet: a zero series rather than none
            return (
                [None],
                np.zeros(1, np.uint64),
                np.zeros(1, np.uint64),
                np.zeros((1, slots.shape[1]), np.uint64),
            )
        return labels, counts, sums, slots
    clash = np.array([lab == OTHER for lab in labels], dtype=bool)
    keep = ~clash
    other_slots = d.other["slots"] + slots[clash].sum(axis=0, dtype=np.uint64)
    rows_labels = [lab for lab, k in zip(labels, keep, strict=True) if k] + [OTHER]
    counts = np.append(counts[keep], np.uint64(int(d.other["count"]) + int(counts[clash].sum())))
    sums = np.append(sums[keep], np.uint64(int(d.other["sum"]) + int(sums[clash].sum())))
    return rows_labels, counts, sums, np.vstack([slots[keep], other_slots[None, :]])


def _series(agg: Aggregate, d: HistData) -> Iterator[str]:
    """Every sample line of one aggregate."""
    metric, unit = agg.metric, agg.hist.plan.unit
    labels, counts, sums, slots = _rows(agg, d)
    name = metric.label
    dyn = [f'{name}="{_escape(str(lab))}"' for lab in labels] if name is not None else [""] * len(labels)
    if metric.type == "counter":
        fixed = _fixed(metric)
        sep = "," if fixed and name is not None else ""
        for text, n in zip(dyn, counts.tolist(), strict=True):
            inner = fixed + sep + text
            yield f"{metric.family}{{{inner}}} {n}\n" if inner else f"{metric.family} {n}\n"
        return
    lo, hi = BUCKETS[unit]
    cum = np.cumsum(slots, axis=1, dtype=np.uint64)
    total = cum[:, -1] if len(cum) else np.zeros(0, np.uint64)
    picked = np.hstack([cum[:, lo : hi + 1], total[:, None]]).tolist()
    template = _template(metric, unit).format
    div = _DIVISOR[unit]
    for text, buckets, s, n in zip(dyn, picked, sums.tolist(), total.tolist(), strict=True):
        yield template(text + ",", text, *buckets, repr(s / div) if div != 1 else s, n)


def _families(aggs: list[Aggregate], data: dict[str, HistData]) -> Iterator[str]:
    seen: dict[str, list[Aggregate]] = {}
    for a in aggs:
        seen.setdefault(a.metric.family, []).append(a)
    for family, members in seen.items():
        first = members[0].metric
        yield f"# HELP {family} {_help(first.help)}\n# TYPE {family} {first.type}\n"
        for a in members:
            yield from _series(a, data[a.id])


_BOOKKEEPING = (
    ("ringscope_aggregate_overflow_total", "counter",
     'Events whose label set did not fit under the aggregate\'s max_labels, counted under the label "other"'),
    ("ringscope_aggregate_missed_total", "counter",
     "Entries not timed because the aggregate's per-thread start map was full"),
    ("ringscope_aggregate_label_sets", "gauge", "Label sets the aggregate keeps in the kernel"),
    ("ringscope_aggregate_max_label_sets", "gauge", "The aggregate's max_labels"),
)  # fmt: skip


def _bookkeeping(aggs: list[Aggregate], data: dict[str, HistData]) -> Iterator[str]:
    for (name, kind, help_text), values in zip(_BOOKKEEPING, (
        [data[a.id].overflow for a in aggs], [data[a.id].missed for a in aggs],
        [len(data[a.id].keys) for a in aggs], [a.hist.max_labels for a in aggs],
    ), strict=True):  # fmt: skip
        yield f"# HELP {name} {_help(help_text)}\n# TYPE {name} {kind}\n"
        for a, v in zip(aggs, values, strict=True):
            yield f'{name}{{aggregate="{_escape(a.id)}"}} {v}\n'


def render_aggregates(aggregates: AggregateSet) -> bytes:
    """The text of every aggregate. Blocking (reads the maps): the caller
    holds the set's lock so that none closes meanwhile."""
    aggs = list(aggregates)
    if not aggs:
        return b""
    data = {a.id: a.hist.read() for a in aggs}
    return "".join([*_families(aggs, data), *_bookkeeping(aggs, data)]).encode()


async def exposition(aggregates: AggregateSet | None) -> bytes:
    """render_aggregates() in a worker thread, under the set's lock."""
    if aggregates is None or not len(aggregates):
        return b""
    async with aggregates.lock:
        return await asyncio.to_thread(render_aggregates, aggregates)
