"""Writing a capture file while a stream runs: a stream Tap that appends
every poll (its Runs as drained, the kernel counters and the clock) to
POLLS blocks, after the description (META, then each object's BTF).

A block is written when it holds BLOCK_BYTES, or BLOCK_SECONDS after its
first poll, or at close: a reader (or a crash) sees the file whole up to
the last block written, and a killed writer loses at most that much.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from ..btf import Btf
from ..errors import RingscopeError
from ..transport.capture import PollRecord
from .format import BlockWriter, Kind
from .polls import PollEncoder

__all__ = ["BLOCK_BYTES", "BLOCK_SECONDS", "CaptureWriter"]

BLOCK_BYTES = 1 << 20  # raw bytes per POLLS block: zstd's window sees enough to compress well
BLOCK_SECONDS = 0.5  # at most this much of a live run waits in memory


class CaptureWriter:
    """Appends a stream to a capture file. open() creates the file, begin()
    writes the description, polled() (the Tap) each poll, close() the last
    block and END. Owns the file. Not thread-safe: the polling thread calls it.
    Errors writing are RingscopeError naming the file (exit 1)."""

    def __init__(self, fh: BinaryIO, path: str, *, compress: bool = True) -> None:
        self.path = path
        self._fh = fh
        self._out = BlockWriter(fh, compress=compress)
        self._polls = PollEncoder()
        self._buf: list[bytes | memoryview] = []
        self._buf_bytes = 0
        self._buf_since = 0.0
        self.polls = 0
        self.events = 0
        self.raw_bytes = 0  # poll records before compression

    @classmethod
    def open(cls, path: str, *, compress: bool = True) -> CaptureWriter:
        """Create (or truncate) `path`. RingscopeError if it cannot be written."""
        try:
            fh = open(path, "wb")  # noqa: SIM115 (owned by the writer)
        except OSError as e:
            raise RingscopeError(f"cannot write {path}: {e.strerror}") from None
        return cls(fh, path, compress=compress)

    @property
    def bytes_written(self) -> int:
        return self._out.bytes_written

    def begin(self, meta: dict[str, Any], btfs: dict[str, Btf]) -> None:
        """The file header and the description: META, then the BTF of each
        object in `meta["objects"]` order."""
        with self._errors():
            self._out.write_file_header()
            self._out.write(Kind.META, json.dumps(meta, separators=(",", ":")).encode())
            for name in meta["objects"]:
                self._out.write(Kind.BTF, name.encode() + b"\0" + btfs[name].raw)

    def polled(self, poll: PollRecord) -> None:
        """The stream's Tap: buffer this poll, write a block when it is due."""
        if not self._buf:
            self._buf_since = time.monotonic()
        self._buf_bytes += self._polls.encode(poll, self._buf)
        self.polls += 1
        self.events += poll.events
        if self._buf_bytes >= BLOCK_BYTES or time.monotonic() - self._buf_since >= BLOCK_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write what is buffered as one POLLS block."""
        if not self._buf:
            return
        payload = b"".join(self._buf)
        self.raw_bytes += len(payload)
        self._buf, self._buf_bytes = [], 0
        with self._errors():
            self._out.write(Kind.POLLS, payload)

    def close(self) -> None:
        """The last block, END with the totals, and the file. Idempotent."""
        if self._fh.closed:
            return
        try:
            self.flush()
            end = {"polls": self.polls, "events": self.events, "closed": time.time_ns()}
            with self._errors():
                self._out.write(Kind.END, json.dumps(end).encode())
        finally:
            try:
                self._fh.close()
            except OSError as e:
                raise RingscopeError(f"cannot write {self.path}: {e.strerror}") from None

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """OSError while writing -> RingscopeError naming the capture file."""
        try:
            yield
        except OSError as e:
            raise RingscopeError(f"cannot write {self.path}: {e.strerror}") from None
