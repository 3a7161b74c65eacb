"""The command a tracer runs (`trace|stat|record|hist -- CMD ARGS`): started
held before its exec, tied to the life of its tracer, and reaped with its
exit status read the way a shell reads it. The one place a command is
started, so every subcommand follows the same exit-status rule.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import shutil
import signal
import subprocess
import time

from .closing import Closing
from .errors import BadInput, LoadError, RingscopeError
from .inherited import passed_fds
from .objects import HOLD, object_dir

__all__ = ["CannotRun", "Command", "exit_status", "shell_status"]

PR_SET_PDEATHSIG = 1  # include/uapi/linux/prctl.h
TERM_GRACE_S = 2.0  # after SIGTERM, before SIGKILL

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def shell_status(returncode: int) -> int:
    """A wait status as a shell reports it: the exit code, or 128 + the
    signal that killed the process (Popen reports that as -signal)."""
    return 128 - returncode if returncode < 0 else returncode


def _die_with_parent(parent: int) -> None:
    """In the child, before exec: SIGKILL when the tracer goes (even by
    kill -9), so the command never outlives it as an orphan. If the tracer
    died before this ran, the parent is already someone else: go now."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


class CannotRun(RingscopeError):
    """The command cannot be started: exit as a shell would (127 not
    found, 126 found but not runnable), not with a usage error."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _hold() -> str:
    path = object_dir() / HOLD
    if not os.access(path, os.X_OK):
        raise LoadError(f"{path.name} is not built (run `make bpf`)")
    return str(path)


class Command(Closing):
    """A command started but held before its exec until go(). Owns the
    child: close() ends it if it is still running and reaps it.

    The child first execs a tiny static program, the hold (bpf/hold.c),
    which waits on a pipe and then execs the command (same pid). So the
    tracer knows the pid, and can put it in a filter or open counters on
    it, before the command runs anything; after the go the hold makes two
    syscalls under that pid, the read's return and the execve. Counters
    opened with enable_on_exec start at that second exec, whose old address
    space is the hold's: exec'ing straight from a fork of Python would
    charge the teardown of a copy of this process to the command.

    The command gets the fds ringscope was started with (note_inherited_fds)
    and none of its own: the hold's pipe is close-on-exec.

    The child is killed when the thread that created it exits (the kernel's
    PR_SET_PDEATHSIG is per thread): create and run it from one thread."""

    def __init__(self, argv: list[str]) -> None:
        if not argv:
            raise BadInput("no command given after --")
        self.argv = argv
        exe = argv[0] if "/" in argv[0] else shutil.which(argv[0])
        if exe is None or not os.path.exists(exe):
            raise CannotRun(f"cannot run '{argv[0]}': No such file or directory", 127)
        if not os.access(exe, os.X_OK) or os.path.isdir(exe):
            raise CannotRun(f"cannot run '{argv[0]}': Permission denied", 126)
        hold = _hold()
        gate_r, self._gate_w = os.pipe()
        parent = os.getpid()
        try:
            # Popen returns once the hold has exec'd: the held child exists.
            self._proc = subprocess.Popen(
                [hold, str(gate_r), exe, *argv],
                pass_fds=(*passed_fds(), gate_r),
                # A few lines of Python between fork and exec: this process
                # starts commands from one thread only (see the class docstring).
                preexec_fn=lambda: _die_with_parent(parent),
            )
        except BaseException:
            os.close(self._gate_w)
            raise
        finally:
            os.close(gate_r)
        self.pid = self._proc.pid
        self.started = False  # go() was called: the command itself ran
        self.killed = False  # we ended it (close()), so its status is ours, not its own
        self._pidfd = _pidfd(self.pid)

    def go(self) -> None:
        """Let the child exec the command."""
        os.write(self._gate_w, b"go\n")
        os.close(self._gate_w)
        self._gate_w = -1
        self.started = True

    @property
    def returncode(self) -> int | None:
        """Popen's: the exit code, -signal if killed, None while it runs."""
        return self._proc.returncode

    @property
    def status(self) -> int | None:
        """The exit status as a shell reports it, None while it runs."""
        code = self._proc.returncode
        return None if code is None else shell_status(code)

    def poll(self) -> int | None:
        """The shell-style status if the command has ended, else None."""
        self._proc.poll()
        return self.status

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the command ends (None: for ever) and return its
        status, or None at the timeout. Wakes the moment it exits (pidfd),
        so whatever is stamped next is stamped at its exit."""
        if self._proc.returncode is None and timeout is not None:
            if self._pidfd >= 0:
                ready = select.poll()
                ready.register(self._pidfd, select.POLLIN)
                if not ready.poll(max(0.0, timeout) * 1000):
                    return None
            else:
                deadline = time.monotonic() + timeout
                while self._proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.001)
                if self._proc.returncode is None:
                    return None
        self._proc.wait()
        return self.status

    def close(self, grace: float = 0.0) -> None:
        """Reap the command, ending it if it still runs: after `grace`
        seconds SIGTERM, then SIGKILL. Idempotent."""
        if self._gate_w >= 0:
            os.close(self._gate_w)  # EOF: a held child exits without exec
            self._gate_w = -1
        if self.wait(grace) is None:
            self.killed = True
            self._proc.terminate()
            if self.wait(TERM_GRACE_S) is None:
                self._proc.kill()
            self._proc.wait()
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1


def _pidfd(pid: int) -> int:
    """A pidfd for `pid` (Linux 5.3+), or -1 where there is none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return -1


def exit_status(cmd: Command | None, stopped_by: int | None = None) -> int:
    """The exit status of `trace`, `stat`, `record` and `hist`, one rule:

    - the command ran and ended by itself: its status as a shell reports it
      (its exit code, or 128 + the signal that killed it);
    - else, when a signal stopped the run (`stopped_by`): 128 + it, so
      Ctrl-C on a system-wide run is 130, as with perf;
    - else (a limit was reached: -n, --duration): 0.
    """
    if cmd is not None and cmd.started and not cmd.killed and cmd.status is not None:
        return cmd.status
    if stopped_by is not None:
        return 128 + stopped_by
    return 0
