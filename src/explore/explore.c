/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * explore.c - run a scenario under many schedules; replay one.
 *
 * Schedules are numbered.  For the random and PCT strategies schedule i of
 * seed s is fully determined by (s, i); for DFS the search tree is split
 * into disjoint subtrees ("items": a forced prefix of decisions plus a floor
 * below which the search does not backtrack), found the same way by every
 * process.  Either way a schedule belongs to exactly one lane, where the
 * lanes are shard_count x jobs, so the union of all shards and jobs is the
 * single-process exploration.
 *
 * Every schedule runs in a fresh world; the worlds share one pool of host
 * threads and one lockdep graph, so a lock-order inversion seen across two
 * schedules is still reported.
 *
 * Worker processes (jobs > 1) are forked before any thread exists and send
 * progress and their result back over a pipe.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libvfiosim/explore.h>

#include "sim/sim_internal.h"
#include "sync/sync_internal.h"

static const char *const strategy_names[] = {
	[VFIOSIM_STRATEGY_RANDOM] = "random",
	[VFIOSIM_STRATEGY_PCT] = "pct",
	[VFIOSIM_STRATEGY_DFS] = "dfs",
};

VFIOSIM_EXPORT const char *vfiosim_strategy_name(enum vfiosim_strategy s)
{
	if ((unsigned int)s >= ARRAY_SIZE(strategy_names))
		return "unknown";
	return strategy_names[s];
}

VFIOSIM_EXPORT int vfiosim_strategy_parse(const char *name,
					  enum vfiosim_strategy *out)
{
	for (unsigned int i = 0; name && i < ARRAY_SIZE(strategy_names); i++) {
		if (!strcmp(name, strategy_names[i])) {
			if (out)
				*out = (enum vfiosim_strategy)i;
			return 0;
		}
	}
	return -EINVAL;
}

VFIOSIM_EXPORT void vfiosim_explore_opts_init(struct vfiosim_explore_opts *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof(*o));
	o->strategy = VFIOSIM_STRATEGY_RANDOM;
	o->seed = 1;
	o->iterations = 1000;
	o->pct_depth = 2;
	o->preemption_bound = 2;
	o->jobs = 1;
	o->shard_count = 1;
}

VFIOSIM_EXPORT void
vfiosim_explore_result_release(struct vfiosim_explore_result *r)
{
	if (!r)
		return;
	free((char *)r->failure.message);
	free((char *)r->failure.thread);
	free((char *)r->failure.token);
	free((char *)r->failure.report);
	free((char *)r->failure.file);
	free(r->trace);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------ strategies */

struct dfs_rec {
	uint16_t n;
	int16_t cur;
	uint16_t chosen;
	uint16_t preempt_before;
};

struct xstrat {
	struct sim_strategy ops;
	enum vfiosim_strategy kind;
	bool replay;
	uint64_t rng;
	/* PCT */
	unsigned int depth;
	unsigned long change[16];
	unsigned int nchange;
	unsigned long step;
	/* DFS and replay: forced prefix, then defaults (DFS) or divergence */
	const uint16_t *prefix;
	size_t nprefix;
	struct dfs_rec *recs;
	size_t nrecs, recs_cap;
	unsigned int preempt;
	bool oom;
};

static int default_choice(int cur)
{
	return cur >= 0 ? cur : 0;
}

static int x_choose(void *ctx, struct vfiosim_world *w,
		    struct vfiosim_thread *const *c, unsigned int n, int cur)
{
	struct xstrat *s = ctx;
	int choice;

	(void)w;
	if (s->replay) {
		if (s->nrecs >= s->nprefix || s->prefix[s->nrecs] >= n)
			return -1;
		choice = s->prefix[s->nrecs];
	} else if (s->kind == VFIOSIM_STRATEGY_DFS) {
		if (s->nrecs < s->nprefix) {
			if (s->prefix[s->nrecs] >= n)
				return -1;
			choice = s->prefix[s->nrecs];
		} else {
			choice = default_choice(cur);
		}
	} else if (s->kind == VFIOSIM_STRATEGY_PCT) {
		unsigned int best = 0;

		for (unsigned int i = 1; i < n; i++)
			if (c[i]->prio > c[best]->prio)
				best = i;
		choice = (int)best;
	} else {
		choice = (int)vfiosim_rand_below(&s->rng, n);
	}
	if (s->kind == VFIOSIM_STRATEGY_DFS || s->replay) {
		if (s->nrecs == s->recs_cap) {
			size_t cap = s->recs_cap ? s->recs_cap * 2 : 256;
			void *nr = realloc(s->recs, cap * sizeof(*s->recs));

			if (!nr) {
				s->oom = true;
				return choice;
			}
			s->recs = nr;
			s->recs_cap = cap;
		}
		s->recs[s->nrecs++] = (struct dfs_rec){
			.n = (uint16_t)n,
			.cur = (int16_t)cur,
			.chosen = (uint16_t)choice,
			.preempt_before = (uint16_t)s->preempt,
		};
	}
	if (cur >= 0 && choice != cur)
		s->preempt++;
	return choice;
}

static void x_thread_created(void *ctx, struct vfiosim_world *w,
			     struct vfiosim_thread *t)
{
	struct xstrat *s = ctx;

	(void)w;
	/* PCT: a random initial priority above every change-point priority. */
	t->prio = s->depth + 1 + (vfiosim_splitmix64(&s->rng) >> 16);
}

static void x_step(void *ctx, struct vfiosim_world *w,
		   struct vfiosim_thread *cur)
{
	struct xstrat *s = ctx;

	(void)w;
	s->step++;
	for (unsigned int j = 0; j < s->nchange; j++)
		if (s->change[j] == s->step)
			cur->prio =
				j + 1; /* lower than all initial priorities */
}

/* Reset @s for one run. */
static void xstrat_begin(struct xstrat *s, const struct vfiosim_explore_opts *o,
			 uint64_t seed, unsigned long k, const uint16_t *prefix,
			 size_t nprefix)
{
	s->ops.ctx = s;
	s->ops.choose = x_choose;
	s->ops.thread_created = x_thread_created;
	s->ops.step = s->kind == VFIOSIM_STRATEGY_PCT ? x_step : NULL;
	s->rng = seed;
	s->step = 0;
	s->nrecs = 0;
	s->preempt = 0;
	s->oom = false;
	s->prefix = prefix;
	s->nprefix = nprefix;
	s->nchange = 0;
	s->depth = o->pct_depth ? o->pct_depth : 1;
	if (s->kind == VFIOSIM_STRATEGY_PCT) {
		if (!k)
			k = 1;
		s->nchange = s->depth - 1 < ARRAY_SIZE(s->change) ?
				     s->depth - 1 :
				     ARRAY_SIZE(s->change);
		for (unsigned int j = 0; j < s->nchange; j++)
			s->change[j] = 1 + vfiosim_rand_below(&s->rng, k);
	}
}

/*
 * DFS backtracking: the next prefix after the run recorded in @s, not
 * backtracking below @floor.  Returns the new prefix length, or -1 when the
 * subtree is exhausted.
 */
static long dfs_next(const struct xstrat *s, size_t floor, int bound,
		     uint16_t *out)
{
	for (size_t k = s->nrecs; k-- > floor;) {
		const struct dfs_rec *r = &s->recs[k];
		int def = default_choice(r->cur);
		/* try order: def, then 0..n-1 without def */
		int pos = r->chosen == def ? 0 :
					     1 + r->chosen - (r->chosen > def);

		for (int p = pos + 1; p < r->n; p++) {
			int alt = p - 1 < def ? p - 1 : p;
			int cost = (r->cur >= 0 && alt != r->cur) ? 1 : 0;

			if (bound >= 0 && r->preempt_before + cost > bound)
				continue;
			for (size_t i = 0; i < k; i++)
				out[i] = s->recs[i].chosen;
			out[k] = (uint16_t)alt;
			return (long)k + 1;
		}
	}
	return -1;
}

/* ------------------------------------------------------------ one run */

struct lane {
	const struct vfiosim_config *cfg;
	const struct vfiosim_explore_opts *o;
	void (*scenario)(struct vfiosim_world *, void *);
	void *arg;
	struct sim_pool *pool;
	struct vfiosim_lockdep *ld;
	struct xstrat strat;
	struct vfiosim_explore_result *res;
	unsigned long max_steps;
	unsigned long run_limit; /* schedules this lane may run, 0 = no limit */
	bool stop;
	int progress_fd; /* worker process: where to send progress, or -1 */
};

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void keep_failure(struct lane *L, struct vfiosim_world *w,
			 unsigned long index)
{
	const struct vfiosim_failure *f = &w->failures[0];
	struct vfiosim_explore_result *r = L->res;

	r->failed = true;
	r->failing_schedule = index;
	r->failure.kind = f->kind;
	r->failure.line = f->line;
	r->failure.message = xstrdup(f->message);
	r->failure.thread = xstrdup(f->thread);
	r->failure.token = xstrdup(w->token);
	r->failure.report = xstrdup(f->report);
	r->failure.file = xstrdup(f->file);
	r->trace = sim_trace_text(w, 0);
	r->trace_hash = w->trace_hash;
	r->nfailures = (unsigned int)w->nfailures;
	if (L->o->trace_json) {
		FILE *fp = fopen(L->o->trace_json, "w");

		if (fp) {
			vfiosim_trace_write_chrome(w, fp);
			fclose(fp);
		}
	}
}

static void send_progress(struct lane *L);

/* Runs one schedule; returns 0, or a negative errno if no world could run. */
static int run_one(struct lane *L, uint64_t world_seed, unsigned long index,
		   const struct sim_token *replay)
{
	struct vfiosim_config cfg = *L->cfg;
	struct vfiosim_world *w;
	int rc;

	cfg.seed = world_seed;
	if (L->max_steps)
		cfg.max_steps = L->max_steps;
	rc = sim_world_create_for(&cfg, L->pool, L->ld, &L->strat.ops,
				  L->o->name, &w);
	if (rc)
		return rc;
	rc = vfiosim_world_run(w, L->scenario, L->arg);
	if (rc < 0) {
		sim_world_free(w);
		return rc;
	}
	sim_world_teardown(w);
	if (replay) {
		bool diverged = false;

		for (size_t i = 0; i < w->nfailures; i++)
			if (w->failures[i].kind == VFIOSIM_FAIL_NONDETERMINISM)
				diverged = true;
		if (!diverged && (w->ndecisions != replay->ndecisions ||
				  w->trace_hash != replay->hash))
			sim_fail_detail(
				w, VFIOSIM_FAIL_NONDETERMINISM, __FILE__,
				__LINE__, NULL,
				"replay diverged: the token has %zu "
				"decisions and event hash %llx, the run "
				"made %zu decisions with hash %llx",
				replay->ndecisions,
				(unsigned long long)replay->hash, w->ndecisions,
				(unsigned long long)w->trace_hash);
	}
	L->res->schedules++;
	if (w->steps > L->res->max_steps_seen)
		L->res->max_steps_seen = w->steps;
	if (w->nfailures) {
		L->res->failed_schedules++;
		if (!L->res->failed)
			keep_failure(L, w, index);
		if (!L->o->keep_going)
			L->stop = true;
	} else if (replay) {
		L->res->trace = sim_trace_text(w, 0);
		L->res->trace_hash = w->trace_hash;
		if (L->o->trace_json) {
			FILE *fp = fopen(L->o->trace_json, "w");

			if (fp) {
				vfiosim_trace_write_chrome(w, fp);
				fclose(fp);
			}
		}
	}
	sim_world_free(w);
	if (L->run_limit && L->res->schedules >= L->run_limit)
		L->stop = true;
	if (L->res->schedules % 1000 == 0)
		send_progress(L);
	return 0;
}

static uint64_t schedule_seed(uint64_t seed, unsigned long i)
{
	return vfiosim_hash_mix(vfiosim_hash_mix(seed, 0x7363686564756c65ull),
				i);
}

/* ------------------------------------------------------------- progress */

struct msg_progress {
	unsigned long schedules, failures, max_steps_seen;
};

static void send_progress(struct lane *L)
{
	if (L->progress_fd >= 0) {
		struct msg_progress m = { L->res->schedules,
					  L->res->failed_schedules,
					  L->res->max_steps_seen };
		char tag = 'P';

		if (write(L->progress_fd, &tag, 1) == 1 &&
		    write(L->progress_fd, &m, sizeof(m)) == (ssize_t)sizeof(m))
			return;
	} else if (L->o->progress) {
		struct vfiosim_explore_progress p = {
			.schedules = L->res->schedules,
			.total = L->o->strategy == VFIOSIM_STRATEGY_DFS ?
					 0 :
					 L->o->iterations,
			.failures = L->res->failed_schedules,
			.max_steps_seen = L->res->max_steps_seen,
		};

		L->o->progress(&p, L->o->progress_arg);
	}
}

/* ------------------------------------------------------ exploring a lane */

static int explore_sampled(struct lane *L, unsigned int lane,
			   unsigned int nlanes)
{
	const struct vfiosim_explore_opts *o = L->o;
	int rc;

	for (unsigned long i = lane; i < o->iterations && !L->stop;
	     i += nlanes) {
		uint64_t s = schedule_seed(o->seed, i);
		unsigned long k = o->pct_steps ?
					  o->pct_steps :
					  (L->res->max_steps_seen ?
						   L->res->max_steps_seen :
						   50);

		xstrat_begin(&L->strat, o, s, k, NULL, 0);
		rc = run_one(L, vfiosim_hash_mix(L->cfg->seed, i), i, NULL);
		if (rc)
			return rc;
	}
	return 0;
}

struct item {
	uint16_t *prefix;
	size_t len;
	size_t floor;
};

/* DFS below one item; *@count numbers the schedules for reports. */
static int dfs_item(struct lane *L, struct item *it, unsigned long *count)
{
	const struct vfiosim_explore_opts *o = L->o;
	uint16_t *prefix = NULL, *next = NULL;
	size_t len = it->len, cap = 0;
	int rc = 0;

	prefix = malloc((len ? len : 1) * sizeof(*prefix));
	if (!prefix)
		return -ENOMEM;
	if (len)
		memcpy(prefix, it->prefix, len * sizeof(*prefix));
	while (!L->stop) {
		long nl;

		xstrat_begin(&L->strat, o, o->seed, 0, prefix, len);
		rc = run_one(L, L->cfg->seed, (*count)++, NULL);
		if (rc || L->strat.oom) {
			rc = rc ? rc : -ENOMEM;
			break;
		}
		if (L->strat.nrecs > cap) {
			free(next);
			cap = L->strat.nrecs;
			next = malloc(cap * sizeof(*next));
			if (!next) {
				rc = -ENOMEM;
				break;
			}
		}
		nl = dfs_next(&L->strat, it->floor, o->preemption_bound, next);
		if (nl < 0)
			break;
		free(prefix);
		prefix = next;
		next = NULL;
		cap = 0;
		len = (size_t)nl;
	}
	free(prefix);
	free(next);
	return rc;
}

/*
 * Split the DFS tree into at least @want items, the same way in every
 * process: expand items breadth first, each expansion running the item's
 * leftmost schedule, which belongs to lane (expansion number % nlanes).
 */
static int dfs_split(struct lane *L, unsigned int lane, unsigned int nlanes,
		     size_t want, struct item **items_out, size_t *nitems_out,
		     unsigned long *count)
{
	const struct vfiosim_explore_opts *o = L->o;
	struct item *items = calloc(1, sizeof(*items));
	size_t n = 1, head = 0, cap = 1;
	unsigned long expansion = 0;
	int rc = 0;

	if (!items)
		return -ENOMEM;
	while (head < n && n - head < want && !L->stop) {
		struct item it = items[head++];
		struct vfiosim_explore_result saved = *L->res;
		bool mine = expansion++ % nlanes == lane;

		xstrat_begin(&L->strat, o, o->seed, 0, it.prefix, it.len);
		if (!mine) {
			/* Run it only to learn the tree; the owner reports it. */
			memset(L->res, 0, sizeof(*L->res));
		}
		rc = run_one(L, L->cfg->seed, mine ? (*count)++ : 0, NULL);
		if (!mine) {
			vfiosim_explore_result_release(L->res);
			*L->res = saved;
			L->stop = false;
		}
		if (rc)
			break;
		for (size_t k = L->strat.nrecs; k-- > it.floor;) {
			const struct dfs_rec *r = &L->strat.recs[k];
			int def = default_choice(r->cur);

			for (int alt = 0; alt < r->n; alt++) {
				int cost = (r->cur >= 0 && alt != r->cur) ? 1 :
									    0;
				struct item *c;

				if (alt == def)
					continue;
				if (o->preemption_bound >= 0 &&
				    r->preempt_before + cost >
					    o->preemption_bound)
					continue;
				if (n == cap) {
					void *ni = realloc(
						items,
						cap * 2 * sizeof(*items));

					if (!ni) {
						rc = -ENOMEM;
						goto out;
					}
					items = ni;
					cap *= 2;
				}
				c = &items[n++];
				c->len = k + 1;
				c->floor = k + 1;
				c->prefix = malloc(c->len * sizeof(uint16_t));
				if (!c->prefix) {
					rc = -ENOMEM;
					goto out;
				}
				for (size_t i = 0; i < k; i++)
					c->prefix[i] = L->strat.recs[i].chosen;
				c->prefix[k] = (uint16_t)alt;
			}
		}
		free(it.prefix);
		items[head - 1].prefix = NULL;
	}
out:
	/* Items still to explore are [head, n). */
	memmove(items, items + head, (n - head) * sizeof(*items));
	*items_out = items;
	*nitems_out = n - head;
	return rc;
}

static int explore_dfs(struct lane *L, unsigned int lane, unsigned int nlanes)
{
	struct item root = { .prefix = NULL, .len = 0, .floor = 0 };
	struct item *items = NULL;
	size_t nitems = 0;
	unsigned long count = 0;
	int rc;

	if (nlanes == 1) {
		rc = dfs_item(L, &root, &count);
		L->res->exhausted = !rc && !L->stop;
		return rc;
	}
	rc = dfs_split(L, lane, nlanes, 8 * (size_t)nlanes, &items, &nitems,
		       &count);
	for (size_t i = 0; !rc && i < nitems && !L->stop; i++)
		if (i % nlanes == lane)
			rc = dfs_item(L, &items[i], &count);
	L->res->exhausted = !rc && !L->stop;
	for (size_t i = 0; i < nitems; i++)
		free(items[i].prefix);
	free(items);
	return rc;
}

static int explore_lane(struct lane *L, unsigned int lane, unsigned int nlanes)
{
	if (L->o->strategy == VFIOSIM_STRATEGY_DFS)
		return explore_dfs(L, lane, nlanes);
	return explore_sampled(L, lane, nlanes);
}

/* ----------------------------------------------------- worker processes */

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t k = write(fd, c, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -EIO;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	char *c = p;

	while (n) {
		ssize_t k = read(fd, c, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -EIO;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

static void put_str(int fd, const char *s)
{
	uint32_t len = s ? (uint32_t)strlen(s) + 1 : 0;

	write_all(fd, &len, sizeof(len));
	if (len)
		write_all(fd, s, len);
}

static char *get_str(int fd, int *rc)
{
	uint32_t len;
	char *s;

	if (read_all(fd, &len, sizeof(len))) {
		*rc = -EIO;
		return NULL;
	}
	if (!len)
		return NULL;
	s = malloc(len);
	if (!s || read_all(fd, s, len)) {
		free(s);
		*rc = -EIO;
		return NULL;
	}
	s[len - 1] = 0;
	return s;
}

struct msg_result {
	int rc;
	unsigned long schedules, failed_schedules, max_steps_seen;
	unsigned long failing_schedule;
	bool exhausted, failed;
	int kind, line;
	uint64_t trace_hash;
	unsigned int nfailures;
};

static void send_result(int fd, int rc, const struct vfiosim_explore_result *r)
{
	struct msg_result m = {
		.rc = rc,
		.schedules = r->schedules,
		.failed_schedules = r->failed_schedules,
		.max_steps_seen = r->max_steps_seen,
		.failing_schedule = r->failing_schedule,
		.exhausted = r->exhausted,
		.failed = r->failed,
		.kind = r->failure.kind,
		.line = r->failure.line,
		.trace_hash = r->trace_hash,
		.nfailures = r->nfailures,
	};
	char tag = 'R';

	write_all(fd, &tag, 1);
	write_all(fd, &m, sizeof(m));
	put_str(fd, r->failure.message);
	put_str(fd, r->failure.thread);
	put_str(fd, r->failure.token);
	put_str(fd, r->failure.report);
	put_str(fd, r->failure.file);
	put_str(fd, r->trace);
}

static int recv_result(int fd, struct vfiosim_explore_result *r, int *lane_rc)
{
	struct msg_result m;
	int rc = 0;

	if (read_all(fd, &m, sizeof(m)))
		return -EIO;
	memset(r, 0, sizeof(*r));
	*lane_rc = m.rc;
	r->schedules = m.schedules;
	r->failed_schedules = m.failed_schedules;
	r->max_steps_seen = m.max_steps_seen;
	r->failing_schedule = m.failing_schedule;
	r->exhausted = m.exhausted;
	r->failed = m.failed;
	r->failure.kind = (enum vfiosim_failure_kind)m.kind;
	r->failure.line = m.line;
	r->trace_hash = m.trace_hash;
	r->nfailures = m.nfailures;
	r->failure.message = get_str(fd, &rc);
	r->failure.thread = get_str(fd, &rc);
	r->failure.token = get_str(fd, &rc);
	r->failure.report = get_str(fd, &rc);
	r->failure.file = get_str(fd, &rc);
	r->trace = get_str(fd, &rc);
	return rc;
}

static void merge(struct vfiosim_explore_result *into,
		  struct vfiosim_explore_result *from, bool first)
{
	into->schedules += from->schedules;
	into->failed_schedules += from->failed_schedules;
	if (from->max_steps_seen > into->max_steps_seen)
		into->max_steps_seen = from->max_steps_seen;
	into->exhausted = first ? from->exhausted :
				  into->exhausted && from->exhausted;
	if (from->failed && (!into->failed ||
			     from->failing_schedule < into->failing_schedule)) {
		struct vfiosim_explore_result keep = *into;

		vfiosim_explore_result_release(&(struct vfiosim_explore_result){
			.failure = keep.failure, .trace = keep.trace });
		into->failed = true;
		into->failing_schedule = from->failing_schedule;
		into->failure = from->failure;
		into->trace = from->trace;
		into->trace_hash = from->trace_hash;
		into->nfailures = from->nfailures;
		from->failure = (struct vfiosim_failure){ 0 };
		from->trace = NULL;
	}
	vfiosim_explore_result_release(from);
}

static int lane_run(struct lane *L, unsigned int lane, unsigned int nlanes)
{
	int rc;

	L->pool = sim_pool_new(L->cfg->pin_cpu);
	L->ld = L->cfg->lockdep ? sync_lockdep_new() : NULL;
	if (!L->pool || (L->cfg->lockdep && !L->ld)) {
		sim_pool_free(L->pool);
		sync_lockdep_free(L->ld);
		return -ENOMEM;
	}
	rc = explore_lane(L, lane, nlanes);
	send_progress(L);
	sim_pool_free(L->pool);
	sync_lockdep_free(L->ld);
	free(L->strat.recs);
	L->strat.recs = NULL;
	return rc;
}

static int run_jobs(struct lane *proto, unsigned int jobs)
{
	const struct vfiosim_explore_opts *o = proto->o;
	unsigned int nlanes = o->shard_count * jobs;
	struct msg_progress *prog = calloc(jobs, sizeof(*prog));
	struct pollfd *pfd = calloc(jobs, sizeof(*pfd));
	pid_t *pids = calloc(jobs, sizeof(*pids));
	int rc = 0, open_fds = 0, ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	bool first = true;

	if (!prog || !pfd || !pids) {
		rc = -ENOMEM;
		goto out;
	}
	fflush(NULL);
	for (unsigned int j = 0; j < jobs; j++) {
		int p[2];

		if (pipe(p)) {
			rc = -errno;
			break;
		}
		pids[j] = fork();
		if (pids[j] < 0) {
			rc = -errno;
			close(p[0]);
			close(p[1]);
			break;
		}
		if (pids[j] == 0) {
			struct vfiosim_explore_result r = { 0 };
			struct lane L = *proto;
			int lrc;

			close(p[0]);
			for (unsigned int k = 0; k < j; k++)
				close(pfd[k].fd);
			if (ncpu > 0) {
				cpu_set_t set;

				CPU_ZERO(&set);
				CPU_SET((int)(j % (unsigned int)ncpu), &set);
				(void)sched_setaffinity(0, sizeof(set), &set);
			}
			L.res = &r;
			L.progress_fd = p[1];
			lrc = lane_run(&L, o->shard_index + j * o->shard_count,
				       nlanes);
			send_result(p[1], lrc, &r);
			vfiosim_explore_result_release(&r);
			free(prog);
			free(pfd);
			free(pids);
			_exit(0);
		}
		close(p[1]);
		pfd[j].fd = p[0];
		pfd[j].events = POLLIN;
		open_fds++;
	}
	while (open_fds > 0) {
		if (poll(pfd, jobs, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		for (unsigned int j = 0; j < jobs; j++) {
			char tag;

			if (pfd[j].fd < 0 || !pfd[j].revents)
				continue;
			if (read(pfd[j].fd, &tag, 1) != 1) {
				close(pfd[j].fd);
				pfd[j].fd = -1;
				open_fds--;
				rc = rc ? rc :
					  -ECHILD; /* died before its result */
				continue;
			}
			if (tag == 'P') {
				if (read_all(pfd[j].fd, &prog[j],
					     sizeof(prog[j])))
					continue;
				if (o->progress) {
					struct vfiosim_explore_progress p = {
						0
					};

					for (unsigned int k = 0; k < jobs;
					     k++) {
						p.schedules +=
							prog[k].schedules;
						p.failures += prog[k].failures;
						if (prog[k].max_steps_seen >
						    p.max_steps_seen)
							p.max_steps_seen =
								prog[k].max_steps_seen;
					}
					p.total =
						o->strategy == VFIOSIM_STRATEGY_DFS ?
							0 :
							o->iterations;
					o->progress(&p, o->progress_arg);
				}
			} else if (tag == 'R') {
				struct vfiosim_explore_result r;
				int lrc = 0;

				if (recv_result(pfd[j].fd, &r, &lrc))
					rc = rc ? rc : -ECHILD;
				if (lrc && !rc)
					rc = lrc;
				merge(proto->res, &r, first);
				first = false;
				close(pfd[j].fd);
				pfd[j].fd = -1;
				open_fds--;
			}
		}
	}
out:
	for (unsigned int j = 0; pids && j < jobs; j++) {
		int status;

		if (pids[j] > 0 && waitpid(pids[j], &status, 0) == pids[j] &&
		    (!WIFEXITED(status) || WEXITSTATUS(status)))
			rc = rc ? rc : -ECHILD;
	}
	free(prog);
	free(pfd);
	free(pids);
	return rc;
}

/* ---------------------------------------------------------------- replay */

static int replay(struct lane *L, const char *token)
{
	struct sim_token t;
	char why[200];
	int rc;

	rc = vfiosim_token_check(token, L->o->name, why, sizeof(why));
	if (rc) {
		fprintf(stderr, "vfiosim: VFIOSIM_REPLAY refused: %s\n", why);
		return rc;
	}
	rc = sim_token_decode(token, &t, why, sizeof(why));
	if (rc)
		return rc;
	L->pool = sim_pool_new(L->cfg->pin_cpu);
	L->ld = L->cfg->lockdep ? sync_lockdep_new() : NULL;
	if (!L->pool || (L->cfg->lockdep && !L->ld)) {
		rc = -ENOMEM;
		goto out;
	}
	L->strat.replay = true;
	xstrat_begin(&L->strat, L->o, 0, 0, t.decisions, t.ndecisions);
	rc = run_one(L, t.seed, 0, &t);
	L->res->replayed = true;
out:
	sim_pool_free(L->pool);
	sync_lockdep_free(L->ld);
	free(L->strat.recs);
	sim_token_release(&t);
	return rc;
}

VFIOSIM_EXPORT int
vfiosim_explore(const struct vfiosim_config *cfg,
		const struct vfiosim_explore_opts *opts,
		void (*scenario)(struct vfiosim_world *w, void *arg), void *arg,
		struct vfiosim_explore_result *res)
{
	struct vfiosim_explore_opts o;
	struct vfiosim_config c;
	struct lane L;
	const char *token;
	int rc;

	if (!res)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (!scenario)
		return -EINVAL;
	if (opts)
		o = *opts;
	else
		vfiosim_explore_opts_init(&o);
	if (cfg)
		c = *cfg;
	else
		vfiosim_config_init(&c);
	if (!o.name)
		o.name = "scenario";
	if (c.mode != VFIOSIM_MODE_DETERMINISTIC ||
	    (unsigned int)o.strategy > VFIOSIM_STRATEGY_DFS || !o.jobs ||
	    !o.shard_count || o.shard_index >= o.shard_count ||
	    (o.strategy == VFIOSIM_STRATEGY_PCT && !o.pct_depth) ||
	    o.pct_depth > 17 || o.jobs > 256)
		return -EINVAL;
	memset(&L, 0, sizeof(L));
	L.cfg = &c;
	L.o = &o;
	L.scenario = scenario;
	L.arg = arg;
	L.res = res;
	L.max_steps = o.max_steps;
	L.progress_fd = -1;
	L.strat.kind = o.strategy;
	if (o.strategy == VFIOSIM_STRATEGY_DFS)
		L.run_limit = o.iterations;

	token = o.replay;
	if (!token && !o.ignore_env)
		token = getenv("VFIOSIM_REPLAY");
	if (token && *token)
		return replay(&L, token);

	if (o.jobs > 1)
		return run_jobs(&L, o.jobs);
	rc = lane_run(&L, o.shard_index, o.shard_count);
	return rc;
}
