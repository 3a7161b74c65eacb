"""CPU topology from sysfs: which CPUs exist and which are online."""

from __future__ import annotations

from pathlib import Path

__all__ = ["online_cpus", "parse_cpulist", "possible_cpus"]

CPU_SYSFS = Path("/sys/devices/system/cpu")


def parse_cpulist(text: str) -> list[int]:
    """CPU numbers from a sysfs cpulist such as "0-3,6"."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def online_cpus(path: Path = CPU_SYSFS / "online") -> list[int]:
    """The CPUs that are online now."""
    return parse_cpulist(path.read_text())


def possible_cpus() -> int:
    """How many CPU slots a per-CPU map needs (highest possible CPU + 1)."""
    return max(online_cpus(CPU_SYSFS / "possible")) + 1
