// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmark's producer: N getppid() calls as fast as possible.
 *
 *   flood N CPU [--hold]
 *
 * Pins itself to CPU (so the reader can sit on another one). With --hold it
 * waits for one byte on stdin before starting, so the bench can set the
 * in-kernel filter to this pid first (the way perf starts a traced command).
 * Prints {"calls": N, "ns": elapsed, "t0_ns": start, "t1_ns": end} on stdout
 * (CLOCK_MONOTONIC, the clock of the readers' timestamps).
 *
 * syscall(SYS_getppid), not getppid(): the libc wrapper could be inlined or
 * cached one day; the raw call always enters the kernel.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: flood N CPU [--hold]\n");
		return 2;
	}
	long n = atol(argv[1]);
	int cpu = atoi(argv[2]);
	int hold = argc > 3 && !strcmp(argv[3], "--hold");

	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("flood: sched_setaffinity");
		return 1;
	}
	if (hold) {
		char c;
		if (read(STDIN_FILENO, &c, 1) != 1) {
			fprintf(stderr, "flood: not released\n");
			return 1;
		}
	}
	long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	long long t1 = now_ns();
	printf("{\"calls\": %ld, \"ns\": %lld, \"t0_ns\": %lld, \"t1_ns\": %lld}\n", n, t1 - t0, t0, t1);
	return 0;
}
