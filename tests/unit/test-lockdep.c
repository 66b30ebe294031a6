/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-lockdep.c - the lock-order validator.
 */
#include <errno.h>

#include "testutil.h"

#define opts tu_opts

/*
 * Schedule 0 takes A then B, schedule 1 takes B then A, each in a single
 * thread: neither can deadlock alone, but the graph persists across the
 * schedules of one exploration, so schedule 1 is a LOCK_ORDER failure.
 */
static int first_line, second_line;

static void alternating_order(struct vfiosim_world *w, void *arg)
{
	int *run = arg;
	struct vfiosim_mutex *a = vfiosim_mutex_new(w, "lock_A");
	struct vfiosim_mutex *b = vfiosim_mutex_new(w, "lock_B");
	struct vfiosim_mutex *first = (*run)++ % 2 ? b : a;
	struct vfiosim_mutex *second = first == a ? b : a;

	first_line = __LINE__, vfiosim_mutex_lock(first);
	second_line = __LINE__, vfiosim_mutex_lock(second);
	vfiosim_mutex_unlock(second);
	vfiosim_mutex_unlock(first);
}

START_TEST(graph_persists_across_schedules)
{
	struct vfiosim_explore_opts o =
		opts("alternating", VFIOSIM_STRATEGY_RANDOM, 2);
	struct vfiosim_explore_result r;
	struct vfiosim_world *w;
	int run = 0, rc;
	char site[64];

	ck_assert_int_eq(vfiosim_explore(NULL, &o, alternating_order, &run, &r),
			 0);
	ck_assert(r.failed);
	ck_assert_int_eq(r.failure.kind, VFIOSIM_FAIL_LOCK_ORDER);
	ck_assert_uint_eq(r.failing_schedule, 1);
	/* Both edges' acquisition sites are in the report. */
	snprintf(site, sizeof(site), "test-lockdep.c:%d", first_line);
	ck_assert(tu_contains(r.failure.report, site));
	snprintf(site, sizeof(site), "test-lockdep.c:%d", second_line);
	ck_assert(tu_contains(r.failure.report, site));
	vfiosim_explore_result_release(&r);

	/* Separate worlds have separate graphs: nothing to report. */
	run = 0;
	for (int i = 0; i < 2; i++) {
		w = tu_run(NULL, alternating_order, &run, &rc);
		ck_assert_int_eq(rc, 0);
		tu_destroy(w);
	}
}
END_TEST

/*
 * The report comes before the acquiring thread blocks: "holder" holds A and
 * waits; main, which earlier took A then B, now holds B and asks for A.
 */
struct before_block {
	struct vfiosim_mutex *a, *b;
	struct vfiosim_completion *held, *release;
};

static void holder(void *p)
{
	struct before_block *s = p;

	vfiosim_mutex_lock(s->a);
	vfiosim_complete(s->held);
	vfiosim_wait_for_completion(s->release);
	vfiosim_mutex_unlock(s->a);
}

static void before_block_scenario(struct vfiosim_world *w, void *arg)
{
	struct before_block *s = vfiosim_zalloc(w, sizeof(*s), NULL);

	(void)arg;
	s->a = vfiosim_mutex_new(w, "lock_A");
	s->b = vfiosim_mutex_new(w, "lock_B");
	s->held = vfiosim_completion_new(w, "held");
	s->release = vfiosim_completion_new(w, "release");
	vfiosim_mutex_lock(s->a);
	vfiosim_mutex_lock(s->b);
	vfiosim_mutex_unlock(s->b);
	vfiosim_mutex_unlock(s->a);
	vfiosim_thread_create(w, "holder", holder, s);
	vfiosim_wait_for_completion(s->held);
	vfiosim_mutex_lock(s->b);
	vfiosim_mutex_lock(s->a); /* reported here, before blocking */
}

START_TEST(reported_before_blocking)
{
	const struct vfiosim_failure *f;
	struct vfiosim_config c;
	struct vfiosim_world *w;
	int rc;

	vfiosim_config_init(&c);
	c.abort_mask |= VFIOSIM_FAIL_BIT(VFIOSIM_FAIL_LOCK_ORDER);
	w = tu_run(&c, before_block_scenario, NULL, &rc);
	ck_assert_int_eq(rc, 1);
	f = vfiosim_world_failure(w, 0);
	ck_assert_int_eq(f->kind, VFIOSIM_FAIL_LOCK_ORDER);
	ck_assert_str_eq(f->thread, "main");
	ck_assert(
		tu_contains(f->report, "possible circular locking dependency"));
	ck_assert(tu_contains(f->report, "Possible unsafe locking scenario"));
	ck_assert(tu_contains(f->report, "*** DEADLOCK ***"));
	ck_assert(!tu_contains(f->report, "blocks on lock_A"));
	tu_destroy(w);
}
END_TEST

struct cycle3 {
	struct vfiosim_mutex *m[3];
};

static void cycle3_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_mutex *m[3];

	(void)arg;
	m[0] = vfiosim_mutex_new(w, "X");
	m[1] = vfiosim_mutex_new(w, "Y");
	m[2] = vfiosim_mutex_new(w, "Z");
	for (int i = 0; i < 3; i++) {
		vfiosim_mutex_lock(m[i]);
		vfiosim_mutex_lock(m[(i + 1) % 3]);
		vfiosim_mutex_unlock(m[(i + 1) % 3]);
		vfiosim_mutex_unlock(m[i]);
	}
}

START_TEST(three_lock_chain)
{
	const struct vfiosim_failure *f;
	struct vfiosim_world *w;
	int rc;

	w = tu_run(NULL, cycle3_scenario, NULL, &rc);
	ck_assert_int_eq(rc, 1);
	f = vfiosim_world_failure(w, 0);
	ck_assert_int_eq(f->kind, VFIOSIM_FAIL_LOCK_ORDER);
	ck_assert(tu_contains(f->report, "Chain exists of"));
	ck_assert(tu_contains(f->report, "X --> Y --> Z"));
	ck_assert(tu_contains(f->report, "-> #1"));
	tu_destroy(w);
}
END_TEST

struct nest {
	bool nested;
};

static void recursion_scenario(struct vfiosim_world *w, void *arg)
{
	struct nest *n = arg;
	struct vfiosim_mutex *m[2];

	for (int i = 0; i < 2; i++)
		m[i] = vfiosim_mutex_new(w, "same_class");
	vfiosim_mutex_lock(m[0]);
	if (n->nested)
		vfiosim_mutex_lock_nested(m[1], 1);
	else
		vfiosim_mutex_lock(m[1]);
	vfiosim_mutex_unlock(m[1]);
	vfiosim_mutex_unlock(m[0]);
}

START_TEST(recursive_locking_and_nesting)
{
	struct nest n = { false };
	struct vfiosim_world *w;
	int rc;

	w = tu_run(NULL, recursion_scenario, &n, &rc);
	ck_assert_int_eq(rc, 1);
	ck_assert(tu_contains(vfiosim_world_failure(w, 0)->report,
			      "possible recursive locking detected"));
	tu_destroy(w);
	n.nested = true;
	w = tu_run(NULL, recursion_scenario, &n, &rc);
	ck_assert_int_eq(rc, 0);
	tu_destroy(w);
}
END_TEST

struct assert_state {
	int held_during, held_after;
};

static void assert_held_scenario(struct vfiosim_world *w, void *arg)
{
	struct assert_state *s = arg;
	struct vfiosim_mutex *m = vfiosim_mutex_new(w, "m");
	struct vfiosim_rwsem *r = vfiosim_rwsem_new(w, "r");

	vfiosim_mutex_lock(m);
	vfiosim_lockdep_assert_held(m); /* fine */
	s->held_during = (int)vfiosim_lockdep_held_count(w);
	vfiosim_mutex_unlock(m);
	s->held_after = (int)vfiosim_lockdep_held_count(w);
	vfiosim_lockdep_assert_held(m); /* WARN 1 */
	vfiosim_down_read(r);
	vfiosim_rwsem_assert_held(r);	    /* fine */
	vfiosim_rwsem_assert_held_write(r); /* WARN 2 */
	vfiosim_up_read(r);
}

START_TEST(assert_held)
{
	struct assert_state s = { 0 };
	struct vfiosim_world *w;
	int rc;

	w = tu_run(NULL, assert_held_scenario, &s, &rc);
	ck_assert_int_eq(rc, 2);
	ck_assert_int_eq(s.held_during, 1);
	ck_assert_int_eq(s.held_after, 0);
	ck_assert(tu_contains(vfiosim_world_failure(w, 0)->message,
			      "lockdep_assert_held(m) failed"));
	ck_assert(tu_contains(vfiosim_world_failure(w, 1)->message,
			      "lockdep_assert_held_write(r)"));
	tu_destroy(w);
}
END_TEST

/* A callee that drops the lock its caller pinned. */
static void sloppy_callee(struct vfiosim_mutex *m)
{
	vfiosim_mutex_unlock(m);
	vfiosim_mutex_lock(m);
}

static void pin_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_mutex *m = vfiosim_mutex_new(w, "iommu->lock");
	struct vfiosim_pin_cookie ck;
	bool *sloppy = arg;

	vfiosim_mutex_lock(m);
	ck = vfiosim_lockdep_pin_lock(m);
	if (*sloppy)
		sloppy_callee(m);
	vfiosim_lockdep_unpin_lock(m, ck);
	vfiosim_mutex_unlock(m);
}

START_TEST(lock_pinning)
{
	bool sloppy = false;
	struct vfiosim_world *w;
	int rc;

	w = tu_run(NULL, pin_scenario, &sloppy, &rc);
	ck_assert_int_eq(rc, 0);
	tu_destroy(w);
	sloppy = true;
	w = tu_run(NULL, pin_scenario, &sloppy, &rc);
	ck_assert_int_ge(rc, 1);
	ck_assert(tu_contains(vfiosim_world_failure(w, 0)->message,
			      "releasing a pinned lock: iommu->lock, pinned at "
			      "test-lockdep.c:"));
	tu_destroy(w);
}
END_TEST

/* A trylock adds no edge into the trylocked class. */
static void trylock_order_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_mutex *a = vfiosim_mutex_new(w, "A");
	struct vfiosim_mutex *b = vfiosim_mutex_new(w, "B");
	int *got = arg;

	vfiosim_mutex_lock(a);
	*got = vfiosim_mutex_trylock(b);
	if (*got)
		vfiosim_mutex_unlock(b);
	vfiosim_mutex_unlock(a);
	vfiosim_mutex_lock(b);
	vfiosim_mutex_lock(a);
	vfiosim_mutex_unlock(a);
	vfiosim_mutex_unlock(b);
}

START_TEST(trylock_adds_no_edge)
{
	struct vfiosim_world *w;
	int got = 0, rc;

	w = tu_run(NULL, trylock_order_scenario, &got, &rc);
	ck_assert_int_eq(got, 1);
	ck_assert_int_eq(rc, 0);
	tu_destroy(w);
}
END_TEST

/* mmap_lock (rwsem, read) vs a mutex, in both orders. */
static void rwsem_mutex_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_rwsem *mmap_lock = vfiosim_rwsem_new(w, "mm->mmap_lock");
	struct vfiosim_mutex *lock = vfiosim_mutex_new(w, "iommu->lock");
	bool *lockdep_on = arg;

	(void)lockdep_on;
	vfiosim_mutex_lock(lock);
	vfiosim_down_read(mmap_lock);
	vfiosim_up_read(mmap_lock);
	vfiosim_mutex_unlock(lock);
	vfiosim_down_write(mmap_lock);
	vfiosim_mutex_lock(lock);
	vfiosim_mutex_unlock(lock);
	vfiosim_up_write(mmap_lock);
}

START_TEST(rwsem_against_mutex)
{
	struct vfiosim_config c;
	struct vfiosim_world *w;
	int rc;

	w = tu_run(NULL, rwsem_mutex_scenario, NULL, &rc);
	ck_assert_int_eq(rc, 1);
	ck_assert(tu_contains(vfiosim_world_failure(w, 0)->message,
			      "mm->mmap_lock -> iommu->lock"));
	tu_destroy(w);
	/* With lockdep off nothing is validated. */
	vfiosim_config_init(&c);
	c.lockdep = false;
	w = tu_run(&c, rwsem_mutex_scenario, NULL, &rc);
	ck_assert_int_eq(rc, 0);
	tu_destroy(w);
}
END_TEST

static Suite *lockdep_suite(void)
{
	Suite *s = suite_create("lockdep");
	TCase *tc = tcase_create("lockdep");

	tcase_add_test(tc, graph_persists_across_schedules);
	tcase_add_test(tc, reported_before_blocking);
	tcase_add_test(tc, three_lock_chain);
	tcase_add_test(tc, recursive_locking_and_nesting);
	tcase_add_test(tc, assert_held);
	tcase_add_test(tc, lock_pinning);
	tcase_add_test(tc, trylock_adds_no_edge);
	tcase_add_test(tc, rwsem_against_mutex);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(lockdep_suite)
