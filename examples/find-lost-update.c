/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * find-lost-update.c - the smallest useful libvfiosim program.
 *
 * Two threads increment a counter: each reads it under a mutex, drops the
 * mutex (as type1 drops iommu->lock around the unmap notifier), retakes it
 * and writes back what it read.  PCT finds the lost update; the replay
 * token runs the same interleaving again.
 *
 *   cc find-lost-update.c $(pkg-config --cflags --libs libvfiosim)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvfiosim/libvfiosim.h>

struct state {
	struct vfiosim_world *w;
	struct vfiosim_mutex *lock;
	int counter;
};

static void worker(void *p)
{
	struct state *s = p;
	int v;

	vfiosim_mutex_lock(s->lock);
	v = s->counter;
	vfiosim_mutex_unlock(s->lock);
	vfiosim_sched_point(s->w, "callback without the lock");
	vfiosim_mutex_lock(s->lock);
	s->counter = v + 1;
	vfiosim_mutex_unlock(s->lock);
}

/* Runs once per schedule, in a fresh world: keep state in world memory. */
static void scenario(struct vfiosim_world *w, void *arg)
{
	struct state *s = vfiosim_zalloc(w, sizeof(*s), NULL);
	struct vfiosim_thread *a, *b;

	(void)arg;
	VFIOSIM_ASSERT(w, s != NULL, "out of memory");
	s->w = w;
	s->lock = vfiosim_mutex_new(w, "counter_lock");
	a = vfiosim_thread_create(w, "a", worker, s);
	b = vfiosim_thread_create(w, "b", worker, s);
	vfiosim_thread_join(a);
	vfiosim_thread_join(b);
	VFIOSIM_ASSERT(w, s->counter == 2, "lost update: counter=%d",
		       s->counter);
}

int main(void)
{
	struct vfiosim_explore_opts o;
	struct vfiosim_explore_result found, again;
	int ok;

	vfiosim_explore_opts_init(&o);
	o.name = "find-lost-update";
	o.strategy = VFIOSIM_STRATEGY_PCT;
	o.iterations = 1000;
	o.ignore_env = true;
	if (vfiosim_explore(NULL, &o, scenario, NULL, &found) ||
	    !found.failed) {
		fprintf(stderr, "the lost update was not found\n");
		return 1;
	}
	printf("found after %lu schedules:\n%s\n", found.schedules,
	       found.failure.report);

	o.replay = found.failure.token;
	if (vfiosim_explore(NULL, &o, scenario, NULL, &again)) {
		vfiosim_explore_result_release(&found);
		return 1;
	}
	ok = again.failed && !strcmp(again.trace, found.trace);
	printf("replaying %s: %s\n", found.failure.token,
	       ok ? "same interleaving, same failure" : "DIFFERENT");
	vfiosim_explore_result_release(&again);
	vfiosim_explore_result_release(&found);
	return ok ? 0 : 1;
}
