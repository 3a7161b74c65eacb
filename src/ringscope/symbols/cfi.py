"""DWARF call frame information (`.eh_frame`, `.debug_frame`) -> unwind
rows: for each code address range, how to find the caller's frame.

Parsed here rather than with pyelftools: pyelftools takes seconds for
libc's .eh_frame and fails on DW_CFA_GNU_args_size. This walks CIEs and
FDEs once, runs each FDE's CFA program, and keeps only what an x86-64
unwinder needs at each row: the CFA as a register (rsp or rbp) plus an
offset, where the return address is saved (CFA + n, or "undefined": the
outermost frame), where rbp is saved (CFA + n, or unchanged). Rows whose
CFA is an expression (PLT stubs, signal trampolines) are kept as
"unsupported": the unwinder stops there rather than guessing.

Format: DWARF 5 section 6.4 and the LSB's .eh_frame description (CIE id 0,
pc-relative CIE pointers, DW_EH_PE_* pointer encodings, "z" augmentation).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

__all__ = ["BP_SAME", "CFA_NONE", "CFA_RBP", "CFA_RSP", "CFA_UNSUPPORTED", "RA_UNDEFINED", "Row", "parse_cfi"]

# x86-64 DWARF register numbers (System V psABI, figure 3.36).
_RBP, _RSP, _RA = 6, 7, 16
CFA_RSP, CFA_RBP, CFA_UNSUPPORTED, CFA_NONE = 0, 1, 2, 3  # NONE: no FDE covers the address
RA_UNDEFINED = -(1 << 31)  # no return address: the outermost frame (_start)
BP_SAME = -(1 << 31)  # rbp is not saved in this frame


# DW_EH_PE_* value formats with a fixed size (uleb128/sleb128 aside).
_PTR_FORMATS = {0x00: "<Q", 0x02: "<H", 0x03: "<I", 0x04: "<Q", 0x0A: "<h", 0x0B: "<i", 0x0C: "<q"}


@dataclass(frozen=True, slots=True)
class Row:
    pc: int  # first address the row applies to (link-time vaddr)
    cfa: int  # CFA_RSP | CFA_RBP | CFA_UNSUPPORTED
    cfa_off: int
    ra_off: int  # RA_UNDEFINED or offset from the CFA
    bp_off: int  # BP_SAME or offset from the CFA


@dataclass
class _State:
    cfa_reg: int = _RSP
    cfa_off: int = 8
    cfa_expr: bool = False
    regs: dict[int, int | None] = field(default_factory=dict)  # reg -> CFA offset; None: undefined


@dataclass(frozen=True)
class _Cie:
    code_align: int
    data_align: int
    ra_reg: int
    fde_enc: int
    has_aug_data: bool
    initial: bytes


class _Reader:
    def __init__(self, data: bytes, base: int) -> None:
        self.data, self.base, self.pos = data, base, 0

    def u8(self) -> int:
        v = self.data[self.pos]
        self.pos += 1
        return v

    def fixed(self, fmt: str) -> int:
        (v,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(v)

    def uleb(self) -> int:
        return self._leb(signed=False)

    def sleb(self) -> int:
        return self._leb(signed=True)

    def _leb(self, *, signed: bool) -> int:
        result = shift = 0
        while True:
            b = self.data[self.pos]
            self.pos += 1
            result |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return result - (1 << shift) if signed and b & 0x40 else result

    def cstr(self) -> bytes:
        end = self.data.index(b"\0", self.pos)
        s = self.data[self.pos : end]
        self.pos = end + 1
        return s

    def pointer(self, enc: int) -> int:
        """A DW_EH_PE_* encoded pointer; pc-relative ones made absolute."""
        if enc == 0xFF:
            return 0
        here = self.base + self.pos
        fmt = enc & 0x0F
        if fmt == 0x01:
            value = self.uleb()
        elif fmt == 0x09:
            value = self.sleb()
        else:
            value = self.fixed(_PTR_FORMATS[fmt])
        if enc & 0x70 == 0x10:  # DW_EH_PE_pcrel
            value += here
        return value & ((1 << 64) - 1)


def _cie(r: _Reader, end: int, eh: bool) -> _Cie:
    version = r.u8()
    aug = r.cstr()
    if b"eh" in aug:
        r.fixed("<Q")
    if version >= 4:
        r.u8()  # address_size
        r.u8()  # segment_selector_size
    code_align, data_align = r.uleb(), r.sleb()
    ra_reg = r.u8() if version == 1 else r.uleb()
    fde_enc, has_z = 0x00, aug.startswith(b"z")
    if has_z:
        aug_len = r.uleb()
        aug_end = r.pos + aug_len
        for ch in aug[1:]:
            if ch == ord("R"):
                fde_enc = r.u8()
            elif ch == ord("L"):
                r.u8()
            elif ch == ord("P"):
                r.pointer(r.u8() & 0x7F)
            elif ch in (ord("S"), ord("B"), ord("G")):
                continue
            else:
                break
        r.pos = aug_end
    return _Cie(code_align, data_align, ra_reg, fde_enc, has_z, r.data[r.pos : end])


def _row(pc: int, st: _State) -> Row:
    if st.cfa_expr or st.cfa_reg not in (_RSP, _RBP):
        return Row(pc, CFA_UNSUPPORTED, 0, RA_UNDEFINED, BP_SAME)
    ra = st.regs.get(_RA, RA_UNDEFINED)
    bp = st.regs.get(_RBP, BP_SAME)
    return Row(pc, CFA_RSP if st.cfa_reg == _RSP else CFA_RBP, st.cfa_off,
               RA_UNDEFINED if ra is None else ra, BP_SAME if bp is None else bp)  # fmt: skip


def _execute(prog: bytes, cie: _Cie, loc: int, st: _State, initial: _State | None, rows: list[Row]) -> int:
    """Run a CFA program from `loc`, appending a row at each location
    change; returns the final location. The state is updated in place."""
    r = _Reader(prog, 0)
    stack: list[_State] = []
    ca, da = cie.code_align, cie.data_align

    def restore(reg: int) -> None:
        if initial is not None and reg in initial.regs:
            st.regs[reg] = initial.regs[reg]
        else:
            st.regs.pop(reg, None)

    def advance(delta: int) -> None:
        nonlocal loc
        rows.append(_row(loc, st))
        loc += delta * ca

    while r.pos < len(prog):
        op = r.u8()
        hi, lo = op & 0xC0, op & 0x3F
        if hi == 0x40:
            advance(lo)
        elif hi == 0x80:
            st.regs[lo] = r.uleb() * da
        elif hi == 0xC0:
            restore(lo)
        elif op == 0x00:  # nop
            pass
        elif op == 0x01:  # set_loc
            rows.append(_row(loc, st))
            loc = r.pointer(cie.fde_enc)
        elif op in (0x02, 0x03, 0x04):  # advance_loc1/2/4
            advance(r.fixed({0x02: "<B", 0x03: "<H", 0x04: "<I"}[op]))
        elif op == 0x05:  # offset_extended
            reg = r.uleb()
            st.regs[reg] = r.uleb() * da
        elif op == 0x06:  # restore_extended
            restore(r.uleb())
        elif op == 0x07:  # undefined
            st.regs[r.uleb()] = None
        elif op == 0x08:  # same_value
            st.regs.pop(r.uleb(), None)
        elif op == 0x09:  # register: saved in another register, not on the stack
            reg = r.uleb()
            r.uleb()
            st.regs.pop(reg, None)
        elif op == 0x0A:  # remember_state
            stack.append(_State(st.cfa_reg, st.cfa_off, st.cfa_expr, dict(st.regs)))
        elif op == 0x0B:  # restore_state
            if stack:
                s = stack.pop()
                st.cfa_reg, st.cfa_off, st.cfa_expr, st.regs = s.cfa_reg, s.cfa_off, s.cfa_expr, s.regs
        elif op == 0x0C:  # def_cfa
            st.cfa_reg, st.cfa_off, st.cfa_expr = r.uleb(), r.uleb(), False
        elif op == 0x0D:  # def_cfa_register
            st.cfa_reg, st.cfa_expr = r.uleb(), False
        elif op == 0x0E:  # def_cfa_offset
            st.cfa_off = r.uleb()
        elif op == 0x0F:  # def_cfa_expression
            r.pos += r.uleb()
            st.cfa_expr = True
        elif op in (0x10, 0x16):  # expression, val_expression: not a stack slot we follow
            reg = r.uleb()
            r.pos += r.uleb()
            if reg == _RA:
                st.regs[reg] = None  # a computed return address: stop there
            else:
                st.regs.pop(reg, None)
        elif op == 0x11:  # offset_extended_sf
            reg = r.uleb()
            st.regs[reg] = r.sleb() * da
        elif op == 0x12:  # def_cfa_sf
            st.cfa_reg, st.cfa_off, st.cfa_expr = r.uleb(), r.sleb() * da, False
        elif op == 0x13:  # def_cfa_offset_sf
            st.cfa_off = r.sleb() * da
        elif op in (0x14, 0x15):  # val_offset(_sf): the value is CFA + n, not saved
            reg = r.uleb()
            _ = r.uleb() if op == 0x14 else r.sleb()
            st.regs.pop(reg, None)
        elif op == 0x2E:  # GNU_args_size: only matters for exception landing pads
            r.uleb()
        elif op == 0x2F:  # GNU_negative_offset_extended
            reg = r.uleb()
            st.regs[reg] = -r.uleb() * da
        else:
            break  # unknown opcode: keep the rows so far
    return loc


def _fde(r: _Reader, end: int, cie: _Cie, eh: bool, rows: list[Row]) -> None:
    enc = cie.fde_enc if eh else 0x00
    start = r.pointer(enc)
    length = r.pointer(enc & 0x0F)
    if cie.has_aug_data:
        r.pos += r.uleb()
    if not start or not length:
        return  # discarded by the linker
    init = _State()
    _execute(cie.initial, cie, start, init, None, [])
    st = _State(init.cfa_reg, init.cfa_off, init.cfa_expr, dict(init.regs))
    own: list[Row] = []
    loc = _execute(r.data[r.pos : end], cie, start, st, init, own)
    own.append(_row(loc, st))  # the final state holds up to the FDE's end
    rows.extend(x for x in own if start <= x.pc < start + length)
    # Past the end nothing is known (unless another FDE starts there).
    rows.append(Row(start + length, CFA_NONE, 0, RA_UNDEFINED, BP_SAME))


def _cie_at(data: bytes, section_addr: int, pos: int, eh: bool) -> _Cie:
    r = _Reader(data, section_addr)
    r.pos = pos
    length = r.fixed("<I")
    wide = length == 0xFFFFFFFF
    if wide:
        length = r.fixed("<Q")
    end = r.pos + length
    r.fixed("<Q" if wide else "<I")
    return _cie(r, end, eh)


def parse_cfi(data: bytes, section_addr: int, eh: bool) -> list[Row]:
    """Unwind rows of a `.eh_frame` (eh=True) or `.debug_frame` section,
    sorted by pc. `section_addr`: the section's vaddr, for pc-relative
    pointers. A malformed entry ends the walk; rows before it are kept."""
    rows: list[Row] = []
    cies: dict[int, _Cie] = {}
    r = _Reader(data, section_addr)
    while r.pos + 4 <= len(data):
        entry = r.pos
        length = r.fixed("<I")
        if length == 0:
            if eh:
                break  # the terminator
            continue
        wide = length == 0xFFFFFFFF
        if wide:
            length = r.fixed("<Q")
        end = r.pos + length
        id_pos = r.pos
        cie_id = r.fixed("<Q" if wide else "<I")
        try:
            is_cie = cie_id == 0 if eh else cie_id in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)
            if is_cie:
                cies.setdefault(entry, _cie(r, end, eh))
            else:
                cie_at = id_pos - cie_id if eh else cie_id
                if cie_at not in cies:
                    cies[cie_at] = _cie_at(data, section_addr, cie_at, eh)
                _fde(r, end, cies[cie_at], eh, rows)
        except (IndexError, KeyError, struct.error, ValueError):
            pass  # one bad entry: skip it
        r.pos = end
    # At one pc an FDE's first row must win over the end marker of the FDE
    # before it, whatever order the section lists them in.
    rows.sort(key=lambda x: (x.pc, x.cfa != CFA_NONE))
    return rows
