"""Python half of bpf/file.bpf.c: open (openat, openat2)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..events.spec import Columns, EventSpec, LoadOptions, Lookup, Row, array
from .syscalls import syscall_rodata

if TYPE_CHECKING:
    from .._libbpf import BpfObject

_SYSCALLS = ("openat", "openat2")
_ACCESS = {os.O_RDONLY: "O_RDONLY", os.O_WRONLY: "O_WRONLY", os.O_RDWR: "O_RDWR"}
_FLAGS = [(getattr(os, n), n) for n in (
    "O_CREAT", "O_EXCL", "O_NOCTTY", "O_TRUNC", "O_APPEND", "O_NONBLOCK", "O_DSYNC", "O_DIRECT",
    "O_LARGEFILE", "O_DIRECTORY", "O_NOFOLLOW", "O_NOATIME", "O_CLOEXEC", "O_PATH", "O_TMPFILE",
) if hasattr(os, n)]  # fmt: skip


def flag_names(flags: int) -> str:
    """open(2) flags as `O_WRONLY|O_CREAT|O_TRUNC`."""
    names = [_ACCESS.get(flags & os.O_ACCMODE, "O_ACCMODE")]
    # O_TMPFILE includes O_DIRECTORY's bit: test whole masks.
    names += [n for bit, n in _FLAGS if flags & bit == bit]
    return "|".join(names)


def _syscall_name(nr: int) -> str:
    return _SYSCALLS[nr] if nr < len(_SYSCALLS) else str(nr)


def _open(rows: list[Row]) -> None:
    for r in rows:
        r["syscall"] = _syscall_name(r["syscall"])
        r["flags_str"] = flag_names(r["flags"])


def _open_columns(cols: Columns) -> None:
    cols["syscall"] = Lookup.map(array(cols, "syscall"), _syscall_name)
    cols["flags_str"] = Lookup.map(array(cols, "flags"), flag_names)


@dataclass(frozen=True)
class OpenSpec(EventSpec):
    def configure(self, obj: BpfObject, tag: int, opts: LoadOptions) -> None:
        obj.set_rodata(**syscall_rodata(_SYSCALLS))


SPECS = (
    OpenSpec(
        "open", "file",
        ("handle_openat_enter", "handle_openat_exit", "handle_openat2_enter", "handle_openat2_exit"),
        "rs_open", "RS_EV_OPEN", "a file was opened: path, flags, mode, fd or -errno", _open,
        finish_columns=_open_columns, btf_programs=("handle_open_sys_enter", "handle_open_sys_exit"),
    ),
)  # fmt: skip
