// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* uprobes and uretprobes on any user function. A uretprobe is two
 * attachments with one cookie: handle_uentry keeps the args and the entry
 * time per (thread, tag), handle_uretprobe pairs them with the return. */
#include "func_probe.bpf.h"
#include "usdt.bpf.h"

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

/* -- USDT (argument fetching: usdt.bpf.h) ------------------------------ */

SEC("uprobe")
int handle_usdt(struct pt_regs *ctx)
{
	if (!rs_want(RS_EV_UPROBE))
		return 0;
	struct rs_usdt_spec *spec = rs_usdt_spec(ctx);
	if (!spec)
		return 0;
	struct rs_uprobe *e = rs_reserve(sizeof(*e), RS_EV_UPROBE);
	if (!e)
		return 0;
	e->cookie = bpf_get_attach_cookie(ctx);
#pragma unroll
	for (int i = 0; i < RS_UPROBE_ARGS; i++)
		e->args[i] = rs_usdt_arg(ctx, &spec->args[i]);
	e->ret = 0;
	e->latency_ns = 0;
	rs_submit(ctx, e);
	return 0;
}
