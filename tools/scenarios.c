/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * scenarios.c - small scenarios that show what the explorer finds.
 *
 * Each keeps its state in world memory (vfiosim_zalloc), never in the
 * shared argument, so that every schedule starts from scratch.
 */
#include <string.h>

#include "scenarios.h"

/* --------------------------------------------------- ABBA lock inversion */

struct abba {
	struct vfiosim_mutex *a, *b;
};

static void abba_t1(void *p)
{
	struct abba *s = p;

	vfiosim_mutex_lock(s->a);
	vfiosim_mutex_lock(s->b);
	vfiosim_mutex_unlock(s->b);
	vfiosim_mutex_unlock(s->a);
}

static void abba_t2(void *p)
{
	struct abba *s = p;

	vfiosim_mutex_lock(s->b);
	vfiosim_mutex_lock(s->a);
	vfiosim_mutex_unlock(s->a);
	vfiosim_mutex_unlock(s->b);
}

void scenario_abba(struct vfiosim_world *w, void *arg)
{
	struct abba *s = vfiosim_zalloc(w, sizeof(*s), NULL);
	struct vfiosim_thread *t1, *t2;

	(void)arg;
	VFIOSIM_ASSERT(w, s != NULL, "out of memory");
	s->a = vfiosim_mutex_new(w, "lock_A");
	s->b = vfiosim_mutex_new(w, "lock_B");
	t1 = vfiosim_thread_create(w, "ab", abba_t1, s);
	t2 = vfiosim_thread_create(w, "ba", abba_t2, s);
	VFIOSIM_ASSERT(w, t1 && t2, "thread creation failed");
	vfiosim_thread_join(t1);
	vfiosim_thread_join(t2);
}

/* ------------------------------------------------- three-lock cycle */

struct cycle3 {
	struct vfiosim_world *w;
	struct vfiosim_mutex *m[3];
	struct cycle3_arg {
		struct cycle3 *s;
		unsigned int i;
	} args[3];
};

static void cycle3_thread(void *p)
{
	struct cycle3_arg *a = p;
	struct vfiosim_mutex *first = a->s->m[a->i];
	struct vfiosim_mutex *second = a->s->m[(a->i + 1) % 3];

	vfiosim_mutex_lock(first);
	vfiosim_mutex_lock(second);
	vfiosim_mutex_unlock(second);
	vfiosim_mutex_unlock(first);
}

void scenario_three_lock_cycle(struct vfiosim_world *w, void *arg)
{
	static const char *const names[3] = { "lock_X", "lock_Y", "lock_Z" };
	static const char *const tnames[3] = { "xy", "yz", "zx" };
	struct cycle3 *s = vfiosim_zalloc(w, sizeof(*s), NULL);
	struct vfiosim_thread *t[3];

	(void)arg;
	VFIOSIM_ASSERT(w, s != NULL, "out of memory");
	s->w = w;
	for (unsigned int i = 0; i < 3; i++)
		s->m[i] = vfiosim_mutex_new(w, names[i]);
	for (unsigned int i = 0; i < 3; i++) {
		s->args[i] = (struct cycle3_arg){ s, i };
		t[i] = vfiosim_thread_create(w, tnames[i], cycle3_thread,
					     &s->args[i]);
		VFIOSIM_ASSERT(w, t[i] != NULL, "thread creation failed");
	}
	for (unsigned int i = 0; i < 3; i++)
		vfiosim_thread_join(t[i]);
}

/* ---------------------------- lost update around a dropped lock */

/*
 * The shape of type1's DMA-unmap notification: read state under the lock,
 * drop the lock to call a notifier (a vendor driver that may block), retake
 * it and act on what was read before.  Two threads doing it concurrently
 * lose an update unless the state is read again after retaking the lock.
 */
struct lost_update {
	struct vfiosim_world *w;
	struct vfiosim_mutex *lock;
	struct vfiosim_notifier_head *chain;
	struct vfiosim_notifier_block nb;
	int counter;
	bool revalidate;
};

static int lu_callback(struct vfiosim_notifier_block *nb, unsigned long action,
		       void *data)
{
	(void)nb;
	(void)action;
	(void)data;
	return VFIOSIM_NOTIFY_OK;
}

static void lu_worker(void *p)
{
	struct lost_update *s = p;
	int v;

	vfiosim_mutex_lock(s->lock);
	v = s->counter;
	vfiosim_trace_note(s->w, "read counter=%d", v);
	vfiosim_mutex_unlock(s->lock);

	vfiosim_notifier_call_chain(s->chain, 1, NULL);

	vfiosim_mutex_lock(s->lock);
	if (s->revalidate)
		v = s->counter;
	s->counter = v + 1;
	vfiosim_trace_note(s->w, "wrote counter=%d", v + 1);
	vfiosim_mutex_unlock(s->lock);
}

static void lost_update_common(struct vfiosim_world *w, bool revalidate)
{
	struct lost_update *s = vfiosim_zalloc(w, sizeof(*s), NULL);
	struct vfiosim_thread *t1, *t2;

	VFIOSIM_ASSERT(w, s != NULL, "out of memory");
	s->w = w;
	s->revalidate = revalidate;
	s->lock = vfiosim_mutex_new(w, "counter_lock");
	s->chain = vfiosim_notifier_head_new(w, "unmap_chain");
	VFIOSIM_ASSERT(w, s->lock && s->chain, "out of memory");
	s->nb.notifier_call = lu_callback;
	VFIOSIM_ASSERT(w,
		       vfiosim_notifier_chain_register(s->chain, &s->nb) == 0,
		       "register failed");
	t1 = vfiosim_thread_create(w, "unmap1", lu_worker, s);
	t2 = vfiosim_thread_create(w, "unmap2", lu_worker, s);
	VFIOSIM_ASSERT(w, t1 && t2, "thread creation failed");
	vfiosim_thread_join(t1);
	vfiosim_thread_join(t2);
	VFIOSIM_ASSERT(w, s->counter == 2,
		       "lost update: counter=%d after two "
		       "increments",
		       s->counter);
}

void scenario_lost_update(struct vfiosim_world *w, void *arg)
{
	(void)arg;
	lost_update_common(w, false);
}

void scenario_lost_update_fixed(struct vfiosim_world *w, void *arg)
{
	(void)arg;
	lost_update_common(w, true);
}

const struct vfiosim_scenario vfiosim_scenarios[] = {
	{ "abba", "two threads take two mutexes in opposite orders",
	  scenario_abba, VFIOSIM_STRATEGY_DFS, 0, 2, 2, true,
	  VFIOSIM_FAIL_LOCK_ORDER },
	{ "three-lock-cycle",
	  "three threads, three mutexes, a cycle of length three",
	  scenario_three_lock_cycle, VFIOSIM_STRATEGY_DFS, 0, 2, 2, true,
	  VFIOSIM_FAIL_LOCK_ORDER },
	{ "lost-update",
	  "a counter read under a mutex that is dropped around a "
	  "notifier call and retaken without revalidation",
	  scenario_lost_update, VFIOSIM_STRATEGY_PCT, 1000, 2, 2, true,
	  VFIOSIM_FAIL_ASSERT },
	{ "lost-update-fixed",
	  "the same, re-reading the counter after retaking "
	  "the mutex (no failure expected)",
	  scenario_lost_update_fixed, VFIOSIM_STRATEGY_DFS, 0, 2, 2, true,
	  VFIOSIM_FAIL_NR_KINDS },
};

const unsigned int vfiosim_nscenarios =
	sizeof(vfiosim_scenarios) / sizeof(vfiosim_scenarios[0]);

const struct vfiosim_scenario *vfiosim_scenario_find(const char *name)
{
	for (unsigned int i = 0; i < vfiosim_nscenarios; i++)
		if (!strcmp(vfiosim_scenarios[i].name, name))
			return &vfiosim_scenarios[i];
	return NULL;
}
