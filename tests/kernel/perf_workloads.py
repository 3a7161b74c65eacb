"""C workloads the perf tests compile and run, so counts and hot symbols
are known in advance."""

from __future__ import annotations

import subprocess
from pathlib import Path

# Touches PAGES fresh anonymous pages (one minor fault each) and sleeps
# SLEEPS times (one voluntary context switch each).
FAULTS_C = r"""
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
int main(int argc, char **argv) {
    long pages = atol(argv[1]), sleeps = atol(argv[2]);
    char *p = mmap(0, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (long i = 0; i < pages; i++) p[i * 4096] = 1;
    struct timespec ts = {0, 1000000};
    for (long i = 0; i < sleeps; i++) nanosleep(&ts, 0);
    return 0;
}
"""

# One hot function, kept out of line, called from main: it must be the top
# symbol. Frame pointers so user stacks unwind.
HOT_C = r"""
#include <stdlib.h>
#include <time.h>
__attribute__((noinline)) double hot_spin(long n) {
    volatile double x = 0;
    for (long i = 0; i < n; i++) x += i * 0.5;
    return x;
}
__attribute__((noinline)) void cold_wait(void) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, 0);
}
int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do {
        hot_spin(2000000);
        cold_wait();
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < secs);
    return 0;
}
"""

# Syscall-heavy: the kernel side dominates its profile.
SYSCALLS_C = r"""
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    struct timespec a, b;
    char buf[4096];
    int fd = open("/dev/zero", O_RDONLY);
    clock_gettime(CLOCK_MONOTONIC, &a);
    do {
        for (int i = 0; i < 1000; i++) { read(fd, buf, sizeof buf); getppid(); }
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < secs);
    return 0;
}
"""


def build(src: str, out: Path, *flags: str) -> Path:
    c = out.with_suffix(".c")
    c.write_text(src)
    subprocess.run(
        ["gcc", "-O1", "-g", "-fno-omit-frame-pointer", *flags, "-o", str(out), str(c)], check=True
    )
    return out
