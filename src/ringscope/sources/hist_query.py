"""What an in-kernel aggregate is asked to do, parsed without the kernel:
the one parser behind `hist -e`, `GET /api/hist`, `serve --aggregate`,
`--config` and `POST /api/aggregates`.

    runqlat?by=comm
    syscalls:sys_enter_read?latency=1
    syscalls:sys_exit_read?value=ret&unit=bytes&max_labels=100
    uprobe:libc:malloc?value=arg0

Parameters: `by` (comm, pid, tid, a tracepoint field, argN), `latency`
(1/0), `value` (a field, argN or ret: a log2 histogram of it), `unit`
(bytes or none, for `value`), `pid`, `max_labels` (label sets kept in the
kernel; the rest are folded into `other`), `name` (the metric's name under
`serve`). Whether a parameter fits the event is decided later, by the plan
(hist_plan.py), which needs the event resolved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from .. import tracefs
from ..errors import BadInput
from ..filters import parse_pid
from ..numbers import parse_int

__all__ = [
    "DEFAULT_MAX_LABELS",
    "MAX_LABELS",
    "PARAMS",
    "HistQuery",
    "parse_query",
    "parse_spec",
    "parse_table",
    "spec_params",
]

DEFAULT_MAX_LABELS = 10240  # hist and /api/hist; serve keeps fewer per aggregate
MAX_LABELS = 65536  # one rs_hist_val is 528 bytes: 35 MB of kernel memory at most
PARAMS = frozenset({"event", "by", "latency", "value", "unit", "pid", "max_labels", "name"})
UNITS = ("bytes", "none")
_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_BOOL = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


@dataclass(frozen=True)
class HistQuery:
    """One aggregate as asked for. Immutable; equal queries are the same aggregate."""

    event: str
    by: str | None = None
    latency: bool = False
    value: str | None = None  # tracepoint field, argN or ret: log2 histogram of its value
    unit: str = "bytes"  # of `value`: "bytes" or "none"
    pid: int | None = None
    max_labels: int | None = None  # label sets kept in the kernel; None: the consumer's default
    name: str | None = None  # metric name under serve (ringscope_NAME_...)

    @property
    def spec(self) -> str:
        """The canonical text form, `EVENT?k=v&...` with only non-default
        parameters, in a fixed order: the aggregate's id."""
        params = [(k, v) for k, v in self._params() if v != _DEFAULTS.get(k)]
        return self.event + ("?" + urlencode(params, safe=":/,") if params else "")

    def _params(self) -> list[tuple[str, str]]:
        pairs = [("by", self.by), ("latency", "1" if self.latency else "0"), ("value", self.value),
                 ("unit", self.unit), ("pid", None if self.pid is None else str(self.pid)),
                 ("max_labels", None if self.max_labels is None else str(self.max_labels)),
                 ("name", self.name)]  # fmt: skip
        return [(k, v) for k, v in pairs if v is not None]


_DEFAULTS = {"latency": "0", "unit": "bytes"}


def _bool(name: str, text: str) -> bool:
    value = _BOOL.get(text.strip().lower())
    if value is None:
        raise BadInput(f"bad {name} {text!r}: use 1 or 0")
    return value


def _max_labels(text: str) -> int:
    return parse_int(text, "max_labels", 1, MAX_LABELS)


RUNQLAT = ("runqlat", "runq", "sched:runqlat")
FORMS = (
    "tracepoint:SYS:NAME (or SYS:NAME; wildcards if they match one), uprobe:BIN:FUNC, "
    "uretprobe:BIN:FUNC (latency), usdt:BIN:PROVIDER:NAME, runqlat"
)


def _event(text: str) -> str:
    """The one event an aggregate is of, in a form it takes (a stream event
    such as `exec` is a `trace`/`serve` event, not an aggregation point);
    a tracepoint glob must match exactly one."""
    event = text.strip()
    if event in RUNQLAT:
        return event
    if ":" not in event:
        raise BadInput(
            f"aggregate {event!r}: it takes {FORMS}; stream events like {event!r} are for trace and serve"
        )
    names = tracefs.expand(event) or [event]
    if len(names) != 1:
        shown = ", ".join(n.removeprefix("tracepoint:") for n in names[:4]) + (
            ", ..." if len(names) > 4 else ""
        )
        raise BadInput(f"an aggregate is of one event; {event!r} matches {len(names)}: {shown}")
    return names[0]


def _name(text: str) -> str:
    if not _NAME.match(text):
        raise BadInput(f"bad name {text!r}: letters, digits and _ (a Prometheus metric name)")
    return text


def parse_query(params: Mapping[str, str], *, extra: frozenset[str] = frozenset()) -> HistQuery:
    """A HistQuery from `event` and the parameters above. BadInput names an
    unknown parameter or a bad value; keys in `extra` are the caller's own
    (/api/hist's `duration`) and are left alone."""
    allowed = PARAMS | extra
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise BadInput(f"unknown parameter {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    event = params.get("event", "").strip()
    if not event:
        raise BadInput("missing event (e.g. runqlat, syscalls:sys_enter_read, uretprobe:libc:malloc)")
    event = _event(event)
    unit = params.get("unit", "bytes")
    if unit not in UNITS:
        raise BadInput(f"bad unit {unit!r}: use {' or '.join(UNITS)}")
    q = HistQuery(
        event=event,
        by=params.get("by") or None,
        latency=_bool("latency", params.get("latency", "0")),
        value=params.get("value") or None,
        unit=unit,
        # In range and alive: the kernel side keeps a u32, so 2**32 + 1 would trace pid 1.
        pid=parse_pid(params["pid"]) if params.get("pid") else None,
        max_labels=_max_labels(params["max_labels"]) if params.get("max_labels") else None,
        name=_name(params["name"]) if params.get("name") else None,
    )
    if q.latency and q.value is not None:
        raise BadInput(f"{event}: latency=1 and value= are two different histograms; choose one")
    return q


def spec_params(text: str) -> dict[str, str]:
    """`EVENT?k=v&...` as parameters, `event` included (not yet checked)."""
    event, _, qs = text.strip().partition("?")
    try:
        pairs = parse_qsl(qs, keep_blank_values=True, strict_parsing=bool(qs))
    except ValueError:
        raise BadInput(f"bad aggregate {text!r}: expected EVENT?key=value&...") from None
    params: dict[str, str] = {}
    for k, v in pairs:
        if k in params or k == "event":
            raise BadInput(f"bad aggregate {text!r}: {k!r} given more than once")
        params[k] = v
    return {**params, "event": event}


def parse_spec(text: str) -> HistQuery:
    """`EVENT?k=v&...` (the query string of /api/hist, after the event)."""
    return parse_query(spec_params(text))


def parse_table(table: Mapping[str, object]) -> HistQuery:
    """One `[[aggregate]]` table of a TOML config: either `spec = "EVENT?..."`
    or the parameters as keys (`event = "runqlat"`, `by = "comm"`, ...)."""
    if "spec" in table:
        if len(table) != 1 or not isinstance(table["spec"], str):
            raise BadInput("an [[aggregate]] with `spec` takes no other keys")
        return parse_spec(table["spec"])
    params: dict[str, str] = {}
    for k, v in table.items():
        if isinstance(v, bool):
            params[k] = "1" if v else "0"
        elif isinstance(v, int | str):
            params[k] = str(v)
        else:
            raise BadInput(f"[[aggregate]] {k}: expected a string, number or boolean, not {type(v).__name__}")
    return parse_query(params)
