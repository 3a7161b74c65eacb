// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Scheduler: context switches and wakeups. High rate: filter first. */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct rs_sched_switch rs_btf_switch __attribute__((unused));
struct rs_sched_wakeup rs_btf_wakeup __attribute__((unused));

SEC("tp/sched/sched_switch")
int handle_switch(struct trace_event_raw_sched_switch *ctx)
{
	if (!rs_want(RS_EV_SCHED_SWITCH))
		return 0;
	struct rs_sched_switch *e = rs_reserve(sizeof(*e), RS_EV_SCHED_SWITCH);
	if (!e)
		return 0;
	e->prev_pid = ctx->prev_pid;
	e->next_pid = ctx->next_pid;
	e->prev_state = ctx->prev_state;
	bpf_probe_read_kernel(e->prev_comm, RS_COMM_LEN, ctx->prev_comm);
	bpf_probe_read_kernel(e->next_comm, RS_COMM_LEN, ctx->next_comm);
	rs_submit(ctx, e);
	return 0;
}

static __always_inline int wakeup(struct trace_event_raw_sched_wakeup_template *ctx)
{
	if (!rs_want(RS_EV_SCHED_WAKEUP))
		return 0;
	struct rs_sched_wakeup *e = rs_reserve(sizeof(*e), RS_EV_SCHED_WAKEUP);
	if (!e)
		return 0;
	e->target_pid = ctx->pid;
	e->target_cpu = ctx->target_cpu;
	bpf_probe_read_kernel(e->target_comm, RS_COMM_LEN, ctx->comm);
	rs_submit(ctx, e);
	return 0;
}

SEC("tp/sched/sched_wakeup")
int handle_wakeup(struct trace_event_raw_sched_wakeup_template *ctx)
{
	return wakeup(ctx);
}

SEC("tp/sched/sched_wakeup_new")
int handle_wakeup_new(struct trace_event_raw_sched_wakeup_template *ctx)
{
	return wakeup(ctx);
}
