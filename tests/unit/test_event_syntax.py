"""One event syntax: tracepoint wildcards (expanded in one place, tracefs),
the tracepoint: prefix, and modifiers on events and on {groups}."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringscope import tracefs
from ringscope.errors import BadInput
from ringscope.perf.events import parse_event, parse_events


@pytest.fixture
def fake_tracefs(tmp_path: Path) -> Path:
    for tp in ("sched/sched_process_exec", "sched/sched_process_exit", "sched/sched_switch",
               "syscalls/sys_enter_open", "syscalls/sys_enter_openat", "syscalls/sys_exit_open"):  # fmt: skip
        d = tmp_path / "events" / tp
        d.mkdir(parents=True)
        (d / "format").write_text("name: x\nID: 1\n")
    (tmp_path / "events" / "sched" / "enable").write_text("0\n")  # not a tracepoint
    return tmp_path


def test_glob_and_expand(fake_tracefs: Path) -> None:
    assert tracefs.glob("sched:sched_process_*", fake_tracefs) == ["sched:sched_process_exec",
                                                                   "sched:sched_process_exit"]  # fmt: skip
    assert tracefs.glob("sys*:sys_enter_open*", fake_tracefs) == ["syscalls:sys_enter_open",
                                                                  "syscalls:sys_enter_openat"]  # fmt: skip
    for spec in ("sched:sched_process_*", "tracepoint:sched:sched_process_*", "tp:sched:sched_process_*"):
        assert tracefs.expand(spec, fake_tracefs) == ["tracepoint:sched:sched_process_exec",
                                                      "tracepoint:sched:sched_process_exit"]  # fmt: skip
    assert tracefs.expand("sched:sched_switch", fake_tracefs) is None  # no wildcard: as it is
    assert tracefs.expand("uprobe:/bin/sh:ma*", fake_tracefs) is None  # not a tracepoint spec
    assert tracefs.expand("kprobe:vfs_*", fake_tracefs) is None  # no such tracepoint system
    with pytest.raises(BadInput, match="no tracepoint matches 'sched:nosuch\\*'"):
        tracefs.expand("sched:nosuch*", fake_tracefs)


def test_strip_prefix() -> None:
    assert tracefs.strip_prefix("tracepoint:sched:sched_switch") == "sched:sched_switch"
    assert tracefs.strip_prefix("t:sched:sched_switch") == "sched:sched_switch"
    assert tracefs.strip_prefix("sched:sched_switch") == "sched:sched_switch"
    assert tracefs.strip_prefix("uprobe:/bin/sh:main") == "uprobe:/bin/sh:main"


def test_modifiers_on_events_and_groups() -> None:
    ev = parse_event("page-faults:u")
    assert (ev.name, ev.exclude_kernel, ev.exclude_user) == ("page-faults:u", True, False)
    [[a, b]] = parse_events(["{task-clock,page-faults}:k"])
    assert (a.name, b.name) == ("task-clock:k", "page-faults:k")
    assert a.exclude_user and b.exclude_user and not a.exclude_kernel
    assert parse_event("duration_time").kind == "tool"
    for bad in ("{task-clock,page-faults}x", "{task-clock}:q", "{{a}}", "duration_time:u", "{}"):
        with pytest.raises(BadInput):
            parse_events([bad])
