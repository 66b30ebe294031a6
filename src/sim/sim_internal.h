/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sim_internal.h - the world, its threads and the scheduler, as seen by the
 * layers above (sync, mm, iommu, ...).  Not installed.
 *
 * Locking: in deterministic mode exactly one simulated thread (or, between
 * runs, the controlling host thread) touches a world at a time; the hand-off
 * semaphores order every access.  In free-running mode the fields marked
 * [W] are protected by world->lock; the others are written only before the
 * run starts or after it ends.
 */
#ifndef VFIOSIM_SIM_INTERNAL_H
#define VFIOSIM_SIM_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include <libvfiosim/sim.h>

#include "common.h"

#define SIM_NAME_MAX 32
#define SIM_NOTE_MAX 120

enum sim_thread_state {
	TS_NEW = 0,  /* created, never ran; runnable */
	TS_RUNNABLE, /* may be chosen */
	TS_BLOCKED,  /* waits for an object; not a candidate */
	TS_SLEEPING, /* waits with a deadline: choosing it means "timed out" */
	TS_EXITED,
};

enum sim_event_kind {
	EV_START = 0,
	EV_EXIT,
	EV_CREATE,
	EV_JOIN,
	EV_POINT,
	EV_ACQUIRE, /* arg: lock mode, see enum sim_lock_mode */
	EV_RELEASE,
	EV_BLOCK,
	EV_TRYFAIL,
	EV_WAIT,
	EV_WOKEN,
	EV_TIMEOUT,
	EV_COMPLETE,
	EV_NOTIFY,
	EV_SLEEP,
	EV_NOTE,
	EV_FAIL,
	EV_NR_KINDS
};

enum sim_lock_mode { LM_EXCL = 0, LM_READ = 1, LM_WRITE = 2 };

struct sim_event {
	uint64_t time;
	const char *obj;  /* object or label (static or world-owned) */
	const char *file; /* static */
	const char *text; /* world-owned note text, or NULL */
	int line;
	uint16_t tid;
	uint8_t kind;
	uint8_t arg;
};

/*
 * What a blocked thread waits for, so that a deadlock report can follow the
 * wait-for graph: owners() lists the threads that hold the object and where
 * they took it.
 */
struct sim_waitable_ops {
	const char *kind;
	unsigned int (*owners)(const void *obj, struct vfiosim_thread **out,
			       const char **files, int *lines,
			       unsigned int max);
};

/* A strategy picks one of n >= 2 candidates (sorted by thread id). */
struct sim_strategy {
	void *ctx;
	/* @cur: index of the running thread in @cands, or -1 if it cannot
	 * go on.  Return an index in [0, n), or -1 when a replayed schedule
	 * diverges. */
	int (*choose)(void *ctx, struct vfiosim_world *w,
		      struct vfiosim_thread *const *cands, unsigned int n,
		      int cur);
	void (*thread_created)(void *ctx, struct vfiosim_world *w,
			       struct vfiosim_thread *t);
	/* Called at every scheduling point before choosing (PCT's step). */
	void (*step)(void *ctx, struct vfiosim_world *w,
		     struct vfiosim_thread *cur);
};

struct sim_pool;

struct vfiosim_task {
	struct vfiosim_world *w;
	struct vfiosim_task *next;
	char name[SIM_NAME_MAX];
	int pid;
	/* Slots for the layers above; the owning layer documents them. */
	void *mm;
	void *layer_data[4];
};

struct vfiosim_thread {
	struct vfiosim_world *w;
	unsigned int id;
	char name[SIM_NAME_MAX];
	enum sim_thread_state state;
	void (*fn)(void *arg);
	void *arg;
	struct vfiosim_task *task;
	struct sim_worker *worker; /* deterministic mode */
	pthread_t host;		   /* free-running mode */
	bool host_started;
	jmp_buf unwind;
	bool joined;
	bool exiting;
	struct vfiosim_thread *joiner;

	/* Blocking (deterministic mode). */
	const struct sim_waitable_ops *wait_ops;
	const void *wait_obj;
	const char *wait_name;
	const char *wait_file;
	int wait_line;
	uint64_t deadline;
	bool timed_out;
	struct vfiosim_thread *wq_next; /* link in a sync object's queue */
	unsigned int wq_flags;		/* set by the queue's owner */

	void *lockdep; /* sync layer: held-lock stack */
	uint64_t prio; /* strategy data (PCT priority) */
};

struct sim_alloc_hdr {
	struct sim_alloc_hdr *prev, *next;
	size_t size;
	size_t magic;
};

struct sim_fault_point {
	const char *name;
	unsigned long hits;
	unsigned long injected;
};

struct sim_teardown {
	void (*fn)(struct vfiosim_world *w, void *arg);
	void *arg;
	struct sim_teardown *next;
};

struct vfiosim_lockdep;

/* What a failure's report is made of until the run's token is known. */
struct sim_failure_parts {
	char *detail;
	char *tail;
	unsigned long step;
	uint64_t now;
	size_t total_events, tail_events;
	bool final;
};

struct vfiosim_world {
	struct vfiosim_config cfg;
	uint64_t rng;
	pthread_mutex_t lock; /* free-running mode: [W] fields */

	struct sim_alloc_hdr allocs; /* [W] sentinel of the tracked list */
	size_t nallocs;		     /* [W] */

	struct vfiosim_thread **threads; /* [W] by id */
	unsigned int nthreads, threads_cap;
	unsigned int live;
	struct vfiosim_task *tasks;
	struct vfiosim_task *init_task;
	int next_pid;

	struct sim_pool *pool;
	bool own_pool;
	sem_t done;
	bool running, ran;
	bool aborting;
	struct sim_strategy *strategy;
	void (*main_fn)(struct vfiosim_world *w, void *arg);
	void *main_arg;
	unsigned long steps;
	uint64_t now; /* [W] virtual ns */

	uint16_t *decisions; /* chosen index of each decision with n >= 2 */
	size_t ndecisions, decisions_cap;

	struct vfiosim_failure *failures; /* [W] */
	struct sim_failure_parts *failure_parts;
	size_t nfailures, failures_cap;
	char *token;
	const char *scenario_name;

	struct sim_event *ev; /* [W] */
	size_t nev, ev_cap;
	uint64_t trace_hash;
	bool trace_off;

	struct sim_fault_point *fpoints; /* [W] */
	size_t nfpoints, fpoints_cap;
	unsigned long fhits, finjected, fplan_hits;
	struct vfiosim_fault_plan fplan;

	struct vfiosim_lockdep *lockdep; /* the sync layer's graph */
	void (*lockdep_free)(struct vfiosim_lockdep *ld);
	bool own_lockdep;
	bool lockdep_off; /* a lockdep report was made: stop validating */

	struct sim_teardown *teardown;

	/*
	 * Stands for the host thread that sets a deterministic world up
	 * before vfiosim_world_run() and tears it down after: sync objects
	 * may be used from there, uncontended and without lockdep.
	 */
	struct vfiosim_thread host;

	void *uapi; /* the uapi layer's state (src/uapi) */
};

/* The simulated thread running on this host thread (NULL elsewhere). */
extern __thread struct vfiosim_thread *sim_tls_current
	__attribute__((tls_model("initial-exec")));

static inline bool sim_deterministic(const struct vfiosim_world *w)
{
	return w->cfg.mode == VFIOSIM_MODE_DETERMINISTIC;
}

/* The running thread if it belongs to @w. */
static inline struct vfiosim_thread *sim_current(const struct vfiosim_world *w)
{
	struct vfiosim_thread *t = sim_tls_current;

	return (t && t->w == w) ? t : NULL;
}

/* world.c */
void sim_lock(struct vfiosim_world *w);
void sim_unlock(struct vfiosim_world *w);
void *sim_alloc_nofault(struct vfiosim_world *w, size_t size);
void sim_world_teardown(struct vfiosim_world *w);
void sim_world_finish_reports(struct vfiosim_world *w);
void sim_world_free(struct vfiosim_world *w);
int sim_add_teardown(struct vfiosim_world *w,
		     void (*fn)(struct vfiosim_world *w, void *arg), void *arg);
int sim_world_create_for(const struct vfiosim_config *cfg,
			 struct sim_pool *pool, struct vfiosim_lockdep *ld,
			 struct sim_strategy *strategy, const char *name,
			 struct vfiosim_world **out);
/*
 * Record a failure with a detail block (malloc'd, consumed, may be NULL).
 * Like vfiosim_fail_at(), it does not return for a fatal kind, so the
 * caller must hold no other host memory when it calls this.
 */
int sim_fail_detail(struct vfiosim_world *w, enum vfiosim_failure_kind kind,
		    const char *file, int line, char *detail, const char *fmt,
		    ...) VFIOSIM_PRINTF(6, 7);

/* sched.c */
struct sim_pool *sim_pool_new(bool pin_cpu);
void sim_pool_free(struct sim_pool *pool);
/* A scheduling point: record the event, then let the strategy choose. */
void sim_point(struct vfiosim_world *w, uint8_t kind, uint8_t arg,
	       const char *obj, const char *file, int line);
/*
 * Block the current thread on @obj until sim_wake() (deadline 0) or, with a
 * deadline, until the scheduler chooses to time it out.  Returns true if it
 * timed out.  The caller queues itself on the object first and, after a
 * timeout, takes itself off the queue.
 */
bool sim_block(struct vfiosim_world *w, const struct sim_waitable_ops *ops,
	       const void *obj, const char *name, uint64_t deadline,
	       const char *file, int line);
void sim_wake(struct vfiosim_world *w, struct vfiosim_thread *t);
/* A scheduling point that records no event of its own. */
void sim_yield(struct vfiosim_world *w);
/* Unwind the current thread if the run is being aborted. */
void sim_check_abort(struct vfiosim_world *w);

/* trace.c */
void sim_event(struct vfiosim_world *w, struct vfiosim_thread *t, uint8_t kind,
	       uint8_t arg, const char *obj, const char *file, int line,
	       const char *text);
char *sim_trace_text(const struct vfiosim_world *w, size_t tail);

/* world.c: helpers of the model layers */

/*
 * copy_to_user()/copy_from_user() on this process's memory (the programs
 * the simulator runs share it): a bad address is -EFAULT, as in the
 * kernel, instead of a crash.  0 or -EFAULT.
 */
int sim_copy_to_user(uint64_t user, const void *kernel, size_t n);
int sim_copy_from_user(void *kernel, uint64_t user, size_t n);

/* Index of the lowest set bit (__ffs() of a 64-bit word); 64 for 0. */
static inline unsigned int sim_ffs64(uint64_t v)
{
	return v ? (unsigned int)__builtin_ctzll(v) : 64;
}

/* token.c */
char *sim_token_encode(struct vfiosim_world *w);
struct sim_token {
	char name[64];
	uint64_t seed;
	uint64_t hash;
	uint16_t *decisions;
	size_t ndecisions;
};
int sim_token_decode(const char *token, struct sim_token *out, char *why,
		     size_t whylen);
void sim_token_release(struct sim_token *t);

#endif /* VFIOSIM_SIM_INTERNAL_H */
