/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * THE contract between the kernel side and Python.
 *
 * Every record written into the shared ring starts with struct rs_header.
 * Python never hand-writes these layouts: it reads them from the BTF of the
 * built object (src/ringscope/events/layout.py), and a test checks that every
 * struct below is present there. Fixed-width types and explicit padding only,
 * so the layout is the same for every compiler and architecture.
 */
#ifndef RINGSCOPE_EVENTS_H
#define RINGSCOPE_EVENTS_H

#define RS_COMM_LEN 16
#define RS_PATH_LEN 256
#define RS_ARGV_LEN 256
#define RS_UPROBE_ARGS 6

/* Stream event types. Python reads names and values from BTF. */
enum rs_event_type {
	RS_EV_EXEC = 1,
	RS_EV_EXIT = 2,
	RS_EV_FORK = 3,
	RS_EV_OPEN = 4,
	RS_EV_CONNECT = 5,
	RS_EV_ACCEPT = 6,
	RS_EV_SCHED_SWITCH = 7,
	RS_EV_SCHED_WAKEUP = 8,
	RS_EV_SYSCALL = 9,
	RS_EV_TRACEPOINT = 10,
	RS_EV_UPROBE = 11,
	RS_EV_URETPROBE = 12,
	RS_EV_MAX = 13,
};

struct rs_header {
	__u64 ts_ns;     /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 cgroup_id; /* bpf_get_current_cgroup_id() */
	__u32 type;      /* enum rs_event_type */
	__u32 cpu;
	__u32 pid;       /* tgid, what userspace calls the pid */
	__u32 tid;
	__u32 uid;
	__u32 __pad0;
	char comm[RS_COMM_LEN];
};

struct rs_exec {
	struct rs_header hdr;
	__u32 ppid;
	__u32 argv_len;  /* bytes of argv[] used; args are NUL-separated */
	char filename[RS_PATH_LEN];
	char argv[RS_ARGV_LEN];
};

struct rs_exit {
	struct rs_header hdr;
	__u32 ppid;
	__s32 exit_code; /* the wait(2) status: code << 8 | signal */
	__u64 duration_ns; /* lifetime since the last exec (process.bpf.c) */
};

struct rs_fork {
	struct rs_header hdr;
	__u32 child_pid;
	__u32 child_tid;
};

struct rs_open {
	struct rs_header hdr;
	__s64 ret;       /* fd, or -errno */
	__u64 flags;
	__u32 mode;
	__u32 syscall;   /* 0 openat, 1 openat2 */
	char path[RS_PATH_LEN];
};

/* connect and accept share one layout */
struct rs_sock {
	struct rs_header hdr;
	__s64 ret;
	__u16 family;    /* AF_INET or AF_INET6 */
	__u16 port;      /* host byte order */
	__u32 __pad0;
	__u8 addr[16];   /* IPv4 uses the first 4 bytes */
};

struct rs_sched_switch {
	struct rs_header hdr;
	__u32 prev_pid;
	__u32 next_pid;
	__s64 prev_state;
	char prev_comm[RS_COMM_LEN];
	char next_comm[RS_COMM_LEN];
};

struct rs_sched_wakeup {
	struct rs_header hdr;
	__u32 target_pid;
	__u32 target_cpu;
	char target_comm[RS_COMM_LEN];
};

struct rs_syscall {
	struct rs_header hdr;
	__s64 ret;
	__u64 duration_ns;
	__u32 id;
	__u32 __pad0;
};

/* Any tracepoint (bpf/tracepoint.bpf.c): the raw trace record, copied as is
 * and decoded in Python with the tracefs format file. The attach cookie says
 * which tracepoint fired and how to copy it (sources/tracepoint.py packs it):
 *   bits  0-15 tag (the event's index in the session)
 *   bits 16-31 bytes of the fixed part of the record
 *   bits 32-47 offset of the last __data_loc field (0: none); its end is the record's end
 *   bits 48-55, 56-63 offset / 8 of a user string pointer to read (0: none)
 * The bytes used are offsetof(data) + data_len + str_len[0] + str_len[1]; the
 * record is submitted rounded up to a size class (256, 512, 1024, full). */
/* Limits of the generic tracepoint record that Python needs too: an enum,
 * not a #define, so that they are in the object's BTF (anchored in
 * tracepoint.bpf.c) and never copied by hand. */
enum rs_tp_limits {
	RS_TP_DATA_LEN = 512,  /* the raw tracepoint record is copied up to this */
};

#define RS_TP_BUF_LEN 2048
#define RS_TP_STR_LEN 256
#define RS_TP_STRS 2

struct rs_tracepoint {
	struct rs_header hdr;
	__u64 cookie;
	__u32 data_len;              /* bytes of the raw record at the start of data[] */
	__u32 str_len[RS_TP_STRS];   /* each user string (with its NUL) after it; 0: none */
	__u32 __pad0;
	__u8 data[RS_TP_BUF_LEN];
};

/* uprobe/uretprobe (bpf/uprobe.bpf.c) and kprobe/kretprobe/fentry/fexit
 * (bpf/kprobe.bpf.c). The cookie's low 16 bits are the tag, as above. */
struct rs_uprobe {
	struct rs_header hdr;
	__u64 cookie;
	__u64 args[RS_UPROBE_ARGS];  /* integer args at entry (uretprobe: kept from the entry) */
	__s64 ret;                   /* return value (return probes only) */
	__u64 latency_ns;            /* entry to return; 0 when the entry was not seen */
};

/* USDT probes (bpf/uprobe.bpf.c, handle_usdt): how to fetch each argument of
 * one probe location, from its .note.stapsdt argument string. Kept in a map
 * keyed by the low 32 bits of the attach cookie (tag | location << 16). */
enum rs_usdt_arg_kind {
	RS_USDT_NONE = 0,
	RS_USDT_CONST = 1,      /* val */
	RS_USDT_REG = 2,        /* the register at reg_off in struct pt_regs */
	RS_USDT_DEREF = 3,      /* user memory at register + val */
};

struct rs_usdt_arg {
	__s64 val;
	__u16 reg_off;
	__u8 kind;
	__u8 size;              /* bytes: 1, 2, 4, 8 */
	__u8 is_signed;
	__u8 __pad0[3];
};

struct rs_usdt_spec {
	struct rs_usdt_arg args[RS_UPROBE_ARGS];
};

/* In-kernel aggregation (bpf/hist.bpf.c): one map entry per key, no ring
 * traffic per event. slots[i] counts values in [2^i, 2^(i+1)) (0 and 1 in
 * slot 0); count-only histograms leave slots at 0. */
#define RS_HIST_SLOTS 64

struct rs_hist_key {
	__u64 key;                /* pid, field or argument value; 0 when unused */
	char comm[RS_COMM_LEN];   /* --by comm; zeros otherwise */
};

struct rs_hist_val {
	__u64 count;
	__u64 sum;                /* of the values (latency ns) */
	__u64 slots[RS_HIST_SLOTS];
};

/* Kernel-side drop counters: one per event type, in a per-CPU array with a
 * single slot, so one lookup per drain returns every type on every CPU. */
struct rs_drops {
	__u64 count[RS_EV_MAX];
};

/* Filter configuration, kept in a one-slot array map so that the server can
 * change it while events flow (kernel work follows demand). */
struct rs_filter {
	__u32 tgid;        /* 0 = any */
	__u32 uid;         /* (__u32)-1 = any */
	__u64 cgroup_id;   /* 0 = any */
	__u32 follow;      /* 1: tgid is the root of a followed process tree */
	__u32 comm_set;    /* 1: comm must match */
	char comm[RS_COMM_LEN];
	__u32 type_mask;   /* bit (1 << rs_event_type) set: the type is wanted */
	__u32 exclude_tgid; /* the tracer itself, so it does not trace its own reads */
};

#endif /* RINGSCOPE_EVENTS_H */
