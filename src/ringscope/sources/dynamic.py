"""Events made at run time from a probe spec instead of a fixed C struct:
`tracepoint:SUBSYS:NAME`, `uprobe:BIN:FUNC`, `uretprobe:BIN:FUNC`,
`usdt:BIN:PROVIDER:NAME`, `kprobe:FUNC`, `kretprobe:FUNC`, `fentry:FUNC`,
`fexit:FUNC` (registry.py parses the names).

A DynamicSpec is a tagged EventSpec: many dynamic events share one program
and one type code, each attached with its tag (its index in the session)
in the attach cookie, which the kernel side copies into every record; the
decoder splits records by that tag (events/tagged.py), so everything after
the decoder sees the same items as for static events.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..events.spec import EventSpec

if TYPE_CHECKING:
    from .._libbpf import BpfObject, Link

__all__ = ["DynamicSpec"]


@dataclass(frozen=True, kw_only=True)
class DynamicSpec(EventSpec):
    """An event defined by a probe spec. Immutable; one per `-e` entry.
    Subclasses implement attach() and layout()."""

    tagged: ClassVar[bool] = True
    family: str = ""  # "tracepoint", "uprobe", ...: names the shared type in drop counts

    def attach(self, obj: BpfObject, tag: int, pid: int | None) -> Iterator[Link]:
        raise NotImplementedError

    def generic(self) -> EventSpec:
        return EventSpec(self.family, self.obj, self.programs, self.struct, self.enum, self.doc)

    def describe(self) -> dict[str, Any]:
        """The name and family; subclasses add what they were resolved to."""
        return {"name": self.name, "family": self.family}
