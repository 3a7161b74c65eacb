// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The aggregate benchmark's label maker: calls rs_agg(key, value) for K
 * distinct keys, 16 times each with values spread over 16 powers of two,
 * so that an aggregate `uprobe:labels:rs_agg?by=arg0&value=arg1` holds K
 * label sets with a histogram each.
 *
 *   labels K [--hold]
 *
 * With --hold it waits for one byte on stdin first (attach, then release).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline)) long rs_agg(long key, long value)
{
	asm volatile("" ::: "memory");
	return key + value;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: labels K [--hold]\n");
		return 2;
	}
	long k = atol(argv[1]);
	long sum = 0;
	char go;

	if (argc > 2 && !strcmp(argv[2], "--hold") && read(0, &go, 1) != 1)
		return 1;
	for (long key = 0; key < k; key++)
		for (int j = 0; j < 16; j++)
			sum += rs_agg(key, 1L << (j + key % 8));
	printf("{\"calls\": %ld, \"sum\": %ld}\n", k * 16, sum);
	return 0;
}
