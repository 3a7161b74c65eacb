// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* connect(2) and accept(2)/accept4(2), with the peer address read from the
 * caller's sockaddr: at entry for connect, at exit for accept (the kernel
 * fills it in). */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10

struct rs_sock rs_btf_sock __attribute__((unused));

struct sock_args {
	const void *addr;
	__u32 type;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct sock_args);
} rs_sock_args SEC(".maps");

static __always_inline void enter(const void *addr, __u32 type)
{
	if (!rs_want(type))
		return;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sock_args a = { .addr = addr, .type = type };
	if (bpf_map_update_elem(&rs_sock_args, &tid, &a, BPF_ANY))
		rs_count_drop(type);
}

static __always_inline void read_addr(struct rs_sock *e, const void *uaddr)
{
	struct sockaddr_in6 sa = {};

	if (!uaddr || bpf_probe_read_user(&sa, sizeof(sa), uaddr))
		return;
	e->family = sa.sin6_family;
	/* Only the inet families have a port where sin6_port sits (for AF_UNIX
	 * it is the start of sun_path). */
	if (sa.sin6_family == AF_INET) {
		struct sockaddr_in *in = (void *)&sa;
		e->port = bpf_ntohs(in->sin_port);
		__builtin_memcpy(e->addr, &in->sin_addr, 4);
	} else if (sa.sin6_family == AF_INET6) {
		e->port = bpf_ntohs(sa.sin6_port);
		__builtin_memcpy(e->addr, &sa.sin6_addr, 16);
	}
}

static __always_inline void leave(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sock_args *a = bpf_map_lookup_elem(&rs_sock_args, &tid);
	if (!a)
		return;
	/* An entry kept while this exit is not wanted is stale: see file.bpf.c. */
	struct rs_sock *e = rs_want(a->type) ? rs_reserve(sizeof(*e), a->type) : NULL;
	if (e) {
		e->ret = ret;
		e->family = 0;
		e->port = 0;
		e->__pad0 = 0;
		__builtin_memset(e->addr, 0, sizeof(e->addr));
		read_addr(e, a->addr);
		rs_submit(ctx, e);
	}
	bpf_map_delete_elem(&rs_sock_args, &tid);
}

SEC("tp/syscalls/sys_enter_connect")
int handle_connect_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter((const void *)ctx->args[1], RS_EV_CONNECT);
	return 0;
}

SEC("tp/syscalls/sys_exit_connect")
int handle_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	leave(ctx, ctx->ret);
	return 0;
}

SEC("tp/syscalls/sys_enter_accept4")
int handle_accept4_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter((const void *)ctx->args[1], RS_EV_ACCEPT);
	return 0;
}

SEC("tp/syscalls/sys_exit_accept4")
int handle_accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	leave(ctx, ctx->ret);
	return 0;
}

SEC("tp/syscalls/sys_enter_accept")
int handle_accept_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter((const void *)ctx->args[1], RS_EV_ACCEPT);
	return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int handle_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	leave(ctx, ctx->ret);
	return 0;
}

/* The same events from the BTF tracepoints on every syscall, for a tracer
 * that cannot read tracefs (see file.bpf.c). */
const volatile __s32 rs_nr_connect = -1;
const volatile __s32 rs_nr_accept = -1;
const volatile __s32 rs_nr_accept4 = -1;

SEC("tp_btf/sys_enter")
int BPF_PROG(handle_net_sys_enter, struct pt_regs *regs, long id)
{
	if (id == rs_nr_connect)
		enter((const void *)PT_REGS_PARM2_CORE_SYSCALL(regs), RS_EV_CONNECT);
	else if (id == rs_nr_accept || id == rs_nr_accept4)
		enter((const void *)PT_REGS_PARM2_CORE_SYSCALL(regs), RS_EV_ACCEPT);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(handle_net_sys_exit, struct pt_regs *regs, long ret)
{
	leave(ctx, ret);
	return 0;
}
