/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel types the programs see. By default the pinned, minimal header
 * of the target architecture, generated once and committed (why, and how
 * it is regenerated and checked: bpf/pin_vmlinux.py). A build against
 * other types (the host's full BTF: RINGSCOPE_VMLINUX=host) names its
 * header in RS_VMLINUX_H. Each directory in bpf/vmlinux/ has a branch here.
 */
#if defined(RS_VMLINUX_H)
#include RS_VMLINUX_H
#elif defined(__TARGET_ARCH_x86)
#include "../vmlinux/x86/vmlinux.h"
#else
#error "no pinned vmlinux.h for this architecture: run bpf/pin_vmlinux.py on a BTF kernel of it"
#endif
