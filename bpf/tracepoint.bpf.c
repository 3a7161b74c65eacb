// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Any tracepoint by name: one program, attached once per tracepoint with a
 * cookie that tags the record and says how much of it to copy (events.h).
 * The raw record is decoded in Python from the tracefs format file, so this
 * program knows nothing about any tracepoint's fields. */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct rs_tracepoint rs_btf_tracepoint __attribute__((unused));

/* Records are built here and submitted with only the bytes used. Tracepoint
 * programs do not nest on one CPU (bpf_prog_active), so one slot is enough. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rs_tracepoint);
} rs_tp_scratch SEC(".maps");

enum rs_tp_limits rs_btf_tp_limits __attribute__((unused));

static __always_inline __u32 copy_user_str(struct rs_tracepoint *e, __u32 pos, __u32 off8)
{
	__u64 uptr = 0;

	if (!off8)
		return 0;
	bpf_probe_read_kernel(&uptr, sizeof(uptr), e->data + ((off8 * 8) & (RS_TP_BUF_LEN - 8)));
	/* pos <= RS_TP_DATA_LEN + RS_TP_STR_LEN: the mask only tells the verifier. */
	asm volatile("" : "+r"(pos));
	long n = bpf_probe_read_user_str(e->data + (pos & 1023), RS_TP_STR_LEN, (void *)uptr);
	return n > 0 ? n : 0;
}

static __always_inline void tp_event(void *ctx)
{
	__u32 zero = 0;

	if (!rs_want(RS_EV_TRACEPOINT))
		return;
	struct rs_tracepoint *e = bpf_map_lookup_elem(&rs_tp_scratch, &zero);
	if (!e)
		return;

	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 len = (cookie >> 16) & 0xffff;
	__u32 loc_off = (cookie >> 32) & 0xffff;
	if (loc_off) {
		/* __data_loc: u32 (len << 16 | offset); dynamic data follows the
		 * fixed part in field order, so the last one ends the record. */
		__u32 loc = 0;
		bpf_probe_read_kernel(&loc, sizeof(loc), (void *)((long)ctx + loc_off));
		__u32 end = (loc & 0xffff) + (loc >> 16);
		if (end > len)
			len = end;
	}
	if (len > RS_TP_DATA_LEN)
		len = RS_TP_DATA_LEN;

	rs_fill_header(&e->hdr, RS_EV_TRACEPOINT);
	e->cookie = cookie;
	e->__pad0 = 0;
	/* len <= RS_TP_DATA_LEN already, and clang drops a mask it can prove
	 * redundant; the verifier, tracking another register copy, cannot. The
	 * empty asm hides the bound from clang so the mask stays. */
	asm volatile("" : "+r"(len));
	if (bpf_probe_read_kernel(e->data, len & 1023, ctx))
		len = 0;
	e->data_len = len;

	__u32 pos = len;
	__u32 n0 = copy_user_str(e, pos, (cookie >> 48) & 0xff);
	e->str_len[0] = n0;
	pos += n0;
	__u32 n1 = copy_user_str(e, pos, (cookie >> 56) & 0xff);
	e->str_len[1] = n1;
	pos += n1;

	/* Submit a size class, not the exact size: the reader copies and
	 * decodes runs of equal-sized records in one step, and a mix of
	 * tracepoints (sys_enter_* with sys_exit_*) alternating sizes would cut
	 * every run to one record. Most records fit the first class. */
	__u32 size = offsetof(struct rs_tracepoint, data) + pos;
	size = size <= 256 ? 256 : size <= 512 ? 512 : size <= 1024 ? 1024 : sizeof(*e);
	asm volatile("" : "+r"(size));
	if (size > sizeof(*e))
		return;
	rs_output(ctx, e, size, RS_EV_TRACEPOINT);
}

SEC("tp")
int handle_tp(void *ctx)
{
	tp_event(ctx);
	return RS_TP_PASS;
}
