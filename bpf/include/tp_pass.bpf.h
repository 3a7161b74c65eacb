/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef RINGSCOPE_TP_PASS_BPF_H
#define RINGSCOPE_TP_PASS_BPF_H

/* What a program on a tracefs tracepoint (SEC("tp/...")) returns. There the
 * kernel hands a hit on to the tracepoint's perf events only if the program
 * returns non-zero (trace_call_bpf), so returning 0 would hide the
 * tracepoint from every perf user of the system (`perf stat -e
 * syscalls:sys_enter_openat`, `perf record -e sched:sched_switch`) while we
 * are attached. BTF tracepoints ignore the return value. */
#define RS_TP_PASS 1

#endif
