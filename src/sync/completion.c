/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * completion.c - struct completion, with virtual-time timeouts.
 *
 * What it models: complete() lets one waiter (present or future) through,
 * complete_all() all of them for good, reinit_completion() starts over.
 * A timed wait in deterministic mode is a scheduler choice: while it waits
 * the thread is a candidate whose choice means "the timeout fired", so both
 * outcomes are explored; the virtual clock jumps to the deadline when the
 * timeout is chosen.  Lockdep does not track completions (the kernel's
 * cross-release checking was removed for its false positives).
 *
 * Fields: done and waiters change with the world's hand-off
 * (deterministic) or under host (free-running).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#include "sync/sync_internal.h"

#define DONE_ALL UINT_MAX

static const struct sim_waitable_ops completion_ops = {
	.kind = "completion",
	.owners = NULL,
};

int sync_completion_init(struct vfiosim_world *w, struct vfiosim_completion *c,
			 const char *name, const char *file, int line)
{
	memset(c, 0, sizeof(*c));
	c->w = w;
	c->name = name ? name : "(completion)";
	c->file = file;
	c->line = line;
	if (pthread_mutex_init(&c->host, NULL))
		return -ENOMEM;
	if (pthread_cond_init(&c->host_cond, NULL)) {
		pthread_mutex_destroy(&c->host);
		return -ENOMEM;
	}
	return 0;
}

void sync_completion_destroy(struct vfiosim_completion *c)
{
	pthread_cond_destroy(&c->host_cond);
	pthread_mutex_destroy(&c->host);
}

VFIOSIM_EXPORT struct vfiosim_completion *
vfiosim_completion_new_at(struct vfiosim_world *w, const char *name,
			  const char *file, int line)
{
	struct vfiosim_completion *c;

	if (!w)
		return NULL;
	c = vfiosim_zalloc(w, sizeof(*c), "sync.completion_new");
	if (!c)
		return NULL;
	if (sync_completion_init(w, c, name, file, line)) {
		vfiosim_free(w, c);
		return NULL;
	}
	c->allocated = true;
	return c;
}

VFIOSIM_EXPORT void vfiosim_completion_free(struct vfiosim_completion *c)
{
	if (!c)
		return;
	if (c->waiters) {
		vfiosim_fail_at(c->w, VFIOSIM_FAIL_WARN, __FILE__, __LINE__,
				"completion %s freed with waiters", c->name);
		return;
	}
	sync_completion_destroy(c);
	if (c->allocated)
		vfiosim_free(c->w, c);
}

static void consume(struct vfiosim_completion *c)
{
	if (c->done != DONE_ALL)
		c->done--;
}

/* Free-running wait; @timeout_ns == 0 waits forever.  Returns timed out. */
static bool free_wait(struct vfiosim_completion *c, uint64_t timeout_ns)
{
	struct timespec ts;
	bool timed_out = false;

	pthread_mutex_lock(&c->host);
	if (timeout_ns) {
		/* Real time is capped: virtual time is what the model sees. */
		uint64_t real = timeout_ns < 50000000ull ? timeout_ns :
							   50000000ull;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)(real % 1000000000ull);
		ts.tv_sec += (time_t)(real / 1000000000ull) +
			     ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
	}
	while (!c->done && !timed_out) {
		if (timeout_ns)
			timed_out = pthread_cond_timedwait(&c->host_cond,
							   &c->host,
							   &ts) == ETIMEDOUT;
		else
			pthread_cond_wait(&c->host_cond, &c->host);
	}
	if (c->done) {
		timed_out = false;
		consume(c);
	}
	pthread_mutex_unlock(&c->host);
	return timed_out;
}

VFIOSIM_EXPORT void vfiosim_wait_for_completion_at(struct vfiosim_completion *c,
						   const char *file, int line)
{
	struct vfiosim_thread *t;

	if (!c)
		return;
	t = sync_thread(c->w, "wait_for_completion", c->name, file, line);
	if (!t)
		return;
	if (sync_is_host(t)) {
		/* Nothing else runs: a wait that is not done never ends. */
		if (c->done)
			consume(c);
		else
			sync_warn_no_thread(c->w,
					    "wait_for_completion (never "
					    "completed)",
					    c->name, file, line);
		return;
	}
	if (!sim_deterministic(c->w)) {
		free_wait(c, 0);
		sim_event(c->w, t, EV_WAIT, 0, c->name, file, line, NULL);
		return;
	}
	sim_yield(c->w);
	while (!c->done) {
		wq_add(&c->waiters, t, 0);
		sim_block(c->w, &completion_ops, c, c->name, 0, file, line);
	}
	consume(c);
	sim_event(c->w, t, EV_WAIT, 0, c->name, file, line, NULL);
}

VFIOSIM_EXPORT uint64_t vfiosim_wait_for_completion_timeout_at(
	struct vfiosim_completion *c, uint64_t timeout_ns, const char *file,
	int line)
{
	struct vfiosim_world *w;
	struct vfiosim_thread *t;
	uint64_t deadline;

	if (!c)
		return 0;
	w = c->w;
	t = sync_thread(w, "wait_for_completion_timeout", c->name, file, line);
	if (!t)
		return 0;
	if (sync_is_host(t)) {
		if (c->done) {
			consume(c);
			return timeout_ns ? timeout_ns : 1;
		}
		w->now += timeout_ns; /* nothing can complete it meanwhile */
		return 0;
	}
	if (!timeout_ns)
		timeout_ns = 1;
	deadline = w->now + timeout_ns;
	if (!sim_deterministic(w)) {
		if (free_wait(c, timeout_ns)) {
			sim_lock(w);
			if (w->now < deadline)
				w->now = deadline;
			sim_unlock(w);
			sim_event(w, t, EV_TIMEOUT, 0, c->name, file, line,
				  NULL);
			return 0;
		}
		sim_event(w, t, EV_WAIT, 0, c->name, file, line, NULL);
		return timeout_ns;
	}
	sim_yield(w);
	while (!c->done) {
		wq_add(&c->waiters, t, 0);
		if (sim_block(w, &completion_ops, c, c->name, deadline, file,
			      line)) {
			wq_del(&c->waiters, t);
			sim_event(w, t, EV_TIMEOUT, 0, c->name, file, line,
				  NULL);
			return 0;
		}
	}
	consume(c);
	sim_event(w, t, EV_WAIT, 0, c->name, file, line, NULL);
	return w->now < deadline ? deadline - w->now : 1;
}

VFIOSIM_EXPORT bool
vfiosim_try_wait_for_completion(struct vfiosim_completion *c)
{
	bool ok = false;

	if (!c)
		return false;
	if (!sim_deterministic(c->w))
		pthread_mutex_lock(&c->host);
	if (c->done) {
		consume(c);
		ok = true;
	}
	if (!sim_deterministic(c->w))
		pthread_mutex_unlock(&c->host);
	return ok;
}

VFIOSIM_EXPORT void vfiosim_complete_at(struct vfiosim_completion *c, bool all,
					const char *file, int line)
{
	struct vfiosim_thread *t;

	if (!c)
		return;
	sim_event(c->w, sim_current(c->w), EV_COMPLETE, all, c->name, file,
		  line, NULL);
	if (!sim_deterministic(c->w)) {
		pthread_mutex_lock(&c->host);
		if (all)
			c->done = DONE_ALL;
		else if (c->done != DONE_ALL)
			c->done++;
		pthread_cond_broadcast(&c->host_cond);
		pthread_mutex_unlock(&c->host);
		return;
	}
	if (all)
		c->done = DONE_ALL;
	else if (c->done != DONE_ALL)
		c->done++;
	if (all) {
		while ((t = wq_pop(&c->waiters)))
			sim_wake(c->w, t);
	} else if ((t = wq_pop(&c->waiters))) {
		sim_wake(c->w, t);
	}
}

VFIOSIM_EXPORT void vfiosim_reinit_completion(struct vfiosim_completion *c)
{
	if (!c)
		return;
	if (!sim_deterministic(c->w))
		pthread_mutex_lock(&c->host);
	c->done = 0;
	if (!sim_deterministic(c->w))
		pthread_mutex_unlock(&c->host);
}

VFIOSIM_EXPORT bool vfiosim_completion_done(const struct vfiosim_completion *c)
{
	return c && c->done;
}
