/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-lockdep.c - lockdep-acquire (issue 2, section 8): what lockdep adds
 * to an uncontended mutex lock+unlock pair on a chain it has already
 * validated.
 *
 * One simulated thread repeats  lock(A); lock(B); unlock(B); unlock(A);
 * so every acquire hits lockdep's chain-key cache (the chains (A) and
 * (A, B) are validated in the untimed warm-up).  The same loop runs in a
 * world with the default configuration (lockdep on) and in one with
 * config.lockdep = false, alternately, REPS times each; each world runs
 * ITERS iterations (two pairs each: a lock is a scheduling point and the
 * default step bound is 100,000).  Everything else a lock does (the
 * scheduling point, the trace events, the held-lock stack, which is kept
 * with lockdep off too) is in both and cancels out.
 *
 * value = ns per pair with lockdep on minus ns per pair with lockdep off:
 * the median over REPS pairs of worlds run one after the other (so load
 * that comes and goes on a shared machine hits both sides of a pair);
 * baseline = the median lockdep-off cost per pair; ratio = value /
 * baseline (lockdep's share on top of a pair); target: value <= 100 ns.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvfiosim/sim.h>
#include <libvfiosim/sync.h>

#include "bench-common.h"

#define ITERS 45000 /* timed iterations per world (2 pairs each) */
#define WARMUP 64
#define REPS 31
#define TARGET_NS 100.0

struct loop {
	unsigned long iters;
	uint64_t t0, t1;
	bool ok;
};

static void scenario(struct vfiosim_world *w, void *arg)
{
	struct loop *l = arg;
	struct vfiosim_mutex *a = vfiosim_mutex_new(w, "bench.A");
	struct vfiosim_mutex *b = vfiosim_mutex_new(w, "bench.B");

	if (!a || !b)
		return;
	for (unsigned long i = 0; i < WARMUP + l->iters; i++) {
		if (i == WARMUP)
			l->t0 = bench_now_ns();
		vfiosim_mutex_lock(a);
		vfiosim_mutex_lock(b);
		vfiosim_mutex_unlock(b);
		vfiosim_mutex_unlock(a);
	}
	l->t1 = bench_now_ns();
	l->ok = vfiosim_lockdep_held_count(w) == 0;
}

/* ns per lock+unlock pair in one world. */
static double pair_ns(bool lockdep)
{
	struct loop l = { .iters = ITERS };
	struct vfiosim_config cfg;
	struct vfiosim_world *w;
	int rc;

	vfiosim_config_init(&cfg);
	cfg.lockdep = lockdep;
	rc = vfiosim_world_create(&cfg, &w);
	if (rc)
		bench_die("vfiosim_world_create: %s", strerror(-rc));
	rc = vfiosim_world_run(w, scenario, &l);
	if (rc != 0 || !l.ok) {
		if (vfiosim_world_failure_count(w))
			fprintf(stderr, "%s\n",
				vfiosim_world_failure(w, 0)->report);
		bench_die("the lock loop failed (rc %d)", rc);
	}
	rc = vfiosim_world_destroy(w);
	if (rc)
		bench_die("vfiosim_world_destroy: %d failures", rc);
	return (double)(l.t1 - l.t0) / (2.0 * ITERS);
}

int main(void)
{
	double on[REPS], off[REPS], diff[REPS], m_on, m_off, v;

	if (bench_pin_main() < 0)
		fprintf(stderr, "bench-lockdep: cannot pin to one CPU; "
				"figures will be noisy\n");
	for (int i = 0; i < REPS; i++) {
		off[i] = pair_ns(false);
		on[i] = pair_ns(true);
		diff[i] = on[i] - off[i];
	}
	v = bench_median(diff, REPS);
	m_on = bench_median(on, REPS);
	m_off = bench_median(off, REPS);
	fprintf(stderr,
		"lockdep-acquire: %d x %d iterations; per pair: on %.1f ns "
		"(%.1f..%.1f), off %.1f ns (%.1f..%.1f); per-pair difference "
		"%.1f..%.1f ns\n",
		REPS, ITERS, m_on, on[0], on[REPS - 1], m_off, off[0],
		off[REPS - 1], diff[0], diff[REPS - 1]);
	bench_report("lockdep-acquire", v, "ns", m_off, v / m_off, TARGET_NS,
		     v <= TARGET_NS);
	return 0;
}
