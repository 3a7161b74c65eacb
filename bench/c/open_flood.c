// SPDX-License-Identifier: MIT
/* open_flood N [--hold|--linger]: N failing openat(2) calls on one path,
 * timed. With --hold it waits for a byte on stdin first, so the tracer can
 * attach to its pid. Prints {"calls": N, "ns": elapsed} as JSON. --linger
 * holds too, and after the burst stays alive until stdin closes: a tracer
 * following it with -p ends when it exits, and a bench that times the
 * tracer's CPU per event must read it before that teardown. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	long n = argc > 1 ? atol(argv[1]) : 100000;
	char go;

	int hold = argc > 2 && (!strcmp(argv[2], "--hold") || !strcmp(argv[2], "--linger"));
	int linger = argc > 2 && !strcmp(argv[2], "--linger");

	if (hold && read(0, &go, 1) != 1)
		return 1;
	long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (openat(AT_FDCWD, "/nonexistent/ringscope-bench", O_RDONLY) >= 0)
			return 2;
	long long t1 = now_ns();
	printf("{\"calls\": %ld, \"ns\": %lld}\n", n, t1 - t0);
	fflush(stdout);
	while (linger && read(0, &go, 1) > 0)
		;
	return 0;
}
