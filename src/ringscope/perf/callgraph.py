"""`--call-graph fp|dwarf[,SIZE]`, perf's syntax: how user stacks are
taken. `fp`: the kernel walks frame pointers at sample time (one list of
return addresses). `dwarf`: the kernel copies the user registers and SIZE
bytes of user stack, which ringscope unwinds afterwards with each binary's
DWARF CFI (perf/unwind.py), so code built without frame pointers (Debian's
libc, libpython) still unwinds. Kernel frames come from the kernel's own
unwinder either way."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BadInput

__all__ = ["DEFAULT_DWARF_STACK", "MAX_DWARF_STACK", "CallGraph", "parse_callgraph"]

DEFAULT_DWARF_STACK = 8192  # perf's default
# The whole sample record has a u16 size: perf caps the copy at 65528
# (USHRT_MAX rounded down to 8) too; the kernel trims it further to fit.
MAX_DWARF_STACK = 65528


@dataclass(frozen=True)
class CallGraph:
    mode: str  # "none" | "fp" | "dwarf"
    stack_size: int = 0  # dwarf: bytes of user stack per sample

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    def __str__(self) -> str:
        return f"dwarf,{self.stack_size}" if self.mode == "dwarf" else self.mode


NONE = CallGraph("none")
FP = CallGraph("fp")


def parse_callgraph(text: str) -> CallGraph:
    """`fp`, `dwarf`, `dwarf,SIZE` (bytes, rounded up to 8), or `none`."""
    mode, _, size = text.strip().partition(",")
    if mode in ("fp", "none") and not size:
        return FP if mode == "fp" else NONE
    if mode != "dwarf":
        raise BadInput(f"--call-graph {text!r}: expected fp, dwarf[,SIZE] or none")
    try:
        n = int(size, 0) if size else DEFAULT_DWARF_STACK
    except ValueError:
        raise BadInput(f"--call-graph {text!r}: SIZE must be a number of bytes") from None
    if not 8 <= n <= MAX_DWARF_STACK:
        raise BadInput(f"--call-graph {text!r}: SIZE must be between 8 and {MAX_DWARF_STACK}")
    return CallGraph("dwarf", (n + 7) // 8 * 8)
