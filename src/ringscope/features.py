"""Kernel feature probing, as data. Each feature is probed the cheapest way
that is still truthful (a sysfs file, libbpf's probe, or loading a tiny
program), cached for the process, and reported with a reason when missing."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from . import caps
from ._libbpf import BpfObject, probe_map_type
from ._libbpf.probe import MAP_RINGBUF
from .btf import VMLINUX
from .errors import NotSupported, RingscopeError
from .objects import object_path
from .tracefs import TRACEFS

__all__ = ["Feature", "Features", "probe", "require"]

EVENT_SOURCES = Path("/sys/bus/event_source/devices")


@dataclass(frozen=True)
class Feature:
    name: str
    available: bool
    reason: str = ""  # why not, when not available


@dataclass(frozen=True)
class Features:
    btf: Feature
    tracefs: Feature
    ringbuf: Feature
    tp_btf: Feature
    kprobes: Feature
    fentry: Feature
    uprobes: Feature
    perf_events: Feature
    hw_pmu: Feature

    def as_dict(self) -> dict[str, dict[str, object]]:
        return {k: {"available": v["available"], "reason": v["reason"]} for k, v in asdict(self).items()}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(getattr(self, k) for k in self.__dataclass_fields__)


def _sysfs(name: str, path: Path, reason: str) -> Feature:
    try:
        os.stat(path)
    except PermissionError:
        return Feature(name, False, f"{path} is not readable by this user (uid {os.getuid()})")
    except OSError:
        return Feature(name, False, reason)
    return Feature(name, True)


def _load_probe(name: str, program: str) -> Feature:
    if not caps.has(caps.CAP_BPF):
        return Feature(name, False, "unknown: probing needs CAP_BPF")
    try:
        with BpfObject.open(object_path("probe")) as obj:
            for p in obj.programs.values():
                p.set_autoload(p.name == program)
            obj.load()
        return Feature(name, True)
    except RingscopeError as e:
        return Feature(name, False, f"program load fails: {str(e).split(': ', 1)[-1]}")


@cache
def probe() -> Features:
    """Probe once per process. Needs root for the program-load probes."""
    ringbuf = probe_map_type(MAP_RINGBUF) if caps.has(caps.CAP_BPF) else VMLINUX.exists()
    return Features(
        btf=_sysfs("btf", VMLINUX, f"no {VMLINUX} (CONFIG_DEBUG_INFO_BTF off)"),
        tracefs=_sysfs("tracefs", TRACEFS / "events", f"tracefs is not mounted at {TRACEFS}"),
        ringbuf=Feature("ringbuf", ringbuf, "" if ringbuf else "BPF_MAP_TYPE_RINGBUF needs Linux 5.8"),
        tp_btf=_load_probe("tp_btf", "probe_tp_btf"),
        kprobes=_sysfs("kprobes", EVENT_SOURCES / "kprobe", "CONFIG_KPROBES is off"),
        fentry=_load_probe("fentry", "probe_fentry"),
        uprobes=_sysfs("uprobes", EVENT_SOURCES / "uprobe", "CONFIG_UPROBE_EVENTS is off"),
        perf_events=_sysfs(
            "perf_events", Path("/proc/sys/kernel/perf_event_paranoid"), "CONFIG_PERF_EVENTS is off"
        ),
        hw_pmu=_sysfs("hw_pmu", EVENT_SOURCES / "cpu", "no hardware PMU (a VM without PMU passthrough)"),
    )


def require(feature: Feature) -> None:
    """Raise NotSupported with the reason when `feature` is missing."""
    if not feature.available:
        raise NotSupported(f"not supported by this kernel: {feature.reason}")
