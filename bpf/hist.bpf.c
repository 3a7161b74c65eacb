// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* In-kernel aggregates for `ringscope hist`, `/api/hist` and
 * `serve --aggregate`: counts per key, or log2 histograms of a latency or a
 * value, kept in one hash map and read by user space on its own timer (a
 * scrape). Nothing goes through the ring per event. The loader picks the
 * programs and sets the key/value configuration in rodata.
 *
 * Cardinality is bounded and exact: rs_hist holds at most max_entries keys
 * (set by the loader to the label cap); an event whose key does not fit is
 * added to the single rs_hist_other entry and counted in rs_hist_overflow.
 * Nothing is ever deleted from rs_hist, so every value user space reads only
 * grows: Prometheus counters never go down, and no event is lost to an
 * eviction (an LRU map would drop the evicted key's counts in the kernel). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "tp_pass.bpf.h"
#include <bpf/bpf_tracing.h>
#include "events.h"
#include "usdt.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct rs_hist_key rs_btf_hist_key __attribute__((unused));
struct rs_hist_val rs_btf_hist_val __attribute__((unused));

enum rs_hist_by {
	RS_BY_NONE = 0,
	RS_BY_PID = 1,
	RS_BY_COMM = 2,
	RS_BY_FIELD = 3,   /* tracepoint field at rs_key_off, rs_key_size bytes */
	RS_BY_ARG = 4,     /* uprobe or USDT argument rs_key_arg */
	RS_BY_TID = 5,
};

/* What goes into the log2 slots; RS_VALUE_NONE counts events only. */
enum rs_hist_value {
	RS_VALUE_NONE = 0,
	RS_VALUE_FIELD = 1,   /* tracepoint field at rs_val_off, rs_val_size bytes */
	RS_VALUE_ARG = 2,     /* uprobe or USDT argument rs_val_arg */
	RS_VALUE_RET = 3,     /* uretprobe return value */
};
/* In BTF for Python (hist_plan.py reads the values by name). */
enum rs_hist_by rs_btf_hist_by __attribute__((unused));
enum rs_hist_value rs_btf_hist_value __attribute__((unused));

const volatile __u32 rs_by = RS_BY_NONE;
const volatile __u32 rs_key_off = 0;
const volatile __u32 rs_key_size = 0;
const volatile __u32 rs_key_arg = 0;
const volatile __u32 rs_key_at_exit = 0;   /* latency by FIELD: read at the exit tracepoint */
const volatile __u32 rs_value = RS_VALUE_NONE;
const volatile __u32 rs_val_off = 0;
const volatile __u32 rs_val_size = 0;
const volatile __u32 rs_val_signed = 0;
const volatile __u32 rs_val_arg = 0;
const volatile __u32 rs_tgid = 0;      /* 0: every process */

#define RS_EEXIST 17

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);          /* the label cap, set by the loader */
	__type(key, struct rs_hist_key);
	__type(value, struct rs_hist_val);
} rs_hist SEC(".maps");

/* Events whose key did not fit in rs_hist, aggregated together. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rs_hist_val);
} rs_hist_other SEC(".maps");

/* How many events went to rs_hist_other: reported, never silent. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} rs_hist_overflow SEC(".maps");

/* Start times (and, for latency by a field of the entry tracepoint, the key
 * read at entry) per thread: uprobe or syscall entry, or wakeup time.
 * A plain preallocated hash with one entry per live thread, deleted by
 * hist_thread_exit: syscalls.bpf.c measured an LRU hash at ~140 ns more
 * per call. */
struct rs_hist_start {
	__u64 ts;
	__u64 key;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct rs_hist_start);
} rs_start SEC(".maps");

/* Entries that could not be timed because rs_start was full. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} rs_hist_missed SEC(".maps");

/* A zero value to create entries from: too big for the 512-byte stack. */
struct rs_hist_val rs_hist_zero;

static __always_inline void bump(void *counter_map)
{
	__u32 z = 0;
	__u64 *c = bpf_map_lookup_elem(counter_map, &z);

	if (c)
		__sync_fetch_and_add(c, 1);
}

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

/* The entry for key k: its own, or rs_hist_other when the map is full. */
static __always_inline struct rs_hist_val *hist_entry(struct rs_hist_key *k)
{
	struct rs_hist_val *v = bpf_map_lookup_elem(&rs_hist, k);
	__u32 z = 0;

	if (v)
		return v;
	/* NOEXIST: if another CPU created it first, the lookup finds theirs.
	 * Any other failure (E2BIG: the cap is reached) folds into other. */
	long err = bpf_map_update_elem(&rs_hist, k, &rs_hist_zero, BPF_NOEXIST);
	if (!err || err == -RS_EEXIST) {
		v = bpf_map_lookup_elem(&rs_hist, k);
		if (v)
			return v;
	}
	bump(&rs_hist_overflow);
	return bpf_map_lookup_elem(&rs_hist_other, &z);
}

static __always_inline void hist_add(struct rs_hist_key *k, __u64 value, bool log2)
{
	struct rs_hist_val *v = hist_entry(k);

	if (!v)
		return;
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

/* A tracepoint field of 1, 2, 4 or 8 bytes (sizes come from rodata, so the
 * verifier sees constants). Raw bits: user space sign-extends keys. */
static __always_inline __u64 tp_field(void *ctx, __u32 off, __u32 size)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, size & 7 ? size & 7 : 8, (void *)((long)ctx + off));
	return v;
}

/* A value for the log2 slots: negative signed values (an -errno return)
 * count as 0 rather than as 2^63. */
static __always_inline __u64 clamp_value(__u64 v, __u32 size, bool is_signed)
{
	__u32 shift = 64 - 8 * (size & 0xf);

	if (!is_signed)
		return v;
	if (shift && shift < 64)
		v = (__u64)((__s64)(v << shift) >> shift);
	return (__s64)v < 0 ? 0 : v;
}

/* -- tracepoints: counts, values, syscall latency ------------------------- */

SEC("tp")
int hist_tp(void *ctx)
{
	struct rs_hist_key k;

	if (!wanted_tgid(bpf_get_current_pid_tgid() >> 32))
		return RS_TP_PASS;
	key_current(&k);
	if (rs_by == RS_BY_FIELD)
		k.key = tp_field(ctx, rs_key_off, rs_key_size);
	if (rs_value == RS_VALUE_FIELD)
		hist_add(&k, clamp_value(tp_field(ctx, rs_val_off, rs_val_size), rs_val_size, rs_val_signed),
			 true);
	else
		hist_add(&k, 0, false);
	return RS_TP_PASS;
}

/* A start is written in place and "taken" by zeroing ts, not by a delete
 * and a new insert per event: each of those allocates or frees a map element
 * (a preallocated hash swaps elements even on an update in place). The entry
 * stays while its thread lives; hist_thread_exit deletes it. */
static __always_inline void remember(__u32 tid, __u64 key)
{
	struct rs_hist_start *s = bpf_map_lookup_elem(&rs_start, &tid);
	struct rs_hist_start n = { .ts = bpf_ktime_get_ns(), .key = key };

	if (s) {
		s->key = key;
		s->ts = n.ts;
		return;
	}
	if (bpf_map_update_elem(&rs_start, &tid, &n, BPF_ANY))
		bump(&rs_hist_missed);
}

/* The time since tid's start, taking it (0: no start to take). */
static __always_inline __u64 take(__u32 tid, __u64 *key)
{
	struct rs_hist_start *s = bpf_map_lookup_elem(&rs_start, &tid);
	__u64 ts;

	if (!s || !s->ts)
		return 0;
	ts = s->ts;
	*key = s->key;
	s->ts = 0;
	return bpf_ktime_get_ns() - ts;
}

/* syscalls:sys_enter_X (or raw_syscalls:sys_enter) -> the matching exit. */
SEC("tp")
int hist_tp_enter(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (!wanted_tgid(id >> 32))
		return RS_TP_PASS;
	remember((__u32)id, rs_by == RS_BY_FIELD && !rs_key_at_exit ? tp_field(ctx, rs_key_off, rs_key_size) : 0);
	return RS_TP_PASS;
}

SEC("tp")
int hist_tp_exit(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct rs_hist_key k;
	__u64 key = 0, delta = take(tid, &key);

	if (!delta)
		return RS_TP_PASS;
	key_current(&k);
	if (rs_by == RS_BY_FIELD)
		k.key = rs_key_at_exit ? tp_field(ctx, rs_key_off, rs_key_size) : key;
	hist_add(&k, delta, true);
	return RS_TP_PASS;
}

/* Starts stay in rs_start while their thread lives (remember()); drop a
 * thread's when it exits, so that rs_start holds live threads only. */
SEC("tp/sched/sched_process_exit")
int hist_thread_exit(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&rs_start, &tid);
	return RS_TP_PASS;
}

/* -- uprobes and USDT: counts and argument values -------------------------- */

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
int hist_uprobe(struct pt_regs *ctx)
{
	struct rs_hist_key k;

	if (!wanted_tgid(bpf_get_current_pid_tgid() >> 32))
		return RS_TP_PASS;
	key_current(&k);
	if (rs_by == RS_BY_ARG)
		k.key = arg(ctx, rs_key_arg);
	if (rs_value == RS_VALUE_ARG)
		hist_add(&k, clamp_value(arg(ctx, rs_val_arg), 8, rs_val_signed), true);
	else
		hist_add(&k, 0, false);
	return RS_TP_PASS;
}

/* Argument i of a USDT probe; i comes from rodata, bounded for the verifier. */
static __always_inline __u64 usdt_nth(struct pt_regs *ctx, struct rs_usdt_spec *spec, __u32 i)
{
	if (i >= RS_UPROBE_ARGS)
		return RS_TP_PASS;
	return rs_usdt_arg(ctx, &spec->args[i]);
}

SEC("uprobe")
int hist_usdt(struct pt_regs *ctx)
{
	struct rs_hist_key k;
	struct rs_usdt_spec *spec;

	if (!wanted_tgid(bpf_get_current_pid_tgid() >> 32))
		return RS_TP_PASS;
	spec = rs_usdt_spec(ctx);
	if (!spec)
		return RS_TP_PASS;
	key_current(&k);
	if (rs_by == RS_BY_ARG)
		k.key = usdt_nth(ctx, spec, rs_key_arg);
	if (rs_value == RS_VALUE_ARG)
		hist_add(&k, clamp_value(usdt_nth(ctx, spec, rs_val_arg), 8, rs_val_signed), true);
	else
		hist_add(&k, 0, false);
	return RS_TP_PASS;
}

/* -- function latency (funclatency), return values ------------------------- */

SEC("uprobe")
int hist_uentry(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (!wanted_tgid(id >> 32))
		return RS_TP_PASS;
	remember((__u32)id, 0);
	return RS_TP_PASS;
}

SEC("uretprobe")
int hist_uret(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct rs_hist_key k;

	if (rs_value == RS_VALUE_RET) {
		if (!wanted_tgid(id >> 32))
			return RS_TP_PASS;
		key_current(&k);
		hist_add(&k, clamp_value(PT_REGS_RC(ctx), 8, rs_val_signed), true);
		return RS_TP_PASS;
	}
	__u64 key = 0, delta = take(tid, &key);
	if (!delta)
		return RS_TP_PASS;
	key_current(&k);
	hist_add(&k, delta, true);
	return RS_TP_PASS;
}

/* -- run-queue latency (runqlat): wakeup -> switched in ------------------ */

static __always_inline void enqueued(struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid), tid = BPF_CORE_READ(p, pid);

	if (!tid || !wanted_tgid(tgid))
		return;
	remember(tid, 0);
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
	__u64 key = 0, delta = take(tid, &key);
	if (!delta)
		return 0;

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
