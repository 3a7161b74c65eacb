"""Python half of bpf/syscalls.bpf.c: every syscall with its duration."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from ..errors import NotSupported
from ..events.spec import Columns, EventSpec, LoadOptions, Lookup, Row, array
from ..objects import OBJ_DIR, SYSCALLS, object_dir

if TYPE_CHECKING:
    from .._libbpf import BpfObject


@cache
def syscall_names() -> dict[int, str]:
    """Syscall numbers to names: the table bpf/bpfbuild.py generated beside
    the objects from the build host's asm/unistd header (a target machine
    need not have kernel headers). Empty if it is missing."""
    for directory in (object_dir(), OBJ_DIR):
        try:
            table = json.loads((directory / SYSCALLS).read_text())["syscalls"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        return {int(nr): str(name) for name, nr in table.items()}
    return {}


def syscall_number(name: str) -> int | None:
    for nr, n in syscall_names().items():
        if n == name:
            return nr
    return None


def syscall_rodata(names: tuple[str, ...]) -> dict[str, int | bytes]:
    """rs_nr_<name> = the number of each syscall, for the programs that pick
    syscalls out of the raw sys_enter tracepoint. NotSupported when this
    system's syscall table does not name one."""
    out: dict[str, int | bytes] = {}
    for name in names:
        nr = syscall_number(name)
        if nr is None:
            raise NotSupported(f"no syscall number for {name} (the build's {SYSCALLS} does not name it)")
        out[f"rs_nr_{name}"] = nr
    return out


def _syscall(rows: list[Row]) -> None:
    names = syscall_names()
    for r in rows:
        r["name"] = names.get(r["id"], f"syscall_{r['id']}")


def _syscall_columns(cols: Columns) -> None:
    names = syscall_names()
    cols["name"] = Lookup.map(array(cols, "id"), lambda nr: names.get(nr, f"syscall_{nr}"))


@dataclass(frozen=True)
class SyscallSpec(EventSpec):
    def configure(self, obj: BpfObject, tag: int, opts: LoadOptions) -> None:
        if opts.syscall_id is not None:
            obj.set_rodata(rs_syscall_id=opts.syscall_id)


SPECS = (
    SyscallSpec("syscall", "syscalls", ("handle_sys_enter", "handle_sys_exit", "handle_sys_thread_exit"), "rs_syscall", "RS_EV_SYSCALL",
              "every syscall at exit: id, name, return value, duration", _syscall,
              finish_columns=_syscall_columns),
)  # fmt: skip
