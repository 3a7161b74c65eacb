"""CPU topology from sysfs: which CPUs exist and which are online (the
per-CPU rings and maps), and the socket, die and core of each (`stat -A`,
`--per-core`, `--per-socket`). Also the CPU-list syntax ("0-3,5") that sysfs
prints and `stat -C` takes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import BadInput

__all__ = ["CpuId", "cpu_id", "online_cpus", "parse_cpu_list", "possible_cpus"]

SYSFS_CPU = Path("/sys/devices/system/cpu")
_RANGE = re.compile(r"([0-9]+)(?:-([0-9]+))?")
MAX_CPUS = 1 << 16


def parse_cpu_list(text: str) -> list[int]:
    """ "0-3,5" -> [0, 1, 2, 3, 5] (sorted, no duplicates); ASCII digits only."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        m = _RANGE.fullmatch(part.strip())
        if m is None:
            raise BadInput(f"bad CPU list {text!r}: expected numbers and ranges like 0-3,5")
        lo, hi = int(m[1]), int(m[2] or m[1])
        if hi < lo or hi >= MAX_CPUS:
            raise BadInput(f"bad CPU list {text!r}: range {part.strip()} is empty or too large")
        cpus.update(range(lo, hi + 1))
    return sorted(cpus)


def online_cpus(path: Path = SYSFS_CPU / "online") -> list[int]:
    """The CPUs that are online now."""
    return parse_cpu_list(path.read_text())


def possible_cpus() -> int:
    """How many CPU slots a per-CPU map needs (highest possible CPU + 1)."""
    return max(online_cpus(SYSFS_CPU / "possible")) + 1


@dataclass(frozen=True, order=True)
class CpuId:
    """Where one CPU sits; perf's S<socket>-D<die>-C<core> naming."""

    socket: int
    die: int
    core: int
    cpu: int


def _read(path: Path) -> int:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return 0  # an arch without dies (or a missing file): one of them


@cache
def cpu_id(cpu: int) -> CpuId:
    """Topology of one CPU (cached: it does not change while we run)."""
    topo = SYSFS_CPU / f"cpu{cpu}" / "topology"
    return CpuId(_read(topo / "physical_package_id"), _read(topo / "die_id"), _read(topo / "core_id"), cpu)
