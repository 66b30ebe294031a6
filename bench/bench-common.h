/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-common.h - helpers shared by the benchmark programs under bench/.
 *
 * Every figure is printed as exactly one line on stdout:
 *
 *   bench <name> value=<v> unit=<u> baseline=<b> ratio=<r> target=<t> ok=<0|1>
 *
 * The baseline is always measured in the same run as the value (never a
 * number remembered from another machine), so the ratio is meaningful on a
 * loaded CI machine too.  A benchmark exits 0 when it measured something,
 * even if ok=0: it reports the truth, it does not assert timings.  Exit
 * status 1 means a real error (a world could not be created, a run failed).
 * Details that help reading the figure go to stderr.
 */
#ifndef VFIOSIM_BENCH_COMMON_H
#define VFIOSIM_BENCH_COMMON_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Monotonic wall-clock time in nanoseconds. */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of @n samples (sorts @v in place). */
static inline double bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Pin the calling thread to @cpu.  Returns 0 or a positive errno. */
static inline int bench_pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/*
 * Pin the calling (main) thread to the CPU it runs on now, so that the
 * baseline threads and the simulator's worker pool (which pins its workers
 * to the CPU the pool was created on) share one CPU.  Returns that CPU, or
 * -1 if pinning is not possible (then nothing is pinned).
 */
static inline int bench_pin_main(void)
{
	int cpu = sched_getcpu();

	if (cpu < 0 || bench_pin_self(cpu))
		return -1;
	return cpu;
}

/* Print one figure in the format every benchmark uses. */
static inline void bench_report(const char *name, double value,
				const char *unit, double baseline, double ratio,
				double target, int ok)
{
	printf("bench %s value=%.6g unit=%s baseline=%.6g ratio=%.3f "
	       "target=%g ok=%d\n",
	       name, value, unit, baseline, ratio, target, ok ? 1 : 0);
	fflush(stdout);
}

#define bench_die(...)                             \
	do {                                       \
		fprintf(stderr, "bench: error: "); \
		fprintf(stderr, __VA_ARGS__);      \
		fprintf(stderr, "\n");             \
		exit(1);                           \
	} while (0)

#endif /* VFIOSIM_BENCH_COMMON_H */
