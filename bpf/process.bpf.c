// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Process lifecycle: exec, exit, fork. The fork program also grows the
 * followed tree for `trace -- CMD`, whether or not fork events are wanted.
 * All three are BTF tracepoints (tp_btf): they attach by BTF id, without
 * tracefs, so CAP_BPF + CAP_PERFMON are enough. */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct rs_exec rs_btf_exec __attribute__((unused));
struct rs_exit rs_btf_exit __attribute__((unused));
struct rs_fork rs_btf_fork __attribute__((unused));

/* When each process last exec'd (tgid -> ns): an exit's duration counts
 * the life of the program that ran, not of the pid, so `-- CMD` held
 * before its exec while the tracer attaches is not charged that wait.
 * LRU: a process that exec'd and is forgotten falls back to its fork. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} rs_exec_ns SEC(".maps");

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	if (rs_want(RS_EV_EXIT)) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;
		__u64 now = bpf_ktime_get_ns();

		bpf_map_update_elem(&rs_exec_ns, &tgid, &now, BPF_ANY);
	}
	if (!rs_want(RS_EV_EXEC))
		return 0;
	struct rs_exec *e = rs_reserve(sizeof(*e), RS_EV_EXEC);
	if (!e)
		return 0;

	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);

	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));

	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long end = BPF_CORE_READ(task, mm, arg_end);
	unsigned long len = end - start;
	if (len > RS_ARGV_LEN)
		len = RS_ARGV_LEN;
	e->argv_len = 0;
	if (bpf_probe_read_user(e->argv, len, (void *)start) == 0)
		e->argv_len = len;
	rs_submit(ctx, e);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int handle_exit(__u64 *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;

	/* One exit per process: only when the thread-group leader exits. */
	if (tgid != (__u32)id)
		return 0;
	if (!rs_want(RS_EV_EXIT)) {
		bpf_map_delete_elem(&rs_follow, &tgid);
		return 0;
	}
	struct rs_exit *e = rs_reserve(sizeof(*e), RS_EV_EXIT);
	if (e) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		e->ppid = BPF_CORE_READ(task, real_parent, tgid);
		e->exit_code = BPF_CORE_READ(task, exit_code);
		__u64 *exec_ns = bpf_map_lookup_elem(&rs_exec_ns, &tgid);
		__u64 start = exec_ns ? *exec_ns : BPF_CORE_READ(task, start_time);
		e->duration_ns = bpf_ktime_get_ns() - start;
		rs_submit(ctx, e);
	}
	bpf_map_delete_elem(&rs_exec_ns, &tgid);
	bpf_map_delete_elem(&rs_follow, &tgid);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	__u8 one = 1;

	if (ptgid != ctgid && bpf_map_lookup_elem(&rs_follow, &ptgid))
		bpf_map_update_elem(&rs_follow, &ctgid, &one, BPF_ANY);
	if (!rs_want(RS_EV_FORK))
		return 0;
	struct rs_fork *e = rs_reserve(sizeof(*e), RS_EV_FORK);
	if (!e)
		return 0;
	e->child_pid = ctgid;
	e->child_tid = child->pid;
	rs_submit(ctx, e);
	return 0;
}
