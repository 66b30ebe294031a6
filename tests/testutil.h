/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * testutil.h - shared helpers for the Check test programs.
 */
#ifndef VFIOSIM_TESTUTIL_H
#define VFIOSIM_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvfiosim/check.h>
#include <libvfiosim/libvfiosim.h>

/* A world with the default configuration (deterministic, lockdep on). */
static inline struct vfiosim_world *tu_world(const struct vfiosim_config *cfg)
{
	struct vfiosim_world *w = NULL;

	ck_assert_int_eq(vfiosim_world_create(cfg, &w), 0);
	ck_assert_ptr_nonnull(w);
	return w;
}

/* Runs @fn once in a fresh world; returns the world (destroy it). */
static inline struct vfiosim_world *
tu_run(const struct vfiosim_config *cfg,
       void (*fn)(struct vfiosim_world *w, void *arg), void *arg, int *rc)
{
	struct vfiosim_world *w = tu_world(cfg);

	*rc = vfiosim_world_run(w, fn, arg);
	return w;
}

/*
 * Runs @fn once in a fresh world that must end without a failure (each one
 * is printed first); returns the world (destroy it).
 */
static inline struct vfiosim_world *
tu_run_clean(const struct vfiosim_config *cfg,
	     void (*fn)(struct vfiosim_world *w, void *arg), void *arg)
{
	int rc;
	struct vfiosim_world *w = tu_run(cfg, fn, arg, &rc);

	for (size_t i = 0; i < vfiosim_world_failure_count(w); i++)
		fprintf(stderr, "%s\n", vfiosim_world_failure(w, i)->report);
	ck_assert_int_eq(rc, 0);
	return w;
}

/*
 * Destroy @w and check that its teardown recorded no failure of its own
 * (a leaked frame, mm, lock or allocation): vfiosim_world_destroy() counts
 * every failure of the world's life, so it must return what was recorded
 * before.
 */
static inline void tu_destroy(struct vfiosim_world *w)
{
	int before = (int)vfiosim_world_failure_count(w);
	int n = vfiosim_world_destroy(w);

	ck_assert_msg(n == before,
		      "world teardown recorded %d failure(s) of its own",
		      n - before);
}

/* Index of the first failure of @kind in @w, or -1. */
static inline int tu_find_failure(const struct vfiosim_world *w,
				  enum vfiosim_failure_kind kind)
{
	for (size_t i = 0; i < vfiosim_world_failure_count(w); i++)
		if (vfiosim_world_failure(w, i)->kind == kind)
			return (int)i;
	return -1;
}

static inline bool tu_contains(const char *hay, const char *needle)
{
	return hay && needle && strstr(hay, needle) != NULL;
}

/* Counts occurrences of @needle in @hay. */
static inline unsigned int tu_count(const char *hay, const char *needle)
{
	unsigned int n = 0;
	size_t len = strlen(needle);

	for (const char *p = hay; p && (p = strstr(p, needle)); p += len)
		n++;
	return n;
}

/* Exploration options for tests: never read VFIOSIM_REPLAY behind their
 * back (a test that wants it says so). */
static inline struct vfiosim_explore_opts
tu_opts(const char *name, enum vfiosim_strategy st, unsigned long iterations)
{
	struct vfiosim_explore_opts o;

	vfiosim_explore_opts_init(&o);
	o.strategy = st;
	o.iterations = iterations;
	o.name = name;
	o.ignore_env = true;
	return o;
}

#define TU_MAIN(suite_fn)                                 \
	int main(void)                                    \
	{                                                 \
		SRunner *sr = srunner_create(suite_fn()); \
		int nf;                                   \
		srunner_run_all(sr, CK_ENV);              \
		nf = srunner_ntests_failed(sr);           \
		srunner_free(sr);                         \
		return nf ? EXIT_FAILURE : EXIT_SUCCESS;  \
	}

#endif
