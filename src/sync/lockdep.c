/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lockdep.c - a lock-order validator in the manner of the kernel's lockdep.
 *
 * What it models: kernel/locking/lockdep.c's core rules, not its code.
 *  - A lock class is (name, init file, init line, subclass).  Objects made
 *    at one site share a class, so an order seen on any two objects holds
 *    for all objects of those classes.
 *  - Taking class B while holding class A adds the edge A -> B.  A new edge
 *    that closes a cycle is reported as LOCK_ORDER ("possible circular
 *    locking dependency") before the thread blocks, with the existing
 *    chain, the acquisition sites of every edge and the two-column "possible
 *    unsafe locking scenario".  After a report the world stops validating
 *    (the kernel's debug_locks_off()).
 *  - Taking a class already held without a distinct subclass is "possible
 *    recursive locking".  A trylock adds no edge into the trylocked class.
 *  - The sequence of held classes hashes into a 64-bit chain key; a chain
 *    validated once is remembered and never validated again, which makes
 *    the common case a hash lookup.
 *  - Per thread: a stack of at most 48 held locks with their acquisition
 *    sites, lock pinning (releasing a pinned lock is a WARN), balance checks.
 *
 * The graph (struct vfiosim_lockdep) may outlive a world: the explorer
 * gives all schedules of one exploration the same graph, so an inversion
 * seen across two schedules is still found.
 *
 * Locking: ld->lock protects classes, edges and chains in free-running
 * mode (deterministic runs are serialised); a thread's held stack is only
 * touched by that thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync_internal.h"

struct ld_class {
	char *name;
	const char *file;
	int line;
	unsigned int subclass;
	uint32_t first_out; /* edge index + 1, 0 = none */
	uint64_t key;
};

struct ld_edge {
	uint32_t from, to;
	uint32_t next_out; /* edge index + 1 */
	const char *from_file;
	int from_line;
	const char *to_file;
	int to_line;
	char thread[SIM_NAME_MAX];
	unsigned int thread_id;
};

struct ld_held {
	const void *lock;
	uint32_t cls;
	const char *file;
	int line;
	uint64_t chain_key;
	uint8_t mode;
	bool trylock;
	unsigned int pins;
	unsigned int pin_cookie;
	const char *pin_file;
	int pin_line;
};

struct ld_task {
	unsigned int n;
	bool overflow_reported;
	struct ld_held h[LD_MAX_HELD];
};

/* Open-addressing set of 64-bit keys mapped to 32-bit values. */
struct ld_hash {
	uint64_t *keys;
	uint32_t *vals;
	size_t cap, n;
};

struct vfiosim_lockdep {
	pthread_mutex_t lock;
	struct ld_class *classes; /* index 0 unused: ids are 1-based */
	uint32_t nclasses, classes_cap;
	struct ld_edge *edges;
	uint32_t nedges, edges_cap;
	struct ld_hash class_ix, edge_ix, chains;
	uint32_t *bfs_parent, *bfs_queue, *bfs_gen;
	uint32_t gen;
	bool full_reported;
};

static uint64_t nonzero(uint64_t k)
{
	return k ? k : 1;
}

static int hash_grow(struct ld_hash *h)
{
	size_t cap = h->cap ? h->cap * 2 : 1024;
	uint64_t *keys = calloc(cap, sizeof(*keys));
	uint32_t *vals = calloc(cap, sizeof(*vals));

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (size_t i = 0; i < h->cap; i++) {
		size_t j;

		if (!h->keys[i])
			continue;
		for (j = h->keys[i] & (cap - 1); keys[j];
		     j = (j + 1) & (cap - 1))
			;
		keys[j] = h->keys[i];
		vals[j] = h->vals[i];
	}
	free(h->keys);
	free(h->vals);
	h->keys = keys;
	h->vals = vals;
	h->cap = cap;
	return 0;
}

/* Returns the value slot for @key, or NULL if absent. */
static uint32_t *hash_find(const struct ld_hash *h, uint64_t key)
{
	if (!h->cap)
		return NULL;
	for (size_t j = key & (h->cap - 1);; j = (j + 1) & (h->cap - 1)) {
		if (!h->keys[j])
			return NULL;
		if (h->keys[j] == key)
			return &h->vals[j];
	}
}

static int hash_insert(struct ld_hash *h, uint64_t key, uint32_t val)
{
	size_t j;

	if ((h->n + 1) * 2 > h->cap && hash_grow(h))
		return -ENOMEM;
	for (j = key & (h->cap - 1); h->keys[j]; j = (j + 1) & (h->cap - 1))
		if (h->keys[j] == key)
			break;
	if (!h->keys[j])
		h->n++;
	h->keys[j] = key;
	h->vals[j] = val;
	return 0;
}

struct vfiosim_lockdep *sync_lockdep_new(void)
{
	struct vfiosim_lockdep *ld = calloc(1, sizeof(*ld));

	if (!ld)
		return NULL;
	pthread_mutex_init(&ld->lock, NULL);
	return ld;
}

void sync_lockdep_free(struct vfiosim_lockdep *ld)
{
	if (!ld)
		return;
	for (uint32_t i = 1; i <= ld->nclasses; i++)
		free(ld->classes[i].name);
	free(ld->classes);
	free(ld->edges);
	free(ld->class_ix.keys);
	free(ld->class_ix.vals);
	free(ld->edge_ix.keys);
	free(ld->edge_ix.vals);
	free(ld->chains.keys);
	free(ld->chains.vals);
	free(ld->bfs_parent);
	free(ld->bfs_queue);
	free(ld->bfs_gen);
	pthread_mutex_destroy(&ld->lock);
	free(ld);
}

void ld_map_init(struct vfiosim_lockdep_map *map, const char *name,
		 const char *file, int line)
{
	memset(map, 0, sizeof(*map));
	map->name = name ? name : "(unnamed)";
	map->file = file;
	map->line = line;
}

static struct vfiosim_lockdep *ld_ctx(struct vfiosim_world *w)
{
	if (w->lockdep || !w->cfg.lockdep)
		return w->lockdep;
	sim_lock(w);
	if (!w->lockdep) {
		w->lockdep = sync_lockdep_new();
		if (w->lockdep) {
			w->own_lockdep = true;
			w->lockdep_free = sync_lockdep_free;
		}
	}
	sim_unlock(w);
	return w->lockdep;
}

static void ld_lock(struct vfiosim_world *w, struct vfiosim_lockdep *ld)
{
	if (!sim_deterministic(w))
		pthread_mutex_lock(&ld->lock);
}

static void ld_unlock(struct vfiosim_world *w, struct vfiosim_lockdep *ld)
{
	if (!sim_deterministic(w))
		pthread_mutex_unlock(&ld->lock);
}

static uint32_t class_of(struct vfiosim_world *w, struct vfiosim_lockdep *ld,
			 struct vfiosim_lockdep_map *map, unsigned int subclass)
{
	struct ld_class *c;
	uint32_t *slot, id;
	uint64_t key;

	if (subclass >= LD_MAX_SUBCLASSES)
		subclass = LD_MAX_SUBCLASSES - 1;
	if (map->ctx == ld && map->cls[subclass])
		return map->cls[subclass];
	if (map->ctx != ld) {
		memset(map->cls, 0, sizeof(map->cls));
		map->ctx = ld;
	}
	key = vfiosim_hash_str(0, map->name);
	key = vfiosim_hash_str(key, map->file);
	key = nonzero(vfiosim_hash_mix(key, ((uint64_t)(uint32_t)map->line
					     << 8) | subclass));
	slot = hash_find(&ld->class_ix, key);
	if (slot) {
		/* Same key: check it really is the same class. */
		c = &ld->classes[*slot];
		if (!strcmp(c->name, map->name) && c->line == map->line &&
		    c->subclass == subclass)
			return map->cls[subclass] = *slot;
	}
	if (ld->nclasses + 1 >= LD_MAX_CLASSES)
		return 0;
	if (ld->nclasses + 2 > ld->classes_cap) {
		uint32_t cap = ld->classes_cap ? ld->classes_cap * 2 : 64;
		void *n = realloc(ld->classes, cap * sizeof(*ld->classes));
		uint32_t *p = realloc(ld->bfs_parent, cap * sizeof(uint32_t));
		uint32_t *q =
			p ? realloc(ld->bfs_queue, cap * sizeof(uint32_t)) :
			    NULL;
		uint32_t *g = q ? realloc(ld->bfs_gen, cap * sizeof(uint32_t)) :
				  NULL;

		if (n)
			ld->classes = n;
		if (p)
			ld->bfs_parent = p;
		if (q)
			ld->bfs_queue = q;
		if (g) {
			memset(g + ld->classes_cap, 0,
			       (cap - ld->classes_cap) * sizeof(uint32_t));
			ld->bfs_gen = g;
		}
		if (!n || !p || !q || !g)
			return 0;
		ld->classes_cap = cap;
	}
	id = ++ld->nclasses;
	c = &ld->classes[id];
	memset(c, 0, sizeof(*c));
	c->name = strdup(map->name);
	c->file = map->file;
	c->line = map->line;
	c->subclass = subclass;
	c->key = key;
	if (!c->name || hash_insert(&ld->class_ix, key, id)) {
		free(c->name);
		ld->nclasses--;
		return 0;
	}
	(void)w;
	return map->cls[subclass] = id;
}

static struct ld_task *task_of(struct vfiosim_thread *t)
{
	if (!t->lockdep)
		t->lockdep = sim_alloc_nofault(t->w, sizeof(struct ld_task));
	return t->lockdep;
}

/* ---------------------------------------------------------------- reports */

struct rbuf {
	char *s;
	size_t len;
	FILE *f;
};

static FILE *rbuf_open(struct rbuf *b)
{
	b->s = NULL;
	b->len = 0;
	b->f = open_memstream(&b->s, &b->len);
	return b->f;
}

static char *rbuf_close(struct rbuf *b)
{
	if (fclose(b->f)) {
		free(b->s);
		return NULL;
	}
	return b->s;
}

static void class_label(FILE *f, const struct ld_class *c)
{
	if (c->subclass)
		fprintf(f, "(%s/%u){%s:%d}", c->name, c->subclass,
			vfiosim_basename(c->file), c->line);
	else
		fprintf(f, "(%s){%s:%d}", c->name, vfiosim_basename(c->file),
			c->line);
}

static const char *lock_op(uint8_t mode)
{
	return mode == LM_READ ? "rlock" : "lock";
}

static void report_recursive(struct vfiosim_world *w,
			     struct vfiosim_lockdep *ld,
			     struct vfiosim_thread *t,
			     const struct ld_held *prev, uint32_t cls,
			     uint8_t mode, const char *file, int line)
{
	const struct ld_class *c = &ld->classes[cls];
	struct rbuf b;
	FILE *f = rbuf_open(&b);
	char *detail;

	if (!f)
		return;
	fprintf(f,
		"WARNING: possible recursive locking detected\n"
		"thread T%u \"%s\" is trying to acquire lock:\n  ",
		t->id, t->name);
	class_label(f, c);
	fprintf(f, " at %s:%d\nbut thread already holds lock:\n  ",
		vfiosim_basename(file), line);
	class_label(f, &ld->classes[prev->cls]);
	fprintf(f,
		" taken at %s:%d\n\n Possible unsafe locking scenario:\n\n"
		"       T%u %s\n       ----\n  %s(%s);\n  %s(%s);\n\n"
		" *** DEADLOCK ***\n\n May be due to missing lock nesting "
		"notation (use the _nested variant with a subclass)\n",
		vfiosim_basename(prev->file), prev->line, t->id, t->name,
		lock_op(prev->mode), c->name, lock_op(mode), c->name);
	detail = rbuf_close(&b);
	w->lockdep_off = true;
	sim_fail_detail(w, VFIOSIM_FAIL_LOCK_ORDER, file, line, detail,
			"possible recursive locking of %s", c->name);
}

/*
 * Report the cycle closed by the new edge held->cls; @path holds the edge
 * indices of the existing path cls -> ... -> held->cls, in that order.
 */
static void report_cycle(struct vfiosim_world *w, struct vfiosim_lockdep *ld,
			 struct vfiosim_thread *t, const struct ld_held *held,
			 uint32_t cls, uint8_t mode, const uint32_t *path,
			 unsigned int plen, const char *file, int line)
{
	const struct ld_class *nc = &ld->classes[cls],
			      *hc = &ld->classes[held->cls];
	const struct ld_edge *last = &ld->edges[path[plen - 1]];
	const struct ld_class *pc = &ld->classes[last->from];
	char me[48], other[48];
	struct rbuf b;
	FILE *f = rbuf_open(&b);
	char *detail;

	if (!f)
		return;
	fprintf(f,
		"WARNING: possible circular locking dependency detected\n"
		"thread T%u \"%s\" is trying to acquire lock:\n  ",
		t->id, t->name);
	class_label(f, nc);
	fprintf(f, " at %s:%d\n\nbut thread already holds lock:\n  ",
		vfiosim_basename(file), line);
	class_label(f, hc);
	fprintf(f,
		" taken at %s:%d\n\nwhich lock already depends on the new "
		"lock.\n\nthe existing dependency chain (in reverse order) is:\n",
		vfiosim_basename(held->file), held->line);
	for (int i = (int)plen - 1; i >= 0; i--) {
		const struct ld_edge *e = &ld->edges[path[i]];

		fprintf(f, "\n-> #%d ", i);
		class_label(f, &ld->classes[e->to]);
		fprintf(f,
			":\n       taken at %s:%d by thread \"%s\"\n"
			"       while holding ",
			vfiosim_basename(e->to_file), e->to_line, e->thread);
		class_label(f, &ld->classes[e->from]);
		fprintf(f, " taken at %s:%d\n", vfiosim_basename(e->from_file),
			e->from_line);
	}
	fprintf(f, "\n-> new: ");
	class_label(f, nc);
	fprintf(f,
		":\n       taken at %s:%d by thread \"%s\"\n"
		"       while holding ",
		vfiosim_basename(file), line, t->name);
	class_label(f, hc);
	fprintf(f,
		" taken at %s:%d\n\nother info that might help us debug this:\n\n",
		vfiosim_basename(held->file), held->line);
	if (plen > 1) {
		fprintf(f, " Chain exists of:\n   %s", nc->name);
		for (unsigned int i = 0; i < plen; i++)
			fprintf(f, " --> %s",
				ld->classes[ld->edges[path[i]].to].name);
		fprintf(f, "\n\n");
	}
	snprintf(me, sizeof(me), "T%u %s", t->id, t->name);
	snprintf(other, sizeof(other), "%s%s", last->thread,
		 !strcmp(last->thread, t->name) ? " (earlier)" : "");
	fprintf(f,
		" Possible unsafe locking scenario:\n\n"
		"       %-30s %s\n       %-30s %s\n",
		me, other, "----", "----");
	fprintf(f, "  %s(%s);\n", lock_op(held->mode), hc->name);
	fprintf(f, "  %30s      lock(%s);\n", "", pc->name);
	fprintf(f, "  %30s      lock(%s);\n", "", hc->name);
	fprintf(f, "  %s(%s);\n\n *** DEADLOCK ***\n", lock_op(mode), nc->name);
	detail = rbuf_close(&b);
	w->lockdep_off = true;
	sim_fail_detail(w, VFIOSIM_FAIL_LOCK_ORDER, file, line, detail,
			"possible circular locking dependency: %s -> %s",
			hc->name, nc->name);
}

/* ------------------------------------------------------------ validation */

/* Breadth-first search for a path from -> to; fills @path (edge indices). */
static unsigned int find_path(struct vfiosim_lockdep *ld, uint32_t from,
			      uint32_t to, uint32_t *path, unsigned int max)
{
	uint32_t head = 0, tail = 0, gen = ++ld->gen;
	unsigned int len = 0;

	if (!gen)
		gen = ld->gen = 1;
	ld->bfs_queue[tail++] = from;
	ld->bfs_gen[from] = gen;
	ld->bfs_parent[from] = 0;
	while (head < tail) {
		uint32_t c = ld->bfs_queue[head++];

		for (uint32_t e = ld->classes[c].first_out; e;
		     e = ld->edges[e - 1].next_out) {
			uint32_t n = ld->edges[e - 1].to;

			if (ld->bfs_gen[n] == gen)
				continue;
			ld->bfs_gen[n] = gen;
			ld->bfs_parent[n] = e;
			if (n == to)
				goto found;
			ld->bfs_queue[tail++] = n;
		}
	}
	return 0;
found:
	for (uint32_t c = to; c != from;
	     c = ld->edges[ld->bfs_parent[c] - 1].from)
		len++;
	if (len > max)
		len = max;
	{
		unsigned int i = len;

		for (uint32_t c = to; c != from && i;
		     c = ld->edges[ld->bfs_parent[c] - 1].from)
			path[--i] = ld->bfs_parent[c] - 1;
	}
	return len;
}

/* Returns false after a report. */
static bool add_edge(struct vfiosim_world *w, struct vfiosim_lockdep *ld,
		     struct vfiosim_thread *t, const struct ld_held *h,
		     uint32_t cls, uint8_t mode, const char *file, int line)
{
	uint64_t key = nonzero(((uint64_t)h->cls << 32) | cls);
	uint32_t path[64];
	unsigned int plen;
	struct ld_edge *e;

	if (hash_find(&ld->edge_ix, key))
		return true;
	plen = find_path(ld, cls, h->cls, path, ARRAY_SIZE(path));
	if (plen) {
		report_cycle(w, ld, t, h, cls, mode, path, plen, file, line);
		return false;
	}
	if (ld->nedges >= LD_MAX_EDGES)
		return true;
	if (ld->nedges == ld->edges_cap) {
		uint32_t cap = ld->edges_cap ? ld->edges_cap * 2 : 256;
		void *n = realloc(ld->edges, cap * sizeof(*ld->edges));

		if (!n)
			return true;
		ld->edges = n;
		ld->edges_cap = cap;
	}
	e = &ld->edges[ld->nedges];
	e->from = h->cls;
	e->to = cls;
	e->from_file = h->file;
	e->from_line = h->line;
	e->to_file = file;
	e->to_line = line;
	snprintf(e->thread, sizeof(e->thread), "%s", t->name);
	e->thread_id = t->id;
	if (hash_insert(&ld->edge_ix, key, ld->nedges + 1))
		return true;
	e->next_out = ld->classes[h->cls].first_out;
	ld->classes[h->cls].first_out = ++ld->nedges;
	return true;
}

static void validate(struct vfiosim_world *w, struct vfiosim_lockdep *ld,
		     struct vfiosim_thread *t, struct ld_task *lt, uint32_t cls,
		     uint8_t mode, bool trylock, uint64_t chain_key,
		     const char *file, int line)
{
	if (hash_find(&ld->chains, chain_key))
		return; /* this chain of classes was validated before */
	for (unsigned int i = 0; i < lt->n; i++) {
		if (lt->h[i].cls == cls && !trylock) {
			report_recursive(w, ld, t, &lt->h[i], cls, mode, file,
					 line);
			return;
		}
	}
	if (!trylock) {
		for (unsigned int i = 0; i < lt->n; i++) {
			if (!lt->h[i].cls)
				continue;
			if (!add_edge(w, ld, t, &lt->h[i], cls, mode, file,
				      line))
				return;
		}
	}
	hash_insert(&ld->chains, chain_key, 1);
}

void ld_acquire(struct vfiosim_world *w, struct vfiosim_lockdep_map *map,
		const void *lock, unsigned int subclass, uint8_t mode,
		bool trylock, const char *file, int line)
{
	struct vfiosim_thread *t = sim_current(w);
	struct vfiosim_lockdep *ld;
	struct ld_task *lt;
	struct ld_held *h;
	uint64_t key;
	uint32_t cls = 0;

	if (!t || !(lt = task_of(t)))
		return;
	if (lt->n == LD_MAX_HELD) {
		if (!lt->overflow_reported) {
			lt->overflow_reported = true;
			vfiosim_fail_at(w, VFIOSIM_FAIL_WARN, file, line,
					"lockdep: thread %s holds more than %d "
					"locks",
					t->name, LD_MAX_HELD);
		}
		return;
	}
	ld = ld_ctx(w);
	key = lt->n ? lt->h[lt->n - 1].chain_key : 0x5851f42d4c957f2dull;
	if (ld) {
		ld_lock(w, ld);
		cls = class_of(w, ld, map, subclass);
		key = nonzero(
			vfiosim_hash_mix(key, ((uint64_t)cls << 1) | trylock));
		if (cls && !w->lockdep_off)
			validate(w, ld, t, lt, cls, mode, trylock, key, file,
				 line);
		ld_unlock(w, ld);
	}
	h = &lt->h[lt->n++];
	memset(h, 0, sizeof(*h));
	h->lock = lock;
	h->cls = cls;
	h->file = file;
	h->line = line;
	h->chain_key = key;
	h->mode = mode;
	h->trylock = trylock;
}

static struct ld_held *find_held(struct ld_task *lt, const void *lock)
{
	for (int i = (int)lt->n - 1; i >= 0; i--)
		if (lt->h[i].lock == lock)
			return &lt->h[i];
	return NULL;
}

bool ld_release(struct vfiosim_world *w, const void *lock, const char *what,
		const char *file, int line)
{
	struct vfiosim_thread *t = sim_current(w);
	struct ld_task *lt;
	struct ld_held *h;
	unsigned int i;

	if (!t || !(lt = task_of(t)))
		return true;
	h = find_held(lt, lock);
	if (!h) {
		vfiosim_fail_at(
			w, VFIOSIM_FAIL_WARN, file, line,
			"bad unlock balance detected: thread %s releases "
			"%s, which it does not hold",
			t->name, what);
		return false;
	}
	if (h->pins)
		vfiosim_fail_at(w, VFIOSIM_FAIL_WARN, file, line,
				"releasing a pinned lock: %s, pinned at %s:%d, "
				"released by thread %s",
				what, vfiosim_basename(h->pin_file),
				h->pin_line, t->name);
	i = (unsigned int)(h - lt->h);
	memmove(&lt->h[i], &lt->h[i + 1], (lt->n - i - 1) * sizeof(*h));
	lt->n--;
	/* Re-derive the chain keys of the locks that were above it. */
	for (; i < lt->n; i++) {
		uint64_t prev = i ? lt->h[i - 1].chain_key :
				    0x5851f42d4c957f2dull;

		lt->h[i].chain_key = nonzero(
			vfiosim_hash_mix(prev, ((uint64_t)lt->h[i].cls << 1) |
						       lt->h[i].trylock));
	}
	return true;
}

bool ld_held(struct vfiosim_world *w, const void *lock, bool write)
{
	struct vfiosim_thread *t = sim_current(w);
	struct ld_held *h;

	if (!t || !t->lockdep)
		return false;
	h = find_held(t->lockdep, lock);
	return h && (!write || h->mode != LM_READ);
}

void ld_downgrade(struct vfiosim_world *w, const void *lock)
{
	struct vfiosim_thread *t = sim_current(w);
	struct ld_held *h;

	if (t && t->lockdep && (h = find_held(t->lockdep, lock)))
		h->mode = LM_READ;
}

/* ------------------------------------------------------ public helpers */

void sync_warn_no_thread(struct vfiosim_world *w, const char *op,
			 const char *name, const char *file, int line)
{
	vfiosim_fail_at(w, VFIOSIM_FAIL_WARN, file, line,
			"%s(%s) called from outside the world's simulated "
			"threads",
			op, name);
}

struct vfiosim_thread *sync_thread(struct vfiosim_world *w, const char *op,
				   const char *name, const char *file, int line)
{
	struct vfiosim_thread *t = sim_current(w);

	if (t)
		return t;
	if (sim_deterministic(w) && !w->running)
		return &w->host;
	sync_warn_no_thread(w, op, name, file, line);
	return NULL;
}

void sync_host_busy(struct vfiosim_world *w, const char *op, const char *name,
		    const struct vfiosim_thread *holder, const char *file,
		    int line)
{
	if (w->aborting)
		return;
	vfiosim_fail_at(w, VFIOSIM_FAIL_WARN, file, line,
			"%s(%s) outside a run, but %s holds it", op, name,
			holder ? holder->name : "a waiter");
}

/* assert_held from set-up or teardown code: nothing runs concurrently. */
static bool host_phase(const struct vfiosim_world *w)
{
	return !sim_current(w) && sim_deterministic(w) && !w->running;
}

VFIOSIM_EXPORT void vfiosim_mutex_assert_held_at(const struct vfiosim_mutex *m,
						 const char *file, int line)
{
	if (!m || host_phase(m->w))
		return;
	if (!ld_held(m->w, m, false))
		vfiosim_fail_at(m->w, VFIOSIM_FAIL_WARN, file, line,
				"lockdep_assert_held(%s) failed: thread %s "
				"does not hold it",
				m->dep.name,
				vfiosim_thread_name(sim_current(m->w)));
}

VFIOSIM_EXPORT void vfiosim_rwsem_assert_held_at(const struct vfiosim_rwsem *s,
						 bool write, const char *file,
						 int line)
{
	if (!s || host_phase(s->w))
		return;
	if (!ld_held(s->w, s, write))
		vfiosim_fail_at(s->w, VFIOSIM_FAIL_WARN, file, line,
				"lockdep_assert_held%s(%s) failed: thread %s "
				"does not hold it%s",
				write ? "_write" : "", s->dep.name,
				vfiosim_thread_name(sim_current(s->w)),
				write ? " for writing" : "");
}

VFIOSIM_EXPORT struct vfiosim_pin_cookie
vfiosim_lockdep_pin_lock_at(struct vfiosim_mutex *m, const char *file, int line)
{
	struct vfiosim_pin_cookie c = { 0 };
	struct vfiosim_thread *t;
	struct ld_held *h;

	if (!m)
		return c;
	t = sim_current(m->w);
	h = (t && t->lockdep) ? find_held(t->lockdep, m) : NULL;
	if (!h) {
		vfiosim_fail_at(m->w, VFIOSIM_FAIL_WARN, file, line,
				"lockdep_pin_lock(%s): lock not held",
				m->dep.name);
		return c;
	}
	h->pins++;
	h->pin_cookie = h->pin_cookie * 31 + (unsigned int)line + 1;
	if (!h->pin_cookie)
		h->pin_cookie = 1;
	h->pin_file = file;
	h->pin_line = line;
	c.val = h->pin_cookie;
	return c;
}

VFIOSIM_EXPORT void
vfiosim_lockdep_unpin_lock_at(struct vfiosim_mutex *m,
			      struct vfiosim_pin_cookie cookie,
			      const char *file, int line)
{
	struct vfiosim_thread *t;
	struct ld_held *h;

	if (!m)
		return;
	t = sim_current(m->w);
	h = (t && t->lockdep) ? find_held(t->lockdep, m) : NULL;
	if (!h || !h->pins || h->pin_cookie != cookie.val) {
		vfiosim_fail_at(m->w, VFIOSIM_FAIL_WARN, file, line,
				"lockdep_unpin_lock(%s): %s", m->dep.name,
				!h ? "lock not held (it was released while "
				     "pinned)" :
				!h->pins ? "lock not pinned" :
					   "pin cookie mismatch");
		return;
	}
	h->pins--;
}

VFIOSIM_EXPORT unsigned int vfiosim_lockdep_held_count(struct vfiosim_world *w)
{
	struct vfiosim_thread *t = w ? sim_current(w) : NULL;

	return (t && t->lockdep) ? ((struct ld_task *)t->lockdep)->n : 0;
}
