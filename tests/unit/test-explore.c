/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-explore.c - strategies, replay tokens, sharding and jobs.
 */
#include <errno.h>

#include "scenarios.h"
#include "testutil.h"

#define opts tu_opts

static void nothing(struct vfiosim_world *w, void *arg)
{
	(void)w;
	(void)arg;
}

START_TEST(options_validated)
{
	struct vfiosim_explore_opts o;
	struct vfiosim_explore_result r;
	struct vfiosim_config c;
	enum vfiosim_strategy st;

	vfiosim_explore_opts_init(&o);
	ck_assert_int_eq(o.strategy, VFIOSIM_STRATEGY_RANDOM);
	ck_assert_uint_eq(o.iterations, 1000);
	ck_assert_int_eq(o.preemption_bound, 2);
	ck_assert_uint_eq(o.pct_depth, 2);
	o.shard_index = 1;
	ck_assert_int_eq(vfiosim_explore(NULL, &o, nothing, NULL, &r), -EINVAL);
	vfiosim_explore_opts_init(&o);
	o.jobs = 0;
	ck_assert_int_eq(vfiosim_explore(NULL, &o, nothing, NULL, &r), -EINVAL);
	vfiosim_explore_opts_init(&o);
	o.strategy = VFIOSIM_STRATEGY_PCT;
	o.pct_depth = 0;
	ck_assert_int_eq(vfiosim_explore(NULL, &o, nothing, NULL, &r), -EINVAL);
	vfiosim_config_init(&c);
	c.mode = VFIOSIM_MODE_FREE;
	ck_assert_int_eq(vfiosim_explore(&c, NULL, nothing, NULL, &r), -EINVAL);
	ck_assert_int_eq(vfiosim_explore(NULL, NULL, NULL, NULL, &r), -EINVAL);
	ck_assert_int_eq(vfiosim_explore(NULL, NULL, nothing, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(vfiosim_strategy_parse("pct", &st), 0);
	ck_assert_int_eq(st, VFIOSIM_STRATEGY_PCT);
	ck_assert_int_eq(vfiosim_strategy_parse("bfs", &st), -EINVAL);
	ck_assert_str_eq(vfiosim_strategy_name(VFIOSIM_STRATEGY_DFS), "dfs");
}
END_TEST

static void explore_lost_update(struct vfiosim_explore_result *r)
{
	struct vfiosim_explore_opts o =
		opts("lost-update", VFIOSIM_STRATEGY_PCT, 1000);

	ck_assert_int_eq(
		vfiosim_explore(NULL, &o, scenario_lost_update, NULL, r), 0);
	ck_assert(r->failed);
	ck_assert_ptr_nonnull(r->failure.token);
}

START_TEST(replay_reproduces_identical_trace)
{
	struct vfiosim_explore_opts o =
		opts("lost-update", VFIOSIM_STRATEGY_PCT, 1000);
	struct vfiosim_explore_result r, p;

	explore_lost_update(&r);
	ck_assert(!strncmp(r.failure.token, "vfs1:lost-update:", 17));
	ck_assert(!strchr(r.failure.token, '\n'));
	o.replay = r.failure.token;
	ck_assert_int_eq(
		vfiosim_explore(NULL, &o, scenario_lost_update, NULL, &p), 0);
	ck_assert(p.replayed);
	ck_assert_uint_eq(p.schedules, 1);
	ck_assert(p.failed);
	ck_assert_int_eq(p.failure.kind, r.failure.kind);
	ck_assert_str_eq(p.failure.message, r.failure.message);
	ck_assert_str_eq(p.trace, r.trace);
	ck_assert_str_eq(p.failure.token, r.failure.token);
	ck_assert_uint_eq(p.trace_hash, r.trace_hash);
	vfiosim_explore_result_release(&p);
	vfiosim_explore_result_release(&r);
}
END_TEST

START_TEST(replay_from_environment)
{
	struct vfiosim_explore_opts o =
		opts("lost-update", VFIOSIM_STRATEGY_RANDOM, 1);
	struct vfiosim_explore_result r, p;

	explore_lost_update(&r);
	o.ignore_env = false;
	ck_assert_int_eq(setenv("VFIOSIM_REPLAY", r.failure.token, 1), 0);
	ck_assert_int_eq(
		vfiosim_explore(NULL, &o, scenario_lost_update, NULL, &p), 0);
	ck_assert(p.replayed);
	ck_assert(p.failed);
	ck_assert_str_eq(p.trace, r.trace);
	vfiosim_explore_result_release(&p);
	/* A token of another scenario is refused. */
	o.name = "abba";
	ck_assert_int_eq(vfiosim_explore(NULL, &o, scenario_abba, NULL, &p),
			 -EINVAL);
	unsetenv("VFIOSIM_REPLAY");
	vfiosim_explore_result_release(&r);
}
END_TEST

START_TEST(bad_tokens_refused)
{
	char why[200], name[64];

	ck_assert_int_eq(vfiosim_token_check("", NULL, why, sizeof(why)),
			 -EINVAL);
	ck_assert_int_eq(vfiosim_token_check("hello", NULL, why, sizeof(why)),
			 -EINVAL);
	ck_assert(tu_contains(why, "not a libvfiosim replay token"));
	ck_assert_int_eq(vfiosim_token_check("vfs2:x:1:2:AB", NULL, why,
					     sizeof(why)),
			 -EINVAL);
	ck_assert(tu_contains(why, "version 2"));
	ck_assert_int_eq(vfiosim_token_check("vfs1:x:1:2:A!", NULL, why,
					     sizeof(why)),
			 -EINVAL);
	ck_assert(tu_contains(why, "decision list"));
	ck_assert_int_eq(vfiosim_token_check("vfs1:x:zz:2:A", NULL, why,
					     sizeof(why)),
			 -EINVAL);
	ck_assert_int_eq(vfiosim_token_check("vfs1:abba:1:2:A3B{60}2", "abba",
					     why, sizeof(why)),
			 0);
	ck_assert_int_eq(vfiosim_token_check("vfs1:abba:1:2:-", "lost-update",
					     why, sizeof(why)),
			 -EINVAL);
	ck_assert(tu_contains(why, "for scenario 'abba', not 'lost-update'"));
	ck_assert_int_eq(vfiosim_token_scenario("vfs1:abba:1:2:-", name,
						sizeof(name)),
			 4);
	ck_assert_str_eq(name, "abba");
}
END_TEST

/* A scenario that behaves differently on every run. */
static void unstable_scenario(struct vfiosim_world *w, void *arg)
{
	int *runs = arg;
	struct vfiosim_thread *t[4];
	int n = 2 + (*runs)++ % 2;

	for (int i = 0; i < n; i++)
		t[i] = vfiosim_thread_create(w, "t", (void (*)(void *))free,
					     NULL);
	for (int i = 0; i < n; i++)
		vfiosim_thread_join(t[i]);
	VFIOSIM_ASSERT(w, *runs > 100, "fail on purpose");
}

START_TEST(divergent_replay_is_nondeterminism)
{
	struct vfiosim_explore_opts o =
		opts("unstable", VFIOSIM_STRATEGY_RANDOM, 1);
	struct vfiosim_explore_result r, p;
	int runs = 0;

	ck_assert_int_eq(
		vfiosim_explore(NULL, &o, unstable_scenario, &runs, &r), 0);
	ck_assert(r.failed);
	o.replay = r.failure.token;
	ck_assert_int_eq(
		vfiosim_explore(NULL, &o, unstable_scenario, &runs, &p), 0);
	ck_assert(p.failed);
	ck_assert_int_eq(p.failure.kind, VFIOSIM_FAIL_NONDETERMINISM);
	vfiosim_explore_result_release(&p);
	vfiosim_explore_result_release(&r);
}
END_TEST

static unsigned long dfs_count(int bound, unsigned int shard,
			       unsigned int nshards, unsigned int jobs,
			       bool *exhausted)
{
	struct vfiosim_explore_opts o =
		opts("lost-update-fixed", VFIOSIM_STRATEGY_DFS, 0);
	struct vfiosim_explore_result r;
	unsigned long n;

	o.preemption_bound = bound;
	o.shard_index = shard;
	o.shard_count = nshards;
	o.jobs = jobs;
	ck_assert_int_eq(vfiosim_explore(NULL, &o, scenario_lost_update_fixed,
					 NULL, &r),
			 0);
	vfiosim_ck_print_failure("lost-update-fixed", &r);
	ck_assert(!r.failed);
	n = r.schedules;
	if (exhausted)
		*exhausted = r.exhausted;
	vfiosim_explore_result_release(&r);
	return n;
}

START_TEST(dfs_bounds_and_determinism)
{
	bool ex;
	unsigned long b0 = dfs_count(0, 0, 1, 1, &ex);
	unsigned long b1 = dfs_count(1, 0, 1, 1, &ex);
	unsigned long b2 = dfs_count(2, 0, 1, 1, &ex);

	ck_assert(ex);
	ck_assert_uint_ge(b0, 1);
	ck_assert_uint_lt(b0, b1);
	ck_assert_uint_lt(b1, b2);
	ck_assert_uint_eq(b2, dfs_count(2, 0, 1, 1, NULL));
}
END_TEST

START_TEST(dfs_shards_and_jobs_partition)
{
	unsigned long all = dfs_count(2, 0, 1, 1, NULL), sum;

	for (unsigned int n = 2; n <= 3; n++) {
		sum = 0;
		for (unsigned int i = 0; i < n; i++)
			sum += dfs_count(2, i, n, 1, NULL);
		ck_assert_uint_eq(sum, all);
	}
	ck_assert_uint_eq(dfs_count(2, 0, 1, 2, NULL), all);
	ck_assert_uint_eq(
		dfs_count(2, 0, 2, 2, NULL) + dfs_count(2, 1, 2, 2, NULL), all);
}
END_TEST

struct prog {
	unsigned long calls, last;
};

static void on_progress(const struct vfiosim_explore_progress *p, void *arg)
{
	struct prog *pr = arg;

	pr->calls++;
	pr->last = p->schedules;
}

START_TEST(random_shards_and_jobs_partition)
{
	struct vfiosim_explore_opts o =
		opts("lost-update", VFIOSIM_STRATEGY_RANDOM, 300);
	struct vfiosim_explore_result r, s0, s1, j;
	struct prog pr = { 0 };

	o.keep_going = true;
	o.progress = on_progress;
	o.progress_arg = &pr;
	ck_assert_int_eq(
		vfiosim_explore(NULL, &o, scenario_lost_update, NULL, &r), 0);
	ck_assert_uint_eq(r.schedules, 300);
	ck_assert_uint_gt(r.failed_schedules, 0);
	ck_assert_uint_ge(pr.calls, 1);
	ck_assert_uint_eq(pr.last, 300);
	o.shard_count = 2;
	o.shard_index = 0;
	ck_assert_int_eq(
		vfiosim_explore(NULL, &o, scenario_lost_update, NULL, &s0), 0);
	o.shard_index = 1;
	ck_assert_int_eq(
		vfiosim_explore(NULL, &o, scenario_lost_update, NULL, &s1), 0);
	ck_assert_uint_eq(s0.schedules + s1.schedules, 300);
	ck_assert_uint_eq(s0.failed_schedules + s1.failed_schedules,
			  r.failed_schedules);
	/* The first failing schedule is found by the shard that owns it. */
	ck_assert(r.failing_schedule % 2 == 0 ? s0.failed : s1.failed);
	ck_assert_uint_eq(r.failing_schedule % 2 == 0 ? s0.failing_schedule :
							s1.failing_schedule,
			  r.failing_schedule);
	o.shard_count = 1;
	o.shard_index = 0;
	o.jobs = 2;
	ck_assert_int_eq(
		vfiosim_explore(NULL, &o, scenario_lost_update, NULL, &j), 0);
	ck_assert_uint_eq(j.schedules, 300);
	ck_assert_uint_eq(j.failed_schedules, r.failed_schedules);
	ck_assert_uint_eq(j.failing_schedule, r.failing_schedule);
	ck_assert_str_eq(j.failure.token, r.failure.token);
	vfiosim_explore_result_release(&r);
	vfiosim_explore_result_release(&s0);
	vfiosim_explore_result_release(&s1);
	vfiosim_explore_result_release(&j);
}
END_TEST

START_TEST(same_seed_same_exploration)
{
	struct vfiosim_explore_opts o =
		opts("lost-update", VFIOSIM_STRATEGY_PCT, 1000);
	struct vfiosim_explore_result a, b;

	o.seed = 12345;
	ck_assert_int_eq(
		vfiosim_explore(NULL, &o, scenario_lost_update, NULL, &a), 0);
	ck_assert_int_eq(
		vfiosim_explore(NULL, &o, scenario_lost_update, NULL, &b), 0);
	ck_assert(a.failed && b.failed);
	ck_assert_uint_eq(a.failing_schedule, b.failing_schedule);
	ck_assert_str_eq(a.failure.token, b.failure.token);
	vfiosim_explore_result_release(&a);
	vfiosim_explore_result_release(&b);
}
END_TEST

static Suite *explore_suite(void)
{
	Suite *s = suite_create("explore");
	TCase *tc = tcase_create("explore");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, options_validated);
	tcase_add_test(tc, replay_reproduces_identical_trace);
	tcase_add_test(tc, replay_from_environment);
	tcase_add_test(tc, bad_tokens_refused);
	tcase_add_test(tc, divergent_replay_is_nondeterminism);
	tcase_add_test(tc, dfs_bounds_and_determinism);
	tcase_add_test(tc, dfs_shards_and_jobs_partition);
	tcase_add_test(tc, random_shards_and_jobs_partition);
	tcase_add_test(tc, same_seed_same_exploration);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(explore_suite)
