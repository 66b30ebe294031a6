/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rwsem.c - struct rw_semaphore for simulated threads (mmap_lock, the
 * notifier chains' rwsem, vfio-pci's memory_lock).
 *
 * What it models: readers share, a writer excludes everyone, and -- as in
 * the kernel -- a reader that arrives while a writer is queued waits behind
 * that writer, so a thread that takes the semaphore for reading twice can
 * deadlock against a writer in between.  downgrade_write() turns the
 * writer into a reader and lets queued readers in.  Release wakes every
 * waiter; each rechecks and queues again if it still cannot go.
 *
 * Fields: writer, readers[], waiters and waiting_writers change only with
 * the world's hand-off (deterministic); in free-running mode the host
 * pthread rwlock provides exclusion and host_meta guards readers[].
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync_internal.h"

#define WQ_WRITER 1u

static unsigned int rwsem_owners(const void *obj, struct vfiosim_thread **out,
				 const char **files, int *lines,
				 unsigned int max)
{
	const struct vfiosim_rwsem *s = obj;
	unsigned int n = 0;

	if (s->writer && n < max) {
		out[n] = s->writer;
		files[n] = s->writer_file;
		lines[n++] = s->writer_line;
	}
	for (unsigned int i = 0; i < s->nreaders && n < max; i++) {
		out[n] = s->readers[i].t;
		files[n] = s->readers[i].file;
		lines[n++] = s->readers[i].line;
	}
	/*
	 * A reader queued behind a waiting writer waits for that writer too:
	 * list the queued writers after the holders.
	 */
	for (const struct vfiosim_thread *q = s->waiters; q && n < max;
	     q = q->wq_next) {
		if (q->wq_flags & WQ_WRITER) {
			out[n] = (struct vfiosim_thread *)q;
			files[n] = NULL;
			lines[n++] = 0;
		}
	}
	return n;
}

static const struct sim_waitable_ops rwsem_read_ops = {
	.kind = "rwsem (read)",
	.owners = rwsem_owners,
};

static const struct sim_waitable_ops rwsem_write_ops = {
	.kind = "rwsem (write)",
	.owners = rwsem_owners,
};

int sync_rwsem_init(struct vfiosim_world *w, struct vfiosim_rwsem *s,
		    const char *name, const char *file, int line)
{
	memset(s, 0, sizeof(*s));
	s->w = w;
	ld_map_init(&s->dep, name, file, line);
	if (pthread_rwlock_init(&s->host, NULL))
		return -ENOMEM;
	if (pthread_mutex_init(&s->host_meta, NULL)) {
		pthread_rwlock_destroy(&s->host);
		return -ENOMEM;
	}
	return 0;
}

void sync_rwsem_destroy(struct vfiosim_rwsem *s)
{
	pthread_rwlock_destroy(&s->host);
	pthread_mutex_destroy(&s->host_meta);
	vfiosim_free(s->w, s->readers);
	s->readers = NULL;
}

VFIOSIM_EXPORT struct vfiosim_rwsem *
vfiosim_rwsem_new_at(struct vfiosim_world *w, const char *name,
		     const char *file, int line)
{
	struct vfiosim_rwsem *s;

	if (!w)
		return NULL;
	s = vfiosim_zalloc(w, sizeof(*s), "sync.rwsem_new");
	if (!s)
		return NULL;
	if (sync_rwsem_init(w, s, name, file, line)) {
		vfiosim_free(w, s);
		return NULL;
	}
	s->allocated = true;
	return s;
}

VFIOSIM_EXPORT void vfiosim_rwsem_free(struct vfiosim_rwsem *s)
{
	if (!s)
		return;
	if (s->writer || s->nreaders) {
		vfiosim_fail_at(s->w, VFIOSIM_FAIL_WARN, __FILE__, __LINE__,
				"rwsem %s freed while held", s->dep.name);
		return;
	}
	sync_rwsem_destroy(s);
	if (s->allocated)
		vfiosim_free(s->w, s);
}

static void meta_lock(struct vfiosim_rwsem *s)
{
	if (!sim_deterministic(s->w))
		pthread_mutex_lock(&s->host_meta);
}

static void meta_unlock(struct vfiosim_rwsem *s)
{
	if (!sim_deterministic(s->w))
		pthread_mutex_unlock(&s->host_meta);
}

static void add_reader(struct vfiosim_rwsem *s, struct vfiosim_thread *t,
		       const char *file, int line)
{
	meta_lock(s);
	if (s->nreaders == s->readers_cap) {
		/* World memory: a run abandoned mid-way leaks nothing. */
		unsigned int cap = s->readers_cap ? s->readers_cap * 2 : 4;
		struct rwsem_reader *n =
			sim_alloc_nofault(s->w, cap * sizeof(*s->readers));

		if (n) {
			if (s->nreaders)
				memcpy(n, s->readers,
				       s->nreaders * sizeof(*s->readers));
			vfiosim_free(s->w, s->readers);
			s->readers = n;
			s->readers_cap = cap;
		}
	}
	if (s->nreaders < s->readers_cap)
		s->readers[s->nreaders++] =
			(struct rwsem_reader){ t, file, line };
	meta_unlock(s);
	sim_event(s->w, t, EV_ACQUIRE, LM_READ, s->dep.name, file, line, NULL);
}

static bool del_reader(struct vfiosim_rwsem *s, struct vfiosim_thread *t)
{
	bool found = false;

	meta_lock(s);
	for (unsigned int i = 0; i < s->nreaders; i++) {
		if (s->readers[i].t == t) {
			s->readers[i] = s->readers[--s->nreaders];
			found = true;
			break;
		}
	}
	meta_unlock(s);
	return found;
}

static void set_writer(struct vfiosim_rwsem *s, struct vfiosim_thread *t,
		       const char *file, int line)
{
	s->writer = t;
	s->writer_file = file;
	s->writer_line = line;
	sim_event(s->w, t, EV_ACQUIRE, LM_WRITE, s->dep.name, file, line, NULL);
}

static void wake_all(struct vfiosim_rwsem *s)
{
	struct vfiosim_thread *t;

	while ((t = wq_pop(&s->waiters))) {
		if (t->wq_flags & WQ_WRITER)
			s->waiting_writers--;
		sim_wake(s->w, t);
	}
}

static struct vfiosim_thread *
need_thread(struct vfiosim_rwsem *s, const char *op, const char *file, int line)
{
	struct vfiosim_thread *t;

	if (!s)
		return NULL;
	t = sync_thread(s->w, op, s->dep.name, file, line);
	return t;
}

VFIOSIM_EXPORT void vfiosim_down_read_at(struct vfiosim_rwsem *s,
					 const char *file, int line)
{
	struct vfiosim_thread *t = need_thread(s, "down_read", file, line);

	if (!t)
		return;
	if (sync_is_host(t)) {
		if (s->writer)
			sync_host_busy(s->w, "down_read", s->dep.name,
				       s->writer, file, line);
		add_reader(s, t, file, line);
		return;
	}
	if (!sim_deterministic(s->w)) {
		ld_acquire(s->w, &s->dep, s, 0, LM_READ, false, file, line);
		pthread_rwlock_rdlock(&s->host);
		add_reader(s, t, file, line);
		return;
	}
	sim_yield(s->w);
	ld_acquire(s->w, &s->dep, s, 0, LM_READ, false, file, line);
	while (s->writer || s->waiting_writers) {
		wq_add(&s->waiters, t, 0);
		sim_block(s->w, &rwsem_read_ops, s, s->dep.name, 0, file, line);
	}
	add_reader(s, t, file, line);
}

VFIOSIM_EXPORT void vfiosim_down_write_at(struct vfiosim_rwsem *s,
					  unsigned int subclass,
					  const char *file, int line)
{
	struct vfiosim_thread *t = need_thread(s, "down_write", file, line);

	if (!t)
		return;
	if (!sim_deterministic(s->w)) {
		ld_acquire(s->w, &s->dep, s, subclass, LM_WRITE, false, file,
			   line);
		pthread_rwlock_wrlock(&s->host);
		set_writer(s, t, file, line);
		return;
	}
	sim_yield(s->w);
	ld_acquire(s->w, &s->dep, s, subclass, LM_WRITE, false, file, line);
	while (s->writer || s->nreaders) {
		wq_add(&s->waiters, t, WQ_WRITER);
		s->waiting_writers++;
		sim_block(s->w, &rwsem_write_ops, s, s->dep.name, 0, file,
			  line);
	}
	set_writer(s, t, file, line);
}

VFIOSIM_EXPORT int vfiosim_down_read_trylock_at(struct vfiosim_rwsem *s,
						const char *file, int line)
{
	struct vfiosim_thread *t =
		need_thread(s, "down_read_trylock", file, line);

	if (!t)
		return 0;
	if (sync_is_host(t)) {
		if (s->writer)
			goto fail;
	} else if (!sim_deterministic(s->w)) {
		if (pthread_rwlock_tryrdlock(&s->host))
			goto fail;
	} else {
		sim_yield(s->w);
		if (s->writer || s->waiting_writers)
			goto fail;
	}
	ld_acquire(s->w, &s->dep, s, 0, LM_READ, true, file, line);
	add_reader(s, t, file, line);
	return 1;
fail:
	sim_event(s->w, t, EV_TRYFAIL, LM_READ, s->dep.name, file, line, NULL);
	return 0;
}

VFIOSIM_EXPORT int vfiosim_down_write_trylock_at(struct vfiosim_rwsem *s,
						 const char *file, int line)
{
	struct vfiosim_thread *t =
		need_thread(s, "down_write_trylock", file, line);

	if (!t)
		return 0;
	if (sync_is_host(t)) {
		if (s->writer || s->nreaders)
			goto fail;
	} else if (!sim_deterministic(s->w)) {
		if (pthread_rwlock_trywrlock(&s->host))
			goto fail;
	} else {
		sim_yield(s->w);
		if (s->writer || s->nreaders)
			goto fail;
	}
	ld_acquire(s->w, &s->dep, s, 0, LM_WRITE, true, file, line);
	set_writer(s, t, file, line);
	return 1;
fail:
	sim_event(s->w, t, EV_TRYFAIL, LM_WRITE, s->dep.name, file, line, NULL);
	return 0;
}

VFIOSIM_EXPORT void vfiosim_up_read_at(struct vfiosim_rwsem *s,
				       const char *file, int line)
{
	struct vfiosim_thread *t = need_thread(s, "up_read", file, line);

	if (!t)
		return;
	if (!del_reader(s, t)) {
		vfiosim_fail_at(s->w, VFIOSIM_FAIL_WARN, file, line,
				"bad unlock balance detected: thread %s calls "
				"up_read(%s) without holding it for reading",
				t->name, s->dep.name);
		return;
	}
	ld_release(s->w, s, s->dep.name, file, line);
	sim_event(s->w, t, EV_RELEASE, LM_READ, s->dep.name, file, line, NULL);
	if (!sim_deterministic(s->w)) {
		pthread_rwlock_unlock(&s->host);
		return;
	}
	if (!s->nreaders)
		wake_all(s);
}

VFIOSIM_EXPORT void vfiosim_up_write_at(struct vfiosim_rwsem *s,
					const char *file, int line)
{
	struct vfiosim_thread *t = need_thread(s, "up_write", file, line);

	if (!t)
		return;
	if (s->writer != t) {
		vfiosim_fail_at(s->w, VFIOSIM_FAIL_WARN, file, line,
				"bad unlock balance detected: thread %s calls "
				"up_write(%s) without holding it for writing",
				t->name, s->dep.name);
		return;
	}
	ld_release(s->w, s, s->dep.name, file, line);
	s->writer = NULL;
	sim_event(s->w, t, EV_RELEASE, LM_WRITE, s->dep.name, file, line, NULL);
	if (!sim_deterministic(s->w)) {
		pthread_rwlock_unlock(&s->host);
		return;
	}
	wake_all(s);
}

VFIOSIM_EXPORT void vfiosim_downgrade_write_at(struct vfiosim_rwsem *s,
					       const char *file, int line)
{
	struct vfiosim_thread *t =
		need_thread(s, "downgrade_write", file, line);

	if (!t)
		return;
	if (s->writer != t) {
		vfiosim_fail_at(s->w, VFIOSIM_FAIL_WARN, file, line,
				"downgrade_write(%s) by thread %s, which does "
				"not hold it for writing",
				s->dep.name, t->name);
		return;
	}
	if (!sim_deterministic(s->w)) {
		/*
		 * pthread rwlocks cannot downgrade atomically: free-running
		 * mode keeps the write lock and only changes the bookkeeping.
		 */
		s->writer = NULL;
		ld_downgrade(s->w, s);
		add_reader(s, t, file, line);
		return;
	}
	s->writer = NULL;
	ld_downgrade(s->w, s);
	add_reader(s, t, file, line);
	wake_all(s);
}

VFIOSIM_EXPORT unsigned int vfiosim_rwsem_readers(const struct vfiosim_rwsem *s)
{
	return s ? s->nreaders : 0;
}

VFIOSIM_EXPORT bool vfiosim_rwsem_is_write_locked(const struct vfiosim_rwsem *s)
{
	return s && s->writer;
}
