/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * world.c - the world: configuration, tracked allocations, tasks, failure
 * records and fault injection.
 *
 * A world owns every byte the model allocates through vfiosim_zalloc(), so
 * that a run abandoned half-way (a deadlock, a failed assertion) is thrown
 * away whole by vfiosim_world_destroy().  Failures are records, never
 * aborts: each keeps its message, the detail the raiser supplied (a wait-for
 * cycle, a lockdep scenario), the tail of the interleaving at the moment it
 * was raised, and, once the run is over, the replay token.
 *
 * Locking: see sim_internal.h.  world->lock is used only in free-running
 * mode; deterministic runs are serialised by the scheduler's hand-off.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/uio.h>
#include <unistd.h>

#include "sim/sim_internal.h"

#define ALLOC_MAGIC ((size_t)0x5f1f05a1c0ffee11ull)

const char *vfiosim_basename(const char *path)
{
	const char *s;

	if (!path)
		return "?";
	s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static const char *const kind_names[VFIOSIM_FAIL_NR_KINDS] = {
	[VFIOSIM_FAIL_ASSERT] = "ASSERT",
	[VFIOSIM_FAIL_WARN] = "WARN",
	[VFIOSIM_FAIL_BUG] = "BUG",
	[VFIOSIM_FAIL_DEADLOCK] = "DEADLOCK",
	[VFIOSIM_FAIL_LOCK_ORDER] = "LOCK_ORDER",
	[VFIOSIM_FAIL_LEAK] = "LEAK",
	[VFIOSIM_FAIL_INVARIANT] = "INVARIANT",
	[VFIOSIM_FAIL_NONDETERMINISM] = "NONDETERMINISM",
	[VFIOSIM_FAIL_LIVELOCK] = "LIVELOCK",
	[VFIOSIM_FAIL_DMA] = "DMA",
};

VFIOSIM_EXPORT const char *
vfiosim_failure_kind_name(enum vfiosim_failure_kind kind)
{
	if ((unsigned int)kind >= VFIOSIM_FAIL_NR_KINDS)
		return "UNKNOWN";
	return kind_names[kind];
}

VFIOSIM_EXPORT void vfiosim_config_init(struct vfiosim_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = VFIOSIM_MODE_DETERMINISTIC;
	cfg->seed = 1;
	cfg->lockdep = true;
	cfg->max_steps = 100000;
	cfg->trace_tail = 64;
	cfg->abort_mask = VFIOSIM_FAIL_BIT(VFIOSIM_FAIL_ASSERT) |
			  VFIOSIM_FAIL_BIT(VFIOSIM_FAIL_BUG) |
			  VFIOSIM_FAIL_BIT(VFIOSIM_FAIL_DEADLOCK) |
			  VFIOSIM_FAIL_BIT(VFIOSIM_FAIL_LIVELOCK) |
			  VFIOSIM_FAIL_BIT(VFIOSIM_FAIL_NONDETERMINISM);
	cfg->pin_cpu = true;
	cfg->mm.phys_size = 64ull << 30;
	cfg->mm.page_shift = 12;
	cfg->mm.memlock_limit = 8ull << 20;
	cfg->iommu.addr_width = 39;
	cfg->iommu.pgsize_bitmap = (1ull << 12) | (1ull << 21) | (1ull << 30);
	cfg->iommu.resv[0] =
		(struct vfiosim_iommu_range){ 0xfee00000ull, 0xfeefffffull, 1 };
	cfg->iommu.nresv = 1;
	cfg->iommu.cache_coherent = true;
	cfg->iommu.intr_remap = true;
	cfg->iommu.iotlb_entries = 64;
	cfg->iommu.flush_queue_size = 256;
	cfg->iommu.flush_timeout_ns = 10000000ull;
	cfg->vfio.dma_entry_limit = 65535;
	cfg->iommu.flush_cost_ns = 1000;
}

static int config_valid(const struct vfiosim_config *cfg)
{
	if (cfg->mode != VFIOSIM_MODE_DETERMINISTIC &&
	    cfg->mode != VFIOSIM_MODE_FREE)
		return -EINVAL;
	if (cfg->fault.probability_ppm > 1000000)
		return -EINVAL;
	if (cfg->abort_mask >> VFIOSIM_FAIL_NR_KINDS)
		return -EINVAL;
	return 0;
}

void sim_lock(struct vfiosim_world *w)
{
	if (!sim_deterministic(w))
		pthread_mutex_lock(&w->lock);
}

void sim_unlock(struct vfiosim_world *w)
{
	if (!sim_deterministic(w))
		pthread_mutex_unlock(&w->lock);
}

/* ------------------------------------------------------------ allocation */

static void *alloc_tracked(struct vfiosim_world *w, size_t size)
{
	struct sim_alloc_hdr *h;

	if (size > SIZE_MAX - sizeof(*h))
		return NULL;
	h = calloc(1, sizeof(*h) + size);
	if (!h)
		return NULL;
	h->size = size;
	h->magic = ALLOC_MAGIC;
	sim_lock(w);
	h->next = w->allocs.next;
	h->prev = &w->allocs;
	w->allocs.next->prev = h;
	w->allocs.next = h;
	w->nallocs++;
	sim_unlock(w);
	return h + 1;
}

void *sim_alloc_nofault(struct vfiosim_world *w, size_t size)
{
	return alloc_tracked(w, size);
}

VFIOSIM_EXPORT void *vfiosim_zalloc(struct vfiosim_world *w, size_t size,
				    const char *point)
{
	if (!w)
		return NULL;
	if (vfiosim_fault(w, point ? point : "sim.alloc"))
		return NULL;
	return alloc_tracked(w, size);
}

VFIOSIM_EXPORT void vfiosim_free(struct vfiosim_world *w, void *p)
{
	struct sim_alloc_hdr *h;

	if (!w || !p)
		return;
	h = (struct sim_alloc_hdr *)p - 1;
	if (h->magic != ALLOC_MAGIC) {
		vfiosim_fail_at(w, VFIOSIM_FAIL_BUG, __FILE__, __LINE__,
				"vfiosim_free(%p): not a live world allocation",
				p);
		return;
	}
	sim_lock(w);
	h->prev->next = h->next;
	h->next->prev = h->prev;
	w->nallocs--;
	sim_unlock(w);
	h->magic = 0;
	free(h);
}

VFIOSIM_EXPORT char *vfiosim_strdup(struct vfiosim_world *w, const char *s)
{
	size_t n;
	char *p;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	p = vfiosim_zalloc(w, n, "sim.alloc");
	if (p)
		memcpy(p, s, n);
	return p;
}

static void free_all_allocs(struct vfiosim_world *w)
{
	struct sim_alloc_hdr *h = w->allocs.next, *n;

	while (h != &w->allocs) {
		n = h->next;
		h->magic = 0;
		free(h);
		h = n;
	}
	w->allocs.next = w->allocs.prev = &w->allocs;
	w->nallocs = 0;
}

/* ------------------------------------------------------------------ tasks */

static struct vfiosim_task *task_new(struct vfiosim_world *w, const char *name)
{
	struct vfiosim_task *t = sim_alloc_nofault(w, sizeof(*t));

	if (!t)
		return NULL;
	t->w = w;
	snprintf(t->name, sizeof(t->name), "%s", name);
	sim_lock(w);
	t->pid = w->next_pid++;
	t->next = w->tasks;
	w->tasks = t;
	sim_unlock(w);
	return t;
}

VFIOSIM_EXPORT struct vfiosim_task *vfiosim_task_create(struct vfiosim_world *w,
							const char *name)
{
	struct vfiosim_task *t;

	if (!w || !name || !*name) {
		errno = EINVAL;
		return NULL;
	}
	if (vfiosim_fault(w, "sim.task_create")) {
		errno = ENOMEM;
		return NULL;
	}
	t = task_new(w, name);
	if (!t)
		errno = ENOMEM;
	return t;
}

VFIOSIM_EXPORT struct vfiosim_task *
vfiosim_current_task(struct vfiosim_world *w)
{
	struct vfiosim_thread *t;

	if (!w)
		return NULL;
	t = sim_current(w);
	if (t)
		return t->task;
	return sim_deterministic(w) && !w->running ? w->init_task : NULL;
}

VFIOSIM_EXPORT struct vfiosim_task *
vfiosim_world_main_task(struct vfiosim_world *w)
{
	return w ? w->init_task : NULL;
}

VFIOSIM_EXPORT const char *vfiosim_task_name(const struct vfiosim_task *task)
{
	return task ? task->name : "-";
}

VFIOSIM_EXPORT int vfiosim_task_pid(const struct vfiosim_task *task)
{
	return task ? task->pid : -1;
}

/* ------------------------------------------------------------ the world */

int sim_world_create_for(const struct vfiosim_config *cfg,
			 struct sim_pool *pool, struct vfiosim_lockdep *ld,
			 struct sim_strategy *strategy, const char *name,
			 struct vfiosim_world **out)
{
	struct vfiosim_config defaults;
	struct vfiosim_world *w;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!cfg) {
		vfiosim_config_init(&defaults);
		cfg = &defaults;
	}
	rc = config_valid(cfg);
	if (rc)
		return rc;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cfg = *cfg;
	w->rng = cfg->seed ^ 0x6a09e667f3bcc908ull;
	w->fplan = cfg->fault;
	w->allocs.next = w->allocs.prev = &w->allocs;
	w->next_pid = 1;
	w->strategy = strategy;
	w->scenario_name = name ? name : "world";
	w->host.w = w;
	w->host.id = UINT16_MAX;
	w->host.state = TS_RUNNABLE;
	snprintf(w->host.name, sizeof(w->host.name), "host");
	w->trace_hash = 0xcbf29ce484222325ull;
	pthread_mutex_init(&w->lock, NULL);
	if (sem_init(&w->done, 0, 0)) {
		rc = -ENOMEM;
		goto err;
	}
	/* Without @ld the sync layer creates a private graph on first use. */
	w->lockdep = ld;
	if (pool) {
		w->pool = pool;
	} else if (cfg->mode == VFIOSIM_MODE_DETERMINISTIC) {
		w->pool = sim_pool_new(cfg->pin_cpu);
		if (!w->pool) {
			rc = -ENOMEM;
			goto err_sem;
		}
		w->own_pool = true;
	}
	w->init_task = task_new(w, "main");
	if (!w->init_task) {
		rc = -ENOMEM;
		goto err_pool;
	}
	*out = w;
	return 0;

err_pool:
	if (w->own_pool)
		sim_pool_free(w->pool);
err_sem:
	sem_destroy(&w->done);
err:
	free_all_allocs(w);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return rc;
}

VFIOSIM_EXPORT int vfiosim_world_create(const struct vfiosim_config *cfg,
					struct vfiosim_world **out)
{
	return sim_world_create_for(cfg, NULL, NULL, NULL, NULL, out);
}

int sim_add_teardown(struct vfiosim_world *w,
		     void (*fn)(struct vfiosim_world *w, void *arg), void *arg)
{
	struct sim_teardown *td = sim_alloc_nofault(w, sizeof(*td));

	if (!td)
		return -ENOMEM;
	td->fn = fn;
	td->arg = arg;
	td->next = w->teardown;
	w->teardown = td;
	return 0;
}

void sim_world_teardown(struct vfiosim_world *w)
{
	struct sim_teardown *td;

	/* Checks run after the run is over, newest layer first. */
	while ((td = w->teardown)) {
		w->teardown = td->next;
		td->fn(w, td->arg);
	}
}

void sim_world_free(struct vfiosim_world *w)
{
	free_all_allocs(w);
	free(w->threads);
	free(w->decisions);
	free(w->ev);
	free(w->fpoints);
	for (size_t i = 0; i < w->nfailures; i++) {
		struct vfiosim_failure *f = &w->failures[i];

		free((char *)f->message);
		free((char *)f->report);
		free(w->failure_parts[i].detail);
		free(w->failure_parts[i].tail);
	}
	free(w->failures);
	free(w->failure_parts);
	free(w->token);
	if (w->own_lockdep && w->lockdep_free)
		w->lockdep_free(w->lockdep);
	if (w->own_pool)
		sim_pool_free(w->pool);
	sem_destroy(&w->done);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

VFIOSIM_EXPORT int vfiosim_world_destroy(struct vfiosim_world *w)
{
	int n;

	if (!w)
		return 0;
	if (sim_tls_current && sim_tls_current->w == w)
		return -EBUSY;
	sim_world_teardown(w);
	n = (int)w->nfailures;
	sim_world_free(w);
	return n;
}

VFIOSIM_EXPORT const struct vfiosim_config *
vfiosim_world_config(const struct vfiosim_world *w)
{
	return w ? &w->cfg : NULL;
}

VFIOSIM_EXPORT size_t vfiosim_world_failure_count(const struct vfiosim_world *w)
{
	return w ? w->nfailures : 0;
}

VFIOSIM_EXPORT const struct vfiosim_failure *
vfiosim_world_failure(const struct vfiosim_world *w, size_t i)
{
	if (!w || i >= w->nfailures)
		return NULL;
	return &w->failures[i];
}

VFIOSIM_EXPORT bool vfiosim_world_aborted(const struct vfiosim_world *w)
{
	return w && w->aborting;
}

/* --------------------------------------------------------------- failures */

static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

static char *format(const char *fmt, ...) VFIOSIM_PRINTF(1, 2);
static char *format(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	return s;
}

/* Compose the full report of failure @i; the token may still be NULL. */
static void compose_report(struct vfiosim_world *w, size_t i)
{
	struct vfiosim_failure *f = &w->failures[i];
	struct sim_failure_parts *p = &w->failure_parts[i];
	char *r;

	r = format(
		"%s: %s\n  raised at %s:%d in thread %s (step %lu, t=%lu ns)\n"
		"%s%s"
		"\nInterleaving (last %zu of %zu events, one column per thread):\n%s"
		"%s%s%s",
		vfiosim_failure_kind_name(f->kind), f->message,
		vfiosim_basename(f->file), f->line, f->thread, p->step,
		(unsigned long)p->now, p->detail ? "\n" : "",
		p->detail ? p->detail : "", p->tail_events, p->total_events,
		p->tail ? p->tail : "", w->token ? "replay token: " : "",
		w->token ? w->token : "", w->token ? "\n" : "");
	free((char *)f->report);
	f->report = r ? r : strdup(f->message);
	f->token = w->token;
}

void sim_world_finish_reports(struct vfiosim_world *w)
{
	for (size_t i = 0; i < w->nfailures; i++) {
		struct sim_failure_parts *p = &w->failure_parts[i];

		compose_report(w, i);
		free(p->detail);
		free(p->tail);
		p->detail = p->tail = NULL;
		p->final = true;
	}
}

static int record_failure(struct vfiosim_world *w,
			  enum vfiosim_failure_kind kind, const char *file,
			  int line, char *detail, char *msg)
{
	struct vfiosim_thread *t = sim_current(w);
	struct vfiosim_failure *f;
	struct sim_failure_parts *p;
	size_t i;

	if (!msg) {
		free(detail);
		return -ENOMEM;
	}
	sim_lock(w);
	if (w->nfailures == w->failures_cap) {
		size_t cap = w->failures_cap ? w->failures_cap * 2 : 4;
		void *nf = realloc(w->failures, cap * sizeof(*w->failures));
		void *np = nf ? realloc(w->failure_parts,
					cap * sizeof(*w->failure_parts)) :
				NULL;

		if (nf)
			w->failures = nf;
		if (np)
			w->failure_parts = np;
		if (!nf || !np) {
			sim_unlock(w);
			free(detail);
			free(msg);
			return -ENOMEM;
		}
		w->failures_cap = cap;
	}
	i = w->nfailures++;
	f = &w->failures[i];
	p = &w->failure_parts[i];
	memset(f, 0, sizeof(*f));
	memset(p, 0, sizeof(*p));
	f->kind = kind;
	f->message = msg;
	f->file = file;
	f->line = line;
	f->thread = t ? t->name : "-";
	p->detail = detail;
	p->step = w->steps;
	p->now = w->now;
	sim_unlock(w);
	sim_event(w, t, EV_FAIL, (uint8_t)kind, vfiosim_failure_kind_name(kind),
		  file, line, NULL);
	p->total_events = w->nev;
	p->tail_events = w->nev < w->cfg.trace_tail ? w->nev :
						      w->cfg.trace_tail;
	p->tail = sim_trace_text(w, w->cfg.trace_tail);
	if (w->ran && !w->running) {
		/* After the run (teardown checks): the token can be made. */
		if (!w->token && sim_deterministic(w))
			w->token = sim_token_encode(w);
		compose_report(w, i);
		free(p->detail);
		free(p->tail);
		p->detail = p->tail = NULL;
		p->final = true;
	} else {
		compose_report(w, i);
	}
	if (w->cfg.verbose)
		fprintf(stderr, "vfiosim: %s\n", f->report);
	return 0;
}

static int fail_common(struct vfiosim_world *w, enum vfiosim_failure_kind kind,
		       const char *file, int line, char *detail, char *msg)
{
	struct vfiosim_thread *t;
	int rc;

	rc = record_failure(w, kind, file, line, detail, msg);
	if (!(w->cfg.abort_mask & VFIOSIM_FAIL_BIT(kind)))
		return rc;
	if (!sim_deterministic(w))
		return rc; /* free-running: recorded, the thread goes on */
	w->aborting = true;
	t = sim_current(w);
	if (t && !t->exiting)
		longjmp(t->unwind, 1);
	return rc;
}

VFIOSIM_EXPORT int vfiosim_fail_at(struct vfiosim_world *w,
				   enum vfiosim_failure_kind kind,
				   const char *file, int line, const char *fmt,
				   ...)
{
	va_list ap;
	char *msg;

	if (!w || !fmt || (unsigned int)kind >= VFIOSIM_FAIL_NR_KINDS)
		return -EINVAL;
	va_start(ap, fmt);
	msg = vformat(fmt, ap);
	va_end(ap);
	return fail_common(w, kind, file, line, NULL, msg);
}

int sim_fail_detail(struct vfiosim_world *w, enum vfiosim_failure_kind kind,
		    const char *file, int line, char *detail, const char *fmt,
		    ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = vformat(fmt, ap);
	va_end(ap);
	return fail_common(w, kind, file, line, detail, msg);
}

/* ---------------------------------------------------------- fault points */

static struct sim_fault_point *fault_point(struct vfiosim_world *w,
					   const char *name)
{
	/* By address first: a point is nearly always named by the same
	 * string literal, and a miss would otherwise cost a strcmp() per
	 * point known. */
	for (size_t i = 0; i < w->nfpoints; i++)
		if (w->fpoints[i].name == name)
			return &w->fpoints[i];
	for (size_t i = 0; i < w->nfpoints; i++)
		if (!strcmp(w->fpoints[i].name, name))
			return &w->fpoints[i];
	if (w->nfpoints == w->fpoints_cap) {
		size_t cap = w->fpoints_cap ? w->fpoints_cap * 2 : 16;
		void *n = realloc(w->fpoints, cap * sizeof(*w->fpoints));

		if (!n)
			return NULL;
		w->fpoints = n;
		w->fpoints_cap = cap;
	}
	w->fpoints[w->nfpoints] = (struct sim_fault_point){ .name = name };
	return &w->fpoints[w->nfpoints++];
}

VFIOSIM_EXPORT bool vfiosim_fault(struct vfiosim_world *w, const char *point)
{
	const struct vfiosim_fault_plan *plan;
	struct sim_fault_point *fp;
	bool fail = false;

	if (!w || !point)
		return false;
	sim_lock(w);
	plan = &w->fplan;
	w->fhits++;
	fp = fault_point(w, point);
	if (fp)
		fp->hits++;
	if (!plan->point || !strcmp(plan->point, point)) {
		unsigned long n = ++w->fplan_hits;

		if (plan->nth &&
		    (n == plan->nth || (plan->repeat && n > plan->nth)))
			fail = true;
		if (!fail && plan->probability_ppm &&
		    vfiosim_rand_below(&w->rng, 1000000) <
			    plan->probability_ppm)
			fail = true;
	}
	if (fail) {
		w->finjected++;
		if (fp)
			fp->injected++;
	}
	sim_unlock(w);
	if (fail)
		sim_event(w, sim_current(w), EV_NOTE, 0, point, __FILE__,
			  __LINE__, "fault injected");
	return fail;
}

VFIOSIM_EXPORT int vfiosim_fault_set_plan(struct vfiosim_world *w,
					  const struct vfiosim_fault_plan *plan)
{
	if (!w || !plan || plan->probability_ppm > 1000000)
		return -EINVAL;
	sim_lock(w);
	w->fplan = *plan;
	w->fplan_hits = 0;
	sim_unlock(w);
	return 0;
}

VFIOSIM_EXPORT unsigned long vfiosim_fault_hits(const struct vfiosim_world *w,
						const char *point)
{
	if (!w)
		return 0;
	if (!point)
		return w->fhits;
	for (size_t i = 0; i < w->nfpoints; i++)
		if (!strcmp(w->fpoints[i].name, point))
			return w->fpoints[i].hits;
	return 0;
}

VFIOSIM_EXPORT unsigned long
vfiosim_fault_injected(const struct vfiosim_world *w)
{
	return w ? w->finjected : 0;
}

VFIOSIM_EXPORT const char *
vfiosim_fault_point_name(const struct vfiosim_world *w, size_t i)
{
	if (!w || i >= w->nfpoints)
		return NULL;
	return w->fpoints[i].name;
}

/* ------------------------------------------------------ user memory */

static int copy_user(void *user, void *kernel, size_t n, bool to_user)
{
	struct iovec local = { kernel, n }, remote = { user, n };
	ssize_t done;

	if (!n)
		return 0;
	if (!user)
		return -EFAULT;
	done = to_user ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0) :
			 process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	return done == (ssize_t)n ? 0 : -EFAULT;
}

int sim_copy_to_user(uint64_t user, const void *kernel, size_t n)
{
	return copy_user((void *)(uintptr_t)user, (void *)kernel, n, true);
}

int sim_copy_from_user(void *kernel, uint64_t user, size_t n)
{
	return copy_user((void *)(uintptr_t)user, kernel, n, false);
}
