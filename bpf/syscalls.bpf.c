// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Every syscall (or one, by id): emitted at exit with its duration. */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* -1: all syscalls; otherwise only this id (the benchmark's getppid). */
const volatile __s32 rs_syscall_id = -1;

struct rs_syscall rs_btf_syscall __attribute__((unused));

/* Entry times per thread. exit and exit_group never reach sys_exit, so an
 * exiting thread's entry is removed by handle_sys_thread_exit; without that
 * the map filled after 10,240 exits and every later event vanished. (A plain
 * preallocated hash: an LRU one cost every traced call ~140 ns here.) A
 * failed update is counted as a drop. */
struct sys_start {
	__u64 ts;
	__u64 id;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct sys_start);
} rs_sys_start SEC(".maps");

/* BTF tracepoints: they attach without tracefs, and cost less per call than
 * the tracefs ones. sys_exit has no syscall id argument (only the registers,
 * whose id slot is per architecture): the entry keeps it. */
SEC("tp_btf/sys_enter")
int BPF_PROG(handle_sys_enter, struct pt_regs *regs, long id)
{
	if (rs_syscall_id >= 0 && id != rs_syscall_id)
		return 0;
	if (!rs_want(RS_EV_SYSCALL))
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sys_start start = { .ts = bpf_ktime_get_ns(), .id = id };
	if (bpf_map_update_elem(&rs_sys_start, &tid, &start, BPF_ANY))
		rs_count_drop(RS_EV_SYSCALL);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sys_start *start = bpf_map_lookup_elem(&rs_sys_start, &tid);
	if (!start)
		return 0;
	__u64 t0 = start->ts, id = start->id;
	bpf_map_delete_elem(&rs_sys_start, &tid);
	/* An entry kept while this exit is not wanted is stale: see file.bpf.c. */
	if (!rs_want(RS_EV_SYSCALL))
		return 0;
	struct rs_syscall *e = rs_reserve(sizeof(*e), RS_EV_SYSCALL);
	if (!e)
		return 0;
	e->ret = ret;
	e->duration_ns = e->hdr.ts_ns - t0;
	e->id = id;
	e->__pad0 = 0;
	rs_submit(ctx, e);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int handle_sys_thread_exit(__u64 *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&rs_sys_start, &tid);
	return 0;
}
