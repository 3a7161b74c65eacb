// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* kprobes/kretprobes and fentry/fexit on any kernel function, where the
 * kernel has them (CONFIG_KPROBES; BPF trampolines). The records reuse the
 * uprobe layout and type codes: entry records are RS_EV_UPROBE, return
 * records RS_EV_URETPROBE, and the cookie tag names the probe. fentry/fexit
 * programs need their target at load time (bpf_program__set_attach_target),
 * so one object carries at most one of each; the tag is a rodata constant. */
#include "func_probe.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct rs_uprobe rs_btf_kprobe __attribute__((unused));

const volatile __u64 rs_fentry_tag = 0;
const volatile __u64 rs_fexit_tag = 0;

SEC("kprobe")
int handle_kprobe(struct pt_regs *ctx)
{
	return rs_func_entry_event(ctx);
}

SEC("kprobe")
int handle_kentry(struct pt_regs *ctx)
{
	return rs_func_remember(ctx);
}

SEC("kretprobe")
int handle_kretprobe(struct pt_regs *ctx)
{
	return rs_func_return_event(ctx);
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
