// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmark's native baseline: a plain libbpf 1.1 ring buffer reader
 * over the SAME src/ringscope/_bpf/syscalls.bpf.o that ringscope loads.
 *
 *   reader OBJ RING_BYTES WAKEUP_BYTES SYSCALL_ID TGID CPU INTERVAL_US [--no-drain]
 *
 * open -> set rodata (rs_syscall_id, rs_wakeup_bytes) and the ring size ->
 * load -> write the filter (only TGID) -> attach -> print "ready" -> drain
 * with ring_buffer__consume on every wakeup and on a INTERVAL_US timer
 * (libbpf 1.1 has no ring__* API and no ring_buffer__consume_n) until stdin
 * reaches EOF -> a last drain -> print the counts as JSON.
 *
 * --no-drain: attach but do not read until stdin closes (the "reserve/submit
 * with no reader" scenario); the ring must be big enough to hold every event
 * or the difference shows up as `lost`. The one drain at the end is timed
 * (drain_ns): the reader's own speed, with no producer in the way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "events.h"

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CPU time (user + system) this process has used: the reader's cost. */
static long long cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

static int count_event(void *ctx, void *data, size_t size)
{
	(void)data;
	(void)size;
	(*(unsigned long long *)ctx)++;
	return 0;
}

/* Without a skeleton, a const volatile global is found through the
 * object's BTF (its offset in the .rodata datasec) and patched into a copy
 * of the map's initial value, set back before load. */
static int set_rodata(struct bpf_object *obj, const char *name, const void *val, size_t size)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map;
	const char *mname;
	size_t sz;

	bpf_object__for_each_map(map, obj) {
		mname = bpf_map__name(map);
		if (strlen(mname) >= 7 && !strcmp(mname + strlen(mname) - 7, ".rodata"))
			break;
	}
	int sec = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (!map || sec < 0)
		return -ENOENT;
	const struct btf_type *t = btf__type_by_id(btf, sec);
	const struct btf_var_secinfo *vs = btf_var_secinfos(t);
	const void *init = bpf_map__initial_value(map, &sz);
	for (int i = 0; i < btf_vlen(t); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);
		if (strcmp(btf__name_by_offset(btf, var->name_off), name))
			continue;
		if (!init || vs->size != size || vs->offset + size > sz)
			return -EINVAL;
		char *data = malloc(sz);
		if (!data)
			return -ENOMEM;
		memcpy(data, init, sz);
		memcpy(data + vs->offset, val, size);
		int err = bpf_map__set_initial_value(map, data, sz);
		free(data);
		return err;
	}
	return -ENOENT;
}

static unsigned long long kernel_drops(struct bpf_object *obj)
{
	int ncpu = libbpf_num_possible_cpus();
	struct rs_drops *per_cpu = calloc(ncpu, sizeof(*per_cpu));
	unsigned long long total = 0;
	__u32 zero = 0;

	if (per_cpu && !bpf_map__lookup_elem(bpf_object__find_map_by_name(obj, "rs_drops"), &zero,
					     sizeof(zero), per_cpu, ncpu * sizeof(*per_cpu), 0))
		for (int c = 0; c < ncpu; c++)
			for (int t = 0; t < RS_EV_MAX; t++)
				total += per_cpu[c].count[t];
	free(per_cpu);
	return total;
}

/* Program runs the kernel skipped because another BPF program was already
 * running on that CPU (bpf_prog_active): those events were never produced
 * and no ring drop counter sees them. */
static unsigned long long recursion_misses(struct bpf_object *obj)
{
	unsigned long long total = 0;
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			total += info.recursion_misses;
	}
	return total;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "reader: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 8) {
		fprintf(stderr, "usage: reader OBJ RING_BYTES WAKEUP_BYTES SYSCALL_ID TGID CPU INTERVAL_US [--no-drain]\n");
		return 2;
	}
	const char *path = argv[1];
	__u32 ring = strtoul(argv[2], NULL, 0);
	__u64 wakeup = strtoull(argv[3], NULL, 0);
	__s32 sysid = atoi(argv[4]);
	__u32 tgid = strtoul(argv[5], NULL, 0);
	int cpu = atoi(argv[6]);
	long interval_us = atol(argv[7]);
	int drain = !(argc > 8 && !strcmp(argv[8], "--no-drain"));

	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return fail("sched_setaffinity", errno);

	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_link *links[2] = {};
	struct ring_buffer *rb = NULL;
	int nlinks = 0, err, rc = 1, ep = -1, tfd = -1;
	unsigned long long delivered = 0;
	long long t_last = 0;

	if (!obj)
		return fail("open object", errno);
	if ((err = set_rodata(obj, "rs_syscall_id", &sysid, sizeof(sysid))) ||
	    (err = set_rodata(obj, "rs_wakeup_bytes", &wakeup, sizeof(wakeup)))) {
		fail("set rodata", err);
		goto out;
	}
	if ((err = bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "rs_ring"), ring))) {
		fail("ring size", err);
		goto out;
	}
	if ((err = bpf_object__load(obj))) {
		fail("load", err);
		goto out;
	}
	struct rs_filter flt = {
		.tgid = tgid,
		.uid = (__u32)-1,
		.type_mask = 1U << RS_EV_SYSCALL,
	};
	__u32 zero = 0;
	if ((err = bpf_map__update_elem(bpf_object__find_map_by_name(obj, "rs_filter"), &zero,
					sizeof(zero), &flt, sizeof(flt), BPF_ANY))) {
		fail("filter", err);
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj, "rs_ring")), count_event,
			      &delivered, NULL);
	if (!rb) {
		fail("ring_buffer__new", errno);
		goto out;
	}
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, obj) {
		links[nlinks] = bpf_program__attach(prog);
		if (!links[nlinks]) {
			fail("attach", errno);
			goto out;
		}
		nlinks++;
	}

	/* One epoll for the ring's wakeups, the drain timer and stdin (EOF = stop). */
	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec its = {
		.it_interval = {.tv_nsec = interval_us * 1000},
		.it_value = {.tv_nsec = interval_us * 1000},
	};
	struct epoll_event ev = {.events = EPOLLIN};
	ev.data.u32 = 0;
	epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev);
	if (drain) {
		timerfd_settime(tfd, 0, &its, NULL);
		ev.data.u32 = 1;
		epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
		ev.data.u32 = 2;
		epoll_ctl(ep, EPOLL_CTL_ADD, ring_buffer__epoll_fd(rb), &ev);
	}
	printf("ready\n");
	fflush(stdout);
	long long cpu0 = cpu_ns();

	long long wakeups = 0;
	for (int stop = 0; !stop; wakeups++) {
		struct epoll_event evs[3];
		int n = epoll_wait(ep, evs, 3, -1);
		if (n < 0 && errno != EINTR) {
			fail("epoll_wait", errno);
			goto out;
		}
		for (int i = 0; i < n; i++) {
			__u64 ticks;
			if (evs[i].data.u32 == 0)
				stop = 1;
			else if (evs[i].data.u32 == 1 && read(tfd, &ticks, sizeof(ticks)) < 0)
				(void)0;
		}
		/* A forced wakeup leaves the inner epoll readable; consume clears it. */
		if (drain && ring_buffer__consume(rb) > 0)
			t_last = now_ns();
	}
	/* After the producer exited: whatever is left (everything, with
	 * --no-drain, which then times how fast one reader empties a full ring). */
	long long t0 = now_ns();
	if (ring_buffer__consume(rb) > 0 && drain)
		t_last = now_ns();
	long long drain_ns = now_ns() - t0;
	printf("{\"delivered\": %llu, \"lost\": %llu, \"t_last_ns\": %lld, \"drain_ns\": %lld, "
	       "\"cpu_ns\": %lld, \"wakeups\": %lld, \"misses\": %llu}\n",
	       delivered, kernel_drops(obj), t_last, drain_ns, cpu_ns() - cpu0, wakeups,
	       recursion_misses(obj));
	rc = 0;
out:
	if (tfd >= 0)
		close(tfd);
	if (ep >= 0)
		close(ep);
	while (nlinks)
		bpf_link__destroy(links[--nlinks]);
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return rc;
}
