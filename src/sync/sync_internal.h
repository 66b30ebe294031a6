/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sync_internal.h - the sync objects' layout and the lockdep interface, for
 * the layers above that embed locks in their own structs (as the kernel
 * embeds struct mutex in struct vfio_iommu).  Not installed.
 */
#ifndef VFIOSIM_SYNC_INTERNAL_H
#define VFIOSIM_SYNC_INTERNAL_H

#include <pthread.h>

#include <libvfiosim/sync.h>

#include "sim/sim_internal.h"

#define LD_MAX_SUBCLASSES 8
#define LD_MAX_HELD 48
#define LD_MAX_CLASSES 8191
#define LD_MAX_EDGES 32768

/*
 * The lock class of an object: its name and the source line that
 * initialised it, plus a per-subclass cache of the class id in the world's
 * lockdep graph.
 */
struct vfiosim_lockdep_map {
	const char *name;
	const char *file;
	int line;
	uint32_t cls[LD_MAX_SUBCLASSES]; /* 0 = not looked up yet */
	struct vfiosim_lockdep *ctx;	 /* graph the cache refers to */
};

struct vfiosim_mutex {
	struct vfiosim_world *w;
	struct vfiosim_lockdep_map dep;
	struct vfiosim_thread *owner;
	const char *owner_file;
	int owner_line;
	struct vfiosim_thread *waiters; /* FIFO through wq_next */
	pthread_mutex_t host;		/* free-running mode */
	bool allocated;
};

struct rwsem_reader {
	struct vfiosim_thread *t;
	const char *file;
	int line;
};

struct vfiosim_rwsem {
	struct vfiosim_world *w;
	struct vfiosim_lockdep_map dep;
	struct vfiosim_thread *writer;
	const char *writer_file;
	int writer_line;
	struct rwsem_reader *readers;
	unsigned int nreaders, readers_cap;
	struct vfiosim_thread *waiters; /* FIFO; wq_flags 1 = writer */
	unsigned int waiting_writers;
	pthread_rwlock_t host;
	pthread_mutex_t host_meta; /* free mode: readers[] */
	bool allocated;
};

struct vfiosim_completion {
	struct vfiosim_world *w;
	const char *name;
	const char *file;
	int line;
	unsigned int done; /* UINT_MAX after complete_all() */
	struct vfiosim_thread *waiters;
	pthread_mutex_t host;
	pthread_cond_t host_cond;
	bool allocated;
};

struct vfiosim_notifier_head {
	struct vfiosim_world *w;
	char name[48];
	char rwsem_name[56];
	struct vfiosim_rwsem rwsem;
	struct vfiosim_notifier_block *head;
	bool allocated;
};

/* Embedded objects: initialise in place, destroy before freeing memory. */
int sync_mutex_init(struct vfiosim_world *w, struct vfiosim_mutex *m,
		    const char *name, const char *file, int line);
void sync_mutex_destroy(struct vfiosim_mutex *m);
int sync_rwsem_init(struct vfiosim_world *w, struct vfiosim_rwsem *s,
		    const char *name, const char *file, int line);
void sync_rwsem_destroy(struct vfiosim_rwsem *s);
int sync_completion_init(struct vfiosim_world *w, struct vfiosim_completion *c,
			 const char *name, const char *file, int line);
void sync_completion_destroy(struct vfiosim_completion *c);

/* lockdep.c */
struct vfiosim_lockdep *sync_lockdep_new(void);
void sync_lockdep_free(struct vfiosim_lockdep *ld);
void ld_map_init(struct vfiosim_lockdep_map *map, const char *name,
		 const char *file, int line);
/* Before taking @lock (blocking or not); reports ordering problems. */
void ld_acquire(struct vfiosim_world *w, struct vfiosim_lockdep_map *map,
		const void *lock, unsigned int subclass, uint8_t mode,
		bool trylock, const char *file, int line);
/* Returns false (and reports) if the caller does not hold @lock. */
bool ld_release(struct vfiosim_world *w, const void *lock, const char *what,
		const char *file, int line);
bool ld_held(struct vfiosim_world *w, const void *lock, bool write);
void ld_downgrade(struct vfiosim_world *w, const void *lock);

/* Queue helpers over vfiosim_thread.wq_next. */
static inline void wq_add(struct vfiosim_thread **q, struct vfiosim_thread *t,
			  unsigned int flags)
{
	t->wq_next = NULL;
	t->wq_flags = flags;
	while (*q)
		q = &(*q)->wq_next;
	*q = t;
}

static inline bool wq_del(struct vfiosim_thread **q, struct vfiosim_thread *t)
{
	for (; *q; q = &(*q)->wq_next) {
		if (*q == t) {
			*q = t->wq_next;
			t->wq_next = NULL;
			return true;
		}
	}
	return false;
}

static inline struct vfiosim_thread *wq_pop(struct vfiosim_thread **q)
{
	struct vfiosim_thread *t = *q;

	if (t) {
		*q = t->wq_next;
		t->wq_next = NULL;
	}
	return t;
}

/* Report use from outside any simulated thread of the object's world. */
void sync_warn_no_thread(struct vfiosim_world *w, const char *op,
			 const char *name, const char *file, int line);

/*
 * The thread an operation runs as: the current simulated thread, or --
 * while a deterministic world is being set up or torn down, with no run
 * in progress -- the world's host stand-in, which never blocks and is not
 * validated by lockdep.  NULL (after a WARN) for any other caller.
 */
struct vfiosim_thread *sync_thread(struct vfiosim_world *w, const char *op,
				   const char *name, const char *file,
				   int line);

static inline bool sync_is_host(const struct vfiosim_thread *t)
{
	return t == &t->w->host;
}

/* A host-phase operation finds the object busy: reported unless the run
 * was aborted (then threads were unwound holding it). */
void sync_host_busy(struct vfiosim_world *w, const char *op, const char *name,
		    const struct vfiosim_thread *holder, const char *file,
		    int line);

#endif /* VFIOSIM_SYNC_INTERNAL_H */
