/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfiosim - explore the bundled scenarios, replay a token, render a trace.
 *
 *   vfiosim list
 *   vfiosim run NAME [--strategy random|pct|dfs] [--iterations N] [--seed N]
 *                    [--depth D] [--bound B] [--jobs N] [--shard I/N]
 *                    [--max-steps N] [--no-lockdep] [--keep-going]
 *                    [--trace FILE.json] [--quiet]
 *   vfiosim replay TOKEN [--trace FILE.json] [--no-lockdep]
 *   vfiosim demo
 *
 * Exit status: 0 no failure, 1 a failure was found (or reproduced),
 * 2 usage error or a refused token.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvfiosim/libvfiosim.h>

#include "scenarios.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vfiosim list\n"
		"       vfiosim run NAME [--strategy random|pct|dfs] [--iterations N]\n"
		"                        [--seed N] [--depth D] [--bound B] [--jobs N]\n"
		"                        [--shard I/N] [--max-steps N] [--no-lockdep]\n"
		"                        [--keep-going] [--trace FILE.json] [--quiet]\n"
		"       vfiosim replay TOKEN [--trace FILE.json] [--no-lockdep]\n"
		"       vfiosim demo\n");
}

static int cmd_list(void)
{
	for (unsigned int i = 0; i < vfiosim_nscenarios; i++) {
		const struct vfiosim_scenario *s = &vfiosim_scenarios[i];

		printf("%-18s %s\n%-18s default: --strategy %s", s->name,
		       s->summary, "", vfiosim_strategy_name(s->strategy));
		if (s->strategy == VFIOSIM_STRATEGY_DFS)
			printf(" --bound %d", s->preemption_bound);
		else
			printf(" --iterations %lu", s->iterations);
		if (s->strategy == VFIOSIM_STRATEGY_PCT)
			printf(" --depth %u", s->pct_depth);
		if (!s->lockdep)
			printf(" --no-lockdep");
		printf("; expects %s\n",
		       s->expect == VFIOSIM_FAIL_NR_KINDS ?
			       "no failure" :
			       vfiosim_failure_kind_name(s->expect));
	}
	return 0;
}

struct progress_state {
	struct timespec last;
	bool tty;
	bool printed;
};

static void progress(const struct vfiosim_explore_progress *p, void *arg)
{
	struct progress_state *ps = arg;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - ps->last.tv_sec < 1 && ps->printed)
		return;
	ps->last = now;
	ps->printed = true;
	if (p->total)
		fprintf(stderr,
			"%s%lu/%lu schedules (%lu%%), %lu failing, longest run %lu steps%s",
			ps->tty ? "\r" : "", p->schedules, p->total,
			p->schedules * 100 / p->total, p->failures,
			p->max_steps_seen, ps->tty ? "   " : "\n");
	else
		fprintf(stderr,
			"%s%lu schedules, %lu failing, longest run %lu steps%s",
			ps->tty ? "\r" : "", p->schedules, p->failures,
			p->max_steps_seen, ps->tty ? "   " : "\n");
}

static int parse_ulong(const char *s, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 0);
	return (errno || end == s || *end || *s == '-') ? -1 : 0;
}

static void print_result(const char *name, const struct vfiosim_explore_opts *o,
			 const struct vfiosim_explore_result *r)
{
	printf("%s: %s, %lu schedule%s", name,
	       vfiosim_strategy_name(o->strategy), r->schedules,
	       r->schedules == 1 ? "" : "s");
	if (o->strategy == VFIOSIM_STRATEGY_DFS)
		printf(" (preemption bound %d%s)", o->preemption_bound,
		       r->exhausted ? ", search space exhausted" : "");
	printf(", longest run %lu steps\n", r->max_steps_seen);
	if (!r->failed) {
		printf("no failure found\n");
		return;
	}
	printf("FAILED at schedule %lu (%lu failing schedule%s):\n\n%s\n",
	       r->failing_schedule, r->failed_schedules,
	       r->failed_schedules == 1 ? "" : "s", r->failure.report);
	printf("replay with:\n  vfiosim replay '%s'\n", r->failure.token);
}

enum { OPT_NOLOCKDEP = 256, OPT_KEEPGOING, OPT_MAXSTEPS, OPT_QUIET };

static const struct option run_opts[] = {
	{ "strategy", required_argument, NULL, 's' },
	{ "iterations", required_argument, NULL, 'n' },
	{ "seed", required_argument, NULL, 'S' },
	{ "depth", required_argument, NULL, 'd' },
	{ "bound", required_argument, NULL, 'b' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "shard", required_argument, NULL, 'h' },
	{ "trace", required_argument, NULL, 't' },
	{ "max-steps", required_argument, NULL, OPT_MAXSTEPS },
	{ "no-lockdep", no_argument, NULL, OPT_NOLOCKDEP },
	{ "keep-going", no_argument, NULL, OPT_KEEPGOING },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ NULL, 0, NULL, 0 },
};

static void defaults_for(const struct vfiosim_scenario *s,
			 struct vfiosim_explore_opts *o,
			 struct vfiosim_config *c)
{
	vfiosim_config_init(c);
	vfiosim_explore_opts_init(o);
	c->lockdep = s->lockdep;
	o->name = s->name;
	o->strategy = s->strategy;
	o->iterations = s->iterations;
	o->pct_depth = s->pct_depth;
	o->preemption_bound = s->preemption_bound;
	o->ignore_env = true;
}

static int parse_opts(int argc, char **argv, struct vfiosim_explore_opts *o,
		      struct vfiosim_config *c, bool *quiet)
{
	unsigned long v, v2;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", run_opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (vfiosim_strategy_parse(optarg, &o->strategy)) {
				fprintf(stderr,
					"vfiosim: unknown strategy '%s' "
					"(random, pct or dfs)\n",
					optarg);
				return -1;
			}
			if (o->strategy != VFIOSIM_STRATEGY_DFS &&
			    !o->iterations)
				o->iterations = 1000;
			break;
		case 'n':
			if (parse_ulong(optarg, &o->iterations))
				goto bad;
			break;
		case 'S':
			if (parse_ulong(optarg, &v))
				goto bad;
			o->seed = v;
			break;
		case 'd':
			if (parse_ulong(optarg, &v) || !v || v > 17)
				goto bad;
			o->pct_depth = (unsigned int)v;
			break;
		case 'b':
			if (!strcmp(optarg, "none") || !strcmp(optarg, "-1")) {
				o->preemption_bound = -1;
				break;
			}
			if (parse_ulong(optarg, &v) || v > 1000)
				goto bad;
			o->preemption_bound = (int)v;
			break;
		case 'j':
			if (parse_ulong(optarg, &v) || !v || v > 256)
				goto bad;
			o->jobs = (unsigned int)v;
			break;
		case 'h':
			if (sscanf(optarg, "%lu/%lu", &v, &v2) != 2 || !v2 ||
			    v >= v2)
				goto bad;
			o->shard_index = (unsigned int)v;
			o->shard_count = (unsigned int)v2;
			break;
		case 't':
			o->trace_json = optarg;
			break;
		case OPT_MAXSTEPS:
			if (parse_ulong(optarg, &o->max_steps))
				goto bad;
			break;
		case OPT_NOLOCKDEP:
			c->lockdep = false;
			break;
		case OPT_KEEPGOING:
			o->keep_going = true;
			break;
		case OPT_QUIET:
			*quiet = true;
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	return 0;
bad:
	fprintf(stderr, "vfiosim: bad value '%s' for %s\n", optarg,
		argv[optind - 1]);
	return -1;
}

static int cmd_run(int argc, char **argv)
{
	const struct vfiosim_scenario *s;
	struct vfiosim_explore_opts o;
	struct vfiosim_explore_result r;
	struct vfiosim_config c;
	struct progress_state ps = { .tty = isatty(2) };
	bool quiet = false;
	int rc;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	s = vfiosim_scenario_find(argv[1]);
	if (!s) {
		fprintf(stderr,
			"vfiosim: no scenario '%s' (see 'vfiosim list')\n",
			argv[1]);
		return 2;
	}
	defaults_for(s, &o, &c);
	if (parse_opts(argc - 1, argv + 1, &o, &c, &quiet))
		return 2;
	if (!quiet) {
		o.progress = progress;
		o.progress_arg = &ps;
	}
	rc = vfiosim_explore(&c, &o, s->fn, NULL, &r);
	if (ps.printed && ps.tty)
		fputc('\n', stderr);
	if (rc) {
		fprintf(stderr, "vfiosim: exploration failed: %s\n",
			strerror(-rc));
		return 2;
	}
	print_result(s->name, &o, &r);
	rc = r.failed ? 1 : 0;
	vfiosim_explore_result_release(&r);
	return rc;
}

static int replay_token(const char *token, const char *trace, bool lockdep,
			bool show_trace)
{
	const struct vfiosim_scenario *s;
	struct vfiosim_explore_opts o;
	struct vfiosim_explore_result r;
	struct vfiosim_config c;
	char name[64], why[200];
	int rc;

	if (vfiosim_token_check(token, NULL, why, sizeof(why))) {
		fprintf(stderr, "vfiosim: token refused: %s\n", why);
		return 2;
	}
	vfiosim_token_scenario(token, name, sizeof(name));
	s = vfiosim_scenario_find(name);
	if (!s) {
		fprintf(stderr,
			"vfiosim: token refused: it is for scenario '%s', "
			"which this command does not bundle (replay it in "
			"its own test with VFIOSIM_REPLAY='%s')\n",
			name, token);
		return 2;
	}
	defaults_for(s, &o, &c);
	c.lockdep = lockdep && s->lockdep;
	o.replay = token;
	o.trace_json = trace;
	rc = vfiosim_explore(&c, &o, s->fn, NULL, &r);
	if (rc) {
		fprintf(stderr, "vfiosim: replay failed: %s\n", strerror(-rc));
		return 2;
	}
	if (show_trace && r.trace)
		printf("Interleaving:\n%s\n", r.trace);
	if (r.failed)
		printf("%s\n", r.failure.report);
	else
		printf("replayed %s: no failure\n", name);
	if (trace)
		printf("Chrome trace written to %s (open it in Perfetto or "
		       "chrome://tracing)\n",
		       trace);
	rc = r.failed ? 1 : 0;
	vfiosim_explore_result_release(&r);
	return rc;
}

static int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "trace", required_argument, NULL, 't' },
		{ "no-lockdep", no_argument, NULL, OPT_NOLOCKDEP },
		{ NULL, 0, NULL, 0 },
	};
	const char *trace = NULL;
	bool lockdep = true;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 't')
			trace = optarg;
		else if (opt == OPT_NOLOCKDEP)
			lockdep = false;
		else {
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	return replay_token(argv[optind], trace, lockdep, true);
}

static int demo_explore(const char *name, enum vfiosim_strategy strategy,
			bool lockdep, char **token)
{
	const struct vfiosim_scenario *s = vfiosim_scenario_find(name);
	struct vfiosim_explore_opts o;
	struct vfiosim_explore_result r;
	struct vfiosim_config c;
	int rc;

	defaults_for(s, &o, &c);
	o.strategy = strategy;
	if (strategy != VFIOSIM_STRATEGY_DFS && !o.iterations)
		o.iterations = 1000;
	c.lockdep = lockdep;
	rc = vfiosim_explore(&c, &o, s->fn, NULL, &r);
	if (rc) {
		fprintf(stderr, "vfiosim: exploration failed: %s\n",
			strerror(-rc));
		return -1;
	}
	print_result(name, &o, &r);
	if (token && r.failed)
		*token = strdup(r.failure.token);
	rc = r.failed;
	vfiosim_explore_result_release(&r);
	return rc;
}

static int cmd_demo(void)
{
	char *token = NULL;
	int found, rc;

	printf("=== 1. The notifier pattern: read under a mutex, drop it around a\n"
	       "===    callback, retake it and write back what was read.\n"
	       "===    ThreadSanitizer and helgrind report nothing here; PCT finds it.\n\n");
	found = demo_explore("lost-update", VFIOSIM_STRATEGY_PCT, true, &token);
	if (found != 1 || !token) {
		fprintf(stderr,
			"vfiosim demo: the lost update was not found\n");
		free(token);
		return 1;
	}
	printf("\n=== 2. Replaying that token runs the same interleaving again:\n\n");
	rc = replay_token(token, NULL, true, false);
	free(token);
	if (rc != 1) {
		fprintf(stderr,
			"vfiosim demo: replay did not reproduce the failure\n");
		return 1;
	}
	printf("\n=== 3. The fixed version (re-read after retaking the lock), every\n"
	       "===    schedule with at most two preemptions:\n\n");
	if (demo_explore("lost-update-fixed", VFIOSIM_STRATEGY_DFS, true,
			 NULL) != 0)
		return 1;
	printf("\n=== 4. An ABBA inversion: lockdep reports it on the first schedule,\n"
	       "===    before any thread blocks ...\n\n");
	if (demo_explore("abba", VFIOSIM_STRATEGY_DFS, true, NULL) != 1)
		return 1;
	printf("\n=== 5. ... and without lockdep, DFS finds the schedule that really\n"
	       "===    deadlocks, with the wait-for cycle:\n\n");
	if (demo_explore("abba", VFIOSIM_STRATEGY_DFS, false, NULL) != 1)
		return 1;
	printf("\nDemo complete: 'vfiosim list' shows the bundled scenarios.\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "list"))
		return cmd_list();
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "replay"))
		return cmd_replay(argc - 1, argv + 1);
	if (!strcmp(argv[1], "demo"))
		return cmd_demo();
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "vfiosim: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
