// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* uprobes and uretprobes on any user function. A uretprobe is two
 * attachments with one cookie: handle_uentry keeps the args and the entry
 * time per (thread, tag), handle_uretprobe pairs them with the return. */
#include "func_probe.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct rs_uprobe rs_btf_uprobe __attribute__((unused));

SEC("uprobe")
int handle_uprobe(struct pt_regs *ctx)
{
	return rs_func_entry_event(ctx);
}

SEC("uprobe")
int handle_uentry(struct pt_regs *ctx)
{
	return rs_func_remember(ctx);
}

SEC("uretprobe")
int handle_uretprobe(struct pt_regs *ctx)
{
	return rs_func_return_event(ctx);
}

/* -- USDT ----------------------------------------------------------------- */

struct rs_usdt_spec rs_btf_usdt_spec __attribute__((unused));
enum rs_usdt_arg_kind rs_btf_usdt_kind __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct rs_usdt_spec);
} rs_usdt_specs SEC(".maps");

static __always_inline __u64 usdt_arg(struct pt_regs *ctx, struct rs_usdt_arg *a)
{
	__u64 v = 0;
	__u32 shift;

	switch (a->kind) {
	case RS_USDT_CONST:
		return a->val;
	case RS_USDT_REG:
		/* A register at a run-time offset: not a direct ctx access, which
		 * must be constant; a kernel read of the saved registers. */
		bpf_probe_read_kernel(&v, sizeof(v), (void *)((long)ctx + (a->reg_off & 0xff)));
		break;
	case RS_USDT_DEREF:
		bpf_probe_read_kernel(&v, sizeof(v), (void *)((long)ctx + (a->reg_off & 0xff)));
		bpf_probe_read_user(&v, sizeof(v), (void *)(v + a->val));
		break;
	default:
		return 0;
	}
	/* Keep `size` bytes, sign- or zero-extended (little-endian). */
	shift = 64 - 8 * (a->size & 0xf);
	if (shift >= 64)
		return v;
	v <<= shift;
	return a->is_signed ? (__u64)((__s64)v >> shift) : v >> shift;
}

SEC("uprobe")
int handle_usdt(struct pt_regs *ctx)
{
	if (!rs_want(RS_EV_UPROBE))
		return 0;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 key = (__u32)cookie;
	struct rs_usdt_spec *spec = bpf_map_lookup_elem(&rs_usdt_specs, &key);
	if (!spec)
		return 0;
	struct rs_uprobe *e = rs_reserve(sizeof(*e), RS_EV_UPROBE);
	if (!e)
		return 0;
	e->cookie = cookie;
#pragma unroll
	for (int i = 0; i < RS_UPROBE_ARGS; i++)
		e->args[i] = usdt_arg(ctx, &spec->args[i]);
	e->ret = 0;
	e->latency_ns = 0;
	rs_submit(ctx, e);
	return 0;
}
