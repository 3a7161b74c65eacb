/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Function entry/return probes on pt_regs (uprobes and kprobes alike):
 * an entry event with the first integer arguments, and a return event
 * paired with its entry per (thread, cookie tag) for the latency and the
 * entry arguments. The records use struct rs_uprobe; the cookie names the
 * probe. Include once per object, after common.bpf.h.
 */
#ifndef RINGSCOPE_FUNC_PROBE_BPF_H
#define RINGSCOPE_FUNC_PROBE_BPF_H

#include "common.bpf.h"

struct rs_func_key {
	__u32 tid;
	__u32 tag;
};

struct rs_func_entry {
	__u64 ts_ns;
	__u64 args[RS_UPROBE_ARGS];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct rs_func_key);
	__type(value, struct rs_func_entry);
} rs_func_entries SEC(".maps");

static __always_inline void rs_func_args(__u64 *args, struct pt_regs *ctx)
{
	args[0] = PT_REGS_PARM1(ctx);
	args[1] = PT_REGS_PARM2(ctx);
	args[2] = PT_REGS_PARM3(ctx);
	args[3] = PT_REGS_PARM4(ctx);
	args[4] = PT_REGS_PARM5(ctx);
#if defined(__TARGET_ARCH_x86)
	/* libbpf 1.1 has no PT_REGS_PARM6; the sixth argument is in r9. */
	args[5] = ctx->r9;
#else
	args[5] = 0;
#endif
}

static __always_inline struct rs_func_key rs_func_key(__u64 cookie)
{
	struct rs_func_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .tag = cookie & 0xffff };
	return k;
}

/* An entry event: the arguments, no return value. */
static __always_inline int rs_func_entry_event(struct pt_regs *ctx)
{
	if (!rs_want(RS_EV_UPROBE))
		return 0;
	struct rs_uprobe *e = rs_reserve(sizeof(*e), RS_EV_UPROBE);
	if (!e)
		return 0;
	e->cookie = bpf_get_attach_cookie(ctx);
	rs_func_args(e->args, ctx);
	e->ret = 0;
	e->latency_ns = 0;
	rs_submit(ctx, e);
	return 0;
}

/* The entry half of a return probe: remember the time and arguments. */
static __always_inline int rs_func_remember(struct pt_regs *ctx)
{
	if (!rs_want(RS_EV_URETPROBE))
		return 0;
	struct rs_func_key k = rs_func_key(bpf_get_attach_cookie(ctx));
	struct rs_func_entry v = { .ts_ns = bpf_ktime_get_ns() };
	rs_func_args(v.args, ctx);
	if (bpf_map_update_elem(&rs_func_entries, &k, &v, BPF_ANY))
		rs_count_drop(RS_EV_URETPROBE);
	return 0;
}

/* A return event, paired with its entry when the entry was seen (a probe
 * attached mid-call has none: latency and args are then 0). */
static __always_inline int rs_func_return_event(struct pt_regs *ctx)
{
	if (!rs_want(RS_EV_URETPROBE))
		return 0;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct rs_func_key k = rs_func_key(cookie);
	struct rs_func_entry *v = bpf_map_lookup_elem(&rs_func_entries, &k);
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
		bpf_map_delete_elem(&rs_func_entries, &k);
	return 0;
}

#endif /* RINGSCOPE_FUNC_PROBE_BPF_H */
