/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-sched.c - the scheduler's figures (issue 2, section 8).
 *
 *   bench-sched handoff                  sched-handoff
 *   bench-sched explore                  explore-schedules
 *   bench-sched-internal handoff-lean    sched-handoff-lean
 *
 * The same source builds bench-sched (shared library, public API) and
 * bench-sched-internal (static internal archive, -DBENCH_INTERNAL).
 *
 * sched-handoff: the cost of one deterministic hand-off between two
 * simulated threads, against a raw two-pthread semaphore ping-pong with
 * both threads pinned to the same CPU, measured in the same run.  Two
 * simulated threads ping-pong through two completions inside
 * vfiosim_world_run() on a world with the default configuration
 * (deterministic, pinned, lockdep on, trace on), through the shared
 * library, as users get it:
 *
 *   main:  complete(ping); wait(pong);     peer:  wait(ping); complete(pong);
 *
 * Each wait blocks (the other side has not completed yet), so every round
 * is exactly two hand-offs: main -> peer when main blocks on pong, and
 * peer -> main when the peer blocks on its next wait(ping) (or, in the last
 * round, exits).  The threads check that count: a wait that finds its
 * completion not done blocks, and with the other thread runnable a block
 * is a hand-off.  A world's default step bound is 100,000 scheduling
 * points and a round takes 4, so each world runs ROUNDS rounds and the
 * measurement is repeated over REPS worlds, each paired with a raw
 * ping-pong of as many hand-offs run just before it.  value = median ns
 * per simulated hand-off, baseline = median ns per raw hand-off, ratio =
 * the median of the REPS per-pair ratios (close to value / baseline, but
 * not fooled by load that comes and goes on a shared machine while the
 * benchmark runs), target: ratio <= 1.5.
 *
 * sched-handoff-lean (bench-sched-internal handoff-lean): the same with
 * config.lockdep = false and the event trace switched off (an internal
 * flag, hence the static internal archive, where the thread-local
 * "current thread" is also cheaper to reach than from the shared
 * library), to show what the bookkeeping costs.
 *
 * explore-schedules: vfiosim_explore() with strategy RANDOM runs ITER
 * schedules of a 2-thread scenario with 50 explicit scheduling points (25
 * per thread; the thread's creation and join add 2 or 3 more, see stderr).
 * value = schedules per second (the median of EXPLORE_REPS explorations),
 * target: value >= 5000.  baseline = the rate at which schedules would run
 * if each cost only its hand-offs at the raw ping-pong price measured in
 * this run (1e9 / (raw ns per hand-off * hand-offs per schedule)), so
 * ratio = value / baseline is the fraction of that bound reached: the rest
 * is world creation, teardown, the token and the scheduler's bookkeeping.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvfiosim/explore.h>
#include <libvfiosim/sim.h>
#include <libvfiosim/sync.h>

#ifdef BENCH_INTERNAL
#include "sim/sim_internal.h"
#endif

#include "bench-common.h"

#define ROUNDS 10000 /* timed rounds per world: 2 hand-offs each */
#define WARMUP 64    /* untimed rounds first (thread start, allocations) */
#define REPS 15	     /* worlds (and raw ping-pongs) per configuration */
#define HANDOFF_TARGET 1.5

#define EXPLORE_ITER 5000
#define EXPLORE_REPS 3
#define EXPLORE_POINTS 25 /* per thread */
#define EXPLORE_TARGET 5000.0

static int bench_cpu = -1;

/* ------------------------------------------------ raw semaphore ping-pong */

struct raw_pp {
	sem_t ping, pong;
	unsigned long rounds;
	uint64_t t0, t1;
};

static void raw_pin(void)
{
	if (bench_cpu >= 0 && bench_pin_self(bench_cpu))
		bench_die("cannot pin a baseline thread to CPU %d", bench_cpu);
}

static void *raw_peer(void *arg)
{
	struct raw_pp *p = arg;

	raw_pin();
	for (unsigned long i = 0; i < WARMUP + p->rounds; i++) {
		while (sem_wait(&p->ping))
			;
		sem_post(&p->pong);
	}
	return NULL;
}

static void *raw_main(void *arg)
{
	struct raw_pp *p = arg;

	raw_pin();
	for (unsigned long i = 0; i < WARMUP + p->rounds; i++) {
		if (i == WARMUP)
			p->t0 = bench_now_ns();
		sem_post(&p->ping);
		while (sem_wait(&p->pong))
			;
	}
	p->t1 = bench_now_ns();
	return NULL;
}

/* ns per hand-off of a raw ping-pong of @rounds rounds (2 hand-offs each). */
static double raw_handoff_ns(unsigned long rounds)
{
	struct raw_pp p = { .rounds = rounds };
	pthread_t a, b;

	if (sem_init(&p.ping, 0, 0) || sem_init(&p.pong, 0, 0))
		bench_die("sem_init: %s", strerror(errno));
	if (pthread_create(&b, NULL, raw_peer, &p) ||
	    pthread_create(&a, NULL, raw_main, &p))
		bench_die("pthread_create failed");
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	sem_destroy(&p.ping);
	sem_destroy(&p.pong);
	return (double)(p.t1 - p.t0) / (2.0 * (double)rounds);
}

/* ------------------------------------------ simulated completion ping-pong */

struct sim_pp {
	struct vfiosim_completion *ping, *pong;
	unsigned long rounds;
	unsigned long blocks; /* waits that blocked: hand-offs */
	uint64_t t0, t1;
	bool ok;
};

static void sim_wait(struct sim_pp *p, struct vfiosim_completion *c)
{
	if (!vfiosim_completion_done(c))
		p->blocks++;
	vfiosim_wait_for_completion(c);
}

static void sim_peer(void *arg)
{
	struct sim_pp *p = arg;

	for (unsigned long i = 0; i < WARMUP + p->rounds; i++) {
		sim_wait(p, p->ping);
		vfiosim_complete(p->pong);
	}
}

static void sim_main(struct vfiosim_world *w, void *arg)
{
	struct sim_pp *p = arg;
	struct vfiosim_thread *peer;

	p->ping = vfiosim_completion_new(w, "bench.ping");
	p->pong = vfiosim_completion_new(w, "bench.pong");
	if (!p->ping || !p->pong)
		return;
	peer = vfiosim_thread_create(w, "peer", sim_peer, p);
	if (!peer)
		return;
	for (unsigned long i = 0; i < WARMUP + p->rounds; i++) {
		if (i == WARMUP)
			p->t0 = bench_now_ns();
		vfiosim_complete(p->ping);
		sim_wait(p, p->pong);
	}
	p->t1 = bench_now_ns();
	vfiosim_thread_join(peer);
	p->ok = true;
}

/* ns per hand-off of one world running the ping-pong; @lean: no lockdep,
 * no trace. */
static double sim_handoff_ns(unsigned long rounds, bool lean)
{
	struct sim_pp p = { .rounds = rounds };
	struct vfiosim_config cfg;
	struct vfiosim_world *w;
	int rc;

	vfiosim_config_init(&cfg);
	if (lean)
		cfg.lockdep = false;
	rc = vfiosim_world_create(&cfg, &w);
	if (rc)
		bench_die("vfiosim_world_create: %s", strerror(-rc));
#ifdef BENCH_INTERNAL
	if (lean)
		w->trace_off = true;
#endif
	rc = vfiosim_world_run(w, sim_main, &p);
	if (rc != 0 || !p.ok) {
		if (vfiosim_world_failure_count(w))
			fprintf(stderr, "%s\n",
				vfiosim_world_failure(w, 0)->report);
		bench_die("the ping-pong world failed (rc %d)", rc);
	}
	/* The last hand-off is the peer's exit. */
	if (p.blocks + 1 != 2 * (WARMUP + rounds))
		bench_die("expected %lu hand-offs, counted %lu",
			  2 * (WARMUP + rounds), p.blocks + 1);
	rc = vfiosim_world_destroy(w);
	if (rc)
		bench_die("vfiosim_world_destroy: %d failures", rc);
	return (double)(p.t1 - p.t0) / (2.0 * (double)rounds);
}

static void handoff_figure(const char *name, bool lean)
{
	double sim[REPS], raw[REPS], ratio[REPS], s, r, q;

	for (int i = 0; i < REPS; i++) {
		raw[i] = raw_handoff_ns(ROUNDS);
		sim[i] = sim_handoff_ns(ROUNDS, lean);
		ratio[i] = sim[i] / raw[i];
	}
	s = bench_median(sim, REPS);
	r = bench_median(raw, REPS);
	q = bench_median(ratio, REPS);
	fprintf(stderr,
		"%s: %d x %d rounds; per hand-off: sim %.0f ns (%.0f..%.0f), "
		"raw %.0f ns (%.0f..%.0f); per-pair ratios %.3f..%.3f\n",
		name, REPS, ROUNDS, s, sim[0], sim[REPS - 1], r, raw[0],
		raw[REPS - 1], ratio[0], ratio[REPS - 1]);
	bench_report(name, s, "ns", r, q, HANDOFF_TARGET, q <= HANDOFF_TARGET);
}

/* ------------------------------------------------------- explore-schedules */

/*
 * Hand-offs are counted where a simulated thread resumes in scenario code:
 * the scenario's threads run one at a time, so plain statics are safe.
 */
static unsigned long ex_switches;
static const struct vfiosim_thread *ex_last;

static void ex_resumed(struct vfiosim_world *w)
{
	const struct vfiosim_thread *me = vfiosim_current(w);

	if (me != ex_last) {
		ex_switches++;
		ex_last = me;
	}
}

static void ex_thread(void *arg)
{
	struct vfiosim_world *w = arg;

	ex_resumed(w);
	for (int i = 0; i < EXPLORE_POINTS; i++) {
		vfiosim_sched_point(w, "peer");
		ex_resumed(w);
	}
}

static void ex_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_thread *t;

	(void)arg;
	ex_last = NULL;
	ex_resumed(w);
	t = vfiosim_thread_create(w, "peer", ex_thread, w);
	VFIOSIM_ASSERT(w, t != NULL, "thread_create");
	ex_resumed(w);
	for (int i = 0; i < EXPLORE_POINTS; i++) {
		vfiosim_sched_point(w, "main");
		ex_resumed(w);
	}
	vfiosim_thread_join(t);
	ex_resumed(w);
}

static void explore_figure(void)
{
	double rate[EXPLORE_REPS], raw[REPS], v, r, per_sched, bound;
	unsigned long max_steps = 0;

	ex_switches = 0;
	for (int i = 0; i < EXPLORE_REPS; i++) {
		struct vfiosim_explore_opts o;
		struct vfiosim_explore_result res;
		uint64_t t0, t1;
		int rc;

		vfiosim_explore_opts_init(&o);
		o.strategy = VFIOSIM_STRATEGY_RANDOM;
		o.iterations = EXPLORE_ITER;
		o.seed = 0x5eed + (uint64_t)i;
		o.name = "bench-explore";
		o.ignore_env = true;
		t0 = bench_now_ns();
		rc = vfiosim_explore(NULL, &o, ex_scenario, NULL, &res);
		t1 = bench_now_ns();
		if (rc)
			bench_die("vfiosim_explore: %s", strerror(-rc));
		if (res.failed || res.schedules != EXPLORE_ITER)
			bench_die("exploration failed or stopped early "
				  "(%lu schedules): %s",
				  res.schedules,
				  res.failed ? res.failure.message : "-");
		if (res.max_steps_seen > max_steps)
			max_steps = res.max_steps_seen;
		vfiosim_explore_result_release(&res);
		rate[i] = (double)EXPLORE_ITER * 1e9 / (double)(t1 - t0);
	}
	for (int i = 0; i < REPS; i++)
		raw[i] = raw_handoff_ns(ROUNDS / 4);
	v = bench_median(rate, EXPLORE_REPS);
	r = bench_median(raw, REPS);
	per_sched = (double)ex_switches / (EXPLORE_REPS * EXPLORE_ITER);
	bound = 1e9 / (r * per_sched);
	fprintf(stderr,
		"explore-schedules: %d x %d schedules, %d explicit points, "
		"at most %lu scheduling points per schedule, %.1f hand-offs "
		"per schedule, raw hand-off %.0f ns\n",
		EXPLORE_REPS, EXPLORE_ITER, 2 * EXPLORE_POINTS, max_steps,
		per_sched, r);
	bench_report("explore-schedules", v, "schedules/s", bound, v / bound,
		     EXPLORE_TARGET, v >= EXPLORE_TARGET);
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";

	bench_cpu = bench_pin_main();
	if (bench_cpu < 0)
		fprintf(stderr, "bench-sched: cannot pin to one CPU; figures "
				"will be noisy\n");
	if (!strcmp(what, "handoff")) {
		handoff_figure("sched-handoff", false);
#ifdef BENCH_INTERNAL
	} else if (!strcmp(what, "handoff-lean")) {
		handoff_figure("sched-handoff-lean", true);
#endif
	} else if (!strcmp(what, "explore")) {
		explore_figure();
	} else {
		fprintf(stderr, "usage: %s handoff|explore%s\n", argv[0],
#ifdef BENCH_INTERNAL
			"|handoff-lean"
#else
			""
#endif
		);
		return 2;
	}
	return 0;
}
