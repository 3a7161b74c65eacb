"""Python half of bpf/kprobe.bpf.c: kprobe/kretprobe and fentry/fexit.

Feature-probed before anything is loaded: on a kernel without
CONFIG_KPROBES (or without BPF trampolines for fentry/fexit) the spec is
refused with NotSupported and the probe's reason. Records share the uprobe
layout. fentry/fexit targets are fixed at load time, so a session holds at
most one fentry and one fexit function.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import features
from ..btf import Btf
from ..errors import BadInput
from ..events.layout import EventLayout
from ..tracefs import TRACEFS
from .dynamic import DynamicSpec
from .funcprobe import probe_finish, probe_finish_columns, probe_layout

if TYPE_CHECKING:
    from .._libbpf import BpfObject, Link

__all__ = ["KprobeSpec", "rebuild", "resolve"]

_FUNC = re.compile(r"^[A-Za-z_][\w.]*$")
_RETURN = ("kretprobe", "fexit")


@dataclass(frozen=True, kw_only=True)
class KprobeSpec(DynamicSpec):
    func: str

    @property
    def retprobe(self) -> bool:
        return self.family in _RETURN

    def prepare(self, obj: BpfObject, tag: int) -> None:
        if self.family in ("fentry", "fexit"):
            obj.program(f"handle_{self.family}").set_attach_target(self.func)
            obj.set_rodata(**{f"rs_{self.family}_tag": tag})

    def attach(self, obj: BpfObject, tag: int, pid: int | None) -> Iterator[Link]:
        if self.family == "kprobe":
            yield obj.program("handle_kprobe").attach_kprobe(self.func, cookie=tag)
        elif self.family in ("fentry", "fexit"):
            yield obj.program(f"handle_{self.family}").attach()
        else:
            yield obj.program("handle_kentry").attach_kprobe(self.func, cookie=tag)
            yield obj.program("handle_kretprobe").attach_kprobe(self.func, retprobe=True, cookie=tag)

    def layout(self, btf: Btf, code: int, stride: int) -> EventLayout:
        return probe_layout(btf, self, code, self.retprobe)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "func": self.func}


def _programs(family: str) -> tuple[str, ...]:
    return {
        "kprobe": ("handle_kprobe",),
        "kretprobe": ("handle_kentry", "handle_kretprobe"),
        "fentry": ("handle_fentry",),
        "fexit": ("handle_fexit",),
    }[family]


def resolve(family: str, func: str) -> KprobeSpec:
    """The spec for `kprobe:FUNC` etc. NotSupported when the kernel lacks the
    mechanism, BadInput for a malformed or unknown function."""
    feats = features.probe()
    features.require(feats.kprobes if family in ("kprobe", "kretprobe") else feats.fentry)
    if not _FUNC.match(func):
        raise BadInput(f"bad kernel function name {func!r}")
    funcs = TRACEFS / "available_filter_functions"
    if funcs.exists() and not re.search(rf"^{re.escape(func)}(\s|$)", funcs.read_text(), re.M):
        raise BadInput(f"no traceable kernel function {func!r} (see {funcs})")
    return _spec(family, func)


def rebuild(desc: dict[str, Any]) -> KprobeSpec:
    """The spec a capture file describes (KprobeSpec.describe): nothing is probed."""
    family = str(desc["family"])
    if family not in ("kprobe", "kretprobe", "fentry", "fexit"):
        raise ValueError(f"not a kernel probe family: {family!r}")
    return _spec(family, str(desc["func"]))


def _spec(family: str, func: str) -> KprobeSpec:
    ret = family in _RETURN
    return KprobeSpec(
        name=f"{family}:{func}",
        obj="kprobe",
        programs=_programs(family),
        struct="rs_uprobe",
        enum="RS_EV_URETPROBE" if ret else "RS_EV_UPROBE",
        doc=f"{family} on kernel function {func}",
        finish=probe_finish,
        finish_columns=probe_finish_columns,
        family=family,
        func=func,
    )
