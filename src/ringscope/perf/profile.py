"""The profile file `ringscope record` writes and `report` reads.

Format "ringscope-profile", version 1, documented in docs/profile-format.md.
JSON, addresses as hex strings (kernel addresses do not fit a double).
Kernel frames are named at record time; user frames are named at report
time from the recorded memory maps and build ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadInput
from ..symbols.maps import Mapping

__all__ = ["FORMAT", "VERSION", "Profile", "Sample"]

FORMAT = "ringscope-profile"
VERSION = 1


@dataclass
class Sample:
    """One aggregated stack: `count` samples with the same pid, comm and
    frames. Stacks are leaf first, as the kernel returns them."""

    pid: int
    comm: str
    count: int
    kstack: list[int] = field(default_factory=list)
    ustack: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid, "comm": self.comm, "count": self.count,
            "kstack": [hex(a) for a in self.kstack], "ustack": [hex(a) for a in self.ustack],
        }  # fmt: skip


@dataclass
class Profile:
    meta: dict[str, Any]
    stats: dict[str, int]
    samples: list[Sample]
    maps: dict[int, list[Mapping]] = field(default_factory=dict)
    build_ids: dict[str, str | None] = field(default_factory=dict)
    ksyms: dict[int, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(s.count for s in self.samples)

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "meta": self.meta,
            "stats": self.stats,
            "samples": [s.as_json() for s in self.samples],
            "maps": {str(pid): [m.as_json() for m in ms] for pid, ms in self.maps.items()},
            "build_ids": self.build_ids,
            "ksyms": {hex(a): n for a, n in self.ksyms.items()},
        }

    def save(self, path: str | Path) -> None:
        tmp = Path(f"{path}.tmp")
        tmp.write_text(json.dumps(self.as_json(), separators=(",", ":")) + "\n")
        tmp.replace(path)  # never leave a half-written profile behind

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        try:
            text = Path(path).read_text()
        except OSError as e:
            raise BadInput(f"cannot read profile {path}: {e.strerror}") from None
        except UnicodeDecodeError:
            raise BadInput(f"{path}: not a ringscope profile (binary data)") from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise BadInput(f"{path}: corrupt profile (bad JSON at line {e.lineno})") from None
        return cls.from_json(doc, str(path))

    @classmethod
    def from_json(cls, doc: Any, where: str = "profile") -> Profile:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise BadInput(f"{where}: not a ringscope profile")
        if doc.get("version") != VERSION:
            raise BadInput(
                f"{where}: unsupported profile version {doc.get('version')!r} (this reads {VERSION})"
            )
        try:
            return cls(
                meta=dict(doc["meta"]),
                stats={str(k): int(v) for k, v in doc["stats"].items()},
                samples=[_sample(s) for s in doc["samples"]],
                maps={int(pid): [_mapping(m) for m in ms] for pid, ms in doc["maps"].items()},
                build_ids={str(k): (str(v) if v else None) for k, v in doc["build_ids"].items()},
                ksyms={int(a, 16): str(n) for a, n in doc["ksyms"].items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise BadInput(f"{where}: corrupt profile ({type(e).__name__}: {e})") from None


def _sample(s: dict[str, Any]) -> Sample:
    return Sample(
        int(s["pid"]), str(s["comm"]), int(s["count"]),
        [int(a, 16) for a in s["kstack"]], [int(a, 16) for a in s["ustack"]],
    )  # fmt: skip


def _mapping(m: dict[str, Any]) -> Mapping:
    return Mapping(int(m["start"], 16), int(m["end"], 16), int(m["pgoff"], 16), str(m["path"]))
