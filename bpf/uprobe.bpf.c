// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* uprobes and uretprobes on any user function. A uretprobe is two
 * attachments with one cookie: handle_uentry keeps the args and the entry
 * time per (thread, tag), handle_uretprobe pairs them with the return. */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct rs_uprobe rs_btf_uprobe __attribute__((unused));

struct rs_uentry_key {
	__u32 tid;
	__u32 tag;
};

struct rs_uentry {
	__u64 ts_ns;
	__u64 args[RS_UPROBE_ARGS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct rs_uentry_key);
	__type(value, struct rs_uentry);
} rs_uentries SEC(".maps");

static __always_inline void read_args(__u64 *args, struct pt_regs *ctx)
{
	args[0] = PT_REGS_PARM1(ctx);
	args[1] = PT_REGS_PARM2(ctx);
	args[2] = PT_REGS_PARM3(ctx);
	args[3] = PT_REGS_PARM4(ctx);
	args[4] = PT_REGS_PARM5(ctx);
#if defined(__TARGET_ARCH_x86)
	args[5] = ctx->r9;
#else
	args[5] = 0;
#endif
}

SEC("uprobe")
int handle_uprobe(struct pt_regs *ctx)
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

SEC("uprobe")
int handle_uentry(struct pt_regs *ctx)
{
	if (!rs_want(RS_EV_URETPROBE))
		return 0;
	struct rs_uentry_key k = {
		.tid = (__u32)bpf_get_current_pid_tgid(),
		.tag = bpf_get_attach_cookie(ctx) & 0xffff,
	};
	struct rs_uentry v = { .ts_ns = bpf_ktime_get_ns() };
	read_args(v.args, ctx);
	bpf_map_update_elem(&rs_uentries, &k, &v, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int handle_uretprobe(struct pt_regs *ctx)
{
	if (!rs_want(RS_EV_URETPROBE))
		return 0;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct rs_uentry_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .tag = cookie & 0xffff };
	struct rs_uentry *v = bpf_map_lookup_elem(&rs_uentries, &k);
	struct rs_uprobe *e = rs_reserve(sizeof(*e), RS_EV_URETPROBE);
	if (e) {
		e->cookie = cookie;
		e->ret = PT_REGS_RC(ctx);
		if (v) {
			e->latency_ns = e->hdr.ts_ns - v->ts_ns;
			__builtin_memcpy(e->args, v->args, sizeof(e->args));
		} else {
			e->latency_ns = 0;
			__builtin_memset(e->args, 0, sizeof(e->args));
		}
		rs_submit(ctx, e);
	}
	if (v)
		bpf_map_delete_elem(&rs_uentries, &k);
	return 0;
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
