"""`ringscope script`: every sample in `perf script`'s text format, which
Firefox Profiler, speedscope, Perfetto and FlameGraph's
stackcollapse-perf.pl read:

    comm pid/tid [cpu] secs.usecs: period event:
    \t<addr> sym+0xoff (dso path)
    ...
    <blank line>

Samples in time order, one block each, leaf frame first."""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import BadInput
from .profile import Profile
from .report import oneline
from .symbolize import ProfileSymbols

__all__ = ["script_lines"]


def _frame_line(syms: ProfileSymbols, fid: int) -> str:
    f = syms.frame(fid)
    sym = f"{f.name}+0x{f.symoff:x}" if f.symoff >= 0 else f.name
    return f"\t{f.addr:16x} {oneline(sym)} ({oneline(f.path or f.dso)})\n"


def script_lines(profile: Profile) -> Iterator[str]:
    """The text, one sample block at a time (a long recording is not
    held in memory as one string)."""
    if not profile.per_sample:
        raise BadInput("this profile has no per-sample records (recorded with --aggregate or by version 1)")
    syms = ProfileSymbols(profile)
    event = oneline(profile.meta.get("event") or "event")
    frame_text: dict[int, str] = {}
    s = profile.samples
    cols = zip(s["time"].tolist(), s["cpu"].tolist(), s["pid"].tolist(), s["tid"].tolist(),
               s["period"].tolist(), s["stack"].tolist(), s["comm"].tolist(), strict=True)  # fmt: skip
    for time, cpu, pid, tid, period, stack, comm in cols:
        head = f"{oneline(profile.comms[comm])} {pid}/{tid} [{cpu:03d}] {time // 1_000_000_000}.{time % 1_000_000_000 // 1000:06d}: {period} {event}:\n"
        body = []
        for fid in profile.stacks[stack]:
            if fid not in frame_text:
                frame_text[fid] = _frame_line(syms, fid)
            body.append(frame_text[fid])
        yield head + "".join(body) + "\n"
