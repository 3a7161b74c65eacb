"""The sampling API behind `ringscope record`: profile a command, a
process or every CPU until it ends, a duration passes, or Ctrl-C."""

from __future__ import annotations

import os
import signal
import time

from ..command import TERM_GRACE_S, Command, exit_status
from ..errors import BadInput
from .profile import Profile
from .sampling import Profiler
from .target import Target

__all__ = ["record"]

_POLL_S = 0.1  # how often newly sampled processes get their maps read


def _target(pid: int | None, system_wide: bool, cmd: Command | None) -> Target:
    if system_wide:
        return Target.system_wide()
    if pid is not None:
        return Target.process(pid)
    if cmd is not None:
        return Target.command(cmd)
    raise BadInput("nothing to profile: give -p PID, -a or -- CMD")


def _done(cmd: Command | None, pid: int | None, deadline: float | None) -> bool:
    if cmd is not None and cmd.poll() is not None:
        return True
    if cmd is None and pid is not None and not os.path.exists(f"/proc/{pid}"):
        return True
    return deadline is not None and time.monotonic() >= deadline


def record(
    event: str | None = None,
    *,
    pid: int | None = None,
    system_wide: bool = False,
    argv: list[str] | None = None,
    freq: int | None = 99,
    period: int | None = None,
    callchain: bool = True,
    duration: float | None = None,
) -> tuple[Profile, int]:
    """Sample and return (profile, exit status): the status follows the
    one rule of ringscope.command.exit_status (the command's status; 130
    after Ctrl-C; else 0). With argv and pid/system_wide the command only
    sets the duration."""
    cmd = Command(argv) if argv else None
    try:
        target = _target(pid, system_wide, cmd)
        with Profiler(target, event, freq=freq, period=period, callchain=callchain) as prof:
            if cmd is not None:
                cmd.go()
            if not target.enable_on_exec:
                prof.enable()
            deadline = time.monotonic() + duration if duration else None
            stopped_by = None
            try:
                while not _done(cmd, pid, deadline):
                    prof.poll()
                    time.sleep(_POLL_S)
            except KeyboardInterrupt:
                stopped_by = signal.SIGINT
                if cmd is not None:
                    cmd.wait(TERM_GRACE_S)  # it had the terminal's SIGINT too
            prof.disable()
            return prof.profile(), exit_status(cmd, stopped_by)
    finally:
        if cmd is not None:
            cmd.close()
