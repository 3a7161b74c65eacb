"""The capture file's framing: a file header, then length-prefixed blocks,
each optionally zstd-compressed on its own (docs/capture-format.md).

    file header  16 bytes: magic "\\x89RSCAP\\r\\n", u16 version, u16 flags, u32 reserved
    block        16-byte header: u32 stored length, u32 raw length, u8 kind,
                 u8 codec, u16 reserved, u32 CRC-32 of the stored bytes;
                 then the stored bytes

Everything is little-endian. A writer appends whole blocks and flushes each,
so a file being written is readable up to its last whole block; a writer
killed mid-block leaves a partial block, which BlockReader reports (where
the file stops) instead of failing. A block of a kind this version does not
know is skipped: new kinds extend the format, a new `version` breaks it.
"""

from __future__ import annotations

import enum
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import zstandard

from ..errors import BadInput

__all__ = ["MAGIC", "VERSION", "Block", "BlockReader", "BlockWriter", "Codec", "Kind"]

MAGIC = b"\x89RSCAP\r\n"  # the high byte and CR LF catch 7-bit and text-mode mangling, as PNG's do
VERSION = 1
FILE_HEADER = struct.Struct("<8sHHI")
BLOCK_HEADER = struct.Struct("<IIBBHI")
MAX_BLOCK = 1 << 28  # bytes, stored or raw: a length past this is corruption, not a block


class Kind(enum.IntEnum):
    META = 1  # JSON: the host, the clock, the versions, the events (meta.py)
    BTF = 2  # an object's name, NUL, its raw .BTF section
    POLLS = 3  # poll records (polls.py)
    END = 4  # JSON: totals, written by a writer that closed cleanly
    MESSAGE = 5  # one NATS message waiting in an export spool (export/spool.py)


class Codec(enum.IntEnum):
    NONE = 0
    ZSTD = 1  # one zstd frame


@dataclass(frozen=True, slots=True)
class Block:
    kind: int
    payload: bytes  # decompressed
    offset: int  # of its header in the file
    complete: bool = True  # False: the file stops inside it; payload is what its bytes held


class BlockWriter:
    """Appends blocks to `fh` (positioned at its end), each flushed as one
    write. Owns no file: the caller closes `fh`. Not thread-safe."""

    # Level 1: on the test captures within 4 % of level 3's size, at 1.25x its speed (it runs live).
    def __init__(self, fh: BinaryIO, *, compress: bool = True, level: int = 1) -> None:
        self.fh = fh
        self._zstd = zstandard.ZstdCompressor(level=level) if compress else None
        self.bytes_written = 0

    def write_file_header(self) -> None:
        self._write(FILE_HEADER.pack(MAGIC, VERSION, 0, 0))

    def write(self, kind: Kind, payload: bytes) -> None:
        """One block of `payload`, compressed at once."""
        block = self.block()
        block.add([payload])
        self.finish(kind, block)

    def block(self) -> BlockBuilder:
        """A block to fill piece by piece (a POLLS block, one poll at a time)."""
        return BlockBuilder(None if self._zstd is None else self._zstd.compressobj())

    def finish(self, kind: Kind, block: BlockBuilder) -> None:
        """Write `block` as one block of `kind`."""
        codec, stored = block.close()
        crc = zlib.crc32(stored)
        self._write(BLOCK_HEADER.pack(len(stored), block.raw_len, kind, codec, 0, crc) + stored)

    def _write(self, data: bytes) -> None:
        self.fh.write(data)
        self.fh.flush()
        self.bytes_written += len(data)


class BlockBuilder:
    """A block's stored bytes, made as its pieces come. Compressed, each
    add() ends a zstd block, so that the first bytes of a block cut short
    still decode to whole pieces (BlockReader's partial blocks)."""

    def __init__(self, zstd: zstandard.ZstdCompressionObj | None) -> None:
        self._zstd = zstd
        self._stored: list[bytes | memoryview] = []
        self.raw_len = 0
        self.stored_len = 0

    def add(self, parts: list[bytes | memoryview]) -> None:
        for part in parts:
            self.raw_len += len(part)
            self._put(part if self._zstd is None else self._zstd.compress(part))
        if self._zstd is not None:
            self._put(self._zstd.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))

    def _put(self, data: bytes | memoryview) -> None:
        if data:
            self._stored.append(data)
            self.stored_len += len(data)

    def close(self) -> tuple[Codec, bytes]:
        if self._zstd is None:
            return Codec.NONE, b"".join(self._stored)
        self._put(self._zstd.flush())
        return Codec.ZSTD, b"".join(self._stored)


class BlockReader:
    """Reads the blocks of a capture file in order. Bad input (not a
    capture, another version, a corrupt block) raises BadInput naming the
    file and the byte; a file that stops inside a block ends the iteration
    and sets `truncated` to a sentence saying where. Owns no file."""

    def __init__(self, fh: BinaryIO, name: str) -> None:
        self.fh = fh
        self.name = name
        self.truncated: str | None = None
        self._zstd = zstandard.ZstdDecompressor()
        head = fh.read(FILE_HEADER.size)
        if len(head) < FILE_HEADER.size or not head.startswith(MAGIC):
            raise BadInput(f"{name}: not a ringscope capture file (bad magic)")
        _, version, _flags, _ = FILE_HEADER.unpack(head)
        if version != VERSION:
            raise BadInput(
                f"{name}: capture format version {version}; this ringscope reads version {VERSION}"
            )
        self.offset = FILE_HEADER.size

    def __iter__(self) -> Iterator[Block]:
        """Whole blocks, then a partial last one (complete=False) if the
        file stops inside it."""
        while self.truncated is None:
            block = self._next()
            if block is None:
                return
            if block.kind in Kind.__members__.values():
                yield block

    def _next(self) -> Block | None:
        at = self.offset
        head = self.fh.read(BLOCK_HEADER.size)
        if not head:
            return None
        if len(head) < BLOCK_HEADER.size:
            self._cut(at, len(head), BLOCK_HEADER.size)
            return None
        stored_len, raw_len, kind, codec, _, crc = BLOCK_HEADER.unpack(head)
        if stored_len > MAX_BLOCK or raw_len > MAX_BLOCK or codec not in Codec.__members__.values():
            raise BadInput(f"{self.name}: corrupt capture: bad block header at byte {at}")
        stored = self.fh.read(stored_len)
        if len(stored) < stored_len:
            self._cut(at, BLOCK_HEADER.size + len(stored), BLOCK_HEADER.size + stored_len)
            return Block(kind, self._partial(stored, codec), at, complete=False)
        if zlib.crc32(stored) != crc:
            raise BadInput(f"{self.name}: corrupt capture: bad checksum in the block at byte {at}")
        self.offset = at + BLOCK_HEADER.size + stored_len
        return Block(kind, self._payload(stored, codec, raw_len, at), at)

    def _payload(self, stored: bytes, codec: int, raw_len: int, at: int) -> bytes:
        if codec == Codec.NONE:
            payload = stored
        else:
            try:
                payload = self._zstd.decompress(stored, max_output_size=raw_len)
            except zstandard.ZstdError as e:
                raise BadInput(f"{self.name}: corrupt capture: block at byte {at}: {e}") from None
        if len(payload) != raw_len:
            raise BadInput(f"{self.name}: corrupt capture: block at byte {at} has the wrong length")
        return payload

    def _partial(self, stored: bytes, codec: int) -> bytes:
        """What the first bytes of a block hold: a prefix of its payload
        (a zstd frame decodes as far as its bytes go). No checksum to check."""
        if codec == Codec.NONE:
            return stored
        try:
            return self._zstd.decompressobj().decompress(stored)
        except zstandard.ZstdError:
            return b""

    def _cut(self, at: int, have: int, need: int) -> None:
        self.truncated = f"{self.name} stops inside the block at byte {at} ({have} of {need} bytes)"
