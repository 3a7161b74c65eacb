"""`trace -i` and `convert` on the stored captures, as any user: the same
bytes the live run printed, a cut file replayed up to the cut, bad files
refused in one line."""

from __future__ import annotations

import random
import struct
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from ringscope.capture.format import BLOCK_HEADER, FILE_HEADER, Kind
from ringscope.capture.parquet import file_name
from tests.replay.conftest import CAPTURES, capture, in_process, live_ndjson, ringscope, rows


@pytest.mark.parametrize("name", CAPTURES)
def test_trace_i_prints_what_the_live_run_printed(name: str) -> None:
    p = ringscope("trace", "-i", str(capture(name)), "--format", "json")
    assert p.returncode == 0, p.stderr
    assert p.stdout == live_ndjson(name)
    n = sum(r["type"] != "lost" for r in rows(p.stdout))
    assert p.stderr.decode().startswith(f"ringscope: {n} events, lost ")


def _blocks(data: bytes) -> list[tuple[int, int, int]]:
    """(offset, end, kind) of every block of a whole capture file."""
    out, at = [], FILE_HEADER.size
    while at < len(data):
        stored, _raw, kind, _codec, _, _crc = BLOCK_HEADER.unpack_from(data, at)
        end = at + BLOCK_HEADER.size + stored
        out.append((at, end, kind))
        at = end
    return out


@pytest.mark.parametrize("name", ["static", "lost"])
def test_a_capture_cut_anywhere_replays_up_to_the_cut(
    name: str, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    data = capture(name).read_bytes()
    full = live_ndjson(name)
    blocks = _blocks(data)
    first_polls = next(a for a, _, k in blocks if k == Kind.POLLS)
    rng = random.Random(12)
    cuts = [rng.randrange(first_polls, len(data)) for _ in range(6)] + [rng.randrange(1, first_polls)]
    for cut in cuts:
        cut_file = tmp_path / f"cut-{cut}.rscap"
        cut_file.write_bytes(data[:cut])
        code, out, stderr = in_process(capsysbinary, "trace", "-i", str(cut_file), "--format", "json")
        err = stderr.decode().strip().splitlines()
        inside = next((a for a, end, _ in blocks if a < cut < end), None)
        if cut < first_polls:
            assert code == 2 and len(err) == 1, (cut, err)
            assert f"stops inside the block at byte {inside}" in err[0] and "description" in err[0]
            continue
        assert code == 0, (cut, err)
        assert full.startswith(out), cut  # whole lines, in order, up to the cut
        if inside is not None:
            assert err[-1].endswith("replayed up to there") and f"at byte {inside} " in err[-1], err
        if inside is not None and inside > first_polls:
            assert out, cut  # every poll of the blocks before the cut at least


def _corrupt(data: bytes, tmp_path: Path) -> dict[str, tuple[bytes, str]]:
    blocks = _blocks(data)
    meta = next(a for a, _, k in blocks if k == Kind.META)
    polls = next(a for a, _, k in blocks if k == Kind.POLLS)

    def flip(at: int) -> bytes:
        return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]

    newer = data[:8] + struct.pack("<H", 99) + data[10:]
    return {
        "empty": (b"", "not a ringscope capture file"),
        "ndjson": (b'{"seq":0}\n' * 10, "not a ringscope capture file"),
        "elf": (Path("/bin/true").read_bytes()[:4096], "not a ringscope capture file"),
        "version": (newer, "capture format version 99"),
        "meta": (flip(meta + BLOCK_HEADER.size + 3), f"bad checksum in the block at byte {meta}"),
        "polls": (flip(polls + BLOCK_HEADER.size + 40), f"bad checksum in the block at byte {polls}"),
        "length": (flip(polls + 3), f"bad block header at byte {polls}"),
    }


def test_a_corrupt_or_foreign_file_is_one_line_and_exit_2(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    for what, (data, message) in _corrupt(capture("static").read_bytes(), tmp_path).items():
        bad = tmp_path / f"{what}.rscap"
        bad.write_bytes(data)
        for cmd in ("trace", "convert"):
            args = [cmd, "-i", str(bad)] if cmd == "trace" else [cmd, str(bad), "-o", str(tmp_path / "pq")]
            code, _, stderr = in_process(capsysbinary, *args)
            err = stderr.decode().strip().splitlines()
            assert code == 2 and len(err) == 1, (what, cmd, err)
            assert err[0].startswith("ringscope: error: ") and message in err[0], (what, cmd, err)
    p = ringscope("trace", "-i", str(tmp_path / "missing.rscap"))
    assert p.returncode == 2 and p.stderr.count(b"\n") == 1 and b"No such file or directory" in p.stderr


@pytest.mark.parametrize("option", [["-p", "1"], ["-e", "open"], ["--comm", "x"], ["-w", "x.rscap"],
                                    ["--", "/bin/true"]])  # fmt: skip
def test_options_that_choose_kernel_events_do_not_apply_to_i(
    option: list[str], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code, _, err = in_process(capsysbinary, "trace", "-i", str(capture("static")), *option)
    assert code == 2 and err.count(b"\n") == 1, err
    assert b"does not apply to -i" in err or b"go apart" in err, err


def _json_value(v: Any) -> Any:
    """A Parquet value as the NDJSON has it: bytes as hex, maps as objects."""
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, list) and v and isinstance(v[0], tuple):
        return dict(v)
    return v


@pytest.mark.parametrize("name", CAPTURES)
def test_convert_writes_one_parquet_file_per_type_that_reads_back_equal(name: str, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    p = ringscope("convert", str(capture(name)), "-o", str(out))
    assert p.returncode == 0, p.stderr
    live = rows(live_ndjson(name))
    by_type = Counter(r["type"] for r in live)
    assert sorted(f.name for f in out.iterdir()) == sorted(file_name(t) for t in by_type)
    for t, n in by_type.items():
        table = pq.read_table(out / file_name(t))
        assert table.num_rows == n
        want = [r for r in live if r["type"] == t]
        got = [{k: _json_value(v) for k, v in r.items() if k in w or v is not None}
               for r, w in zip(table.to_pylist(), want, strict=True)]  # fmt: skip
        assert got == want, t
        if t != "lost":
            assert str(table.schema.field("ts_ns").type) == "uint64"
            assert str(table.schema.field("comm").type) == "string"
