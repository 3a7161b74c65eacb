"""Run `ringscope.cli.main.main(argv)` in a forked child of the test process:
the real CLI with everything imported once (milliseconds per run instead of
an interpreter start-up), its own stdout/stderr files and cwd, and a hard
deadline. The parent sees what a shell would: the exit status and output."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from ringscope.cli.main import build_parser, main


@dataclass(frozen=True)
class Outcome:
    argv: list[str]
    code: int  # as a shell reports it: 128 + signal if killed
    stdout: str
    stderr: str
    interrupted: bool  # it ran past its time and got SIGINT
    hung: bool  # it did not end after SIGINT either (killed)


def _child(argv: list[str], cwd: Path, out: Path, err: Path) -> None:
    code = 99
    try:
        os.chdir(cwd)
        for fd, path, flags in ((0, "/dev/null", os.O_RDONLY), (1, out, os.O_WRONLY), (2, err, os.O_WRONLY)):
            new = os.open(path, flags | (os.O_CREAT | os.O_TRUNC if fd else 0), 0o644)
            os.dup2(new, fd)
            os.close(new)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        # As the interpreter sets them up in a UTF-8 locale: stderr never
        # fails on text it cannot encode, stdout does.
        sys.stdout = open(1, "w", encoding="utf-8", errors="strict", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        signal.signal(signal.SIGINT, signal.default_int_handler)
        code = main(argv)
    except BaseException:
        traceback.print_exc()  # the test looks for this
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code & 0xFF)


def _wait(pid: int, pidfd: int, timeout: float) -> int | None:
    if not select.select([pidfd], [], [], timeout)[0]:
        return None
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def run(argv: list[str], cwd: Path, budget: float = 4.0, grace: float = 15.0) -> Outcome:
    """main(argv) in a child: after `budget` seconds SIGINT, after `grace`
    more SIGKILL (a hang)."""
    build_parser()  # imported and warmed once, in the parent
    out, err = cwd / ".stdout", cwd / ".stderr"
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        _child(argv, cwd, out, err)
    pidfd = os.pidfd_open(pid)
    try:
        interrupted = hung = False
        code = _wait(pid, pidfd, budget)
        if code is None:
            interrupted = True
            os.kill(pid, signal.SIGINT)
            code = _wait(pid, pidfd, grace)
        if code is None:
            hung = True
            os.kill(pid, signal.SIGKILL)
            code = _wait(pid, pidfd, 30) or -9
    finally:
        os.close(pidfd)
    code = 128 - code if code < 0 else code
    text = [p.read_text(errors="replace") if p.exists() else "" for p in (out, err)]
    return Outcome(argv, code, text[0], text[1], interrupted, hung)
