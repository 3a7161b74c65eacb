"""The command the packaging tests trace: it triggers one event of each
stream type (and of a tracepoint and a uprobe), then writes what it did to
argv[1] as JSON, and EXPECT says which row is its own event. Standard
library only: it runs under an installed venv's Python, away from the
sources."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

Row = dict[str, Any]
Facts = dict[str, Any]

TRACEPOINT = "tracepoint:syscalls:sys_enter_getppid"
UPROBE = "uprobe:libc:getppid"

# Per event, "is this row the one the workload caused?"
EXPECT: dict[str, Callable[[Row, Facts], bool]] = {
    "exec": lambda r, f: (
        r["pid"] == f["child_pid"]
        and r["filename"] == "/bin/sh"
        and r["argv"] == ["/bin/sh", "-c", "exit 7", f["tag"]]
        and r["ppid"] == f["pid"]
    ),
    "exit": lambda r, f: r["pid"] == f["child_pid"] and r["exit_code"] == 7 and r["ppid"] == f["pid"],
    "fork": lambda r, f: r["pid"] == f["pid"] and r["child_pid"] == f["child_pid"],
    "open": lambda r, f: r["path"] == f["path"] and r["ret"] >= 0,
    "connect": lambda r, f: (
        (r["family"], r["addr"], r["port"], r["ret"]) == ("AF_INET", "127.0.0.1", f["port"], 0)
    ),
    "accept": lambda r, f: (
        (r["family"], r["addr"], r["port"]) == ("AF_INET", "127.0.0.1", f["peer_port"]) and r["ret"] >= 0
    ),
    "sched_switch": lambda r, f: r["pid"] == f["pid"] and r["prev_pid"] in (f["pid"], f["sleeper_tid"]),
    "sched_wakeup": lambda r, f: r["pid"] == f["pid"] and r["target_pid"] in (f["pid"], f["sleeper_tid"]),
    "syscall": lambda r, f: r["pid"] == f["pid"] and r["name"] == "getppid" and r["ret"] == f["ppid"],
    TRACEPOINT: lambda r, f: r["pid"] == f["pid"] and r["__syscall_nr"] > 0,
    UPROBE: lambda r, f: r["pid"] == f["pid"],
}


def missing(rows: list[Row], facts: Facts, events: list[str]) -> list[str]:
    """The events of `events` for which no row is the workload's own."""
    return [e for e in events if not any(r["type"] == e and EXPECT[e](r, facts) for r in rows)]


def main(out: str) -> None:
    # One CPU: a wakeup is then done by the waker itself (a remote one can
    # run in the target CPU's interrupt, outside the traced process).
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    tag = f"rs-pkg-{os.getpid()}"
    facts: Facts = {"pid": os.getpid(), "ppid": os.getppid(), "tag": tag}

    child = subprocess.Popen(["/bin/sh", "-c", "exit 7", tag])
    facts["child_pid"], facts["child_code"] = child.pid, child.wait()

    with tempfile.NamedTemporaryFile(prefix=tag) as f:
        facts["path"] = f.name

    with socket.socket() as srv, socket.socket() as cli:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        cli.connect(srv.getsockname())
        conn, _ = srv.accept()
        conn.close()
        facts["port"], facts["peer_port"] = srv.getsockname()[1], cli.getsockname()[1]

    woken = threading.Event()
    sleeper = threading.Thread(target=woken.wait)
    sleeper.start()
    time.sleep(0.05)  # the sleeper blocks (a switch out); then we wake it
    woken.set()
    sleeper.join()
    facts["sleeper_tid"] = sleeper.native_id

    for _ in range(3):
        os.getppid()
    with open(out, "w") as f:
        json.dump(facts, f)


if __name__ == "__main__":
    main(sys.argv[1])
