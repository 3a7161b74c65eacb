"""The META block of a capture file: what, where, when and by which
ringscope, as one JSON object (docs/capture-format.md lists every key).

Events are kept as their specs' own descriptions (EventSpec.describe:
a static event's name; a tracepoint's tracefs format text; a uprobe's
binary, function and file offset), so replay remakes them with
sources.rebuild without reading tracefs or the probed binaries.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import socket
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from ..errors import BadInput
from ..events.spec import EventSpec
from ..filters import Filter
from ..sources import rebuild

__all__ = ["Meta", "make_meta", "ringscope_version"]


def ringscope_version() -> str:
    try:
        return metadata.version("ringscope")
    except metadata.PackageNotFoundError:
        return "unknown"


def _boot_time_s() -> int | None:
    """btime of /proc/stat: the boot, in whole seconds since the epoch."""
    try:
        with open("/proc/stat", "rb") as f:
            for line in f:
                if line.startswith(b"btime "):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def make_meta(
    specs: list[EventSpec],
    objects: list[str],
    *,
    transport: str | None,
    ring_size: int,
    wakeup_bytes: int,
    filter: Filter,
    argv: list[str] | None = None,
) -> dict[str, Any]:
    """The META object for a session about to be captured. `objects` names
    the BTF blocks that follow, in the decoder's order."""
    mono, real = time.monotonic_ns(), time.time_ns()
    uname = platform.uname()
    return {
        "format": "ringscope-capture",
        "ringscope": ringscope_version(),
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(real / 1e9)),
        "host": {
            "hostname": socket.gethostname(),
            "kernel": uname.release,
            "kernel_version": uname.version,
            "machine": uname.machine,
            "byteorder": sys.byteorder,
            "page_size": os.sysconf("SC_PAGE_SIZE"),
            "cpus": os.cpu_count(),
        },
        # ts_ns in records is CLOCK_MONOTONIC (bpf_ktime_get_ns): wall time = ts_ns + offset_ns.
        "clock": {
            "events": "CLOCK_MONOTONIC",
            "monotonic_ns": mono,
            "realtime_ns": real,
            "offset_ns": real - mono,
            "boot_time_s": _boot_time_s(),
        },
        "transport": transport,
        "ring_size": ring_size,
        "wakeup_bytes": wakeup_bytes,
        "filter": dataclasses.asdict(filter),
        "events": [s.describe() for s in specs],
        "objects": objects,
        "argv": argv if argv is not None else sys.argv[1:],
    }


@dataclass(frozen=True)
class Meta:
    """A META block read back: the raw object, and the specs remade."""

    doc: dict[str, Any]
    specs: list[EventSpec]

    @property
    def objects(self) -> list[str]:
        return [str(o) for o in self.doc["objects"]]

    @property
    def ring_size(self) -> int:
        return int(self.doc["ring_size"])

    @property
    def wakeup_bytes(self) -> int:
        return int(self.doc["wakeup_bytes"])

    @property
    def transport(self) -> str | None:
        t = self.doc.get("transport")
        return None if t is None else str(t)

    @classmethod
    def parse(cls, payload: bytes, name: str) -> Meta:
        """BadInput naming the file when the block is not a META object this version reads."""
        try:
            doc = json.loads(payload)
            if not isinstance(doc, dict) or doc.get("format") != "ringscope-capture":
                raise ValueError("not a ringscope capture description")
            for key in ("events", "objects", "ring_size", "wakeup_bytes"):
                if key not in doc:
                    raise ValueError(f"no {key!r}")
            if not isinstance(doc["events"], list) or not all(isinstance(e, dict) for e in doc["events"]):
                raise ValueError("'events' is not a list of objects")
            meta = cls(doc, [])
            _ = (meta.ring_size, meta.wakeup_bytes, meta.objects)
        except (ValueError, TypeError) as e:
            raise BadInput(f"{name}: corrupt capture: bad META block: {e}") from None
        try:
            specs = [rebuild(e) for e in doc["events"]]
        except BadInput as e:
            raise BadInput(f"{name}: {e}") from None
        return cls(doc, specs)
