"""tracefs format files: the layout of each tracepoint's raw record.

`/sys/kernel/tracing/events/SUBSYS/NAME/format` lists every field of the
record the kernel hands a tracepoint program: C type, offset, size and
signedness. The generic tracepoint source copies that record as is and
decodes it with this description, so no tracepoint layout is written by
hand. Parsing is pure; `read_format`, `tracepoints`, `glob` and `expand`
read tracefs. Tracepoint names with wildcards are expanded here, once for
every subcommand.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

from .errors import BadInput, NotSupported, PermissionDenied

__all__ = [
    "TRACEFS",
    "TRACEPOINT_PREFIXES",
    "TpField",
    "TpFormat",
    "expand",
    "glob",
    "has_wildcard",
    "parse_format",
    "read_format",
    "strip_prefix",
    "tracepoints",
]

TRACEFS = Path("/sys/kernel/tracing")
# The spellings of a tracepoint spec's kind, as in `-e tracepoint:SYS:NAME`
# (bpftrace's and perf's); a bare SYS:NAME is a tracepoint too.
TRACEPOINT_PREFIXES = ("tracepoint", "tp", "t")
_WILDCARDS = frozenset("*?[")

_FIELD = re.compile(
    r"field:(?P<decl>[^;]+);\s*offset:(?P<off>\d+);\s*size:(?P<size>\d+);\s*signed:(?P<sgn>-?\d+);"
)
_DECL = re.compile(r"^(?P<type>.*?)\s*\b(?P<name>[A-Za-z_]\w*)\s*(?:\[(?P<n>[^\]]*)\])?$")
_USER_STR = re.compile(r"(?:const\s+)?(?:unsigned\s+)?char\s*(?:__user\s*)?\*")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class TpField:
    """One field of a tracepoint record, as the format file declares it."""

    name: str
    ctype: str  # "pid_t", "const char *", "__data_loc char[]", "char" (for char comm[16])
    offset: int
    size: int
    signed: bool
    nelems: int = 0  # array length; 0 for scalars

    @property
    def is_common(self) -> bool:
        return self.name.startswith("common_")

    @property
    def is_data_loc(self) -> bool:
        """u32 (len << 16 | offset from the record start) of dynamic data."""
        return self.ctype.startswith("__data_loc")

    @property
    def is_rel_loc(self) -> bool:
        """Like __data_loc, but the offset is from the end of this field."""
        return self.ctype.startswith("__rel_loc")

    @property
    def is_char_array(self) -> bool:
        return self.nelems > 0 and self.ctype.split()[-1] == "char"

    @property
    def is_user_string(self) -> bool:
        """A `const char *` argument: a user pointer on syscall tracepoints."""
        return self.nelems == 0 and self.size == 8 and bool(_USER_STR.fullmatch(self.ctype.strip()))


@dataclass(frozen=True)
class TpFormat:
    system: str
    name: str
    id: int
    fields: tuple[TpField, ...]

    @property
    def full_name(self) -> str:
        return f"{self.system}:{self.name}"

    @property
    def size(self) -> int:
        """Bytes of the fixed part of the record (dynamic data follows it)."""
        return max((f.offset + f.size for f in self.fields), default=0)

    def field(self, name: str) -> TpField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.full_name} has no field {name!r}")


def _parse_field(decl: str, off: int, size: int, signed: bool) -> TpField:
    m = _DECL.match(decl.strip())
    if m is None:
        raise ValueError(f"cannot parse field declaration {decl!r}")
    ctype, name, n = m["type"].strip(), m["name"], m["n"]
    if n is None:
        return TpField(name, ctype, off, size, signed)
    # Old kernels print the array length as a macro (TASK_COMM_LEN): size says it.
    nelems = int(n) if n.isdigit() else 0
    if not nelems:
        base = ctype.split()[-1] if ctype else ""
        nelems = size if base == "char" else 1
    return TpField(name, ctype, off, size, signed, nelems)


def parse_format(text: str, system: str = "", name: str = "") -> TpFormat:
    """Parse the text of a format file. Raises ValueError on garbage."""
    ident = re.search(r"^ID:\s*(\d+)", text, re.M)
    found = re.search(r"^name:\s*(\S+)", text, re.M)
    fields = tuple(
        _parse_field(m["decl"], int(m["off"]), int(m["size"]), m["sgn"] == "1") for m in _FIELD.finditer(text)
    )
    if not fields:
        raise ValueError("no fields in format file")
    return TpFormat(system, name or (found[1] if found else ""), int(ident[1]) if ident else 0, fields)


def unreadable(root: Path, what: str) -> str:
    """Why `what` cannot be used by this user, and how to grant it."""
    return (f"{what} needs read access to {root}, which this user (uid {os.getuid()}) lacks: run as root, "
            f"or make tracefs readable (mount -o remount,mode=755 {root})")  # fmt: skip


@cache
def read_format(system: str, name: str, root: Path = TRACEFS) -> TpFormat:
    """The format of tracepoint SYSTEM:NAME. BadInput if there is no such one."""
    if not (_NAME.match(system) and _NAME.match(name)) or ".." in (system, name):
        raise BadInput(f"bad tracepoint name {system}:{name!r}")
    try:
        if not (root / "events").is_dir():
            raise NotSupported(f"tracefs is not mounted at {root} (run `make setup` or mount -t tracefs)")
        path = root / "events" / system / name / "format"
        text = path.read_text()
    except FileNotFoundError:
        raise BadInput(f"unknown tracepoint '{system}:{name}' (see ringscope list)") from None
    except PermissionError:
        raise PermissionDenied(unreadable(root, f"tracepoint {system}:{name}")) from None
    try:
        return parse_format(text, system, name)
    except ValueError as e:
        raise BadInput(f"tracepoint {system}:{name}: unreadable format file: {e}") from None


def tracepoints(root: Path = TRACEFS) -> list[str]:
    """Every tracepoint as "system:name", sorted."""
    events = root / "events"
    if not events.is_dir():
        return []
    return sorted(f"{p.parent.parent.name}:{p.parent.name}" for p in events.glob("*/*/format"))


def has_wildcard(text: str) -> bool:
    """True when `text` has shell wildcards (`*`, `?`, `[...]`)."""
    return not _WILDCARDS.isdisjoint(text)


def strip_prefix(spec: str) -> str:
    """`tracepoint:SYS:NAME` (or tp:, t:) -> `SYS:NAME`; anything else unchanged."""
    kind, sep, rest = spec.partition(":")
    return rest if sep and kind in TRACEPOINT_PREFIXES and ":" in rest else spec


def glob(pattern: str, root: Path = TRACEFS) -> list[str]:
    """Tracepoints ("system:name", sorted) that SYS:NAME names, with shell
    wildcards in either part (`sched:sched_process_*`, `syscalls:sys_enter_open*`)."""
    system, sep, name = pattern.partition(":")
    if not (system and sep and name) or ":" in name:
        raise BadInput(f"bad tracepoint pattern {pattern!r} (expected SYS:NAME, wildcards allowed)")
    events = root / "events"
    if not events.is_dir():
        raise NotSupported(f"tracefs is not mounted at {root} (run `make setup` or mount -t tracefs)")
    out = []
    for sysdir in sorted(events.iterdir()):
        if not fnmatchcase(sysdir.name, system) or not sysdir.is_dir():
            continue
        out += [f"{sysdir.name}:{tp.name}" for tp in sorted(sysdir.iterdir())
                if fnmatchcase(tp.name, name) and (tp / "format").exists()]  # fmt: skip
    return out


def expand(spec: str, root: Path = TRACEFS) -> list[str] | None:
    """The tracepoints a spec with wildcards names, each as
    `tracepoint:SYS:NAME` (the one place tracepoint globs are expanded, for
    trace, serve, stat, record and hist). None when `spec` has no wildcard
    or does not name a tracepoint system that exists here (a uprobe or
    kprobe spec, say): the caller resolves it as usual. BadInput when the
    system exists but no tracepoint of it matches."""
    if not has_wildcard(spec):
        return None
    body = strip_prefix(spec)
    system, sep, name = body.partition(":")
    if not sep or ":" in name or not (root / "events").is_dir():
        return None
    if not any(fnmatchcase(d.name, system) for d in (root / "events").iterdir()):
        return None
    found = glob(body, root)
    if not found:
        raise BadInput(f"no tracepoint matches {spec!r} (see ringscope list '{system}:*')")
    return [f"tracepoint:{tp}" for tp in found]
