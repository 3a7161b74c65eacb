"""Linux capabilities of this process, read from its effective set.

ringscope asks for what it needs by capability, never by user id: a
non-root user holding CAP_BPF + CAP_PERFMON can trace (Linux >= 5.8 split
them out of CAP_SYS_ADMIN, which still implies both). errors.require_caps()
turns a missing one into the error users see.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CAP_BPF",
    "CAP_PERFMON",
    "CAP_SYSLOG",
    "CAP_SYS_ADMIN",
    "TRACING",
    "effective",
    "has",
    "missing",
    "name",
]

CAP_SYS_ADMIN = 21
CAP_SYSLOG = 34
CAP_PERFMON = 38
CAP_BPF = 39
TRACING = (CAP_BPF, CAP_PERFMON)  # load and attach programs, open perf events, read the ring

_NAMES = {
    CAP_SYS_ADMIN: "CAP_SYS_ADMIN",
    CAP_SYSLOG: "CAP_SYSLOG",
    CAP_PERFMON: "CAP_PERFMON",
    CAP_BPF: "CAP_BPF",
}
# Before CAP_BPF and CAP_PERFMON existed, CAP_SYS_ADMIN granted what they do; it still does.
_IMPLIED_BY_ADMIN = frozenset({CAP_BPF, CAP_PERFMON, CAP_SYSLOG})


def effective(status: Path = Path("/proc/self/status")) -> int:
    """The effective capability set as a bit mask (0 if unreadable)."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def name(cap: int) -> str:
    return _NAMES.get(cap, f"capability {cap}")


def missing(*caps: int, eff: int | None = None) -> list[int]:
    """The capabilities of `caps` this process lacks."""
    eff = effective() if eff is None else eff
    admin = bool(eff >> CAP_SYS_ADMIN & 1)
    return [c for c in caps if not (eff >> c & 1 or (admin and c in _IMPLIED_BY_ADMIN))]


def has(*caps: int) -> bool:
    return not missing(*caps)
