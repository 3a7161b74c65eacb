"""The profile `ringscope record` writes and `report`/`script` read.

Format "ringscope-profile" version 2, documented in docs/profile-format.md:
gzip-compressed JSON whose per-sample columns are little-endian arrays in
base64. One row per sample (time, cpu, pid, tid, period, stack, comm,
count); stacks and frames are stored once and referenced by index; user
frames name their file (path + build id) and the file offset, so they are
symbolized without the process's memory maps. Version 1 files (plain JSON,
aggregated stacks + maps) are still read, through legacy.py.

Reading is bounded: a file is checked by its first bytes and its size
before anything is loaded, and decompression stops at MAX_BYTES.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadInput
from ..outfile import write_file
from .legacy import COLUMNS, decode_column, encode_column, v1_to_v2

__all__ = ["FORMAT", "MAX_BYTES", "VERSION", "Dso", "FrameRef", "Profile", "SampleTable"]

FORMAT = "ringscope-profile"
VERSION = 2
MAX_BYTES = 1 << 30  # a profile larger than this, compressed or not, is refused
_GZIP = b"\x1f\x8b"


@dataclass(frozen=True)
class Dso:
    """A mapped file, the kernel, or a pseudo mapping ([vdso])."""

    path: str
    build_id: str | None = None
    kernel: bool = False


@dataclass(frozen=True)
class FrameRef:
    """One frame: its runtime address, the dso it lies in (-1: no mapping
    known), the file offset of the address (the address itself for the
    kernel), and whether it is a return address (symbolized at addr - 1)."""

    addr: int
    dso: int
    offset: int
    ret: bool


class SampleTable:
    """The per-sample columns (arrays of equal length, COLUMNS' types); a
    missing column is zeros."""

    def __init__(self, cols: Mapping[str, Sequence[int]] | None = None) -> None:
        cols = cols or {}
        n = len(next(iter(cols.values()))) if cols else 0
        self.cols = {k: _column(t, cols[k]) if k in cols else array(t, [0]) * n for k, t in COLUMNS.items()}
        if any(len(c) != n for c in self.cols.values()):
            raise BadInput("profile: sample columns of different lengths")

    def __len__(self) -> int:
        return len(self.cols["time"])

    def __getitem__(self, name: str) -> array[int]:
        return self.cols[name]

    @classmethod
    def from_rows(cls, rows: list[tuple[int, ...]]) -> SampleTable:
        """Rows in COLUMNS order."""
        return cls({k: array(t, (r[i] for r in rows)) for i, (k, t) in enumerate(COLUMNS.items())})


def _column(code: str, values: Sequence[int]) -> array[int]:
    return values if isinstance(values, array) and values.typecode == code else array(code, values)


@dataclass
class Profile:
    meta: dict[str, Any]
    stats: dict[str, int]
    dsos: list[Dso] = field(default_factory=list)
    frames: list[FrameRef] = field(default_factory=list)
    stacks: list[tuple[int, ...]] = field(default_factory=list)  # frame ids, leaf first
    comms: list[str] = field(default_factory=list)
    samples: SampleTable = field(default_factory=SampleTable)
    knames: dict[int, str] = field(default_factory=dict)  # frame id -> kernel symbol

    @property
    def total(self) -> int:
        return sum(self.samples["count"])

    @property
    def per_sample(self) -> bool:
        """True when each row is one sample with its time (not aggregated)."""
        return bool(self.meta.get("per_sample", False))

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "meta": self.meta,
            "stats": self.stats,
            "dsos": [[d.path, d.build_id, int(d.kernel)] for d in self.dsos],
            "frames": [[f.addr, f.dso, f.offset, int(f.ret)] for f in self.frames],
            "stacks": [list(s) for s in self.stacks],
            "comms": self.comms,
            "samples": {k: encode_column(COLUMNS[k], v) for k, v in self.samples.cols.items()},
            "knames": {str(k): v for k, v in self.knames.items()},
        }

    def save(self, path: str | Path) -> None:
        data = json.dumps(self.as_json(), separators=(",", ":")).encode()
        write_file(path, gzip.compress(data, compresslevel=6, mtime=0))

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        return cls.from_bytes(_read_bounded(Path(path)), str(path))

    @classmethod
    def from_bytes(cls, raw: bytes, where: str = "profile") -> Profile:
        if raw[:2] == _GZIP:
            raw = _gunzip(raw, where)
        if not raw.lstrip()[:1] == b"{":
            raise BadInput(f"{where}: not a ringscope profile")
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            line = getattr(e, "lineno", "?")
            raise BadInput(f"{where}: corrupt profile (bad JSON at line {line})") from None
        return cls.from_json(doc, where)

    @classmethod
    def from_json(cls, doc: Any, where: str = "profile") -> Profile:
        """A parsed document of version 2 or 1 (BadInput when it is not one)."""
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise BadInput(f"{where}: not a ringscope profile")
        version = doc.get("version")
        try:
            if version == 1:
                return _from_v2(v1_to_v2(doc))
            if version != VERSION:
                raise BadInput(
                    f"{where}: unsupported profile version {version!r} (this reads 1 and {VERSION})"
                )
            return _from_v2(doc)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            raise BadInput(f"{where}: corrupt profile ({type(e).__name__}: {e})") from None


def _from_v2(doc: dict[str, Any]) -> Profile:
    cols = {k: decode_column(t, doc["samples"][k]) for k, t in COLUMNS.items()}
    prof = Profile(
        meta=dict(doc["meta"]),
        stats={str(k): int(v) for k, v in doc["stats"].items()},
        dsos=[Dso(str(p), str(b) if b else None, bool(k)) for p, b, k in doc["dsos"]],
        frames=[FrameRef(int(a), int(d), int(o), bool(r)) for a, d, o, r in doc["frames"]],
        stacks=[tuple(int(i) for i in s) for s in doc["stacks"]],
        comms=[str(c) for c in doc["comms"]],
        samples=SampleTable(cols),
        knames={int(k): str(v) for k, v in doc["knames"].items()},
    )
    _check_refs(prof)
    return prof


def _check_refs(p: Profile) -> None:
    """Every index points into its table: a corrupt file fails here, once,
    instead of as an IndexError deep in a report."""
    nd, nf, ns, nc = len(p.dsos), len(p.frames), len(p.stacks), len(p.comms)
    if any(not -1 <= f.dso < nd for f in p.frames) or any(not 0 <= i < nf for s in p.stacks for i in s):
        raise ValueError("frame or dso index out of range")
    if len(p.samples) and (max(p.samples["stack"]) >= ns or max(p.samples["comm"]) >= nc):
        raise ValueError("stack or comm index out of range")


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, refusing what cannot be a profile before reading
    it all: a device (/dev/zero never ends), or more than MAX_BYTES."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            head = f.read(2)
            if head and head != _GZIP and head[:1] not in b"{ \t\r\n":
                raise BadInput(f"{path}: not a ringscope profile")
            if not _is_regular(st.st_mode) or st.st_size > MAX_BYTES:
                raise BadInput(f"{path}: not a ringscope profile (not a regular file under 1 GiB)")
            return head + f.read(MAX_BYTES)
    except OSError as e:
        raise BadInput(f"cannot read profile {path}: {e.strerror}") from None


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


def _gunzip(raw: bytes, where: str) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(raw, MAX_BYTES)
    except zlib.error as e:
        raise BadInput(f"{where}: corrupt profile (gzip: {e})") from None
    if d.unconsumed_tail:
        raise BadInput(f"{where}: profile larger than {MAX_BYTES >> 20} MiB uncompressed")
    return out
