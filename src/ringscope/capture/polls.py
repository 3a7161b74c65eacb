"""Poll records: the payload of a POLLS block (docs/capture-format.md).

One record per poll of the live stream, little-endian:

    u64 now_ns, u8 flags, 3 bytes zero, u32 nruns
    [u64 skipped]                  flags & SKIPPED: the programs' skipped runs, as read
    [u32 n, n x u64 drops]         flags & DROPS: failed reserves by type code,
                                   when they changed since the previous record
    nruns x (u32 stride, u32 count, count * stride bytes)   the Runs, as drained
    flags & FLUSH: the stream's last poll

The drop counters are cumulative and written only when they change, so a
reader carries them from record to record (and block to block): PollDecoder
is stateful and reads a file's blocks in order.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np

from ..errors import BadInput
from ..transport.base import RING_HDR_SIZE, Run
from ..transport.capture import PollRecord

__all__ = ["PollDecoder", "PollEncoder"]

HEAD = struct.Struct("<QB3xI")
RUN = struct.Struct("<II")
FLUSH, SKIPPED, DROPS = 1, 2, 4


class PollEncoder:
    """PollRecords -> bytes, carrying the last drop counters. Not thread-safe."""

    def __init__(self) -> None:
        self._drops: list[int] | None = None

    def encode(self, poll: PollRecord, out: list[bytes | memoryview]) -> int:
        """Append `poll`'s bytes to `out` (the Runs' data as views, not
        copies); returns how many bytes were appended."""
        flags = FLUSH if poll.flush else 0
        extra = b""
        if poll.skipped is not None:
            flags |= SKIPPED
            extra += struct.pack("<Q", poll.skipped)
        if poll.drops != self._drops:
            flags |= DROPS
            extra += struct.pack(f"<I{len(poll.drops)}Q", len(poll.drops), *poll.drops)
            self._drops = list(poll.drops)
        parts: list[bytes | memoryview] = [HEAD.pack(poll.now_ns, flags, len(poll.runs)) + extra]
        for run in poll.runs:
            parts.append(RUN.pack(run.stride, run.count))
            parts.append(run.data.data)  # a view of the contiguous copy the reader made
        out.extend(parts)
        return sum(len(p) for p in parts)


class PollDecoder:
    """bytes -> PollRecords, carrying the last drop counters across blocks.
    The Runs are read-only views of the payload. BadInput when a record
    does not parse (a corrupt or foreign file)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._drops: list[int] = []

    def decode(self, payload: bytes, at: int, *, complete: bool = True) -> Iterator[PollRecord]:
        """The records of the POLLS block at file offset `at`. Of a partial
        block (the file stops inside it), the records it holds whole."""
        pos = 0
        while pos < len(payload):
            try:
                poll, pos = self._one(payload, pos)
            except (struct.error, ValueError) as e:
                if not complete:
                    return  # the cut: the reader has said where
                raise BadInput(
                    f"{self.name}: corrupt capture: poll record in the block at byte {at}: {e}"
                ) from None
            yield poll

    def _one(self, buf: bytes, pos: int) -> tuple[PollRecord, int]:
        now, flags, nruns = HEAD.unpack_from(buf, pos)
        pos += HEAD.size
        skipped = None
        if flags & SKIPPED:
            (skipped,) = struct.unpack_from("<Q", buf, pos)
            pos += 8
        if flags & DROPS:
            (n,) = struct.unpack_from("<I", buf, pos)
            self._drops = list(struct.unpack_from(f"<{n}Q", buf, pos + 4))
            pos += 4 + 8 * n
        runs = []
        for _ in range(nruns):
            stride, count = RUN.unpack_from(buf, pos)
            pos += RUN.size
            size = stride * count
            if stride <= RING_HDR_SIZE or stride % 8 or not count or pos + size > len(buf):
                raise ValueError(f"bad run ({count} records of {stride} bytes)")
            runs.append(Run(stride, np.frombuffer(buf, np.uint8, size, pos)))
            pos += size
        return PollRecord(now, runs, self._drops, skipped, bool(flags & FLUSH)), pos
