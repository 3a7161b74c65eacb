"""C workloads of the profiler tests (record/report/script/pprof), built
by the tests with gcc so their hot functions and call chains are known."""

from __future__ import annotations

import subprocess
from pathlib import Path

# leaf_a/leaf_b called from driver from main; built -O2 -fomit-frame-pointer
# (Debian's default for its own binaries): frame-pointer walks stop at the
# leaf, DWARF CFI unwinds through all of it.
LAB_C = r"""
#include <stdlib.h>
#include <time.h>
__attribute__((noinline)) double leaf_a(long n) {
    volatile double x = 0;
    for (long i = 0; i < n; i++) x += i * 0.5;
    return x;
}
__attribute__((noinline)) double leaf_b(long n) {
    volatile double x = 1;
    for (long i = 0; i < n; i++) x *= 1.0000001;
    return x;
}
__attribute__((noinline)) double driver(long n) {
    double s = 0;
    for (int k = 0; k < 4; k++) s += (k & 1) ? leaf_b(n) : leaf_a(n);
    return s + 1;
}
int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 1.0, s = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do {
        s += driver(200000);
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < secs);
    return s < 0;
}
"""

# A few milliseconds of page faults: the whole process lives ~3 ms.
FAULTS_C = r"""
#include <stdlib.h>
#include <sys/mman.h>
__attribute__((noinline)) void touch(char *p, long pages) {
    for (long i = 0; i < pages; i++) p[i * 4096] = 1;
}
int main(int argc, char **argv) {
    long pages = atol(argv[1]);
    char *p = mmap(0, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    touch(p, pages);
    return 0;
}
"""

# Sleeps N times from napper(): each sleep is one sched_switch.
SLEEPER_C = r"""
#include <stdlib.h>
#include <time.h>
__attribute__((noinline)) void napper(int n) {
    struct timespec ts = {0, 200000};
    for (int i = 0; i < n; i++) nanosleep(&ts, 0);
}
int main(int argc, char **argv) {
    napper(argc > 1 ? atoi(argv[1]) : 100);
    return 0;
}
"""

# Nearly all its time in the vDSO: clock_gettime from ticker() from main.
VDSO_C = r"""
#include <stdlib.h>
#include <time.h>
__attribute__((noinline)) long ticker(long n) {
    struct timespec ts;
    long s = 0;
    for (long i = 0; i < n; i++) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s += ts.tv_nsec;
    }
    return s;
}
int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 1.0, t;
    struct timespec a, b;
    long s = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do {
        s += ticker(20000);
        clock_gettime(CLOCK_MONOTONIC, &b);
        t = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    } while (t < secs);
    return s == 42;
}
"""


def build(src: str, out: Path, *flags: str) -> Path:
    c = out.with_suffix(".c")
    c.write_text(src)
    subprocess.run(["gcc", *flags, "-o", str(out), str(c)], check=True)
    return out
