/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-sim.c - the world, threads, failures, fault injection, virtual time
 * and the trace.
 */
#include <errno.h>
#include <stdio.h>

#include "testutil.h"

START_TEST(config_defaults)
{
	struct vfiosim_config c;

	vfiosim_config_init(&c);
	ck_assert_int_eq(c.mode, VFIOSIM_MODE_DETERMINISTIC);
	ck_assert(c.lockdep);
	ck_assert_uint_eq(c.max_steps, 100000);
	ck_assert(c.abort_mask & VFIOSIM_FAIL_BIT(VFIOSIM_FAIL_DEADLOCK));
	ck_assert(!(c.abort_mask & VFIOSIM_FAIL_BIT(VFIOSIM_FAIL_WARN)));
	ck_assert_uint_eq(c.mm.page_shift, 12);
	ck_assert_uint_eq(c.iommu.addr_width, 39);
}
END_TEST

START_TEST(create_rejects_bad_config)
{
	struct vfiosim_config c;
	struct vfiosim_world *w = (struct vfiosim_world *)1;

	ck_assert_int_eq(vfiosim_world_create(NULL, NULL), -EINVAL);
	vfiosim_config_init(&c);
	c.mode = (enum vfiosim_mode)7;
	ck_assert_int_eq(vfiosim_world_create(&c, &w), -EINVAL);
	ck_assert_ptr_null(w);
	vfiosim_config_init(&c);
	c.fault.probability_ppm = 1000001;
	ck_assert_int_eq(vfiosim_world_create(&c, &w), -EINVAL);
	vfiosim_config_init(&c);
	c.abort_mask = 1u << VFIOSIM_FAIL_NR_KINDS;
	ck_assert_int_eq(vfiosim_world_create(&c, &w), -EINVAL);
	ck_assert_int_eq(vfiosim_world_destroy(NULL), 0);
}
END_TEST

struct counter {
	int runs;
	int value;
	unsigned int ids[4];
	int pid;
	const char *task_name;
};

static void bump(void *p)
{
	struct counter *c = p;

	c->value++;
}

static void two_threads(struct vfiosim_world *w, void *arg)
{
	struct counter *c = arg;
	struct vfiosim_thread *a, *b;

	c->runs++;
	a = vfiosim_thread_create(w, "a", bump, c);
	b = vfiosim_thread_create(w, "b", bump, c);
	c->ids[0] = vfiosim_thread_id(vfiosim_current(w));
	c->ids[1] = vfiosim_thread_id(a);
	c->ids[2] = vfiosim_thread_id(b);
	VFIOSIM_ASSERT(w, vfiosim_thread_join(a) == 0, "join a");
	VFIOSIM_ASSERT(w, vfiosim_thread_join(b) == 0, "join b");
}

START_TEST(run_and_join)
{
	struct counter c = { 0 };
	struct vfiosim_world *w;
	int rc;

	w = tu_run(NULL, two_threads, &c, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(c.runs, 1);
	ck_assert_int_eq(c.value, 2);
	ck_assert_uint_eq(c.ids[0], 0);
	ck_assert_uint_eq(c.ids[1], 1);
	ck_assert_uint_eq(c.ids[2], 2);
	/* A world runs once. */
	ck_assert_int_eq(vfiosim_world_run(w, two_threads, &c), -EBUSY);
	ck_assert_int_eq(vfiosim_world_run(w, NULL, &c), -EINVAL);
	ck_assert_int_eq(c.runs, 1);
	ck_assert_int_eq(vfiosim_world_destroy(w), 0);
}
END_TEST

static void join_errors(struct vfiosim_world *w, void *arg)
{
	struct counter *c = arg;
	struct vfiosim_thread *a = vfiosim_thread_create(w, "a", bump, c);

	VFIOSIM_ASSERT(w, vfiosim_thread_join(vfiosim_current(w)) == -EDEADLK,
		       "self join");
	VFIOSIM_ASSERT(w, vfiosim_thread_join(NULL) == -EINVAL, "NULL join");
	VFIOSIM_ASSERT(w, vfiosim_thread_join(a) == 0, "join");
	VFIOSIM_ASSERT(w, vfiosim_thread_join(a) == -EINVAL, "double join");
	VFIOSIM_ASSERT(w,
		       vfiosim_thread_create(w, "", bump, c) == NULL &&
			       errno == EINVAL,
		       "empty name");
	VFIOSIM_ASSERT(w,
		       vfiosim_thread_create(w, "x", NULL, c) == NULL &&
			       errno == EINVAL,
		       "NULL fn");
	c->value += 10;
}

START_TEST(thread_errors)
{
	struct counter c = { 0 };
	struct vfiosim_world *w;
	int rc;

	w = tu_run(NULL, join_errors, &c, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(c.value, 11);
	/* Outside the world's threads. */
	errno = 0;
	ck_assert_ptr_null(vfiosim_thread_create(w, "late", bump, &c));
	ck_assert_int_eq(errno, EPERM);
	ck_assert_ptr_null(vfiosim_current(w));
	tu_destroy(w);
}
END_TEST

struct task_check {
	struct vfiosim_world *w;
	int pid;
	const char *name;
};

static void task_probe(void *p)
{
	struct task_check *tc = p;
	struct vfiosim_task *t = vfiosim_current_task(tc->w);

	tc->pid = vfiosim_task_pid(t);
	tc->name = vfiosim_task_name(t);
}

static void tasks_scenario(struct vfiosim_world *w, void *arg)
{
	struct task_check *tc = arg;
	struct vfiosim_task *qemu;
	struct vfiosim_thread *t;

	tc->w = w;
	VFIOSIM_ASSERT(w, vfiosim_task_pid(vfiosim_current_task(w)) == 1,
		       "main is pid 1");
	qemu = vfiosim_task_create(w, "qemu");
	VFIOSIM_ASSERT(w, qemu != NULL, "task create");
	VFIOSIM_ASSERT(w,
		       vfiosim_task_create(w, NULL) == NULL && errno == EINVAL,
		       "NULL name");
	t = vfiosim_thread_create_task(w, "vcpu", qemu, task_probe, tc);
	VFIOSIM_ASSERT(w, t != NULL, "create");
	vfiosim_thread_join(t);
	VFIOSIM_ASSERT(w,
		       vfiosim_thread_create_task(w, "x", NULL, task_probe,
						  tc) == NULL,
		       "NULL task");
}

START_TEST(tasks)
{
	struct task_check tc = { 0 };
	struct vfiosim_world *w;
	int rc;

	w = tu_run(NULL, tasks_scenario, &tc, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(tc.pid, 2);
	ck_assert_str_eq(tc.name, "qemu");
	tu_destroy(w);
}
END_TEST

/* An ASSERT aborts the run and unwinds threads blocked elsewhere. */
struct abort_state {
	struct vfiosim_completion *never;
	int after_wait;
	int after_assert;
};

static void waits_forever(void *p)
{
	struct abort_state *s = p;

	vfiosim_wait_for_completion(s->never);
	s->after_wait = 1;
}

static void assert_scenario(struct vfiosim_world *w, void *arg)
{
	struct abort_state *s = arg;
	struct vfiosim_thread *t;

	s->never = vfiosim_completion_new(w, "never");
	t = vfiosim_thread_create(w, "waiter", waits_forever, s);
	vfiosim_sched_point(w, "let the waiter block");
	VFIOSIM_ASSERT(w, 1 + 1 == 3, "arithmetic is %s", "broken");
	s->after_assert = 1;
	vfiosim_thread_join(t);
}

START_TEST(assert_unwinds_all_threads)
{
	struct abort_state s = { 0 };
	const struct vfiosim_failure *f;
	struct vfiosim_world *w;
	int rc;

	w = tu_run(NULL, assert_scenario, &s, &rc);
	ck_assert_int_eq(rc, 1);
	ck_assert(vfiosim_world_aborted(w));
	ck_assert_int_eq(s.after_assert, 0);
	ck_assert_int_eq(s.after_wait, 0);
	f = vfiosim_world_failure(w, 0);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->kind, VFIOSIM_FAIL_ASSERT);
	ck_assert(tu_contains(f->message, "1 + 1 == 3"));
	ck_assert(tu_contains(f->message, "arithmetic is broken"));
	ck_assert_str_eq(f->thread, "main");
	ck_assert(tu_contains(f->file, "test-sim.c"));
	ck_assert(tu_contains(f->report, "Interleaving"));
	ck_assert(tu_contains(f->report, "replay token: vfs1:"));
	ck_assert_ptr_nonnull(f->token);
	ck_assert_ptr_null(vfiosim_world_failure(w, 1));
	ck_assert_int_eq(vfiosim_world_destroy(w), 1);
}
END_TEST

static void warn_scenario(struct vfiosim_world *w, void *arg)
{
	int *after = arg;

	if (VFIOSIM_WARN_ON(w, *after == 0))
		*after = 1;
	vfiosim_fail_at(w, VFIOSIM_FAIL_INVARIANT, __FILE__, __LINE__,
			"value %d", 42);
	*after = 2;
}

START_TEST(warn_does_not_abort)
{
	struct vfiosim_world *w;
	int after = 0, rc;

	w = tu_run(NULL, warn_scenario, &after, &rc);
	ck_assert_int_eq(rc, 2);
	ck_assert_int_eq(after, 2);
	ck_assert(!vfiosim_world_aborted(w));
	ck_assert_int_eq(vfiosim_world_failure(w, 0)->kind, VFIOSIM_FAIL_WARN);
	ck_assert_int_eq(vfiosim_world_failure(w, 1)->kind,
			 VFIOSIM_FAIL_INVARIANT);
	ck_assert_str_eq(vfiosim_world_failure(w, 1)->message, "value 42");
	ck_assert_str_eq(vfiosim_failure_kind_name(VFIOSIM_FAIL_LOCK_ORDER),
			 "LOCK_ORDER");
	ck_assert_str_eq(vfiosim_failure_kind_name(VFIOSIM_FAIL_NR_KINDS),
			 "UNKNOWN");
	ck_assert_int_eq(vfiosim_fail_at(NULL, VFIOSIM_FAIL_WARN, "", 0, "x"),
			 -EINVAL);
	tu_destroy(w);
}
END_TEST

static void spin_scenario(struct vfiosim_world *w, void *arg)
{
	(void)arg;
	for (;;)
		vfiosim_sched_point(w, "spin");
}

START_TEST(livelock_bound)
{
	struct vfiosim_config c;
	struct vfiosim_world *w;
	int rc;

	vfiosim_config_init(&c);
	c.max_steps = 100;
	w = tu_run(&c, spin_scenario, NULL, &rc);
	ck_assert_int_eq(rc, 1);
	ck_assert_int_eq(vfiosim_world_failure(w, 0)->kind,
			 VFIOSIM_FAIL_LIVELOCK);
	ck_assert(tu_contains(vfiosim_world_failure(w, 0)->message, "100"));
	/* The report says it may be a healthy long run. */
	ck_assert(tu_contains(vfiosim_world_failure(w, 0)->message,
			      "raise the bound"));
	tu_destroy(w);
}
END_TEST

/* --------------------------------------------------------- allocation */

static void alloc_scenario(struct vfiosim_world *w, void *arg)
{
	void **keep = arg;
	char *s;

	keep[0] = vfiosim_zalloc(w, 100, NULL);
	keep[1] = vfiosim_zalloc(w, 100, "test.alloc");
	s = vfiosim_strdup(w, "hello");
	VFIOSIM_ASSERT(w, s && !strcmp(s, "hello"), "strdup");
	vfiosim_free(w, s);
	vfiosim_free(w, NULL);
	/* keep[0] is left for the world to free. */
}

START_TEST(alloc_tracked_and_faulted)
{
	struct vfiosim_config c;
	struct vfiosim_world *w;
	void *keep[2] = { 0 };
	int rc;

	vfiosim_config_init(&c);
	c.fault.point = "test.alloc";
	c.fault.nth = 1;
	w = tu_run(&c, alloc_scenario, keep, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(keep[0]);
	ck_assert(((char *)keep[0])[99] == 0);
	ck_assert_ptr_null(keep[1]);
	ck_assert_uint_eq(vfiosim_fault_injected(w), 1);
	ck_assert_uint_eq(vfiosim_fault_hits(w, "test.alloc"), 1);
	ck_assert_uint_ge(vfiosim_fault_hits(w, "sim.alloc"), 2);
	ck_assert_uint_ge(vfiosim_fault_hits(w, NULL), 3);
	ck_assert_ptr_nonnull(vfiosim_fault_point_name(w, 0));
	ck_assert_ptr_null(vfiosim_fault_point_name(w, 1000));
	ck_assert_int_eq(vfiosim_world_destroy(w), 0); /* frees keep[0] */
}
END_TEST

struct fault_probe {
	int fails[64];
	struct vfiosim_fault_plan plan;
	bool set;
};

static void fault_scenario(struct vfiosim_world *w, void *arg)
{
	struct fault_probe *fp = arg;

	if (fp->set)
		VFIOSIM_ASSERT(w, vfiosim_fault_set_plan(w, &fp->plan) == 0,
			       "set plan");
	for (int i = 0; i < 64; i++)
		fp->fails[i] = vfiosim_fault(w, i % 2 ? "p.odd" : "p.even");
}

START_TEST(fault_plans)
{
	struct fault_probe a = { 0 }, b = { 0 };
	struct vfiosim_config c;
	struct vfiosim_world *w;
	int rc, n = 0;

	/* nth + repeat on one point. */
	a.set = true;
	a.plan = (struct vfiosim_fault_plan){ .point = "p.odd",
					      .nth = 3,
					      .repeat = true };
	w = tu_run(NULL, fault_scenario, &a, &rc);
	ck_assert_int_eq(rc, 0); /* an injected fault is not a failure */
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq(a.fails[i], i % 2 && i >= 5);
	tu_destroy(w);

	/* A plan set at run time replaces the configured probability. */
	vfiosim_config_init(&c);
	c.seed = 77;
	c.fault.probability_ppm = 500000;
	w = tu_run(&c, fault_scenario, &a, &rc);
	ck_assert_int_eq(rc, 0);
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq(a.fails[i], i % 2 && i >= 5);
	tu_destroy(w);

	/* A seeded probability: the same seed gives the same choices. */
	a.set = false;
	w = tu_run(&c, fault_scenario, &a, &rc);
	ck_assert_int_eq(rc, 0);
	tu_destroy(w);
	w = tu_run(&c, fault_scenario, &b, &rc);
	ck_assert_int_eq(rc, 0);
	tu_destroy(w);
	for (int i = 0; i < 64; i++) {
		ck_assert_int_eq(a.fails[i], b.fails[i]);
		n += a.fails[i];
	}
	ck_assert_int_gt(n, 10);
	ck_assert_int_lt(n, 54);
	w = tu_world(NULL);
	ck_assert_int_eq(vfiosim_fault_set_plan(w, NULL), -EINVAL);
	a.plan.probability_ppm = 2000000;
	ck_assert_int_eq(vfiosim_fault_set_plan(w, &a.plan), -EINVAL);
	tu_destroy(w);
}
END_TEST

/* ------------------------------------------------------------ time */

struct times {
	uint64_t t1, t2;
};

static void sleep_scenario(struct vfiosim_world *w, void *arg)
{
	struct times *t = arg;

	vfiosim_sleep(w, 1000);
	t->t1 = vfiosim_now(w);
	vfiosim_sleep(w, 500);
	t->t2 = vfiosim_now(w);
}

START_TEST(virtual_time)
{
	struct times t = { 0 };
	struct vfiosim_world *w;
	int rc;

	w = tu_run(NULL, sleep_scenario, &t, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(t.t1, 1000);
	ck_assert_uint_eq(t.t2, 1500);
	ck_assert_uint_eq(vfiosim_now(w), 1500);
	tu_destroy(w);
}
END_TEST

/* ----------------------------------------------------------- trace */

struct locks2 {
	struct vfiosim_mutex *a, *b;
};

static void trace_scenario(struct vfiosim_world *w, void *arg)
{
	struct locks2 l;

	(void)arg;
	l.a = vfiosim_mutex_new(w, "outer");
	l.b = vfiosim_mutex_new(w, "inner");
	vfiosim_mutex_lock(l.a);
	vfiosim_mutex_lock(l.b);
	/* Released out of order: slices must stay well nested. */
	vfiosim_mutex_unlock(l.a);
	vfiosim_trace_note(w, "value=%d", 7);
	vfiosim_mutex_unlock(l.b);
}

START_TEST(trace_text_and_chrome)
{
	struct vfiosim_world *w;
	char *text = NULL, *json = NULL;
	size_t tl = 0, jl = 0;
	FILE *f;
	int rc;

	w = tu_run(NULL, trace_scenario, NULL, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_ge(vfiosim_trace_length(w), 6);
	f = open_memstream(&text, &tl);
	ck_assert_int_eq(vfiosim_trace_write_text(w, f, 0), 0);
	fclose(f);
	ck_assert(tu_contains(text, "lock outer"));
	ck_assert(tu_contains(text, "unlock inner"));
	ck_assert(tu_contains(text, "note: value=7"));
	ck_assert(tu_contains(text, "test-sim.c:"));
	f = open_memstream(&json, &jl);
	ck_assert_int_eq(vfiosim_trace_write_chrome(w, f), 0);
	fclose(f);
	ck_assert(json[0] == '{');
	ck_assert(tu_contains(json, "\"traceEvents\""));
	ck_assert(tu_contains(json, "\"thread_name\""));
	ck_assert(tu_contains(json, "T0 main"));
	/* Every slice opened is closed. */
	ck_assert_uint_eq(tu_count(json, "\"ph\":\"B\""),
			  tu_count(json, "\"ph\":\"E\""));
	ck_assert_uint_ge(tu_count(json, "\"ph\":\"B\""), 2);
	ck_assert_int_eq(vfiosim_trace_write_text(NULL, stdout, 0), -EINVAL);
	free(text);
	free(json);
	tu_destroy(w);
}
END_TEST

static Suite *sim_suite(void)
{
	Suite *s = suite_create("sim");
	TCase *tc = tcase_create("world");

	tcase_add_test(tc, config_defaults);
	tcase_add_test(tc, create_rejects_bad_config);
	tcase_add_test(tc, run_and_join);
	tcase_add_test(tc, thread_errors);
	tcase_add_test(tc, tasks);
	tcase_add_test(tc, assert_unwinds_all_threads);
	tcase_add_test(tc, warn_does_not_abort);
	tcase_add_test(tc, livelock_bound);
	tcase_add_test(tc, alloc_tracked_and_faulted);
	tcase_add_test(tc, fault_plans);
	tcase_add_test(tc, virtual_time);
	tcase_add_test(tc, trace_text_and_chrome);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(sim_suite)
