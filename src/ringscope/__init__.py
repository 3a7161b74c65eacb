"""ringscope: Linux kernel events over HTTP and from Python, with exact loss
accounting, plus perf-style counting and profiling.

    from ringscope import Session, Filter

    with Session(["exec", "open"], filter=Filter(pid=1234)) as s:
        for event in s.events(limit=10):
            print(event["type"], event["comm"])
"""

import os as _os

# numpy's OpenBLAS starts a worker thread per CPU at import; ringscope does
# no linear algebra, and a thread that exists before serve drops its
# capabilities would keep them (capabilities are per thread).
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from typing import TYPE_CHECKING, Any

from .errors import (  # every command needs them: imported now
    AttachError,
    BadInput,
    LoadError,
    NotSupported,
    PermissionDenied,
    RingscopeError,
    VerifierError,
)

if TYPE_CHECKING:
    from .events.records import Chunk, Lost
    from .filters import Filter
    from .session import Session

__all__ = [
    "AttachError",
    "BadInput",
    "Chunk",
    "Filter",
    "LoadError",
    "Lost",
    "NotSupported",
    "PermissionDenied",
    "RingscopeError",
    "Session",
    "VerifierError",
]
__version__ = "0.1.0"

# The public names are imported on first use (PEP 562): a command such as
# `ringscope report` needs none of the tracing pipeline, and importing it
# (numpy, the transports, the capture format) is a third of its start-up.
_WHERE = {"Chunk": "events.records", "Lost": "events.records", "Filter": "filters", "Session": "session"}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'ringscope' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{where}"), name)
    globals()[name] = value
    return value
