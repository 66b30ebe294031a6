/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mutex.c - struct mutex for simulated threads.
 *
 * What it models: the kernel mutex's observable contract (one owner,
 * sleeping waiters, only the owner unlocks, trylock never sleeps), not its
 * implementation.  Deterministic mode: taking the mutex is a scheduling
 * point; a thread that finds it held queues FIFO and blocks; unlock wakes
 * the first waiter, which retries (another thread may get there first, as
 * with the kernel's optimistic spinning).  Free-running mode: a pthread
 * mutex.  Lockdep sees every acquisition before it happens.
 *
 * Fields: owner, owner_file/line and waiters change only with the world's
 * hand-off (deterministic) or under host (free-running, owner only).
 */
#include <errno.h>
#include <string.h>

#include "sync/sync_internal.h"

static unsigned int mutex_owners(const void *obj, struct vfiosim_thread **out,
				 const char **files, int *lines,
				 unsigned int max)
{
	const struct vfiosim_mutex *m = obj;

	if (!m->owner || !max)
		return 0;
	out[0] = m->owner;
	files[0] = m->owner_file;
	lines[0] = m->owner_line;
	return 1;
}

static const struct sim_waitable_ops mutex_ops = {
	.kind = "mutex",
	.owners = mutex_owners,
};

int sync_mutex_init(struct vfiosim_world *w, struct vfiosim_mutex *m,
		    const char *name, const char *file, int line)
{
	memset(m, 0, sizeof(*m));
	m->w = w;
	ld_map_init(&m->dep, name, file, line);
	if (pthread_mutex_init(&m->host, NULL))
		return -ENOMEM;
	return 0;
}

void sync_mutex_destroy(struct vfiosim_mutex *m)
{
	pthread_mutex_destroy(&m->host);
}

VFIOSIM_EXPORT struct vfiosim_mutex *
vfiosim_mutex_new_at(struct vfiosim_world *w, const char *name,
		     const char *file, int line)
{
	struct vfiosim_mutex *m;

	if (!w)
		return NULL;
	m = vfiosim_zalloc(w, sizeof(*m), "sync.mutex_new");
	if (!m)
		return NULL;
	if (sync_mutex_init(w, m, name, file, line)) {
		vfiosim_free(w, m);
		return NULL;
	}
	m->allocated = true;
	return m;
}

VFIOSIM_EXPORT void vfiosim_mutex_free(struct vfiosim_mutex *m)
{
	if (!m)
		return;
	if (m->owner) {
		vfiosim_fail_at(m->w, VFIOSIM_FAIL_WARN, __FILE__, __LINE__,
				"mutex_destroy(%s) while held by %s",
				m->dep.name, m->owner->name);
		return;
	}
	sync_mutex_destroy(m);
	if (m->allocated)
		vfiosim_free(m->w, m);
}

static void took(struct vfiosim_mutex *m, struct vfiosim_thread *t,
		 const char *file, int line)
{
	m->owner = t;
	m->owner_file = file;
	m->owner_line = line;
	sim_event(m->w, t, EV_ACQUIRE, LM_EXCL, m->dep.name, file, line, NULL);
}

VFIOSIM_EXPORT void vfiosim_mutex_lock_at(struct vfiosim_mutex *m,
					  unsigned int subclass,
					  const char *file, int line)
{
	struct vfiosim_world *w;
	struct vfiosim_thread *t;

	if (!m)
		return;
	w = m->w;
	t = sync_thread(w, "mutex_lock", m->dep.name, file, line);
	if (!t)
		return;
	if (sync_is_host(t)) {
		if (m->owner)
			sync_host_busy(w, "mutex_lock", m->dep.name, m->owner,
				       file, line);
		took(m, t, file, line);
		return;
	}
	if (!sim_deterministic(w)) {
		ld_acquire(w, &m->dep, m, subclass, LM_EXCL, false, file, line);
		pthread_mutex_lock(&m->host);
		took(m, t, file, line);
		return;
	}
	sim_yield(w);
	ld_acquire(w, &m->dep, m, subclass, LM_EXCL, false, file, line);
	while (m->owner) {
		wq_add(&m->waiters, t, 0);
		sim_block(w, &mutex_ops, m, m->dep.name, 0, file, line);
	}
	took(m, t, file, line);
}

VFIOSIM_EXPORT int vfiosim_mutex_trylock_at(struct vfiosim_mutex *m,
					    const char *file, int line)
{
	struct vfiosim_world *w;
	struct vfiosim_thread *t;

	if (!m)
		return 0;
	w = m->w;
	t = sync_thread(w, "mutex_trylock", m->dep.name, file, line);
	if (!t)
		return 0;
	if (sync_is_host(t)) {
		if (m->owner)
			return 0;
		took(m, t, file, line);
		return 1;
	}
	if (!sim_deterministic(w)) {
		if (pthread_mutex_trylock(&m->host)) {
			sim_event(w, t, EV_TRYFAIL, 0, m->dep.name, file, line,
				  NULL);
			return 0;
		}
		ld_acquire(w, &m->dep, m, 0, LM_EXCL, true, file, line);
		took(m, t, file, line);
		return 1;
	}
	sim_yield(w);
	if (m->owner) {
		sim_event(w, t, EV_TRYFAIL, 0, m->dep.name, file, line, NULL);
		return 0;
	}
	ld_acquire(w, &m->dep, m, 0, LM_EXCL, true, file, line);
	took(m, t, file, line);
	return 1;
}

VFIOSIM_EXPORT void vfiosim_mutex_unlock_at(struct vfiosim_mutex *m,
					    const char *file, int line)
{
	struct vfiosim_world *w;
	struct vfiosim_thread *t, *waiter;

	if (!m)
		return;
	w = m->w;
	t = sync_thread(w, "mutex_unlock", m->dep.name, file, line);
	if (!t)
		return;
	if (m->owner != t) {
		vfiosim_fail_at(
			w, VFIOSIM_FAIL_WARN, file, line,
			"bad unlock balance detected: thread %s unlocks "
			"mutex %s, %s%s",
			t->name, m->dep.name,
			m->owner ? "held by " : "which is not locked",
			m->owner ? m->owner->name : "");
		return;
	}
	ld_release(w, m, m->dep.name, file, line);
	m->owner = NULL;
	sim_event(w, t, EV_RELEASE, LM_EXCL, m->dep.name, file, line, NULL);
	if (!sim_deterministic(w)) {
		pthread_mutex_unlock(&m->host);
		return;
	}
	waiter = wq_pop(&m->waiters);
	if (waiter)
		sim_wake(w, waiter);
}

VFIOSIM_EXPORT bool vfiosim_mutex_is_locked(const struct vfiosim_mutex *m)
{
	return m && m->owner;
}

VFIOSIM_EXPORT const char *vfiosim_mutex_name(const struct vfiosim_mutex *m)
{
	return m ? m->dep.name : "-";
}
