"""A minimal protocol buffers encoder: what profile.proto needs (varints,
packed repeated varints, nested messages, strings). Written here rather
than taking the `protobuf` package: that one needs code generated from
the .proto by protoc (not in Debian's Python toolchain here) or a
descriptor built at run time, for five small messages; this is ~40 lines
and `go tool pprof` itself checks its output in the tests.

Wire format: https://protobuf.dev/programming-guides/encoding/ (field
key = number << 3 | wire type; 0 varint, 2 length-delimited)."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Message"]


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # int64 negatives are ten-byte two's complement
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class Message:
    """Fields appended in order; bytes(msg) is the encoding. Zero scalars
    are skipped (proto3 default values are not sent)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def num(self, field: int, value: int) -> Message:
        if value:
            self._buf += varint(field << 3) + varint(value)
        return self

    def raw(self, field: int, value: bytes) -> Message:
        self._buf += varint(field << 3 | 2) + varint(len(value)) + value
        return self

    def text(self, field: int, value: str) -> Message:
        return self.raw(field, value.encode())

    def sub(self, field: int, value: Message) -> Message:
        return self.raw(field, bytes(value))

    def packed(self, field: int, values: Iterable[int]) -> Message:
        body = b"".join(varint(v) for v in values)
        if body:
            self.raw(field, body)
        return self

    def __bytes__(self) -> bytes:
        return bytes(self._buf)
