/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-race.c - the bundled races, each found by exploration (never by a
 * hand-written schedule), reported with its interleaving and a token, and
 * replayed exactly from that token.
 */
#include "scenarios.h"
#include "testutil.h"

static struct vfiosim_explore_opts opts(const char *name,
					enum vfiosim_strategy st, int bound)
{
	struct vfiosim_explore_opts o;

	vfiosim_explore_opts_init(&o);
	o.strategy = st;
	o.name = name;
	o.preemption_bound = bound;
	o.iterations = st == VFIOSIM_STRATEGY_DFS ? 0 : 1000;
	o.pct_depth = 2;
	return o;
}

/* Replays @r's token and checks that the same failure and trace come back. */
static void assert_replays(const struct vfiosim_config *c,
			   struct vfiosim_explore_opts o,
			   void (*fn)(struct vfiosim_world *, void *),
			   const struct vfiosim_explore_result *r)
{
	struct vfiosim_explore_result p;

	o.replay = r->failure.token;
	ck_assert_int_eq(vfiosim_explore(c, &o, fn, NULL, &p), 0);
	ck_assert(p.replayed);
	ck_assert(p.failed);
	ck_assert_int_eq(p.failure.kind, r->failure.kind);
	ck_assert_str_eq(p.trace, r->trace);
	ck_assert_str_eq(p.failure.report, r->failure.report);
	vfiosim_explore_result_release(&p);
}

START_TEST(abba_lock_order)
{
	struct vfiosim_explore_opts o = opts("abba", VFIOSIM_STRATEGY_DFS, 2);
	struct vfiosim_explore_result r;

	vfiosim_ck_explore_finds(NULL, &o, scenario_abba, NULL,
				 VFIOSIM_FAIL_LOCK_ORDER, &r);
	/* lockdep needs no unlucky schedule: the first one shows it. */
	ck_assert_uint_eq(r.failing_schedule, 0);
	ck_assert(tu_contains(r.failure.report, "lock(lock_A);"));
	ck_assert(tu_contains(r.failure.report, "lock(lock_B);"));
	ck_assert(!tu_contains(r.trace, "blocks on lock_"));
	assert_replays(NULL, o, scenario_abba, &r);
	vfiosim_explore_result_release(&r);
}
END_TEST

START_TEST(abba_real_deadlock)
{
	struct vfiosim_explore_opts o = opts("abba", VFIOSIM_STRATEGY_DFS, 2);
	struct vfiosim_explore_result r;
	struct vfiosim_config c;

	vfiosim_config_init(&c);
	c.lockdep = false;
	vfiosim_ck_explore_finds(&c, &o, scenario_abba, NULL,
				 VFIOSIM_FAIL_DEADLOCK, &r);
	ck_assert(tu_contains(r.failure.report, "Wait-for cycle:"));
	ck_assert(
		tu_contains(r.failure.report, "\"ab\" waits for mutex lock_B"));
	ck_assert(
		tu_contains(r.failure.report, "\"ba\" waits for mutex lock_A"));
	ck_assert(tu_contains(r.failure.report,
			      "held by T2 \"ba\", taken at scenarios.c:"));
	ck_assert(tu_contains(r.failure.report,
			      "held by T1 \"ab\", taken at scenarios.c:"));
	ck_assert(tu_contains(r.failure.report, "-> back to"));
	assert_replays(&c, o, scenario_abba, &r);
	vfiosim_explore_result_release(&r);
}
END_TEST

START_TEST(three_lock_cycle)
{
	struct vfiosim_explore_opts o =
		opts("three-lock-cycle", VFIOSIM_STRATEGY_DFS, 2);
	struct vfiosim_explore_result r;
	struct vfiosim_config c;

	vfiosim_ck_explore_finds(NULL, &o, scenario_three_lock_cycle, NULL,
				 VFIOSIM_FAIL_LOCK_ORDER, &r);
	ck_assert(tu_contains(r.failure.report, "Chain exists of"));
	vfiosim_explore_result_release(&r);
	vfiosim_config_init(&c);
	c.lockdep = false;
	vfiosim_ck_explore_finds(&c, &o, scenario_three_lock_cycle, NULL,
				 VFIOSIM_FAIL_DEADLOCK, &r);
	ck_assert_uint_eq(tu_count(r.failure.report, "waits for mutex lock_"),
			  6);
	ck_assert(tu_contains(r.failure.report, "-> back to"));
	assert_replays(&c, o, scenario_three_lock_cycle, &r);
	vfiosim_explore_result_release(&r);
}
END_TEST

static void assert_lost_update_report(const struct vfiosim_explore_result *r)
{
	ck_assert(tu_contains(r->failure.message, "lost update: counter=1"));
	/* The interleaving shows both threads reading the same value. */
	ck_assert_uint_eq(tu_count(r->failure.report, "note: read counter=0"),
			  2);
	ck_assert_uint_eq(tu_count(r->failure.report, "note: wrote counter=1"),
			  2);
	ck_assert(tu_contains(r->failure.report, "notify unmap_chain"));
	ck_assert(tu_contains(r->failure.report,
			      "replay token: vfs1:lost-update:"));
}

START_TEST(lost_update_by_pct)
{
	struct vfiosim_explore_opts o =
		opts("lost-update", VFIOSIM_STRATEGY_PCT, 2);
	struct vfiosim_explore_result r;

	vfiosim_ck_explore_finds(NULL, &o, scenario_lost_update, NULL,
				 VFIOSIM_FAIL_ASSERT, &r);
	ck_assert_uint_lt(r.failing_schedule, 1000);
	assert_lost_update_report(&r);
	assert_replays(NULL, o, scenario_lost_update, &r);
	vfiosim_explore_result_release(&r);
}
END_TEST

START_TEST(lost_update_by_dfs)
{
	struct vfiosim_explore_opts o =
		opts("lost-update", VFIOSIM_STRATEGY_DFS, 2);
	struct vfiosim_explore_result r;

	vfiosim_ck_explore_finds(NULL, &o, scenario_lost_update, NULL,
				 VFIOSIM_FAIL_ASSERT, &r);
	assert_lost_update_report(&r);
	assert_replays(NULL, o, scenario_lost_update, &r);
	vfiosim_explore_result_release(&r);
}
END_TEST

START_TEST(lost_update_fixed_passes)
{
	struct vfiosim_explore_opts o =
		opts("lost-update-fixed", VFIOSIM_STRATEGY_DFS, 2);
	struct vfiosim_explore_result r;

	vfiosim_ck_explore(NULL, &o, scenario_lost_update_fixed, NULL);
	o.strategy = VFIOSIM_STRATEGY_PCT;
	o.iterations = 1000;
	vfiosim_ck_explore(NULL, &o, scenario_lost_update_fixed, NULL);
	/* The exhaustive DFS really covered the bounded space. */
	o.strategy = VFIOSIM_STRATEGY_DFS;
	o.iterations = 0;
	ck_assert_int_eq(vfiosim_explore(NULL, &o, scenario_lost_update_fixed,
					 NULL, &r),
			 0);
	ck_assert(r.exhausted);
	ck_assert_uint_gt(r.schedules, 100);
	vfiosim_explore_result_release(&r);
}
END_TEST

static Suite *race_suite(void)
{
	Suite *s = suite_create("race");
	TCase *tc = tcase_create("race");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, abba_lock_order);
	tcase_add_test(tc, abba_real_deadlock);
	tcase_add_test(tc, three_lock_cycle);
	tcase_add_test(tc, lost_update_by_pct);
	tcase_add_test(tc, lost_update_by_dfs);
	tcase_add_test(tc, lost_update_fixed_passes);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(race_suite)
