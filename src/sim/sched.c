/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sched.c - simulated threads and the deterministic scheduler.
 *
 * What it models: a machine on which exactly one simulated thread runs at a
 * time and may lose the CPU only at a scheduling point (a lock operation, a
 * notifier call, a wait, thread start/exit/join, an explicit
 * vfiosim_sched_point(), a sleep).  At each point the set of candidates is
 * every thread that could run now, sorted by thread id; a thread sleeping
 * with a deadline is a candidate too, and choosing it means "its timeout
 * fired".  When there are two or more candidates the strategy picks one and
 * the pick is appended to the world's decision list: that list is the
 * schedule, and its printable form is the replay token.
 *
 * Threads are real pthreads taken from a pool and kept across worlds (an
 * exploration runs thousands of worlds).  The running thread hands the CPU
 * over by posting the next thread's semaphore and waiting on its own, so
 * every access to the world is ordered by a semaphore pair; all workers of a
 * pool are pinned to one CPU, where a hand-off costs about as much as a
 * plain semaphore ping-pong.
 *
 * Aborting a run (a fatal failure): the failing thread longjmp()s back to
 * its start; then each remaining thread is resumed once in id order and does
 * the same, so no thread is left behind and the next run starts clean.
 *
 * Free-running mode: threads are plain pthreads running concurrently;
 * scheduling points only record events.
 *
 * Locking: pool->lock protects the pool's worker lists; everything else is
 * ordered by the hand-off (deterministic) or world->lock (free-running).
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

__thread struct vfiosim_thread *sim_tls_current
	__attribute__((tls_model("initial-exec")));

struct sim_worker {
	pthread_t tid;
	sem_t sem;
	struct vfiosim_thread *th;
	bool quit;
	struct sim_worker *next_free;
};

struct sim_pool {
	pthread_mutex_t lock;
	struct sim_worker **all;
	unsigned int n, cap;
	struct sim_worker *free_list;
	bool pin;
	int cpu;
};

/* ---------------------------------------------------------------- pool */

static void run_thread(struct vfiosim_thread *t);

static void sem_wait_nointr(sem_t *s)
{
	while (sem_wait(s) && errno == EINTR)
		;
}

static void *worker_main(void *arg)
{
	struct sim_worker *wk = arg;

	for (;;) {
		sem_wait_nointr(&wk->sem);
		if (wk->quit)
			return NULL;
		run_thread(wk->th);
	}
}

struct sim_pool *sim_pool_new(bool pin_cpu)
{
	struct sim_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	p->pin = pin_cpu;
	p->cpu = pin_cpu ? sched_getcpu() : -1;
	if (p->cpu < 0)
		p->pin = false;
	return p;
}

void sim_pool_free(struct sim_pool *p)
{
	if (!p)
		return;
	for (unsigned int i = 0; i < p->n; i++) {
		p->all[i]->quit = true;
		sem_post(&p->all[i]->sem);
		pthread_join(p->all[i]->tid, NULL);
		sem_destroy(&p->all[i]->sem);
		free(p->all[i]);
	}
	free(p->all);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static struct sim_worker *pool_get(struct sim_pool *p)
{
	struct sim_worker *wk;

	pthread_mutex_lock(&p->lock);
	wk = p->free_list;
	if (wk) {
		p->free_list = wk->next_free;
		pthread_mutex_unlock(&p->lock);
		return wk;
	}
	if (p->n == p->cap) {
		unsigned int cap = p->cap ? p->cap * 2 : 8;
		void *na = realloc(p->all, cap * sizeof(*p->all));

		if (!na)
			goto fail;
		p->all = na;
		p->cap = cap;
	}
	wk = calloc(1, sizeof(*wk));
	if (!wk)
		goto fail;
	if (sem_init(&wk->sem, 0, 0))
		goto fail_free;
	if (pthread_create(&wk->tid, NULL, worker_main, wk))
		goto fail_sem;
	if (p->pin) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(p->cpu, &set);
		(void)pthread_setaffinity_np(wk->tid, sizeof(set), &set);
	}
	p->all[p->n++] = wk;
	pthread_mutex_unlock(&p->lock);
	return wk;

fail_sem:
	sem_destroy(&wk->sem);
fail_free:
	free(wk);
fail:
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void pool_put(struct sim_pool *p, struct sim_worker *wk)
{
	pthread_mutex_lock(&p->lock);
	wk->th = NULL;
	wk->next_free = p->free_list;
	p->free_list = wk;
	pthread_mutex_unlock(&p->lock);
}

/* ----------------------------------------------------- choosing a thread */

static inline bool is_candidate(const struct vfiosim_thread *t)
{
	return t->state == TS_NEW || t->state == TS_RUNNABLE ||
	       t->state == TS_SLEEPING;
}

static void record_decision(struct vfiosim_world *w, unsigned int idx)
{
	if (w->ndecisions == w->decisions_cap) {
		size_t cap = w->decisions_cap ? w->decisions_cap * 2 : 256;
		void *n = realloc(w->decisions, cap * sizeof(*w->decisions));

		if (!n)
			return; /* the token will be short: replay reports it */
		w->decisions = n;
		w->decisions_cap = cap;
	}
	w->decisions[w->ndecisions++] = (uint16_t)idx;
}

static char *deadlock_report(struct vfiosim_world *w);

/*
 * Pick the next thread.  @cur is the calling thread (it may have just
 * blocked) or NULL when it exits.  Returns NULL when no thread can run;
 * *@diverged is set when a replayed schedule did not fit.
 */
static struct vfiosim_thread *pick(struct vfiosim_world *w,
				   struct vfiosim_thread *cur, bool *diverged)
{
	struct vfiosim_thread *cands[64], **c = cands, *next;
	unsigned int n = 0;
	int cur_idx = -1, idx;

	*diverged = false;
	if (w->nthreads > ARRAY_SIZE(cands)) {
		c = malloc(w->nthreads * sizeof(*c));
		if (!c)
			return NULL;
	}
	for (unsigned int i = 0; i < w->nthreads; i++) {
		struct vfiosim_thread *t = w->threads[i];

		if (!is_candidate(t))
			continue;
		if (t == cur && t->state == TS_RUNNABLE)
			cur_idx = (int)n;
		c[n++] = t;
	}
	if (n == 0) {
		next = NULL;
		goto out;
	}
	if (n == 1) {
		idx = 0;
	} else {
		if (w->strategy)
			idx = w->strategy->choose(w->strategy->ctx, w, c, n,
						  cur_idx);
		else
			idx = cur_idx >= 0 ? cur_idx : 0;
		if (idx < 0 || (unsigned int)idx >= n) {
			*diverged = true;
			next = NULL;
			goto out;
		}
		record_decision(w, (unsigned int)idx);
	}
	next = c[idx];
	if (next->state == TS_SLEEPING) {
		next->timed_out = true;
		if (w->now < next->deadline)
			w->now = next->deadline;
	}
	if (next->state != TS_NEW)
		next->state = TS_RUNNABLE;
out:
	if (c != cands)
		free(c);
	return next;
}

static void resume(struct vfiosim_thread *t)
{
	sem_post(&t->worker->sem);
}

/* Raise the failure that ends a run whose schedule cannot go on. */
static void stuck(struct vfiosim_world *w, bool diverged)
{
	if (diverged) {
		vfiosim_fail_at(w, VFIOSIM_FAIL_NONDETERMINISM, __FILE__,
				__LINE__,
				"replayed schedule diverged at decision %zu "
				"(the token does not fit this run)",
				w->ndecisions);
	} else {
		char *r = deadlock_report(w);

		sim_fail_detail(w, VFIOSIM_FAIL_DEADLOCK, __FILE__, __LINE__, r,
				"all %u live threads are blocked", w->live);
	}
}

static void schedule(struct vfiosim_world *w, struct vfiosim_thread *t)
{
	struct vfiosim_thread *next;
	bool diverged;

	if (unlikely(w->aborting))
		longjmp(t->unwind, 1);
	w->steps++;
	if (unlikely(w->cfg.max_steps && w->steps > w->cfg.max_steps))
		vfiosim_fail_at(w, VFIOSIM_FAIL_LIVELOCK, __FILE__, __LINE__,
				"step bound of %lu scheduling points exceeded "
				"(a livelock, or a healthy run longer than "
				"max_steps: raise the bound to tell)",
				w->cfg.max_steps);
	if (w->strategy && w->strategy->step)
		w->strategy->step(w->strategy->ctx, w, t);
	next = pick(w, t, &diverged);
	if (!next) {
		stuck(w, diverged);
		/* not reached: both kinds abort unless masked */
		w->aborting = true;
		longjmp(t->unwind, 1);
	}
	if (next != t) {
		sim_tls_current = NULL;
		resume(next);
		sem_wait_nointr(&t->worker->sem);
		sim_tls_current = t;
	}
	if (unlikely(w->aborting))
		longjmp(t->unwind, 1);
}

void sim_check_abort(struct vfiosim_world *w)
{
	struct vfiosim_thread *t = sim_current(w);

	if (t && w->aborting && sim_deterministic(w) && !t->exiting)
		longjmp(t->unwind, 1);
}

void sim_point(struct vfiosim_world *w, uint8_t kind, uint8_t arg,
	       const char *obj, const char *file, int line)
{
	struct vfiosim_thread *t = sim_current(w);

	sim_event(w, t, kind, arg, obj, file, line, NULL);
	if (t && sim_deterministic(w))
		schedule(w, t);
}

void sim_yield(struct vfiosim_world *w)
{
	struct vfiosim_thread *t = sim_current(w);

	if (t && sim_deterministic(w))
		schedule(w, t);
}

VFIOSIM_EXPORT void vfiosim_sched_point_at(struct vfiosim_world *w,
					   const char *label, const char *file,
					   int line)
{
	if (!w)
		return;
	sim_point(w, EV_POINT, 0, label ? label : "point", file, line);
}

bool sim_block(struct vfiosim_world *w, const struct sim_waitable_ops *ops,
	       const void *obj, const char *name, uint64_t deadline,
	       const char *file, int line)
{
	struct vfiosim_thread *t = sim_current(w);

	t->wait_ops = ops;
	t->wait_obj = obj;
	t->wait_name = name;
	t->wait_file = file;
	t->wait_line = line;
	t->deadline = deadline;
	t->timed_out = false;
	t->state = deadline ? TS_SLEEPING : TS_BLOCKED;
	sim_event(w, t, EV_BLOCK, 0, name, file, line, NULL);
	schedule(w, t);
	t->wait_ops = NULL;
	t->wait_obj = NULL;
	return t->timed_out;
}

void sim_wake(struct vfiosim_world *w, struct vfiosim_thread *t)
{
	(void)w;
	if (t->state == TS_BLOCKED || t->state == TS_SLEEPING) {
		t->state = TS_RUNNABLE;
		t->timed_out = false;
	}
}

/* ----------------------------------------------------- thread lifecycle */

static struct vfiosim_thread *thread_new(struct vfiosim_world *w,
					 const char *name,
					 struct vfiosim_task *task,
					 void (*fn)(void *), void *arg)
{
	struct vfiosim_thread *t;

	if (vfiosim_fault(w, "sim.thread_create")) {
		errno = EAGAIN;
		return NULL;
	}
	t = sim_alloc_nofault(w, sizeof(*t));
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->w = w;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->fn = fn;
	t->arg = arg;
	t->task = task;
	t->state = TS_NEW;
	if (sim_deterministic(w)) {
		t->worker = pool_get(w->pool);
		if (!t->worker) {
			vfiosim_free(w, t);
			errno = EAGAIN;
			return NULL;
		}
		t->worker->th = t;
	}
	sim_lock(w);
	if (w->nthreads == w->threads_cap) {
		unsigned int cap = w->threads_cap ? w->threads_cap * 2 : 8;
		void *n = realloc(w->threads, cap * sizeof(*w->threads));

		if (!n) {
			sim_unlock(w);
			if (t->worker)
				pool_put(w->pool, t->worker);
			vfiosim_free(w, t);
			errno = ENOMEM;
			return NULL;
		}
		w->threads = n;
		w->threads_cap = cap;
	}
	t->id = w->nthreads;
	w->threads[w->nthreads++] = t;
	w->live++;
	sim_unlock(w);
	if (w->strategy && w->strategy->thread_created)
		w->strategy->thread_created(w->strategy->ctx, w, t);
	return t;
}

static void thread_exit(struct vfiosim_thread *t)
{
	struct vfiosim_world *w = t->w;
	struct vfiosim_thread *next = NULL;
	bool diverged;

	t->exiting = true;
	t->state = TS_EXITED;
	sim_event(w, t, EV_EXIT, 0, t->name, NULL, 0, NULL);
	w->live--;
	if (t->joiner)
		sim_wake(w, t->joiner);
	if (!w->aborting) {
		next = pick(w, NULL, &diverged);
		if (!next && w->live)
			stuck(w, diverged);
	}
	if (w->aborting) {
		/* Unwind: resume every thread still alive, in id order. */
		next = NULL;
		for (unsigned int i = 0; i < w->nthreads; i++) {
			if (w->threads[i]->state != TS_EXITED) {
				next = w->threads[i];
				break;
			}
		}
	}
	pool_put(w->pool, t->worker);
	t->worker = NULL;
	sim_tls_current = NULL;
	if (next)
		resume(next);
	else
		sem_post(&w->done); /* the world may be freed from here on */
}

static void run_thread(struct vfiosim_thread *t)
{
	struct vfiosim_world *w = t->w;

	sim_tls_current = t;
	if (setjmp(t->unwind) == 0 && !w->aborting) {
		t->state = TS_RUNNABLE;
		sim_event(w, t, EV_START, 0, t->name, NULL, 0, NULL);
		t->fn(t->arg);
	}
	thread_exit(t);
}

static void *free_thread_main(void *arg)
{
	struct vfiosim_thread *t = arg;
	struct vfiosim_world *w = t->w;

	sim_tls_current = t;
	sim_lock(w);
	t->state = TS_RUNNABLE;
	sim_unlock(w);
	if (setjmp(t->unwind) == 0) {
		sim_event(w, t, EV_START, 0, t->name, NULL, 0, NULL);
		t->fn(t->arg);
	}
	sim_event(w, t, EV_EXIT, 0, t->name, NULL, 0, NULL);
	sim_lock(w);
	t->state = TS_EXITED;
	w->live--;
	sim_unlock(w);
	sim_tls_current = NULL;
	return NULL;
}

static struct vfiosim_thread *create_common(struct vfiosim_world *w,
					    const char *name,
					    struct vfiosim_task *task,
					    void (*fn)(void *), void *arg,
					    const char *file, int line)
{
	struct vfiosim_thread *cur, *t;

	if (!w || !fn || !name || !*name) {
		errno = EINVAL;
		return NULL;
	}
	cur = sim_current(w);
	if (!cur) {
		errno = EPERM;
		return NULL;
	}
	if (task && task->w != w) {
		errno = EINVAL;
		return NULL;
	}
	t = thread_new(w, name, task ? task : cur->task, fn, arg);
	if (!t)
		return NULL;
	if (!sim_deterministic(w)) {
		t->host_started = true;
		if (pthread_create(&t->host, NULL, free_thread_main, t)) {
			sim_lock(w);
			t->host_started = false;
			t->state = TS_EXITED;
			t->joined = true;
			w->live--;
			sim_unlock(w);
			errno = EAGAIN;
			return NULL;
		}
	}
	sim_point(w, EV_CREATE, 0, t->name, file, line);
	return t;
}

VFIOSIM_EXPORT struct vfiosim_thread *
vfiosim_thread_create(struct vfiosim_world *w, const char *name,
		      void (*fn)(void *arg), void *arg)
{
	return create_common(w, name, NULL, fn, arg, NULL, 0);
}

VFIOSIM_EXPORT struct vfiosim_thread *
vfiosim_thread_create_task(struct vfiosim_world *w, const char *name,
			   struct vfiosim_task *task, void (*fn)(void *arg),
			   void *arg)
{
	if (!task) {
		errno = EINVAL;
		return NULL;
	}
	return create_common(w, name, task, fn, arg, NULL, 0);
}

static unsigned int join_owners(const void *obj, struct vfiosim_thread **out,
				const char **files, int *lines,
				unsigned int max)
{
	if (!max)
		return 0;
	out[0] = (struct vfiosim_thread *)obj;
	files[0] = NULL;
	lines[0] = 0;
	return 1;
}

static const struct sim_waitable_ops join_ops = {
	.kind = "join",
	.owners = join_owners,
};

VFIOSIM_EXPORT int vfiosim_thread_join(struct vfiosim_thread *t)
{
	struct vfiosim_thread *cur;
	struct vfiosim_world *w;

	if (!t)
		return -EINVAL;
	w = t->w;
	cur = sim_current(w);
	if (!cur)
		return -EPERM;
	if (t == cur)
		return -EDEADLK;
	if (t->joined || t->joiner)
		return -EINVAL;
	if (!sim_deterministic(w)) {
		t->joiner = cur;
		pthread_join(t->host, NULL);
		t->joined = true;
		sim_event(w, cur, EV_JOIN, 0, t->name, __FILE__, __LINE__,
			  NULL);
		return 0;
	}
	sim_point(w, EV_JOIN, 0, t->name, NULL, 0);
	if (t->state != TS_EXITED) {
		t->joiner = cur;
		sim_block(w, &join_ops, t, t->name, 0, NULL, 0);
	}
	t->joined = true;
	return 0;
}

VFIOSIM_EXPORT struct vfiosim_thread *vfiosim_current(struct vfiosim_world *w)
{
	return w ? sim_current(w) : NULL;
}

VFIOSIM_EXPORT const char *vfiosim_thread_name(const struct vfiosim_thread *t)
{
	return t ? t->name : "-";
}

VFIOSIM_EXPORT unsigned int vfiosim_thread_id(const struct vfiosim_thread *t)
{
	return t ? t->id : 0;
}

VFIOSIM_EXPORT struct vfiosim_world *
vfiosim_thread_world(const struct vfiosim_thread *t)
{
	return t ? t->w : NULL;
}

/* ------------------------------------------------------------------- time */

VFIOSIM_EXPORT uint64_t vfiosim_now(const struct vfiosim_world *w)
{
	return w ? w->now : 0;
}

static const struct sim_waitable_ops sleep_ops = { .kind = "sleep" };

VFIOSIM_EXPORT void vfiosim_sleep(struct vfiosim_world *w, uint64_t ns)
{
	struct vfiosim_thread *t;

	if (!w)
		return;
	t = sim_current(w);
	if (!t || !sim_deterministic(w)) {
		sim_lock(w);
		w->now += ns;
		sim_unlock(w);
		return;
	}
	sim_event(w, t, EV_SLEEP, 0, "sleep", NULL, 0, NULL);
	sim_block(w, &sleep_ops, t, "sleep", w->now + (ns ? ns : 1), NULL, 0);
}

/* ------------------------------------------------------------- the run */

static void main_trampoline(void *arg)
{
	struct vfiosim_world *w = arg;

	w->main_fn(w, w->main_arg);
}

static int run_free(struct vfiosim_world *w, struct vfiosim_thread *main)
{
	bool again = true;

	main->host_started = true;
	if (pthread_create(&main->host, NULL, free_thread_main, main))
		return -EAGAIN;
	pthread_join(main->host, NULL);
	main->joined = true;
	while (again) {
		again = false;
		for (unsigned int i = 0;; i++) {
			struct vfiosim_thread *t;

			sim_lock(w);
			t = i < w->nthreads ? w->threads[i] : NULL;
			sim_unlock(w);
			if (!t)
				break;
			if (t->host_started && !t->joined && !t->joiner) {
				pthread_join(t->host, NULL);
				t->joined = true;
				again = true;
			}
		}
	}
	return 0;
}

VFIOSIM_EXPORT int
vfiosim_world_run(struct vfiosim_world *w,
		  void (*fn)(struct vfiosim_world *w, void *arg), void *arg)
{
	struct vfiosim_thread *main;
	int rc = 0;

	if (!w || !fn)
		return -EINVAL;
	if (w->running || w->ran || sim_tls_current)
		return -EBUSY;
	w->running = true;
	w->main_fn = fn;
	w->main_arg = arg;
	main = thread_new(w, "main", w->init_task, main_trampoline, w);
	if (!main) {
		rc = errno == ENOMEM ? -ENOMEM : -EAGAIN;
		w->running = false;
		return rc;
	}
	if (sim_deterministic(w)) {
		resume(main);
		sem_wait_nointr(&w->done);
	} else {
		rc = run_free(w, main);
	}
	w->running = false;
	w->ran = true;
	/* The token is made only when a report needs it (it costs µs). */
	if (sim_deterministic(w) && w->nfailures)
		w->token = sim_token_encode(w);
	sim_world_finish_reports(w);
	return rc ? rc : (int)w->nfailures;
}

/* --------------------------------------------------------- deadlock report */

struct buf {
	char *s;
	size_t len, cap;
};

static void bprintf(struct buf *b, const char *fmt, ...) VFIOSIM_PRINTF(2, 3);
static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *ns = realloc(b->s, cap);

		if (!ns)
			return;
		b->s = ns;
		b->cap = cap;
	}
}

#define MAX_OWNERS 16

static void describe_wait(struct buf *b, const struct vfiosim_thread *t)
{
	struct vfiosim_thread *owners[MAX_OWNERS];
	const char *files[MAX_OWNERS];
	int lines[MAX_OWNERS];
	unsigned int n = 0;

	bprintf(b, "  T%u \"%s\" waits for %s %s", t->id, t->name,
		t->wait_ops ? t->wait_ops->kind : "?",
		t->wait_name ? t->wait_name : "?");
	if (t->wait_file)
		bprintf(b, " (at %s:%d)", vfiosim_basename(t->wait_file),
			t->wait_line);
	bprintf(b, "\n");
	if (t->wait_ops && t->wait_ops->owners)
		n = t->wait_ops->owners(t->wait_obj, owners, files, lines,
					MAX_OWNERS);
	if (!n)
		bprintf(b,
			"      which no thread holds (nobody left to wake it)\n");
	for (unsigned int i = 0; i < n; i++) {
		if (owners[i] == t)
			continue; /* a queued writer lists itself */
		if (files[i])
			bprintf(b, "      held by T%u \"%s\", taken at %s:%d\n",
				owners[i]->id, owners[i]->name,
				vfiosim_basename(files[i]), lines[i]);
		else
			bprintf(b, "      held by T%u \"%s\"\n", owners[i]->id,
				owners[i]->name);
	}
}

/* Follows first owners from each blocked thread; prints the first cycle. */
static char *deadlock_report(struct vfiosim_world *w)
{
	struct buf b = { 0 };
	unsigned int n = w->nthreads;
	int *seen = calloc(n ? n : 1, sizeof(int));
	struct vfiosim_thread **path = calloc(n ? n : 1, sizeof(*path));
	bool found = false;

	for (unsigned int s = 0; seen && path && s < n && !found; s++) {
		struct vfiosim_thread *t = w->threads[s];
		unsigned int len = 0;

		memset(seen, 0, n * sizeof(int));
		while (t && t->state == TS_BLOCKED && !seen[t->id]) {
			struct vfiosim_thread *owners[MAX_OWNERS];
			const char *files[MAX_OWNERS];
			int lines[MAX_OWNERS];
			unsigned int no = 0;

			seen[t->id] = (int)len + 1;
			path[len++] = t;
			if (t->wait_ops && t->wait_ops->owners)
				no = t->wait_ops->owners(t->wait_obj, owners,
							 files, lines,
							 MAX_OWNERS);
			t = NULL;
			for (unsigned int i = 0; i < no; i++) {
				if (owners[i] != path[len - 1] &&
				    owners[i]->state == TS_BLOCKED) {
					t = owners[i];
					break;
				}
			}
		}
		if (t && seen[t->id]) {
			unsigned int from = (unsigned int)seen[t->id] - 1;

			bprintf(&b, "Wait-for cycle:\n");
			for (unsigned int i = from; i < len; i++)
				describe_wait(&b, path[i]);
			bprintf(&b, "  -> back to T%u \"%s\"\n", t->id,
				t->name);
			found = true;
		}
	}
	if (!found)
		bprintf(&b, "No wait-for cycle: every live thread waits for an "
			    "object nobody will release.\n");
	bprintf(&b, "Blocked threads:\n");
	for (unsigned int i = 0; i < n; i++)
		if (w->threads[i]->state == TS_BLOCKED)
			describe_wait(&b, w->threads[i]);
	free(seen);
	free(path);
	return b.s;
}
