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

from .errors import (
    AttachError,
    BadInput,
    LoadError,
    NotSupported,
    PermissionDenied,
    RingscopeError,
    VerifierError,
)
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
