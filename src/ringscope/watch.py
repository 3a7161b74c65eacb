"""The one rule for `-p PID` (trace, hist, stat, record): the run ends
when the process does. A pidfd (Linux 5.3+) wakes the moment it exits,
also when it is nobody's child here and lingers as a zombie; without one,
/proc/PID is polled."""

from __future__ import annotations

import os
import select
import time

from .closing import Closing

__all__ = ["ProcessWatch"]

_POLL_S = 0.05  # without a pidfd: how late an exit is noticed


class ProcessWatch(Closing):
    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            self._fd = os.pidfd_open(pid)
        except OSError:
            self._fd = -1  # gone already (then /proc says so), or no pidfd

    def gone(self, timeout: float | None = 0.0) -> bool:
        """True once the process has exited; waits up to `timeout` seconds
        (None: until it does)."""
        if self._fd >= 0:
            return bool(select.select([self._fd], [], [], timeout)[0])
        end = None if timeout is None else time.monotonic() + timeout
        while os.path.exists(f"/proc/{self.pid}"):
            left = _POLL_S if end is None else min(_POLL_S, end - time.monotonic())
            if left <= 0:
                return False
            time.sleep(left)
        return True

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
