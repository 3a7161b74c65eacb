// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Scheduler: context switches and wakeups. High rate: filter first. */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct rs_sched_switch rs_btf_switch __attribute__((unused));
struct rs_sched_wakeup rs_btf_wakeup __attribute__((unused));

static __always_inline void switch_event(struct trace_event_raw_sched_switch *ctx)
{
	if (!rs_want(RS_EV_SCHED_SWITCH))
		return;
	struct rs_sched_switch *e = rs_reserve(sizeof(*e), RS_EV_SCHED_SWITCH);
	if (!e)
		return;
	e->prev_pid = ctx->prev_pid;
	e->next_pid = ctx->next_pid;
	e->prev_state = ctx->prev_state;
	bpf_probe_read_kernel(e->prev_comm, RS_COMM_LEN, ctx->prev_comm);
	bpf_probe_read_kernel(e->next_comm, RS_COMM_LEN, ctx->next_comm);
	rs_submit(ctx, e);
}

SEC("tp/sched/sched_switch")
int handle_switch(struct trace_event_raw_sched_switch *ctx)
{
	switch_event(ctx);
	return RS_TP_PASS;
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
	wakeup(ctx);
	return RS_TP_PASS;
}

SEC("tp/sched/sched_wakeup_new")
int handle_wakeup_new(struct trace_event_raw_sched_wakeup_template *ctx)
{
	wakeup(ctx);
	return RS_TP_PASS;
}

/* The same events from BTF tracepoints, for a tracer that cannot read
 * tracefs (CAP_BPF + CAP_PERFMON without root): they attach by BTF id. The
 * values are the ones the tracefs events report. */

/* __trace_sched_switch_state() (include/trace/events/sched.h) on the raw
 * prev_state, with the task-state bits of include/linux/sched.h: unchanged
 * since Linux 6.1 added TASK_FROZEN. */
#define RS_TASK_REPORT 0x7f
#define RS_TASK_REPORT_IDLE 0x80
#define RS_TASK_REPORT_MAX 0x100
#define RS_TASK_UNINTERRUPTIBLE 0x2
#define RS_TASK_IDLE 0x402 /* TASK_UNINTERRUPTIBLE | TASK_NOLOAD */
#define RS_TASK_RTLOCK_WAIT 0x1000
#define RS_TASK_FROZEN 0x8000

static __always_inline __s64 switch_state(bool preempt, unsigned int prev_state, struct task_struct *prev)
{
	if (preempt)
		return RS_TASK_REPORT_MAX;
	unsigned int state = (prev_state | BPF_CORE_READ(prev, exit_state)) & RS_TASK_REPORT;
	if ((prev_state & RS_TASK_IDLE) == RS_TASK_IDLE)
		state = RS_TASK_REPORT_IDLE;
	if (prev_state & (RS_TASK_RTLOCK_WAIT | RS_TASK_FROZEN))
		state = RS_TASK_UNINTERRUPTIBLE;
	/* 1 << (fls(state) - 1): the highest bit set (state < 0x100). */
	__s64 top = 0;
#pragma unroll
	for (int i = 0; i < 8; i++)
		if (state & (1U << i))
			top = 1U << i;
	return top;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(handle_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	if (!rs_want(RS_EV_SCHED_SWITCH))
		return 0;
	struct rs_sched_switch *e = rs_reserve(sizeof(*e), RS_EV_SCHED_SWITCH);
	if (!e)
		return 0;
	e->prev_pid = BPF_CORE_READ(prev, pid);
	e->next_pid = BPF_CORE_READ(next, pid);
	e->prev_state = switch_state(preempt, prev_state, prev);
	BPF_CORE_READ_STR_INTO(&e->prev_comm, prev, comm);
	BPF_CORE_READ_STR_INTO(&e->next_comm, next, comm);
	rs_submit(ctx, e);
	return 0;
}

/* task_cpu(p): the cpu is in thread_info on x86-64 and in task_struct on
 * architectures that moved it there (5.16); a flavour names the latter. */
struct task_struct___cpu {
	unsigned int cpu;
} __attribute__((preserve_access_index));

static __always_inline __u32 task_cpu(struct task_struct *p)
{
	struct task_struct___cpu *t = (void *)p;

	if (bpf_core_field_exists(p->thread_info.cpu))
		return BPF_CORE_READ(p, thread_info.cpu);
	if (bpf_core_field_exists(t->cpu))
		return BPF_CORE_READ(t, cpu);
	return BPF_CORE_READ(p, wake_cpu);
}

static __always_inline int wakeup_btf(void *ctx, struct task_struct *p)
{
	if (!rs_want(RS_EV_SCHED_WAKEUP))
		return 0;
	struct rs_sched_wakeup *e = rs_reserve(sizeof(*e), RS_EV_SCHED_WAKEUP);
	if (!e)
		return 0;
	e->target_pid = BPF_CORE_READ(p, pid);
	e->target_cpu = task_cpu(p);
	BPF_CORE_READ_STR_INTO(&e->target_comm, p, comm);
	rs_submit(ctx, e);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(handle_wakeup_btf, struct task_struct *p)
{
	return wakeup_btf(ctx, p);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(handle_wakeup_new_btf, struct task_struct *p)
{
	return wakeup_btf(ctx, p);
}
