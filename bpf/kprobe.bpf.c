// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* kprobes/kretprobes and fentry/fexit on any kernel function, where the
 * kernel has them (CONFIG_KPROBES; BPF trampolines). The records reuse the
 * uprobe layout and type codes: entry records are RS_EV_UPROBE, return
 * records RS_EV_URETPROBE, and the cookie tag names the probe. fentry/fexit
 * programs need their target at load time (bpf_program__set_attach_target),
 * so one object carries at most one of each; the tag is a rodata constant. */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct rs_uprobe rs_btf_kprobe __attribute__((unused));

const volatile __u64 rs_fentry_tag = 0;
const volatile __u64 rs_fexit_tag = 0;

struct rs_kentry_key {
	__u32 tid;
	__u32 tag;
};

struct rs_kentry {
	__u64 ts_ns;
	__u64 args[RS_UPROBE_ARGS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct rs_kentry_key);
	__type(value, struct rs_kentry);
} rs_kentries SEC(".maps");

static __always_inline void read_args(__u64 *args, struct pt_regs *ctx)
{
	args[0] = PT_REGS_PARM1(ctx);
	args[1] = PT_REGS_PARM2(ctx);
	args[2] = PT_REGS_PARM3(ctx);
	args[3] = PT_REGS_PARM4(ctx);
	args[4] = PT_REGS_PARM5(ctx);
	args[5] = 0;
}

SEC("kprobe")
int handle_kprobe(struct pt_regs *ctx)
{
	if (!rs_want(RS_EV_UPROBE))
		return 0;
	struct rs_uprobe *e = rs_reserve(sizeof(*e), RS_EV_UPROBE);
	if (!e)
		return 0;
	e->cookie = bpf_get_attach_cookie(ctx);
	read_args(e->args, ctx);
	e->ret = 0;
	e->latency_ns = 0;
	rs_submit(ctx, e);
	return 0;
}

SEC("kprobe")
int handle_kentry(struct pt_regs *ctx)
{
	if (!rs_want(RS_EV_URETPROBE))
		return 0;
	struct rs_kentry_key k = {
		.tid = (__u32)bpf_get_current_pid_tgid(),
		.tag = bpf_get_attach_cookie(ctx) & 0xffff,
	};
	struct rs_kentry v = { .ts_ns = bpf_ktime_get_ns() };
	read_args(v.args, ctx);
	bpf_map_update_elem(&rs_kentries, &k, &v, BPF_ANY);
	return 0;
}

SEC("kretprobe")
int handle_kretprobe(struct pt_regs *ctx)
{
	if (!rs_want(RS_EV_URETPROBE))
		return 0;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct rs_kentry_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .tag = cookie & 0xffff };
	struct rs_kentry *v = bpf_map_lookup_elem(&rs_kentries, &k);
	struct rs_uprobe *e = rs_reserve(sizeof(*e), RS_EV_URETPROBE);
	if (e) {
		e->cookie = cookie;
		e->ret = PT_REGS_RC(ctx);
		e->latency_ns = v ? e->hdr.ts_ns - v->ts_ns : 0;
		if (v)
			__builtin_memcpy(e->args, v->args, sizeof(e->args));
		else
			__builtin_memset(e->args, 0, sizeof(e->args));
		rs_submit(ctx, e);
	}
	if (v)
		bpf_map_delete_elem(&rs_kentries, &k);
	return 0;
}

static __always_inline void trampoline(void *ctx, __u32 type, __u64 tag, bool is_exit)
{
	if (!rs_want(type))
		return;
	struct rs_uprobe *e = rs_reserve(sizeof(*e), type);
	if (!e)
		return;
	e->cookie = tag;
	__u64 n = bpf_get_func_arg_cnt(ctx);
#pragma unroll
	for (int i = 0; i < RS_UPROBE_ARGS; i++) {
		e->args[i] = 0;
		if (i < n)
			bpf_get_func_arg(ctx, i, &e->args[i]);
	}
	__u64 ret = 0;
	if (is_exit)
		bpf_get_func_ret(ctx, &ret);
	e->ret = ret;
	e->latency_ns = 0;
	rs_submit(ctx, e);
}

SEC("fentry")
int handle_fentry(void *ctx)
{
	trampoline(ctx, RS_EV_UPROBE, rs_fentry_tag, false);
	return 0;
}

SEC("fexit")
int handle_fexit(void *ctx)
{
	trampoline(ctx, RS_EV_URETPROBE, rs_fexit_tag, true);
	return 0;
}
