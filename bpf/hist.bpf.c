// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* In-kernel histograms for `ringscope hist`: counts per key, or log2
 * histograms of a latency, kept in one hash map and read by userspace on
 * its own timer. Nothing goes through the ring per event. The loader picks
 * the programs and sets the key/value configuration in rodata. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "tp_pass.bpf.h"
#include <bpf/bpf_tracing.h>
#include "events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct rs_hist_key rs_btf_hist_key __attribute__((unused));
struct rs_hist_val rs_btf_hist_val __attribute__((unused));

enum rs_hist_by {
	RS_BY_NONE = 0,
	RS_BY_PID = 1,
	RS_BY_COMM = 2,
	RS_BY_FIELD = 3,   /* tracepoint field at rs_key_off, rs_key_size bytes */
	RS_BY_ARG = 4,     /* uprobe argument rs_key_arg */
	RS_BY_TID = 5,
};
/* In BTF for Python (hist.py reads the values by name). */
enum rs_hist_by rs_btf_hist_by __attribute__((unused));

const volatile __u32 rs_by = RS_BY_NONE;
const volatile __u32 rs_key_off = 0;
const volatile __u32 rs_key_size = 0;
const volatile __u32 rs_key_arg = 0;
const volatile __u32 rs_tgid = 0;      /* 0: every process */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct rs_hist_key);
	__type(value, struct rs_hist_val);
} rs_hist SEC(".maps");

/* Entry timestamps: uprobe entry per thread, or wakeup time per task. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} rs_start SEC(".maps");

/* Keys that did not fit in rs_hist: reported, never silently lost. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} rs_hist_dropped SEC(".maps");

/* A zero value to create entries from: too big for the 512-byte stack. */
struct rs_hist_val rs_hist_zero;

static __always_inline __u32 log2l(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xFFFFFFFFULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline bool wanted_tgid(__u32 tgid)
{
	return !rs_tgid || tgid == rs_tgid;
}

static __always_inline void hist_add(struct rs_hist_key *k, __u64 value, bool log2)
{
	struct rs_hist_val *v = bpf_map_lookup_elem(&rs_hist, k);
	if (!v) {
		/* NOEXIST: if another CPU created it first, the lookup finds theirs. */
		bpf_map_update_elem(&rs_hist, k, &rs_hist_zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&rs_hist, k);
		if (!v) {
			__u32 z = 0;
			__u64 *d = bpf_map_lookup_elem(&rs_hist_dropped, &z);
			if (d)
				__sync_fetch_and_add(d, 1);
			return;
		}
	}
	__sync_fetch_and_add(&v->count, 1);
	if (log2) {
		__sync_fetch_and_add(&v->sum, value);
		__u32 slot = log2l(value);
		if (slot < RS_HIST_SLOTS)
			__sync_fetch_and_add(&v->slots[slot], 1);
	}
}

static __always_inline void key_current(struct rs_hist_key *k)
{
	__u64 id = bpf_get_current_pid_tgid();

	__builtin_memset(k, 0, sizeof(*k));
	if (rs_by == RS_BY_PID)
		k->key = id >> 32;
	else if (rs_by == RS_BY_TID)
		k->key = (__u32)id;
	else if (rs_by == RS_BY_COMM)
		bpf_get_current_comm(k->comm, sizeof(k->comm));
}

/* -- counts ------------------------------------------------------------- */

SEC("tp")
int hist_tp_count(void *ctx)
{
	struct rs_hist_key k;

	if (!wanted_tgid(bpf_get_current_pid_tgid() >> 32))
		return RS_TP_PASS;
	key_current(&k);
	if (rs_by == RS_BY_FIELD) {
		__u64 v = 0;
		bpf_probe_read_kernel(&v, rs_key_size & 7 ? rs_key_size & 7 : 8, (void *)((long)ctx + rs_key_off));
		k.key = v;
	}
	hist_add(&k, 0, false);
	return RS_TP_PASS;
}

static __always_inline __u64 arg(struct pt_regs *ctx, __u32 i)
{
	__u64 a0 = PT_REGS_PARM1(ctx), a1 = PT_REGS_PARM2(ctx), a2 = PT_REGS_PARM3(ctx);
	__u64 a3 = PT_REGS_PARM4(ctx), a4 = PT_REGS_PARM5(ctx);

	/* Without this clang turns the switch into one ctx load at a computed
	 * offset, which the verifier refuses (ctx offsets must be constant). */
	asm volatile("" : "+r"(a0), "+r"(a1), "+r"(a2), "+r"(a3), "+r"(a4));
	switch (i) {
	case 0: return a0;
	case 1: return a1;
	case 2: return a2;
	case 3: return a3;
	default: return a4;
	}
}

SEC("uprobe")
int hist_uprobe_count(struct pt_regs *ctx)
{
	struct rs_hist_key k;

	if (!wanted_tgid(bpf_get_current_pid_tgid() >> 32))
		return 0;
	key_current(&k);
	if (rs_by == RS_BY_ARG)
		k.key = arg(ctx, rs_key_arg);
	hist_add(&k, 0, false);
	return 0;
}

/* -- function latency (funclatency) -------------------------------------- */

SEC("uprobe")
int hist_uentry(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	__u64 ts = bpf_ktime_get_ns();

	if (!wanted_tgid(id >> 32))
		return 0;
	bpf_map_update_elem(&rs_start, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int hist_uret(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *ts = bpf_map_lookup_elem(&rs_start, &tid);
	struct rs_hist_key k;

	if (!ts)
		return 0;
	__u64 delta = bpf_ktime_get_ns() - *ts;
	bpf_map_delete_elem(&rs_start, &tid);
	key_current(&k);
	hist_add(&k, delta, true);
	return 0;
}

/* -- run-queue latency (runqlat): wakeup -> switched in ------------------ */

static __always_inline void enqueued(struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid), tid = BPF_CORE_READ(p, pid);
	__u64 ts;

	if (!tid || !wanted_tgid(tgid))
		return;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&rs_start, &tid, &ts, BPF_ANY);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(hist_wakeup, struct task_struct *p)
{
	enqueued(p);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(hist_wakeup_new, struct task_struct *p)
{
	enqueued(p);
	return 0;
}

#define RS_TASK_RUNNING 0

SEC("tp_btf/sched_switch")
int BPF_PROG(hist_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	/* A preempted task goes straight back on the run queue. */
	if (BPF_CORE_READ(prev, __state) == RS_TASK_RUNNING)
		enqueued(prev);

	__u32 tid = BPF_CORE_READ(next, pid);
	__u64 *ts = bpf_map_lookup_elem(&rs_start, &tid);
	if (!ts)
		return 0;
	__u64 delta = bpf_ktime_get_ns() - *ts;
	bpf_map_delete_elem(&rs_start, &tid);

	struct rs_hist_key k;
	__builtin_memset(&k, 0, sizeof(k));
	if (rs_by == RS_BY_PID)
		k.key = BPF_CORE_READ(next, tgid);
	else if (rs_by == RS_BY_TID)
		k.key = tid;
	else if (rs_by == RS_BY_COMM)
		BPF_CORE_READ_STR_INTO(&k.comm, next, comm);
	hist_add(&k, delta, true);
	return 0;
}
