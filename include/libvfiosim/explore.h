/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiosim/explore.h - run one scenario under many schedules.
 *
 * vfiosim_explore() creates a fresh world per schedule, runs the scenario in
 * it, destroys it, and stops at the first failing schedule (unless told to go
 * on).  A failure comes back with its report and a replay token; setting
 * VFIOSIM_REPLAY=<token> in the environment makes the same call run exactly
 * that schedule again instead of exploring.
 */
#ifndef LIBVFIOSIM_EXPLORE_H
#define LIBVFIOSIM_EXPLORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvfiosim/sim.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * enum vfiosim_strategy - how the next schedule is chosen.
 * @VFIOSIM_STRATEGY_RANDOM: every decision uniformly at random (seeded).
 * @VFIOSIM_STRATEGY_PCT: probabilistic concurrency testing with depth
 *	@pct_depth: random thread priorities, @pct_depth - 1 priority change
 *	points; finds a depth-d bug with probability >= 1/(n k^(d-1)) per run.
 * @VFIOSIM_STRATEGY_DFS: systematic depth-first search over decisions with
 *	at most @preemption_bound preemptions; exhaustive when unbounded.
 */
enum vfiosim_strategy {
	VFIOSIM_STRATEGY_RANDOM = 0,
	VFIOSIM_STRATEGY_PCT,
	VFIOSIM_STRATEGY_DFS,
};

/**
 * struct vfiosim_explore_progress - passed to the progress callback.
 * @schedules: schedules finished so far (by this process).
 * @total: schedules planned, 0 if unknown (DFS).
 * @failures: failing schedules so far.
 * @max_steps_seen: longest run so far, in scheduling points.
 */
struct vfiosim_explore_progress {
	unsigned long schedules;
	unsigned long total;
	unsigned long failures;
	unsigned long max_steps_seen;
};

/**
 * struct vfiosim_explore_opts - how to explore.  Start from
 * vfiosim_explore_opts_init().
 * @strategy: see enum vfiosim_strategy (default RANDOM).
 * @seed: seed of the exploration; schedule i of seed s is the same on every
 *	machine and in every shard.
 * @iterations: schedules to run (default 1000); for DFS, an upper bound
 *	(0 = until the search space is exhausted).
 * @pct_depth: PCT bug depth d (default 2).
 * @pct_steps: PCT's estimate k of scheduling points per run; 0 = learn it
 *	from the runs so far (default).
 * @preemption_bound: DFS preemption bound (default 2; -1 = unbounded).
 * @max_steps: step bound per run, overrides the config's when non-zero.
 * @jobs: worker processes (default 1).
 * @shard_index: this shard, 0-based (default 0).
 * @shard_count: number of shards (default 1).  The union of all shards'
 *	schedules is exactly the single-process exploration.
 * @name: scenario name, part of the replay token (default "scenario").
 * @replay: a token to replay instead of exploring; NULL means the
 *	VFIOSIM_REPLAY environment variable, if set.
 * @ignore_env: do not read VFIOSIM_REPLAY.
 * @keep_going: do not stop at the first failing schedule.
 * @trace_json: if set, write the Chrome trace of the failing (or replayed)
 *	run to this file.
 * @progress: called about every 1,000 schedules and at the end; may be NULL.
 * @progress_arg: passed to @progress.
 */
struct vfiosim_explore_opts {
	enum vfiosim_strategy strategy;
	uint64_t seed;
	unsigned long iterations;
	unsigned int pct_depth;
	unsigned long pct_steps;
	int preemption_bound;
	unsigned long max_steps;
	unsigned int jobs;
	unsigned int shard_index;
	unsigned int shard_count;
	const char *name;
	const char *replay;
	bool ignore_env;
	bool keep_going;
	const char *trace_json;
	void (*progress)(const struct vfiosim_explore_progress *p, void *arg);
	void *progress_arg;
};

/**
 * struct vfiosim_explore_result - what an exploration found.  Release with
 * vfiosim_explore_result_release().
 * @schedules: schedules run (by all jobs of this shard).
 * @failed_schedules: schedules that recorded at least one failure.
 * @exhausted: DFS covered its whole (bounded) search space.
 * @replayed: a token was replayed instead of exploring.
 * @max_steps_seen: longest run, in scheduling points.
 * @failed: a failure was found.
 * @failing_schedule: index of the first failing schedule.
 * @failure: its first failure (strings owned by the result).
 * @trace: the full interleaving of the failing (or replayed) run as text.
 * @trace_hash: a hash of that run's events (equal runs, equal hashes).
 * @nfailures: failures recorded in that run.
 */
struct vfiosim_explore_result {
	unsigned long schedules;
	unsigned long failed_schedules;
	bool exhausted;
	bool replayed;
	unsigned long max_steps_seen;
	bool failed;
	unsigned long failing_schedule;
	struct vfiosim_failure failure;
	char *trace;
	uint64_t trace_hash;
	unsigned int nfailures;
};

/** vfiosim_explore_opts_init() - defaults into @o. */
void vfiosim_explore_opts_init(struct vfiosim_explore_opts *o);

/**
 * vfiosim_explore() - run @scenario under many schedules.
 * @cfg: world configuration (NULL = defaults); its mode must be
 *	deterministic.
 * @o: options (NULL = defaults).
 * @scenario: runs as simulated thread "main" of a fresh world per schedule.
 * @arg: passed to @scenario; shared by all schedules, so the scenario must
 *	not keep state in it across runs.
 * @res: the result (zeroed first); release it when done.
 *
 * Return: 0 when the exploration ran (look at @res->failed), -EINVAL for bad
 * options or a replay token that is malformed, of another version or of
 * another scenario (a message says which on stderr), -ENOMEM, -ECHILD if a
 * worker process died.
 */
int vfiosim_explore(const struct vfiosim_config *cfg,
		    const struct vfiosim_explore_opts *o,
		    void (*scenario)(struct vfiosim_world *w, void *arg),
		    void *arg, struct vfiosim_explore_result *res);

/** vfiosim_explore_result_release() - free what @res owns; zero it. */
void vfiosim_explore_result_release(struct vfiosim_explore_result *res);

/**
 * vfiosim_strategy_name() - "random", "pct" or "dfs".
 */
const char *vfiosim_strategy_name(enum vfiosim_strategy s);

/**
 * vfiosim_strategy_parse() - parse a strategy name.
 *
 * Return: 0 and *@out set, or -EINVAL.
 */
int vfiosim_strategy_parse(const char *name, enum vfiosim_strategy *out);

/**
 * vfiosim_token_check() - validate a replay token without running it.
 * @token: the token.
 * @name: expected scenario name, or NULL to accept any.
 * @why: a message for the user, or NULL.
 * @whylen: size of @why.
 *
 * Return: 0 if @token is well formed, of this version and (when @name is
 * given) of that scenario; -EINVAL otherwise, with the reason in @why.
 */
int vfiosim_token_check(const char *token, const char *name, char *why,
			size_t whylen);

/**
 * vfiosim_token_scenario() - copy the scenario name out of @token.
 *
 * Return: the name's length, or -EINVAL if @token is malformed.
 */
int vfiosim_token_scenario(const char *token, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* LIBVFIOSIM_EXPLORE_H */
