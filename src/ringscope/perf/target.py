"""What to measure: a running process (-p), every CPU (-a), or a command we
start (-- CMD). A command is forked held on a pipe so counters and samplers
can be attached before it execs: nothing it does is missed."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Self

from ..errors import BadInput, PermissionDenied
from ..transport.topology import online_cpus

__all__ = ["Command", "Target", "threads_of"]


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
    """A command started but held before its exec until go(). Owns the
    child: close() kills it if it is still running and reaps it.

    The child first execs a tiny shell that waits on a pipe, and only then
    execs the command. Counters opened with enable_on_exec start at that
    second exec, whose old address space is the shell's: forking Python and
    exec'ing directly would charge the teardown of a copy of this process
    (time, and preemptions under load) to the command."""

    # Through /proc: a shell's `<&N` only takes single-digit fds.
    _GATE = 'read _ </proc/self/fd/{fd} && exec "$@"'

    def __init__(self, argv: list[str]) -> None:
        if not argv:
            raise BadInput("no command given after --")
        self.argv = argv
        exe = argv[0] if "/" in argv[0] else shutil.which(argv[0])
        if exe is None or not os.access(exe, os.X_OK) or os.path.isdir(exe):
            why = "Permission denied" if exe and os.path.exists(exe) else "No such file or directory"
            raise BadInput(f"cannot run '{argv[0]}': {why}")
        gate_r, self._gate_w = os.pipe()
        try:
            script = self._GATE.format(fd=gate_r)
            # Popen returns once the shell has exec'd: the held child exists.
            self._proc = subprocess.Popen(["/bin/sh", "-c", script, "ringscope", *argv], pass_fds=(gate_r,))
        except BaseException:
            os.close(self._gate_w)
            raise
        finally:
            os.close(gate_r)
        self.pid = self._proc.pid
        self.status: int | None = None

    def go(self) -> None:
        """Let the child exec the command."""
        os.write(self._gate_w, b"go\n")
        os.close(self._gate_w)
        self._gate_w = -1

    def poll(self) -> int | None:
        if self.status is None:
            self.status = self._proc.poll()
        return self.status

    def wait(self) -> int:
        self.status = self._proc.wait()
        return self.status

    def close(self) -> None:
        if self._gate_w >= 0:
            os.close(self._gate_w)  # EOF: a held child exits without exec
            self._gate_w = -1
        if self.poll() is None:
            self._proc.kill()
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
