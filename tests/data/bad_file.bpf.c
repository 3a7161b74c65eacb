// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A deliberately broken stand-in for file.bpf.c: the verifier must reject
 * handle_openat_enter (it reads past a map value). Used by the bad-input tests. */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct rs_open rs_btf_open __attribute__((unused));

/* file.bpf.c's interface: the loader sets these. */
const volatile __s32 rs_nr_openat = -1;
const volatile __s32 rs_nr_openat2 = -1;

SEC("tp/syscalls/sys_enter_openat")
int handle_openat_enter(void *ctx)
{
	__u32 zero = 0;
	struct rs_filter *f = bpf_map_lookup_elem(&rs_filter, &zero);
	if (!f)
		return 0;
	return *(volatile __u64 *)((char *)f + 4096);
}

SEC("tp/syscalls/sys_exit_openat")
int handle_openat_exit(void *ctx) { return 0; }

SEC("tp/syscalls/sys_enter_openat2")
int handle_openat2_enter(void *ctx) { return 0; }

SEC("tp/syscalls/sys_exit_openat2")
int handle_openat2_exit(void *ctx) { return 0; }
