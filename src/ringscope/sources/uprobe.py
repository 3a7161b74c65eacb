"""Python half of bpf/uprobe.bpf.c: uprobes and uretprobes on BINARY:FUNCTION
(how the binary and the function are found: funcprobe.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import caps
from ..btf import Btf
from ..events.layout import EventLayout
from .dynamic import DynamicSpec
from .funcprobe import find_binary, probe_finish, probe_finish_columns, probe_layout, symbol_offset

if TYPE_CHECKING:
    from .._libbpf import BpfObject, Link

__all__ = ["UprobeSpec", "rebuild", "resolve"]


@dataclass(frozen=True, kw_only=True)
class UprobeSpec(DynamicSpec):
    """`uprobe:BIN:FUNC` (first integer args) or `uretprobe:BIN:FUNC`
    (return value, latency, and the args seen at entry)."""

    binary: str
    func: str
    offset: int
    retprobe: bool = False

    def attach(self, obj: BpfObject, tag: int, pid: int | None) -> Iterator[Link]:
        p = -1 if pid is None else pid
        if not self.retprobe:
            yield obj.program("handle_uprobe").attach_uprobe(self.binary, self.offset, pid=p, cookie=tag)
            return
        yield obj.program("handle_uentry").attach_uprobe(self.binary, self.offset, pid=p, cookie=tag)
        yield obj.program("handle_uretprobe").attach_uprobe(
            self.binary, self.offset, retprobe=True, pid=p, cookie=tag
        )

    def layout(self, btf: Btf, code: int, stride: int) -> EventLayout:
        return probe_layout(btf, self, code, self.retprobe)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "binary": self.binary, "func": self.func, "offset": self.offset}


def resolve(family: str, binary: str, func: str) -> UprobeSpec:
    """The spec for `uprobe:BIN:FUNC` / `uretprobe:BIN:FUNC`; BadInput when
    the binary or the function cannot be found."""
    path = find_binary(binary)
    return _spec(f"{family}:{binary}:{func}", family, path, func, symbol_offset(path, func))


def rebuild(desc: dict[str, Any]) -> UprobeSpec:
    """The spec a capture file describes (UprobeSpec.describe): the binary is not read."""
    family = str(desc["family"])
    if family not in ("uprobe", "uretprobe"):
        raise ValueError(f"not a uprobe family: {family!r}")
    return _spec(str(desc["name"]), family, Path(desc["binary"]), str(desc["func"]), int(desc["offset"]))


def _spec(name: str, family: str, path: Path, func: str, offset: int) -> UprobeSpec:
    ret = family == "uretprobe"
    return UprobeSpec(
        capabilities=(caps.CAP_SYS_ADMIN,),  # perf_uprobe_event_init: a uprobe can corrupt a process
        name=name,
        obj="uprobe",
        programs=("handle_uentry", "handle_uretprobe") if ret else ("handle_uprobe",),
        struct="rs_uprobe",
        enum="RS_EV_URETPROBE" if ret else "RS_EV_UPROBE",
        doc=f"{'return from' if ret else 'call to'} {func} in {path}",
        finish=probe_finish,
        finish_columns=probe_finish_columns,
        family=family,
        binary=str(path),
        func=func,
        offset=offset,
        retprobe=ret,
    )
