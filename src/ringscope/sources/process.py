"""Python half of bpf/process.bpf.c: exec, exit, fork."""

from __future__ import annotations

import numpy as np

from ..events.spec import Columns, EventSpec, Lookup, Row, array


def _argv(raw: bytes, used: int) -> list[str]:
    raw = raw[:used]
    return [a.decode(errors="replace") for a in raw.rstrip(b"\0").split(b"\0")] if raw else []


def _exec(rows: list[Row]) -> None:
    for r in rows:
        r["argv"] = _argv(r.pop("argv"), r.pop("argv_len"))


def _exec_columns(cols: Columns) -> None:
    raw = cols.pop("argv")  # raw_fields are lists of bytes
    assert isinstance(raw, list)
    used = array(cols, "argv_len").tolist()
    del cols["argv_len"]
    # One decode per distinct argv: a key is exactly the bytes _exec reads.
    seen: dict[bytes, int] = {}
    codes = [seen.setdefault(a[:k], len(seen)) for a, k in zip(raw, used, strict=True)]
    cols["argv"] = Lookup(np.array(codes, np.intp), [_argv(a, len(a)) for a in seen])


def _exit(rows: list[Row]) -> None:
    for r in rows:
        status = r["exit_code"]
        # wait(2) status: the code in bits 8-15, a killing signal in 0-6.
        r["exit_code"] = (status >> 8) & 0xFF
        r["signal"] = status & 0x7F


def _exit_columns(cols: Columns) -> None:
    status = array(cols, "exit_code")
    cols["exit_code"] = (status >> 8) & 0xFF
    cols["signal"] = status & 0x7F


SPECS = (
    EventSpec("exec", "process", ("handle_exec",), "rs_exec", "RS_EV_EXEC",
              "a process called execve: filename, ppid, argv", _exec, raw_fields=("argv",),
              finish_columns=_exec_columns),
    # handle_exec too: it notes each exec, and the lifetime counts from it.
    EventSpec("exit", "process", ("handle_exit", "handle_exec"), "rs_exit", "RS_EV_EXIT",
              "a process exited: exit code, signal, lifetime since its exec", _exit,
              finish_columns=_exit_columns),
    EventSpec("fork", "process", ("handle_fork",), "rs_fork", "RS_EV_FORK",
              "a task was created: child pid and tid", requires=("tp_btf",)),
)  # fmt: skip

# Not an event of its own: the programs that keep the followed process tree
# (rs_follow) up to date, loaded whenever a filter follows a tree. They emit
# fork and exit events only if those types are wanted too.
FOLLOW = EventSpec("follow", "process", ("handle_fork", "handle_exit"), "rs_fork", "RS_EV_FORK",
                   "keeps the followed process tree", requires=("tp_btf",))  # fmt: skip
