/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * scenarios.h - the bundled scenarios of the vfiosim command; the race
 * tests explore the same functions.
 */
#ifndef VFIOSIM_TOOLS_SCENARIOS_H
#define VFIOSIM_TOOLS_SCENARIOS_H

#include <libvfiosim/libvfiosim.h>

struct vfiosim_scenario {
	const char *name;
	const char *summary;
	void (*fn)(struct vfiosim_world *w, void *arg);
	/* How the command explores it by default. */
	enum vfiosim_strategy strategy;
	unsigned long iterations;
	unsigned int pct_depth;
	int preemption_bound;
	bool lockdep;
	/* The failure it exists to show. */
	enum vfiosim_failure_kind expect;
};

extern const struct vfiosim_scenario vfiosim_scenarios[];
extern const unsigned int vfiosim_nscenarios;

const struct vfiosim_scenario *vfiosim_scenario_find(const char *name);

void scenario_abba(struct vfiosim_world *w, void *arg);
void scenario_three_lock_cycle(struct vfiosim_world *w, void *arg);
void scenario_lost_update(struct vfiosim_world *w, void *arg);
void scenario_lost_update_fixed(struct vfiosim_world *w, void *arg);

#endif
