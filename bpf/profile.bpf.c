// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Sampling profiler: a BPF_PROG_TYPE_PERF_EVENT program run on every sample
 * of a perf event (cpu-clock, cycles, ...). Stacks are aggregated in the
 * kernel: each sample bumps a counter keyed by {pid, kernel stack id, user
 * stack id, comm}, so user space reads a small map instead of a stream.
 *
 * This object has nothing to do with the shared event ring: no rs_* maps.
 * Its structs are private to it and Python reads their layout from this
 * object's BTF.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define RS_PROF_COMM_LEN 16
#define RS_PROF_STACK_DEPTH 127 /* PERF_MAX_STACK_DEPTH */

struct rs_prof_key {
	__u32 pid;      /* tgid */
	__s32 kstack;   /* stack id in rs_prof_stacks, < 0: none or error */
	__s32 ustack;
	__u32 __pad0;
	__u64 ip;       /* the sampled instruction pointer (for samples without -g) */
	char comm[RS_PROF_COMM_LEN];
};

/* Counters so every sample is accounted for: taken + lost == overflows. */
enum rs_prof_stat {
	RS_PROF_SAMPLES = 0,    /* samples the program ran for */
	RS_PROF_FILTERED = 1,   /* not the target (pid filter) */
	RS_PROF_LOST_KEY = 2,   /* counts map full: sample dropped */
	RS_PROF_KSTACK_ERR = 3, /* kernel stack not stored (map full / collision) */
	RS_PROF_USTACK_ERR = 4, /* user stack not stored */
	RS_PROF_STAT_MAX = 5,
};

/* 0: sample every task the perf event sees. Otherwise only this tgid. */
const volatile __u32 rs_prof_tgid = 0;
/* Collect call chains (-g); without it only `ip` is kept. */
const volatile __u8 rs_prof_callchain = 1;

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__uint(value_size, RS_PROF_STACK_DEPTH * sizeof(__u64));
} rs_prof_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct rs_prof_key);
	__type(value, __u64);
} rs_prof_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RS_PROF_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} rs_prof_stats SEC(".maps");

/* tgids seen, so user space snapshots their memory maps while they live. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u8);
} rs_prof_pids SEC(".maps");

struct rs_prof_key rs_btf_prof_key __attribute__((unused));
enum rs_prof_stat rs_btf_prof_stat __attribute__((unused));

static __always_inline void stat_inc(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&rs_prof_stats, &which);
	if (v)
		*v += 1; /* per-CPU and perf_event programs do not nest on a CPU */
}

SEC("perf_event")
int rs_profile(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct rs_prof_key key = {};

	stat_inc(RS_PROF_SAMPLES);
	if (rs_prof_tgid && tgid != rs_prof_tgid) {
		stat_inc(RS_PROF_FILTERED);
		return 0;
	}
	key.pid = tgid;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	if (rs_prof_callchain) {
		key.kstack = bpf_get_stackid(ctx, &rs_prof_stacks, 0);
		key.ustack = bpf_get_stackid(ctx, &rs_prof_stacks, BPF_F_USER_STACK);
		/* -EFAULT is "no stack in this mode" (a user thread interrupted in
		 * user mode has no kernel stack, a kernel thread no user stack). */
		if (key.kstack < 0 && key.kstack != -14)
			stat_inc(RS_PROF_KSTACK_ERR);
		if (key.ustack < 0 && key.ustack != -14)
			stat_inc(RS_PROF_USTACK_ERR);
	} else {
		key.kstack = key.ustack = -1;
		key.ip = PT_REGS_IP(&ctx->regs);
	}

	__u64 one = 1, *count = bpf_map_lookup_elem(&rs_prof_counts, &key);
	if (count) {
		__sync_fetch_and_add(count, 1);
	} else if (bpf_map_update_elem(&rs_prof_counts, &key, &one, BPF_NOEXIST)) {
		/* A racing CPU may have created it; otherwise the map is full. */
		count = bpf_map_lookup_elem(&rs_prof_counts, &key);
		if (count)
			__sync_fetch_and_add(count, 1);
		else
			stat_inc(RS_PROF_LOST_KEY);
	}
	__u8 seen = 1;
	if (!bpf_map_lookup_elem(&rs_prof_pids, &tgid))
		bpf_map_update_elem(&rs_prof_pids, &tgid, &seen, BPF_NOEXIST);
	return 0;
}
