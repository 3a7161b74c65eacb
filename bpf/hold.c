// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The hold of `ringscope trace|stat|record|hist -- CMD` (not a BPF program;
 * bpf/bpfbuild.py builds it beside the objects): `hold FD PATH ARGV0 ARGS...`
 * waits for one byte on the pipe FD, then execs PATH with ARGV0 ARGS.
 * ringscope learns the pid while the command is held, sets up its filters
 * and counters, then writes the byte. Linked statically so that everything
 * it does before the hold (and nothing after it but the read's return and
 * the execve) stays out of what is traced under that pid: a shell as the
 * hold made four syscalls (read, read, dup2, close) after the go. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char go;

	if (argc < 4)
		return 127;
	int fd = atoi(argv[1]);
	/* The pipe is the hold's, not the command's: closed by the exec. */
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return 127;
	if (read(fd, &go, 1) != 1)
		_exit(127); /* EOF: ringscope gave up before the go */
	execv(argv[2], argv + 3);
	/* As a shell reports it: not found 127, found but not runnable 126. */
	_exit(errno == ENOENT ? 127 : 126);
}
