/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared kernel-side plumbing for every ringscope source:
 *  - the maps every object declares and the loader makes one kernel map
 *    (bpf_map__reuse_fd): the ring, the drop counters, the filter, the
 *    followed process tree;
 *  - rs_want(): the one filter predicate, run before any work;
 *  - rs_reserve()/rs_submit(): the transport, with drop counting and the
 *    adaptive wakeup policy. Two transports behind one API (the idiom of
 *    bcc libbpf-tools' compat.bpf.h): the BPF ring buffer, or the perf
 *    buffer (BPF_MAP_TYPE_PERF_EVENT_ARRAY) for kernels before 5.8 and for
 *    comparison. The loader picks one with the rs_use_perfbuf rodata flag;
 *    rodata is frozen before verification, so the verifier walks only the
 *    chosen branch and the other one's helpers need not exist.
 */
#ifndef RINGSCOPE_COMMON_BPF_H
#define RINGSCOPE_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "events.h"
#include "tp_pass.bpf.h"

/* Reader wakeup threshold in bytes of unread data: below it, submit with
 * BPF_RB_NO_WAKEUP (the reader drains on its own short timer); at or above
 * it, force a wakeup so a burst cannot fill the ring while the reader sleeps.
 * A wakeup per event costs the producer ~1 us on this VM (DESIGN.md §3). */
const volatile __u64 rs_wakeup_bytes = 1 << 20;

/* Ring size is set by the loader (must be a power of two). No __type(value)
 * on a RINGBUF map: libbpf rejects it with EINVAL. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} rs_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rs_drops);
} rs_drops SEC(".maps");

/* true: records go out through rs_perf (set by the loader, see above). */
const volatile bool rs_use_perfbuf = false;

/* Largest record rs_reserve() hands out on the perf buffer path, and how
 * deep programs may nest on one CPU (a perf_event program in hard IRQ
 * inside a tracepoint program) before a reserve fails as a counted drop. */
#define RS_MAX_RECORD 4096
#define RS_HEAP_NEST 4

/* The perf buffer: one perf event fd per CPU, put in by the reader. */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} rs_perf SEC(".maps");

/* bpf_perf_event_output() copies from memory the program owns, so on the
 * perf path a record is built in a per-CPU scratch slot first: one slot per
 * nesting level, so an interrupting program never overwrites a record that
 * is half built. `size` carries the reserve size to rs_submit(). */
struct rs_heap_slot {
	__u64 size;
	__u8 data[RS_MAX_RECORD];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RS_HEAP_NEST);
	__type(key, __u32);
	__type(value, struct rs_heap_slot);
} rs_heap SEC(".maps");

/* Slots in use on this CPU. A nested program runs to completion before the
 * interrupted one resumes, so a plain per-CPU counter is enough. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} rs_nest SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rs_filter);
} rs_filter SEC(".maps");

/* tgids in the followed tree (trace -- CMD): the command and its children. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} rs_follow SEC(".maps");

/* Anchor the event structs in this object's BTF: a struct used only through
 * a pointer cast is not emitted, and Python derives layouts from BTF. */
struct rs_header rs_btf_header __attribute__((unused));
enum rs_event_type rs_btf_event_type __attribute__((unused));


static __always_inline bool rs_comm_eq(const char *a, const char *b)
{
#pragma unroll
	for (int i = 0; i < RS_COMM_LEN; i++) {
		if (a[i] != b[i])
			return false;
		if (!a[i])
			return true;
	}
	return true;
}

/* The one filter predicate: is an event of `type` from current wanted? */
static __always_inline bool rs_want(__u32 type)
{
	__u32 zero = 0;
	struct rs_filter *f = bpf_map_lookup_elem(&rs_filter, &zero);
	if (!f || !(f->type_mask & (1U << type)))
		return false;

	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (f->exclude_tgid && tgid == f->exclude_tgid)
		return false;
	if (f->tgid) {
		if (f->follow) {
			if (!bpf_map_lookup_elem(&rs_follow, &tgid))
				return false;
		} else if (tgid != f->tgid) {
			return false;
		}
	}
	if (f->uid != (__u32)-1 && (__u32)bpf_get_current_uid_gid() != f->uid)
		return false;
	if (f->cgroup_id && bpf_get_current_cgroup_id() != f->cgroup_id)
		return false;
	if (f->comm_set) {
		char comm[RS_COMM_LEN];
		bpf_get_current_comm(comm, sizeof(comm));
		if (!rs_comm_eq(comm, f->comm))
			return false;
	}
	return true;
}

static __always_inline void rs_count_drop(__u32 type)
{
	__u32 zero = 0;
	struct rs_drops *d = bpf_map_lookup_elem(&rs_drops, &zero);
	/* Programs can nest on one CPU (a tracepoint fired inside another
	 * program's helper), so even the per-CPU slot is bumped atomically:
	 * the accounting must be exact. */
	if (d && type < RS_EV_MAX)
		__sync_fetch_and_add(&d->count[type], 1);
}

static __always_inline void rs_fill_header(struct rs_header *h, __u32 type)
{
	__u64 id = bpf_get_current_pid_tgid();

	h->ts_ns = bpf_ktime_get_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->type = type;
	h->cpu = bpf_get_smp_processor_id();
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->uid = (__u32)bpf_get_current_uid_gid();
	h->__pad0 = 0;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

static __always_inline void *rs_heap_get(__u64 size)
{
	__u32 zero = 0;
	__u32 *nest = bpf_map_lookup_elem(&rs_nest, &zero);
	if (!nest)
		return NULL;
	__u32 depth = *nest;
	if (depth >= RS_HEAP_NEST || size > RS_MAX_RECORD)
		return NULL;
	struct rs_heap_slot *slot = bpf_map_lookup_elem(&rs_heap, &depth);
	if (!slot)
		return NULL;
	*nest = depth + 1;
	slot->size = size;
	return slot->data;
}

static __always_inline void rs_heap_put(void)
{
	__u32 zero = 0;
	__u32 *nest = bpf_map_lookup_elem(&rs_nest, &zero);
	if (nest && *nest)
		*nest -= 1;
}

/* Reserve a record of `size` bytes; on a full ring (or no free scratch slot
 * on the perf path) count the drop and return NULL. The header is filled in
 * for the caller. Every non-NULL record must reach rs_submit(). */
static __always_inline void *rs_reserve(__u64 size, __u32 type)
{
	struct rs_header *h;

	if (rs_use_perfbuf)
		h = rs_heap_get(size);
	else
		h = bpf_ringbuf_reserve(&rs_ring, size, 0);
	if (!h) {
		rs_count_drop(type);
		return NULL;
	}
	rs_fill_header(h, type);
	return h;
}

/* Wake the reader once per crossing: when this record (`size` bytes plus
 * the ring's header and padding) takes the unread data across
 * rs_wakeup_bytes. Readiness of the ring fd is level-triggered, so a reader
 * that is busy or already woken sees the data anyway; forcing a wakeup on
 * every submit above the threshold instead cost a lagging reader's
 * producers ~2 us per event (an irq_work each). Two CPUs racing across the
 * threshold can both miss it; the reader's drain timer bounds that. */
static __always_inline __u64 rs_wakeup_flags(__u64 size)
{
	__u64 avail = bpf_ringbuf_query(&rs_ring, BPF_RB_AVAIL_DATA);
	__u64 footprint = (size + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL;

	return avail >= rs_wakeup_bytes && avail < rs_wakeup_bytes + footprint ?
		BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Publish a record `rec` from rs_reserve() (a typed pointer: its size is
 * taken from its type). `ctx` is the program's context, which
 * bpf_perf_event_output() needs. A failed perf output (buffer full: the
 * helper returns -ENOSPC) is counted exactly like a failed reserve; the
 * perf buffer also reports it later as PERF_RECORD_LOST, and the reader
 * keeps that count only as a cross-check, so no drop is counted twice. */
#define rs_submit(ctx, rec) rs_submit_sized(ctx, rec, sizeof(*(rec)))

static __always_inline void rs_submit_sized(void *ctx, void *rec, __u64 rec_size)
{
	if (!rs_use_perfbuf) {
		bpf_ringbuf_submit(rec, rs_wakeup_flags(rec_size));
		return;
	}
	struct rs_heap_slot *slot = (void *)((char *)rec - offsetof(struct rs_heap_slot, data));
	__u64 size = slot->size;
	/* Always true (rs_heap_get checked it); tells the verifier the bound. */
	if (size <= RS_MAX_RECORD &&
	    bpf_perf_event_output(ctx, &rs_perf, BPF_F_CURRENT_CPU, rec, size) == 0) {
		rs_heap_put();
		return;
	}
	rs_count_drop(((struct rs_header *)rec)->type);
	rs_heap_put();
}

/* Variable-size records are built elsewhere and copied in, which submits
 * only the bytes used. */
static __always_inline void rs_output(void *ctx, void *rec, __u64 size, __u32 type)
{
	long err;

	if (rs_use_perfbuf)
		err = bpf_perf_event_output(ctx, &rs_perf, BPF_F_CURRENT_CPU, rec, size);
	else
		err = bpf_ringbuf_output(&rs_ring, rec, size, rs_wakeup_flags(size));
	if (err)
		rs_count_drop(type);
}

#endif /* RINGSCOPE_COMMON_BPF_H */
