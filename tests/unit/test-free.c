/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-free.c - free-running mode: the same primitives on real pthread
 * locks with real parallelism, lockdep still on.  CI runs this suite
 * ("free") under ThreadSanitizer.
 */
#include "testutil.h"

#define NTHREADS 4
#define ROUNDS 2000

struct shared {
	struct vfiosim_world *w;
	struct vfiosim_mutex *m;
	struct vfiosim_rwsem *rw;
	struct vfiosim_completion *go;
	struct vfiosim_notifier_head *chain;
	struct vfiosim_notifier_block nb;
	long counter;
	long rw_value;
	long notified;
	long bad_reads;
};

static int count_cb(struct vfiosim_notifier_block *nb, unsigned long action,
		    void *data)
{
	struct shared *s = data;

	(void)nb;
	(void)action;
	vfiosim_mutex_lock(s->m);
	s->notified++;
	vfiosim_mutex_unlock(s->m);
	return VFIOSIM_NOTIFY_OK;
}

static void worker(void *p)
{
	struct shared *s = p;

	vfiosim_wait_for_completion(s->go);
	for (int i = 0; i < ROUNDS; i++) {
		vfiosim_mutex_lock(s->m);
		s->counter++;
		vfiosim_mutex_unlock(s->m);
		if (i % 4 == 0) {
			vfiosim_down_write(s->rw);
			s->rw_value += 2;
			vfiosim_up_write(s->rw);
		} else {
			vfiosim_down_read(s->rw);
			if (s->rw_value % 2)
				__atomic_fetch_add(&s->bad_reads, 1,
						   __ATOMIC_RELAXED);
			vfiosim_up_read(s->rw);
		}
		if (i % 100 == 0)
			vfiosim_notifier_call_chain(s->chain, 0, s);
	}
}

static void parallel_scenario(struct vfiosim_world *w, void *arg)
{
	struct shared *s = arg;
	struct vfiosim_thread *t[NTHREADS];

	s->w = w;
	s->m = vfiosim_mutex_new(w, "counter_lock");
	s->rw = vfiosim_rwsem_new(w, "value_sem");
	s->go = vfiosim_completion_new(w, "go");
	s->chain = vfiosim_notifier_head_new(w, "chain");
	s->nb.notifier_call = count_cb;
	vfiosim_notifier_chain_register(s->chain, &s->nb);
	for (int i = 0; i < NTHREADS; i++)
		t[i] = vfiosim_thread_create(w, "worker", worker, s);
	vfiosim_complete_all(s->go);
	for (int i = 0; i < NTHREADS; i++)
		vfiosim_thread_join(t[i]);
}

START_TEST(parallel_counters_exact)
{
	struct vfiosim_config c;
	struct shared s = { 0 };
	struct vfiosim_world *w;
	int rc;

	vfiosim_config_init(&c);
	c.mode = VFIOSIM_MODE_FREE;
	w = tu_run(&c, parallel_scenario, &s, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(s.counter, NTHREADS * ROUNDS);
	ck_assert_int_eq(s.rw_value, 2 * NTHREADS * (ROUNDS / 4));
	ck_assert_int_eq(s.notified, NTHREADS * (ROUNDS / 100));
	ck_assert_int_eq(s.bad_reads, 0);
	tu_destroy(w);
}
END_TEST

struct abba {
	struct vfiosim_mutex *a, *b;
};

static void ab(void *p)
{
	struct abba *s = p;

	vfiosim_mutex_lock(s->a);
	vfiosim_mutex_lock(s->b);
	vfiosim_mutex_unlock(s->b);
	vfiosim_mutex_unlock(s->a);
}

static void ba(void *p)
{
	struct abba *s = p;

	vfiosim_mutex_lock(s->b);
	vfiosim_mutex_lock(s->a);
	vfiosim_mutex_unlock(s->a);
	vfiosim_mutex_unlock(s->b);
}

static void abba_sequential(struct vfiosim_world *w, void *arg)
{
	struct abba s;
	struct vfiosim_thread *t;

	(void)arg;
	s.a = vfiosim_mutex_new(w, "A");
	s.b = vfiosim_mutex_new(w, "B");
	/* One after the other: no deadlock can happen, lockdep still sees it. */
	t = vfiosim_thread_create(w, "ab", ab, &s);
	vfiosim_thread_join(t);
	t = vfiosim_thread_create(w, "ba", ba, &s);
	vfiosim_thread_join(t);
}

START_TEST(lockdep_in_free_mode)
{
	struct vfiosim_config c;
	struct vfiosim_world *w;
	int rc;

#if defined(__SANITIZE_THREAD__)
	/* ThreadSanitizer reports the inversion this test makes on purpose. */
	return;
#endif
	vfiosim_config_init(&c);
	c.mode = VFIOSIM_MODE_FREE;
	w = tu_run(&c, abba_sequential, NULL, &rc);
	ck_assert_int_eq(rc, 1);
	ck_assert_int_eq(vfiosim_world_failure(w, 0)->kind,
			 VFIOSIM_FAIL_LOCK_ORDER);
	ck_assert_str_eq(vfiosim_world_failure(w, 0)->thread, "ba");
	ck_assert_ptr_null(vfiosim_world_failure(w, 0)->token);
	tu_destroy(w);
}
END_TEST

struct tmo {
	struct vfiosim_completion *c;
	uint64_t left;
};

static void timeout_scenario(struct vfiosim_world *w, void *arg)
{
	struct tmo *t = arg;

	t->c = vfiosim_completion_new(w, "never");
	t->left = vfiosim_wait_for_completion_timeout(t->c, 1000000);
}

START_TEST(timeout_in_free_mode)
{
	struct vfiosim_config c;
	struct vfiosim_world *w;
	struct tmo t = { 0 };
	int rc;

	vfiosim_config_init(&c);
	c.mode = VFIOSIM_MODE_FREE;
	t.left = 99;
	w = tu_run(&c, timeout_scenario, &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(t.left, 0);
	ck_assert_uint_ge(vfiosim_now(w), 1000000);
	tu_destroy(w);
}
END_TEST

static Suite *free_suite(void)
{
	Suite *s = suite_create("free");
	TCase *tc = tcase_create("free");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, parallel_counters_exact);
	tcase_add_test(tc, lockdep_in_free_mode);
	tcase_add_test(tc, timeout_in_free_mode);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(free_suite)
