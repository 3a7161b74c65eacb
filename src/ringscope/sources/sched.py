"""Python half of bpf/sched.bpf.c: sched_switch, sched_wakeup."""

from __future__ import annotations

from ..events.spec import EventSpec

SPECS = (
    EventSpec("sched_switch", "sched", ("handle_switch",), "rs_sched_switch", "RS_EV_SCHED_SWITCH",
              "context switch: prev/next pid and comm, prev state", btf_programs=("handle_switch_btf",)),
    EventSpec("sched_wakeup", "sched", ("handle_wakeup", "handle_wakeup_new"), "rs_sched_wakeup",
              "RS_EV_SCHED_WAKEUP", "a task was woken: target pid, comm and cpu",
              btf_programs=("handle_wakeup_btf", "handle_wakeup_new_btf")),
)  # fmt: skip
