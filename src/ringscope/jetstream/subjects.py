"""The subject scheme: where each host's stream goes in NATS.

    ringscope.<host>.<type>    events of one type, one hub block per message
    ringscope.<host>.lost      loss records (kernel, daemon, export stages)
    ringscope.<host>.status    the exporter's heartbeat with its counters

A subject token may not hold `.`, `*`, `>` or white space, and event type
names do (`tracepoint:sched:sched_switch`, `uprobe:/bin/bash:readline`), so
types are made subject-safe: every character outside [A-Za-z0-9_-] becomes
`_` (`tracepoint_sched_sched_switch`). The mapping is many-to-one, so the
exact type also travels in the message's `Ringscope-Type` header, and a
filter by type checks that header too (fleet/). Host names are checked, not
mapped: `--host-name` must already be one subject token."""

from __future__ import annotations

import re
import socket

from ..errors import BadInput

__all__ = [
    "PREFIX",
    "ALL",
    "LOST",
    "STATUS",
    "check_host",
    "default_host",
    "filter_subject",
    "host_of",
    "subject",
    "subject_type",
]

PREFIX = "ringscope"
ALL = f"{PREFIX}.>"  # the stream's subjects
LOST = "lost"
STATUS = "status"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")


def subject_type(type_name: str) -> str:
    """The subject token for an event type (documented above)."""
    return _UNSAFE.sub("_", type_name) or "_"


def check_host(name: str) -> str:
    """`name` if it can be the host token of a subject, else BadInput."""
    if not _HOST.fullmatch(name):
        raise BadInput(
            f"bad --host-name {name[:80]!r}: 1-63 letters, digits, '-' or '_' (it is one NATS subject token)"
        )
    return name


def default_host() -> str:
    """The machine's hostname made one token: its first label, unsafe characters replaced."""
    label = socket.gethostname().split(".", 1)[0]
    return _UNSAFE.sub("-", label)[:63].lstrip("-_") or "localhost"


def subject(host: str, token: str) -> str:
    """`ringscope.<host>.<token>`; token is a subject_type(), LOST or STATUS."""
    return f"{PREFIX}.{host}.{token}"


def host_of(subj: str) -> str:
    """The host token of a ringscope subject ('' if it is not one)."""
    parts = subj.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == PREFIX else ""


def filter_subject(host: str | None, type_name: str | None) -> str:
    """One subject filter for at most one host and one type (nats-server
    2.9 takes one filter per consumer; anything wider is filtered client-side)."""
    h = host if host is not None else "*"
    t = subject_type(type_name) if type_name is not None else "*"
    return f"{PREFIX}.{h}.{t}"
