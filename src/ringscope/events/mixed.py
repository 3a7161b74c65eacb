"""A Mixed batch: one drain's events gathered by type, the interleaving kept.

When types interleave in the ring, Chunks in stream order hold one event
each. A Mixed batch holds one Chunk per type instead (per type and record
length, for events whose length varies), each carrying its events' seqs;
together they number seq0..seq0+count-1 exactly once, so stream order is
the seqs, and a consumer that works per type (the encoder) does its work
once per type and puts the results back in order by seq.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .records import Chunk, Lost

__all__ = ["Batch", "Mixed"]


@dataclass(slots=True)
class Mixed:
    """Events seq0..seq0+count-1, gathered in `parts` (Chunks with `seqs`)."""

    seq0: int
    count: int
    parts: list[Chunk]

    def __len__(self) -> int:
        return self.count

    def positions(self, part: Chunk) -> np.ndarray:
        """Where each event of `part` stands in this batch (0..count-1)."""
        return part.seq_column() - self.seq0

    def window(self, a: int, b: int) -> Mixed:
        """The events at positions a..b-1, as a Mixed batch (views)."""
        b = min(b, self.count)
        parts = []
        for part in self.parts:
            seqs = part.seq_column()
            i, j = np.searchsorted(seqs, [self.seq0 + a, self.seq0 + b]).tolist()
            if j > i:
                parts.append(part.split(i)[1].split(j - i)[0])
        return Mixed(self.seq0 + a, max(0, b - a), parts)

    def plain(self) -> Chunk | Mixed:
        """A batch of one part as the plain Chunk it is (its seqs are then
        consecutive), so consumers take their single-type path."""
        if len(self.parts) != 1:
            return self
        part = self.parts[0]
        return Chunk(part.layout, part.spec, part.seq0, part.records)

    def pieces(self, most: int) -> list[Mixed]:
        """This batch cut into batches of at most `most` events, in order."""
        if self.count <= most:
            return [self]
        return [self.window(a, a + most) for a in range(0, self.count, most)]

    def chunks(self) -> list[Chunk]:
        """The events as Chunks of consecutive seqs, in stream order: one per
        run of one type, so as many as there are type changes (for consumers
        that need plain Chunks; the per-type parts are the fast path)."""
        if not self.count:
            return []
        owner = np.empty(self.count, np.intp)
        row = np.empty(self.count, np.intp)
        for k, part in enumerate(self.parts):
            pos = self.positions(part)
            owner[pos] = k
            row[pos] = np.arange(len(part))
        cuts = [0, *(np.flatnonzero(owner[1:] != owner[:-1]) + 1).tolist(), self.count]
        out = []
        for a, b in itertools.pairwise(cuts):
            part, r = self.parts[int(owner[a])], int(row[a])
            out.append(Chunk(part.layout, part.spec, self.seq0 + a, part.records[r : r + b - a]))
        return out

    def by_type(self) -> dict[str, list[Chunk]]:
        """The parts by event type name (a type may have several parts)."""
        out: dict[str, list[Chunk]] = {}
        for part in self.parts:
            out.setdefault(part.spec.name, []).append(part)
        return out


Batch = Chunk | Mixed | Lost  # what Stream.poll(mixed=True) hands on
