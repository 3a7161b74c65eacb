"""What to measure: a running process (-p), every CPU (-a), or a command we
start (-- CMD). A command is forked held on a pipe so counters and samplers
can be attached before it execs: nothing it does is missed."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from ..errors import BadInput, PermissionDenied

__all__ = ["Command", "Target", "online_cpus", "threads_of"]


def online_cpus() -> list[int]:
    """CPUs listed in /sys/devices/system/cpu/online ("0-3,5")."""
    text = Path("/sys/devices/system/cpu/online").read_text().strip()
    cpus: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def threads_of(pid: int) -> list[int]:
    """The thread ids of process `pid` (BadInput when it does not exist)."""
    if pid <= 0:
        raise BadInput(f"bad pid {pid}: must be a positive process id")
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        raise BadInput(f"no such process: {pid}") from None
    except PermissionError:
        raise PermissionDenied(f"cannot inspect process {pid} (needs root)") from None


class Command:
    """A forked child held before exec until go(). Owns the child: close()
    kills it if it is still running and reaps it."""

    def __init__(self, argv: list[str]) -> None:
        if not argv:
            raise BadInput("no command given after --")
        self.argv = argv
        gate_r, self._gate_w = os.pipe()
        # Close-on-exec error pipe: EOF means the exec succeeded.
        self._err_r, err_w = os.pipe2(os.O_CLOEXEC)
        self.pid = os.fork()
        if self.pid == 0:  # child: only async-signal-safe-ish work until exec
            try:
                os.close(self._gate_w)
                os.close(self._err_r)
                os.read(gate_r, 1)
                os.execvp(argv[0], argv)
            except OSError as e:
                os.write(err_w, str(e.errno or errno.ENOENT).encode())
            finally:
                os._exit(127)
        os.close(gate_r)
        os.close(err_w)
        self.status: int | None = None

    def go(self) -> None:
        """Let the child exec; raise BadInput if the exec failed."""
        os.write(self._gate_w, b"g")
        os.close(self._gate_w)
        self._gate_w = -1
        err = os.read(self._err_r, 16)
        os.close(self._err_r)
        self._err_r = -1
        if err:
            self.wait()
            raise BadInput(f"cannot run '{self.argv[0]}': {os.strerror(int(err))}")

    def poll(self) -> int | None:
        if self.status is None:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(st)
        return self.status

    def wait(self) -> int:
        while self.status is None:
            try:
                _, st = os.waitpid(self.pid, 0)
                self.status = os.waitstatus_to_exitcode(st)
            except InterruptedError:  # pragma: no cover - PEP 475 retries
                continue
        return self.status

    def close(self) -> None:
        for fd in (self._gate_w, self._err_r):
            if fd >= 0:
                os.close(fd)
        self._gate_w = self._err_r = -1
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Target:
    """Where events are opened: a list of (pid, cpu) placements plus whether
    children are inherited and counting starts at exec."""

    label: str  # what perf prints: "'CMD'", "process id 'N'", "system wide"
    placements: list[tuple[int, int]] = field(default_factory=list)
    inherit: bool = True
    enable_on_exec: bool = False
    pid: int = -1  # the process, when there is one

    @classmethod
    def process(cls, pid: int) -> Target:
        # One task-bound event per existing thread; inherit covers threads
        # and children created afterwards.
        return cls(f"process id '{pid}'", [(tid, -1) for tid in threads_of(pid)], pid=pid)

    @classmethod
    def system_wide(cls) -> Target:
        return cls("system wide", [(-1, cpu) for cpu in online_cpus()], inherit=False)

    @classmethod
    def command(cls, cmd: Command) -> Target:
        label = "'" + " ".join(cmd.argv) + "'"
        return cls(label, [(cmd.pid, -1)], enable_on_exec=True, pid=cmd.pid)
