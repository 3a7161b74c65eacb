// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* File opens: openat(2) and openat2(2). Arguments are kept at entry and the
 * event is emitted at exit, with the return value, so one record is one open. */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct rs_open rs_btf_open __attribute__((unused));

struct open_args {
	const char *path;
	__u64 flags;
	__u32 mode;
	__u32 syscall;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct open_args);
} rs_open_args SEC(".maps");

static __always_inline void enter(const char *path, __u64 flags, __u32 mode, __u32 syscall)
{
	if (!rs_want(RS_EV_OPEN))
		return;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct open_args a = { .path = path, .flags = flags, .mode = mode, .syscall = syscall };
	if (bpf_map_update_elem(&rs_open_args, &tid, &a, BPF_ANY))
		rs_count_drop(RS_EV_OPEN);
}

static __always_inline void leave(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct open_args *a = bpf_map_lookup_elem(&rs_open_args, &tid);
	if (!a)
		return;
	/* An entry kept while this exit is not wanted is stale (the filter
	 * changed, or the entry program was attached before this one and saw an
	 * open whose exit it missed): drop it rather than pair it wrongly. */
	struct rs_open *e = rs_want(RS_EV_OPEN) ? rs_reserve(sizeof(*e), RS_EV_OPEN) : NULL;
	if (e) {
		e->ret = ret;
		e->flags = a->flags;
		e->mode = a->mode;
		e->syscall = a->syscall;
		bpf_probe_read_user_str(e->path, sizeof(e->path), a->path);
		rs_submit(ctx, e);
	}
	bpf_map_delete_elem(&rs_open_args, &tid);
}

SEC("tp/syscalls/sys_enter_openat")
int handle_openat_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter((const char *)ctx->args[1], ctx->args[2], ctx->args[3], 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_openat")
int handle_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	leave(ctx, ctx->ret);
	return 0;
}

SEC("tp/syscalls/sys_enter_openat2")
int handle_openat2_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	enter((const char *)ctx->args[1], how.flags, how.mode, 1);
	return 0;
}

SEC("tp/syscalls/sys_exit_openat2")
int handle_openat2_exit(struct trace_event_raw_sys_exit *ctx)
{
	leave(ctx, ctx->ret);
	return 0;
}

/* The same event from the BTF tracepoints on every syscall, for a tracer that
 * cannot read tracefs (CAP_BPF + CAP_PERFMON without root): they attach by
 * BTF id. They run on every syscall of the system, so they are loaded only
 * then. The syscall numbers come from the loader (the system's syscall table). */
const volatile __s32 rs_nr_openat = -1;
const volatile __s32 rs_nr_openat2 = -1;

SEC("tp_btf/sys_enter")
int BPF_PROG(handle_open_sys_enter, struct pt_regs *regs, long id)
{
	if (id == rs_nr_openat) {
		enter((const char *)PT_REGS_PARM2_CORE_SYSCALL(regs), PT_REGS_PARM3_CORE_SYSCALL(regs),
		      PT_REGS_PARM4_CORE_SYSCALL(regs), 0);
	} else if (id == rs_nr_openat2) {
		struct open_how how = {};
		bpf_probe_read_user(&how, sizeof(how), (void *)PT_REGS_PARM3_CORE_SYSCALL(regs));
		enter((const char *)PT_REGS_PARM2_CORE_SYSCALL(regs), how.flags, how.mode, 1);
	}
	return 0;
}

/* A thread is in one syscall at a time: an entry kept by the program above
 * belongs to this exit. */
SEC("tp_btf/sys_exit")
int BPF_PROG(handle_open_sys_exit, struct pt_regs *regs, long ret)
{
	leave(ctx, ret);
	return 0;
}
