/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-sync.c - mutex, rw-semaphore, completion and notifier semantics,
 * checked over every schedule where that is cheap.
 */
#include <errno.h>

#include "testutil.h"

static struct vfiosim_explore_opts dfs_opts(const char *name, int bound)
{
	struct vfiosim_explore_opts o;

	vfiosim_explore_opts_init(&o);
	o.strategy = VFIOSIM_STRATEGY_DFS;
	o.preemption_bound = bound;
	o.iterations = 0;
	o.name = name;
	o.ignore_env = true;
	return o;
}

/* --------------------------------------------------------------- mutex */

struct excl {
	struct vfiosim_world *w;
	struct vfiosim_mutex *m;
	int inside;
	int counter;
};

static void excl_worker(void *p)
{
	struct excl *s = p;

	for (int i = 0; i < 2; i++) {
		vfiosim_mutex_lock(s->m);
		s->inside++;
		VFIOSIM_ASSERT(s->w, s->inside == 1, "two threads inside");
		vfiosim_sched_point(s->w, "inside");
		s->counter++;
		s->inside--;
		vfiosim_mutex_unlock(s->m);
	}
}

static void excl_scenario(struct vfiosim_world *w, void *arg)
{
	struct excl *s = vfiosim_zalloc(w, sizeof(*s), NULL);
	struct vfiosim_thread *t[2];

	(void)arg;
	s->w = w;
	s->m = vfiosim_mutex_new(w, "m");
	t[0] = vfiosim_thread_create(w, "t0", excl_worker, s);
	t[1] = vfiosim_thread_create(w, "t1", excl_worker, s);
	vfiosim_thread_join(t[0]);
	vfiosim_thread_join(t[1]);
	VFIOSIM_ASSERT(w, s->counter == 4, "counter %d", s->counter);
	VFIOSIM_ASSERT(w, !vfiosim_mutex_is_locked(s->m), "still locked");
}

START_TEST(mutex_excludes_in_every_schedule)
{
	struct vfiosim_explore_opts o = dfs_opts("mutex-excl", -1);
	struct vfiosim_explore_result r;

	ck_assert_int_eq(vfiosim_explore(NULL, &o, excl_scenario, NULL, &r), 0);
	vfiosim_ck_print_failure("mutex-excl", &r);
	ck_assert(!r.failed);
	ck_assert(r.exhausted);
	ck_assert_uint_gt(r.schedules, 20);
	vfiosim_explore_result_release(&r);
}
END_TEST

struct trylock_state {
	struct vfiosim_mutex *m;
	int got_while_held, got_when_free;
	int unlock_warned;
};

static void trylock_scenario(struct vfiosim_world *w, void *arg)
{
	struct trylock_state *s = arg;

	s->m = vfiosim_mutex_new(w, "m");
	vfiosim_mutex_lock(s->m);
	s->got_while_held = vfiosim_mutex_trylock(s->m);
	vfiosim_mutex_unlock(s->m);
	s->got_when_free = vfiosim_mutex_trylock(s->m);
	vfiosim_mutex_unlock(s->m);
	/* A second unlock is a bad unlock balance. */
	vfiosim_mutex_unlock(s->m);
	VFIOSIM_ASSERT(w, !strcmp(vfiosim_mutex_name(s->m), "m"), "name");
}

START_TEST(mutex_trylock_and_balance)
{
	struct trylock_state s = { 0 };
	struct vfiosim_world *w;
	int rc, i;

	w = tu_run(NULL, trylock_scenario, &s, &rc);
	ck_assert_int_eq(s.got_while_held, 0);
	ck_assert_int_eq(s.got_when_free, 1);
	ck_assert_int_eq(rc, 1);
	i = tu_find_failure(w, VFIOSIM_FAIL_WARN);
	ck_assert_int_ge(i, 0);
	ck_assert(tu_contains(vfiosim_world_failure(w, (size_t)i)->message,
			      "bad unlock balance"));
	tu_destroy(w);
}
END_TEST

/* --------------------------------------------------------------- rwsem */

struct rw {
	struct vfiosim_world *w;
	struct vfiosim_rwsem *s;
	int readers_inside, writers_inside;
	int max_readers;
};

struct rw_stats {
	int max_readers_seen;
};

static void rw_reader(void *p)
{
	struct rw *s = p;

	vfiosim_down_read(s->s);
	s->readers_inside++;
	if (s->readers_inside > s->max_readers)
		s->max_readers = s->readers_inside;
	VFIOSIM_ASSERT(s->w, s->writers_inside == 0, "reader with writer");
	vfiosim_sched_point(s->w, "reading");
	s->readers_inside--;
	vfiosim_up_read(s->s);
}

static void rw_writer(void *p)
{
	struct rw *s = p;

	vfiosim_down_write(s->s);
	s->writers_inside++;
	VFIOSIM_ASSERT(s->w, s->readers_inside == 0 && s->writers_inside == 1,
		       "writer not alone");
	VFIOSIM_ASSERT(s->w, vfiosim_rwsem_is_write_locked(s->s), "state");
	vfiosim_sched_point(s->w, "writing");
	s->writers_inside--;
	vfiosim_up_write(s->s);
}

static void rw_scenario(struct vfiosim_world *w, void *arg)
{
	struct rw_stats *st = arg;
	struct rw *s = vfiosim_zalloc(w, sizeof(*s), NULL);
	struct vfiosim_thread *t[3];

	s->w = w;
	s->s = vfiosim_rwsem_new(w, "sem");
	t[0] = vfiosim_thread_create(w, "r0", rw_reader, s);
	t[1] = vfiosim_thread_create(w, "r1", rw_reader, s);
	t[2] = vfiosim_thread_create(w, "wr", rw_writer, s);
	for (int i = 0; i < 3; i++)
		vfiosim_thread_join(t[i]);
	if (s->max_readers > st->max_readers_seen)
		st->max_readers_seen = s->max_readers;
}

START_TEST(rwsem_readers_share_writer_excludes)
{
	struct vfiosim_explore_opts o = dfs_opts("rwsem", 2);
	struct vfiosim_explore_result r;
	struct rw_stats st = { 0 };

	ck_assert_int_eq(vfiosim_explore(NULL, &o, rw_scenario, &st, &r), 0);
	vfiosim_ck_print_failure("rwsem", &r);
	ck_assert(!r.failed);
	ck_assert(r.exhausted);
	/* Some schedule had both readers inside at once. */
	ck_assert_int_eq(st.max_readers_seen, 2);
	vfiosim_explore_result_release(&r);
}
END_TEST

/* down_read twice with a writer queued in between deadlocks. */
struct recread {
	struct vfiosim_rwsem *s;
	struct vfiosim_completion *first_read;
};

static void recread_reader(void *p)
{
	struct recread *s = p;

	vfiosim_down_read(s->s);
	vfiosim_complete(s->first_read);
	vfiosim_down_read(s->s);
	vfiosim_up_read(s->s);
	vfiosim_up_read(s->s);
}

static void recread_writer(void *p)
{
	struct recread *s = p;

	vfiosim_wait_for_completion(s->first_read);
	vfiosim_down_write(s->s);
	vfiosim_up_write(s->s);
}

static void recread_scenario(struct vfiosim_world *w, void *arg)
{
	struct recread *s = vfiosim_zalloc(w, sizeof(*s), NULL);
	struct vfiosim_thread *a, *b;

	(void)arg;
	s->s = vfiosim_rwsem_new(w, "mmap_lock");
	s->first_read = vfiosim_completion_new(w, "first_read");
	a = vfiosim_thread_create(w, "reader", recread_reader, s);
	b = vfiosim_thread_create(w, "writer", recread_writer, s);
	vfiosim_thread_join(a);
	vfiosim_thread_join(b);
}

START_TEST(rwsem_recursive_read_deadlocks)
{
	struct vfiosim_explore_opts o = dfs_opts("recursive-read", 2);
	struct vfiosim_explore_result r;
	struct vfiosim_config c;

	vfiosim_config_init(&c);
	c.lockdep = false;
	ck_assert_int_eq(vfiosim_explore(&c, &o, recread_scenario, NULL, &r),
			 0);
	ck_assert(r.failed);
	ck_assert_int_eq(r.failure.kind, VFIOSIM_FAIL_DEADLOCK);
	ck_assert(tu_contains(r.failure.report, "rwsem (read) mmap_lock"));
	ck_assert(tu_contains(r.failure.report, "rwsem (write) mmap_lock"));
	vfiosim_explore_result_release(&r);
	/* With lockdep on, the recursion is reported before it can hang. */
	c.lockdep = true;
	ck_assert_int_eq(vfiosim_explore(&c, &o, recread_scenario, NULL, &r),
			 0);
	ck_assert(r.failed);
	ck_assert_int_eq(r.failure.kind, VFIOSIM_FAIL_LOCK_ORDER);
	ck_assert(tu_contains(r.failure.report, "recursive locking"));
	ck_assert_uint_eq(r.failing_schedule, 0);
	vfiosim_explore_result_release(&r);
}
END_TEST

struct downgrade {
	struct vfiosim_world *w;
	struct vfiosim_rwsem *s;
	int reader_done;
	int trylock_write_failed;
};

static void dg_reader(void *p)
{
	struct downgrade *d = p;

	vfiosim_down_read(d->s);
	d->reader_done = 1;
	vfiosim_up_read(d->s);
}

static void downgrade_scenario(struct vfiosim_world *w, void *arg)
{
	struct downgrade *d = arg;
	struct vfiosim_thread *t;

	d->w = w;
	d->s = vfiosim_rwsem_new(w, "sem");
	vfiosim_down_write(d->s);
	t = vfiosim_thread_create(w, "reader", dg_reader, d);
	vfiosim_sched_point(w, "reader blocks");
	VFIOSIM_ASSERT(w, !d->reader_done, "reader got in under a writer");
	vfiosim_downgrade_write(d->s);
	VFIOSIM_ASSERT(w, vfiosim_rwsem_readers(d->s) == 1, "now a reader");
	vfiosim_rwsem_assert_held(d->s);
	d->trylock_write_failed = !vfiosim_down_write_trylock(d->s);
	vfiosim_thread_join(t); /* the reader gets in beside us */
	VFIOSIM_ASSERT(w, d->reader_done, "reader did not get in");
	vfiosim_up_read(d->s);
	VFIOSIM_ASSERT(w, vfiosim_down_read_trylock(d->s) == 1, "tryread");
	vfiosim_up_read(d->s);
	/* Unbalanced. */
	vfiosim_up_write(d->s);
}

START_TEST(rwsem_downgrade)
{
	struct downgrade d = { 0 };
	struct vfiosim_world *w;
	int rc;

	w = tu_run(NULL, downgrade_scenario, &d, &rc);
	ck_assert_int_eq(rc, 1);
	ck_assert_int_eq(d.reader_done, 1);
	ck_assert_int_eq(d.trylock_write_failed, 1);
	ck_assert(tu_contains(vfiosim_world_failure(w, 0)->message,
			      "up_write(sem) without holding it"));
	tu_destroy(w);
}
END_TEST

/* ---------------------------------------------------------- completion */

struct tmo_stats {
	int timed_out, woken, total;
};

struct tmo {
	struct vfiosim_completion *c;
};

static void tmo_completer(void *p)
{
	struct tmo *t = p;

	vfiosim_complete(t->c);
}

static void timeout_scenario(struct vfiosim_world *w, void *arg)
{
	struct tmo_stats *st = arg;
	struct tmo *t = vfiosim_zalloc(w, sizeof(*t), NULL);
	struct vfiosim_thread *th;
	uint64_t left;

	t->c = vfiosim_completion_new(w, "done");
	th = vfiosim_thread_create(w, "completer", tmo_completer, t);
	left = vfiosim_wait_for_completion_timeout(t->c, 5000);
	st->total++;
	if (left == 0) {
		st->timed_out++;
		VFIOSIM_ASSERT(w, vfiosim_now(w) >= 5000, "clock %llu",
			       (unsigned long long)vfiosim_now(w));
	} else {
		st->woken++;
		VFIOSIM_ASSERT(w, left <= 5000, "left %llu",
			       (unsigned long long)left);
	}
	vfiosim_thread_join(th);
}

START_TEST(timeout_explored_both_ways)
{
	struct vfiosim_explore_opts o = dfs_opts("timeout", -1);
	struct vfiosim_explore_result r;
	struct tmo_stats st = { 0 };

	ck_assert_int_eq(vfiosim_explore(NULL, &o, timeout_scenario, &st, &r),
			 0);
	vfiosim_ck_print_failure("timeout", &r);
	ck_assert(!r.failed);
	ck_assert(r.exhausted);
	ck_assert_int_gt(st.timed_out, 0);
	ck_assert_int_gt(st.woken, 0);
	ck_assert_int_eq(st.total, (int)r.schedules);
	vfiosim_explore_result_release(&r);
}
END_TEST

struct compl_all {
	struct vfiosim_completion *c;
	int passed;
};

static void ca_waiter(void *p)
{
	struct compl_all *s = p;

	vfiosim_wait_for_completion(s->c);
	s->passed++;
}

static void complete_all_scenario(struct vfiosim_world *w, void *arg)
{
	struct compl_all *s = arg;
	struct vfiosim_thread *t[3];

	s->c = vfiosim_completion_new(w, "go");
	VFIOSIM_ASSERT(w, !vfiosim_completion_done(s->c), "fresh");
	VFIOSIM_ASSERT(w, !vfiosim_try_wait_for_completion(s->c), "try");
	for (int i = 0; i < 3; i++)
		t[i] = vfiosim_thread_create(w, "waiter", ca_waiter, s);
	vfiosim_complete_all(s->c);
	for (int i = 0; i < 3; i++)
		vfiosim_thread_join(t[i]);
	VFIOSIM_ASSERT(w, vfiosim_try_wait_for_completion(s->c), "stays done");
	vfiosim_reinit_completion(s->c);
	VFIOSIM_ASSERT(w, !vfiosim_completion_done(s->c), "reinit");
	vfiosim_complete(s->c);
	VFIOSIM_ASSERT(w, vfiosim_try_wait_for_completion(s->c), "one done");
	VFIOSIM_ASSERT(w, !vfiosim_try_wait_for_completion(s->c), "only one");
}

START_TEST(completion_all_and_reinit)
{
	struct compl_all s = { 0 };
	struct vfiosim_world *w;
	int rc;

	w = tu_run(NULL, complete_all_scenario, &s, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(s.passed, 3);
	tu_destroy(w);
}
END_TEST

static void lost_wakeup_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_completion *c = vfiosim_completion_new(w, "nobody");

	(void)arg;
	vfiosim_wait_for_completion(c);
}

START_TEST(completion_never_completed_is_deadlock)
{
	struct vfiosim_world *w;
	const struct vfiosim_failure *f;
	int rc;

	w = tu_run(NULL, lost_wakeup_scenario, NULL, &rc);
	ck_assert_int_eq(rc, 1);
	f = vfiosim_world_failure(w, 0);
	ck_assert_int_eq(f->kind, VFIOSIM_FAIL_DEADLOCK);
	ck_assert(tu_contains(f->report, "completion nobody"));
	ck_assert(tu_contains(f->report, "which no thread holds"));
	tu_destroy(w);
}
END_TEST

/* ------------------------------------------------------------ notifier */

struct nb_test {
	struct vfiosim_notifier_block nb[3];
	char order[8];
	int n;
	int rc_register_twice, rc_unregister_missing, rc_null;
	int result;
};

static int nb_call(struct vfiosim_notifier_block *nb, unsigned long action,
		   void *data)
{
	struct nb_test *t = data;
	int idx = (int)(nb - t->nb);

	(void)action;
	t->order[t->n++] = (char)('0' + idx);
	return idx == 1 ? VFIOSIM_NOTIFY_STOP : VFIOSIM_NOTIFY_OK;
}

static void notifier_scenario(struct vfiosim_world *w, void *arg)
{
	struct nb_test *t = arg;
	struct vfiosim_notifier_head *h = vfiosim_notifier_head_new(w, "chain");

	VFIOSIM_ASSERT(w, vfiosim_notifier_chain_empty(h), "empty");
	for (int i = 0; i < 3; i++)
		t->nb[i].notifier_call = nb_call;
	t->nb[0].priority = 0;
	t->nb[1].priority = 5;
	t->nb[2].priority = 10;
	for (int i = 0; i < 3; i++)
		VFIOSIM_ASSERT(
			w, vfiosim_notifier_chain_register(h, &t->nb[i]) == 0,
			"register %d", i);
	/* Priority 10 first, then 5, which stops the chain. */
	t->result = vfiosim_notifier_call_chain(h, 1, t);
	t->rc_register_twice = vfiosim_notifier_chain_register(h, &t->nb[0]);
	VFIOSIM_ASSERT(w, vfiosim_notifier_chain_unregister(h, &t->nb[1]) == 0,
		       "unregister");
	t->rc_unregister_missing =
		vfiosim_notifier_chain_unregister(h, &t->nb[1]);
	t->rc_null = vfiosim_notifier_chain_register(h, NULL);
	vfiosim_notifier_call_chain(h, 2, t); /* 2 then 0 */
}

START_TEST(notifier_chain)
{
	struct nb_test t = { 0 };
	struct vfiosim_world *w;
	int rc;

	w = tu_run(NULL, notifier_scenario, &t, &rc);
	ck_assert_str_eq(t.order, "2120");
	ck_assert_int_eq(t.result, VFIOSIM_NOTIFY_STOP);
	ck_assert_int_eq(t.rc_register_twice, -EEXIST);
	ck_assert_int_eq(t.rc_unregister_missing, -ENOENT);
	ck_assert_int_eq(t.rc_null, -EINVAL);
	/* Registering twice is also a WARN, as in 6.1. */
	ck_assert_int_eq(rc, 1);
	ck_assert(tu_contains(vfiosim_world_failure(w, 0)->message,
			      "already registered"));
	tu_destroy(w);
}
END_TEST

static void outside_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_mutex **m = arg;

	*m = vfiosim_mutex_new(w, "made inside");
}

START_TEST(lock_outside_a_run)
{
	struct vfiosim_mutex *m = NULL;
	struct vfiosim_rwsem *r;
	struct vfiosim_config c;
	struct vfiosim_world *w;
	int rc;

	/* Deterministic world, no run in progress: set-up and teardown code
	 * may use locks; nothing can contend. */
	w = tu_run(NULL, outside_scenario, &m, &rc);
	ck_assert_ptr_nonnull(m);
	vfiosim_mutex_lock(m);
	ck_assert(vfiosim_mutex_is_locked(m));
	ck_assert_int_eq(vfiosim_mutex_trylock(m), 0);
	vfiosim_mutex_unlock(m);
	ck_assert(!vfiosim_mutex_is_locked(m));
	r = vfiosim_rwsem_new(w, "r");
	vfiosim_down_write(r);
	ck_assert(vfiosim_rwsem_is_write_locked(r));
	ck_assert_int_eq(vfiosim_down_read_trylock(r), 0);
	vfiosim_up_write(r);
	vfiosim_down_read(r);
	ck_assert_uint_eq(vfiosim_rwsem_readers(r), 1);
	vfiosim_up_read(r);
	ck_assert_uint_eq(vfiosim_world_failure_count(w), 0);
	tu_destroy(w);

	/* Free-running world: a thread that is not the world's is reported. */
	vfiosim_config_init(&c);
	c.mode = VFIOSIM_MODE_FREE;
	w = tu_run(&c, outside_scenario, &m, &rc);
	vfiosim_mutex_lock(m);
	ck_assert(!vfiosim_mutex_is_locked(m));
	ck_assert_uint_eq(vfiosim_world_failure_count(w), 1);
	ck_assert(tu_contains(vfiosim_world_failure(w, 0)->message,
			      "outside the world's simulated threads"));
	tu_destroy(w);
}
END_TEST

static Suite *sync_suite(void)
{
	Suite *s = suite_create("sync");
	TCase *tc = tcase_create("sync");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, mutex_excludes_in_every_schedule);
	tcase_add_test(tc, mutex_trylock_and_balance);
	tcase_add_test(tc, rwsem_readers_share_writer_excludes);
	tcase_add_test(tc, rwsem_recursive_read_deadlocks);
	tcase_add_test(tc, rwsem_downgrade);
	tcase_add_test(tc, timeout_explored_both_ways);
	tcase_add_test(tc, completion_all_and_reinit);
	tcase_add_test(tc, completion_never_completed_is_deadlock);
	tcase_add_test(tc, notifier_chain);
	tcase_add_test(tc, lock_outside_a_run);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(sync_suite)
