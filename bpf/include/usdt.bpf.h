/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * USDT argument fetching, shared by the stream (uprobe.bpf.c, handle_usdt)
 * and the in-kernel aggregates (hist.bpf.c, hist_usdt): each probe location
 * has a struct rs_usdt_spec in rs_usdt_specs, keyed by the low 32 bits of
 * its attach cookie, written by sources/usdt.py from the .note.stapsdt
 * operands. Include once per object.
 */
#ifndef RINGSCOPE_USDT_BPF_H
#define RINGSCOPE_USDT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "events.h"

struct rs_usdt_spec rs_btf_usdt_spec __attribute__((unused));
enum rs_usdt_arg_kind rs_btf_usdt_kind __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct rs_usdt_spec);
} rs_usdt_specs SEC(".maps");

/* The spec of the probe location that fired, or NULL. */
static __always_inline struct rs_usdt_spec *rs_usdt_spec(struct pt_regs *ctx)
{
	__u32 key = (__u32)bpf_get_attach_cookie(ctx);

	return bpf_map_lookup_elem(&rs_usdt_specs, &key);
}

static __always_inline __u64 rs_usdt_arg(struct pt_regs *ctx, struct rs_usdt_arg *a)
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

#endif /* RINGSCOPE_USDT_BPF_H */
