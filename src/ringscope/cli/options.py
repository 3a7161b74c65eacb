"""Options shared by the commands that open a Session (trace, serve):
events, in-kernel filters, ring size. One place parses and validates them."""

from __future__ import annotations

import argparse
import os

from ..errors import BadInput
from ..filters import Filter, parse_cgroup, parse_comm, parse_pid, parse_uid
from ..sources import DEFAULT_EVENTS
from ..transport.choice import TRANSPORTS
from ..transport.sizing import DEFAULT_RING_SIZE, check_ring_size

__all__ = ["add_session_options", "check_replay_args", "filter_from_args", "parse_size"]


def parse_size(text: str) -> int:
    """Bytes, with an optional K/M/G suffix (powers of 1024)."""
    t = text.strip().upper().removesuffix("B")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
    try:
        return int(t[:-1] if scale > 1 else t) * scale
    except ValueError:
        raise BadInput(f"bad size {text!r}: expected bytes, e.g. 4194304 or 4M") from None


def add_session_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-e",
        "--events",
        default=",".join(DEFAULT_EVENTS),
        help=f"comma-separated events (default {','.join(DEFAULT_EVENTS)}; see `ringscope list`)",
    )
    p.add_argument("-p", "--pid", help="only this process (tgid)")
    p.add_argument("--comm", help="only tasks with this command name")
    p.add_argument("--uid", help="only this user id or name")
    p.add_argument("--cgroup", help="only this cgroup v2 (id or path under /sys/fs/cgroup)")
    p.add_argument("--ring-size", default=str(DEFAULT_RING_SIZE),
                   help="ring buffer bytes, a power of two (default 16M)")  # fmt: skip
    p.add_argument("--transport", choices=TRANSPORTS, default=None,
                   help="ringbuf (the default) or perfbuf (per-CPU perf buffers, merged by time; "
                        "chosen automatically where the kernel has no ringbuf). With perfbuf, "
                        "--ring-size is the total over all CPUs")  # fmt: skip


def check_replay_args(args: argparse.Namespace, cmd: list[str]) -> None:
    """-i FILE replays what was captured: the options that choose what the
    kernel produces have nothing to act on, so they are refused, not ignored."""
    given = [opt for opt, on in (
        ("-e", args.events != ",".join(DEFAULT_EVENTS)), ("-p", args.pid is not None),
        ("--comm", args.comm is not None), ("--uid", args.uid is not None),
        ("--cgroup", args.cgroup is not None), ("--ring-size", args.ring_size != str(DEFAULT_RING_SIZE)),
        ("--transport", args.transport is not None), ("-- CMD", bool(cmd)),
    ) if on]  # fmt: skip
    if given:
        raise BadInput(f"{given[0]} does not apply to -i: a capture replays what was recorded")


def event_names(args: argparse.Namespace) -> list[str]:
    return [e.strip() for e in str(args.events).split(",") if e.strip()]


def ring_size(args: argparse.Namespace) -> int:
    return check_ring_size(parse_size(str(args.ring_size)))


def filter_from_args(args: argparse.Namespace) -> Filter:
    pid = parse_pid(args.pid) if args.pid is not None else None
    return Filter(
        pid=pid,
        comm=parse_comm(args.comm) if args.comm is not None else None,
        uid=parse_uid(args.uid) if args.uid is not None else None,
        cgroup_id=parse_cgroup(args.cgroup) if args.cgroup is not None else None,
        # Tracing everything: leave our own syscalls out of the stream.
        exclude_pid=None if pid else os.getpid(),
    )
