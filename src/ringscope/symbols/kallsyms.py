"""Kernel symbols from /proc/kallsyms (needs root: otherwise every address
reads as zero under kptr_restrict, and lookups return None)."""

from __future__ import annotations

import bisect
from pathlib import Path

__all__ = ["Kallsyms"]

_TEXT_TYPES = set("tTwW")


class Kallsyms:
    """Sorted text symbols of the running kernel and its modules. Immutable."""

    def __init__(self, text: str) -> None:
        syms: list[tuple[int, str]] = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) < 3 or parts[1] not in _TEXT_TYPES:
                continue
            addr = int(parts[0], 16)
            if addr:
                name = parts[2] if len(parts) == 3 else f"{parts[2]} {parts[3]}"
                syms.append((addr, name))
        syms.sort()
        self._addrs = [a for a, _ in syms]
        self._names = [n for _, n in syms]

    @classmethod
    def load(cls, path: str | Path = "/proc/kallsyms") -> Kallsyms:
        try:
            return cls(Path(path).read_text())
        except OSError:
            return cls("")

    def __len__(self) -> int:
        return len(self._addrs)

    def lookup(self, addr: int) -> str | None:
        """The symbol containing `addr` (the nearest one at or below it)."""
        i = bisect.bisect_right(self._addrs, addr) - 1
        return self._names[i] if i >= 0 else None
