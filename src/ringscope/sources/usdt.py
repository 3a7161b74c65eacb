"""Python half of handle_usdt in bpf/uprobe.bpf.c: USDT probes,
`usdt:BINARY:PROVIDER:NAME`, from the binary's `.note.stapsdt` notes.

Each note gives a probe location, its semaphore (if any) and an argument
string like `-4@%edi 8@%rsi -4@112(%rsp) 8@$5` (x86-64 GNU as operands). A
probe may sit at several locations (inlined copies) with different operands:
each location gets its own spec in the rs_usdt_specs map, keyed by the
cookie (tag | location << 16). Registers are found by name in the BTF of
struct pt_regs, so no register offset is written here. Semaphores are
passed to the kernel as the uprobe's reference counter, so the program's
`if (PROBE_ENABLED())` guards open while we are attached.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import NoteSection

from .. import caps
from ..btf import Btf
from ..errors import BadInput
from ..events.layout import EventLayout
from ..events.spec import Columns, IntLists, Row, array
from .dynamic import DynamicSpec
from .funcprobe import file_offset, find_binary, probe_layout

if TYPE_CHECKING:
    from .._libbpf import BpfObject, Link

__all__ = ["UsdtArg", "UsdtNote", "UsdtSpec", "parse_args", "read_notes", "rebuild", "resolve"]

_ARG = re.compile(r"^(?P<size>-?\d+)@(?:\$(?P<const>-?\d+)|%(?P<reg>\w+)|(?P<off>-?\d*)\(%(?P<base>\w+)\))$")
_REGS = {
    **{r: r for r in ("ax", "bx", "cx", "dx", "si", "di", "bp", "sp", "ip")},
    **{f"r{r}": r for r in ("ax", "bx", "cx", "dx", "si", "di", "bp", "sp", "ip")},
    **{f"e{r}": r for r in ("ax", "bx", "cx", "dx", "si", "di", "bp", "sp")},
    **{f"{r[0]}l": r for r in ("ax", "bx", "cx", "dx")},
    **{f"{r}l": r for r in ("si", "di", "bp", "sp")},
    **{f"r{n}{s}": f"r{n}" for n in range(8, 16) for s in ("", "d", "w", "b")},
}  # fmt: skip
_CONST, _REG, _DEREF = 1, 2, 3  # enum rs_usdt_arg_kind


@dataclass(frozen=True)
class UsdtArg:
    size: int  # bytes
    signed: bool
    kind: int  # _CONST, _REG, _DEREF
    reg: str = ""  # pt_regs member name
    val: int = 0  # the constant, or the offset from the register


@dataclass(frozen=True)
class UsdtNote:
    provider: str
    name: str
    offset: int  # file offset of the probe location
    semaphore: int  # file offset of the semaphore, 0 when none
    args: tuple[UsdtArg, ...]


def parse_args(text: str) -> tuple[UsdtArg, ...]:
    """Parse a stapsdt argument string. BadInput on an operand form we cannot fetch."""
    out = []
    for op in text.split():
        m = _ARG.match(op)
        reg = m and (m["reg"] or m["base"])
        if m is None or (reg and reg not in _REGS):
            raise BadInput(f"USDT argument {op!r}: unsupported operand")
        size = int(m["size"])
        if abs(size) not in (1, 2, 4, 8):
            raise BadInput(f"USDT argument {op!r}: unsupported size")
        if m["const"] is not None:
            out.append(UsdtArg(abs(size), size < 0, _CONST, val=int(m["const"])))
        elif m["reg"]:
            out.append(UsdtArg(abs(size), size < 0, _REG, _REGS[m["reg"]]))
        else:
            out.append(UsdtArg(abs(size), size < 0, _DEREF, _REGS[m["base"]], int(m["off"] or 0)))
    return tuple(out)


def read_notes(path: Path) -> list[UsdtNote]:
    """Every USDT probe location in ELF `path`."""
    try:
        with path.open("rb") as fh:
            return _notes(ELFFile(fh), path)
    except ELFError as e:
        raise BadInput(f"{path}: not an ELF file ({e})") from None
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}") from None


def _notes(elf: ELFFile, path: Path) -> list[UsdtNote]:
    sec = elf.get_section_by_name(".note.stapsdt")
    if not isinstance(sec, NoteSection):
        return []
    base_sec = elf.get_section_by_name(".stapsdt.base")
    word = 8 if elf.elfclass == 64 else 4
    out = []
    for note in sec.iter_notes():
        if note["n_name"] != "stapsdt" or note["n_descsz"] < 3 * word:
            continue
        desc = note["n_desc"]
        desc = desc if isinstance(desc, bytes) else desc.encode("latin-1")
        pc, base, sem = struct.unpack_from("<QQQ" if word == 8 else "<III", desc)
        provider, name, args = desc[3 * word :].split(b"\0")[:3]
        # Prelink moves the binary: shift by how far .stapsdt.base moved.
        shift = base_sec["sh_addr"] - base if base_sec is not None and base else 0
        out.append(UsdtNote(provider.decode(), name.decode(), file_offset(elf, path, pc + shift),
                            file_offset(elf, path, sem + shift) if sem else 0,
                            parse_args(args.decode())))  # fmt: skip
    return out


@dataclass(frozen=True, kw_only=True)
class UsdtSpec(DynamicSpec):
    binary: str
    notes: tuple[UsdtNote, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "finish", self._finish)
        object.__setattr__(self, "finish_columns", self._finish_columns)

    def _spec_value(self, btf: Btf, note: UsdtNote) -> bytes:
        spec = btf.struct_layout("rs_usdt_spec")
        arg = btf.struct_layout("rs_usdt_arg")
        regs = btf.struct_layout("pt_regs")
        field = spec.field("args")
        value = bytearray(spec.size)
        for i, a in enumerate(note.args[: field.nelems]):
            base = field.offset + i * arg.size
            struct.pack_into("<q", value, base + arg.field("val").offset, a.val)
            struct.pack_into(
                "<H", value, base + arg.field("reg_off").offset, regs.field(a.reg).offset if a.reg else 0
            )
            for name, v in (("kind", a.kind), ("size", a.size), ("is_signed", int(a.signed))):
                struct.pack_into("<B", value, base + arg.field(name).offset, v)
        return bytes(value)

    def attach(self, obj: BpfObject, tag: int, pid: int | None) -> Iterator[Link]:
        return self.attach_program(obj, "handle_usdt", tag, pid)

    def attach_program(self, obj: BpfObject, program: str, tag: int, pid: int | None) -> Iterator[Link]:
        """`program` (of an object that includes usdt.bpf.h) on every location
        of this probe, each with its argument spec in the object's rs_usdt_specs."""
        if len(self.notes) > 0xFFFF:
            raise BadInput(f"{self.name}: too many probe locations")
        specs = obj.map("rs_usdt_specs")
        for i, note in enumerate(self.notes):
            cookie = tag | i << 16
            specs.update(struct.pack("<I", cookie), self._spec_value(obj.btf, note))
            yield obj.program(program).attach_uprobe(
                self.binary, note.offset, pid=-1 if pid is None else pid, cookie=cookie,
                ref_ctr_offset=note.semaphore,
            )  # fmt: skip

    def layout(self, btf: Btf, code: int, stride: int) -> EventLayout:
        return probe_layout(btf, self, code, False)

    def describe(self) -> dict[str, Any]:
        """The probe locations and their operands, as read from the notes."""
        notes = [{**asdict(n), "args": [asdict(a) for a in n.args]} for n in self.notes]
        return {**super().describe(), "binary": self.binary, "notes": notes}

    def _nargs(self) -> int:
        return max(len(note.args) for note in self.notes)

    def _finish_columns(self, cols: Columns) -> None:
        cols["args"] = IntLists(array(cols, "args").view(np.int64)[:, : self._nargs()])

    def _finish(self, rows: list[Row]) -> None:
        n = self._nargs()
        for r in rows:
            raw = r["args"]
            if isinstance(raw, bytes):
                vals = struct.unpack_from(f"<{len(raw) // 8}q", raw)
                r["args"] = list(vals[:n])
            r["args"] = r["args"][:n]


def resolve(binary: str, provider: str, name: str) -> UsdtSpec:
    """The spec for usdt:BINARY:PROVIDER:NAME; BadInput when the binary has no such probe."""
    path = find_binary(binary)
    notes = read_notes(path)
    if not notes:
        raise BadInput(f"{path} has no USDT probes (no .note.stapsdt section)")
    mine = tuple(n for n in notes if n.provider == provider and n.name == name)
    if not mine:
        known = sorted({f"{n.provider}:{n.name}" for n in notes})
        raise BadInput(f"no USDT probe {provider}:{name} in {path} (it has: {', '.join(known[:12])})")
    return _spec(f"usdt:{binary}:{provider}:{name}", path, mine)


def rebuild(desc: dict[str, Any]) -> UsdtSpec:
    """The spec a capture file describes (UsdtSpec.describe): the binary is not read."""
    notes = tuple(
        UsdtNote(str(n["provider"]), str(n["name"]), int(n["offset"]), int(n["semaphore"]),
                 tuple(UsdtArg(int(a["size"]), bool(a["signed"]), int(a["kind"]), str(a["reg"]), int(a["val"]))
                       for a in n["args"]))
        for n in desc["notes"]
    )  # fmt: skip
    if not notes:
        raise ValueError("a USDT event without probe locations")
    return _spec(str(desc["name"]), Path(desc["binary"]), notes)


def _spec(full_name: str, path: Path, mine: tuple[UsdtNote, ...]) -> UsdtSpec:
    provider, name = mine[0].provider, mine[0].name
    return UsdtSpec(
        capabilities=(caps.CAP_SYS_ADMIN,),  # perf_uprobe_event_init: a uprobe can corrupt a process
        name=full_name,
        obj="uprobe",
        programs=("handle_usdt",),
        struct="rs_uprobe",
        enum="RS_EV_UPROBE",
        doc=f"USDT probe {provider}:{name} in {path}",
        family="usdt",
        binary=str(path),
        notes=mine,
    )
