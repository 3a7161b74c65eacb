"""Kernel symbols from /proc/kallsyms (needs root: otherwise every address
reads as zero under kptr_restrict, and lookups return None)."""

from __future__ import annotations

import bisect
from pathlib import Path

__all__ = ["Kallsyms"]


class Kallsyms:
    """Sorted text symbols of the running kernel and its modules. Immutable.

    Parsed with numpy, names decoded only when looked up: /proc/kallsyms
    has ~120k lines, and splitting them one by one in Python took over a
    second, most of a short recording's wall time. Each line is
    "<16 hex digits> <type> <name>[\\t[module]]"."""

    def __init__(self, text: str | bytes) -> None:
        # Imported here: the package is imported by `report`, which reads
        # names its recording stored and never needs numpy.
        import numpy as np

        hexval = np.full(256, 255, np.uint8)
        hexval[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)
        text_types = np.frombuffer(b"tTwW", np.uint8)
        self._raw = text.encode() if isinstance(text, str) else text
        buf = np.frombuffer(self._raw, np.uint8)
        ends = np.flatnonzero(buf == 10)
        starts = np.concatenate(([0], ends[:-1] + 1)) if len(ends) else np.zeros(0, np.int64)
        ok = (ends - starts) > 19
        starts, ends = starts[ok], ends[ok]
        ok = np.isin(buf[starts + 17], text_types) & (buf[starts + 16] == 32)
        starts, ends = starts[ok], ends[ok]
        digits = hexval[buf[starts[:, None] + np.arange(16)]].astype(np.uint64)
        ok = (digits != 255).all(axis=1)
        addrs = np.zeros(len(starts), np.uint64)
        for i in range(16):
            addrs = addrs << np.uint64(4) | digits[:, i]
        ok &= addrs != 0
        order = np.argsort(addrs[ok], kind="stable")
        self._addrs: list[int] = addrs[ok][order].tolist()
        self._starts: list[int] = starts[ok][order].tolist()
        self._ends: list[int] = ends[ok][order].tolist()

    @classmethod
    def load(cls, path: str | Path = "/proc/kallsyms") -> Kallsyms:
        try:
            return cls(Path(path).read_bytes())
        except OSError:
            return cls(b"")

    def __len__(self) -> int:
        return len(self._addrs)

    def _name(self, i: int) -> str:
        name, _, mod = self._raw[self._starts[i] + 19 : self._ends[i]].partition(b"\t")
        return f"{name.decode()} {mod.decode()}" if mod else name.decode()

    def lookup(self, addr: int) -> str | None:
        """The symbol containing `addr` (the nearest one at or below it)."""
        i = bisect.bisect_right(self._addrs, addr) - 1
        return self._name(i) if i >= 0 else None
