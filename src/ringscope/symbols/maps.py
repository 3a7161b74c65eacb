"""Executable mappings of a process, from /proc/PID/maps: what turns a user
address into (file, offset in the file)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Mapping", "read_maps"]


@dataclass(frozen=True)
class Mapping:
    start: int
    end: int
    pgoff: int  # file offset of `start`
    path: str  # file path, or a pseudo name such as [vdso]

    def file_offset(self, addr: int) -> int:
        return addr - self.start + self.pgoff

    def as_json(self) -> dict[str, object]:
        return {"start": hex(self.start), "end": hex(self.end), "pgoff": hex(self.pgoff), "path": self.path}


def parse_maps(text: str) -> list[Mapping]:
    out = []
    for line in text.splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) < 6 or "x" not in parts[1]:
            continue  # code lives in executable mappings only
        lo, hi = parts[0].split("-")
        out.append(Mapping(int(lo, 16), int(hi, 16), int(parts[2], 16), parts[5].strip()))
    return out


def read_maps(pid: int) -> list[Mapping]:
    """The executable mappings of `pid`; empty once it has exited."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return parse_maps(f.read())
    except OSError:
        return []
