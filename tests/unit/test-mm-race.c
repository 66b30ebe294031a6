/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-mm-race.c - the mm layer under the explorer: every lock operation on
 * mmap_lock is a scheduling point, so pinning, munmap, exec and locked_vm
 * accounting interleave in every order the strategies pick; the world's
 * teardown then checks that no page, pin or mm reference leaked.
 */
#include "testutil.h"

#define PAGE 4096ull
#define NPAGES 8

struct race {
	struct vfiosim_world *w;
	struct vfiosim_task *t;
	uint64_t addr;
	long pinned;
	bool held_mm;
};

/* A vfio_dma-like user: get_task_mm(), pin, account, unpin, refund. */
static void pinner(void *arg)
{
	struct race *r = arg;
	struct vfiosim_mm *mm = vfiosim_get_task_mm(r->t);
	uint64_t pfns[NPAGES];

	if (!mm)
		return; /* the task exited its mm: like type1's -ESRCH */
	r->pinned = vfiosim_pin_user_pages_unlocked(
		mm, r->addr, NPAGES, VFIOSIM_FOLL_WRITE | VFIOSIM_FOLL_LONGTERM,
		pfns);
	if (r->pinned > 0) {
		VFIOSIM_ASSERT(r->w,
			       vfiosim_account_locked_vm(
				       mm, (unsigned long)r->pinned, true) == 0,
			       "charge");
		vfiosim_sched_point(r->w, "pinned");
		vfiosim_account_locked_vm(mm, (unsigned long)r->pinned, false);
		vfiosim_unpin_user_pages_dirty_lock(
			r->w, pfns, (unsigned long)r->pinned, true);
	}
	VFIOSIM_ASSERT(r->w, vfiosim_mm_locked_vm(mm) == 0, "locked_vm %llu",
		       (unsigned long long)vfiosim_mm_locked_vm(mm));
	vfiosim_mmput(mm);
}

/* The process unmaps half of the buffer, then execs. */
static void execer(void *arg)
{
	struct race *r = arg;
	struct vfiosim_mm *mm = vfiosim_task_mm(r->t);

	VFIOSIM_ASSERT(r->w,
		       vfiosim_munmap(mm, r->addr + 4 * PAGE, 4 * PAGE) == 0,
		       "munmap");
	VFIOSIM_ASSERT(r->w, vfiosim_task_exec(r->t) == 0, "exec");
}

static void scenario(struct vfiosim_world *w, void *arg)
{
	struct race r = { .w = w, .pinned = -1 };
	struct vfiosim_thread *a, *b;
	struct vfiosim_mm *mm;

	(void)arg;
	r.t = vfiosim_task_create(w, "qemu");
	vfiosim_task_set_cap(r.t, VFIOSIM_CAP_IPC_LOCK, true);
	mm = vfiosim_task_mm(r.t);
	VFIOSIM_ASSERT(w,
		       vfiosim_mmap(mm, 0, NPAGES * PAGE,
				    VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE,
				    VFIOSIM_MAP_PRIVATE, &r.addr) == 0,
		       "mmap");
	a = vfiosim_thread_create_task(w, "pinner", r.t, pinner, &r);
	b = vfiosim_thread_create_task(w, "execer", r.t, execer, &r);
	vfiosim_thread_join(a);
	vfiosim_thread_join(b);
	/* Depending on the order: all 8, the 4 left mapped, or none (the
	 * new mm has nothing there). */
	VFIOSIM_ASSERT(
		w, r.pinned == NPAGES || r.pinned == 4 || r.pinned == -EFAULT,
		"pinned %ld", r.pinned);
}

START_TEST(pin_munmap_exec_explored)
{
	struct vfiosim_explore_opts o;
	struct vfiosim_config c;

	vfiosim_config_init(&c);
	c.mm.phys_size = 256ull << 20;
	vfiosim_explore_opts_init(&o);
	o.iterations = 300;
	o.name = "mm-pin-munmap-exec";
	vfiosim_ck_explore(&c, &o, scenario, NULL);
	o.strategy = VFIOSIM_STRATEGY_DFS;
	o.preemption_bound = 2;
	o.iterations = 2000;
	vfiosim_ck_explore(&c, &o, scenario, NULL);
}
END_TEST

/* The same, with a bug: the pinner forgets to unpin when the mm it pinned
 * from has been replaced by exec -- the explorer must find the leak. */
static void leaky_pinner(void *arg)
{
	struct race *r = arg;
	struct vfiosim_mm *mm = vfiosim_get_task_mm(r->t);
	uint64_t pfns[NPAGES];
	long n;

	if (!mm)
		return;
	n = vfiosim_pin_user_pages_unlocked(
		mm, r->addr, NPAGES, VFIOSIM_FOLL_WRITE | VFIOSIM_FOLL_LONGTERM,
		pfns);
	vfiosim_sched_point(r->w, "pinned");
	if (n > 0 && vfiosim_task_mm(r->t) == mm)
		vfiosim_unpin_user_pages(r->w, pfns, (unsigned long)n);
	vfiosim_mmput(mm);
}

static void leaky_scenario(struct vfiosim_world *w, void *arg)
{
	struct race r = { .w = w };
	struct vfiosim_thread *a, *b;
	struct vfiosim_mm *mm;

	(void)arg;
	r.t = vfiosim_task_create(w, "qemu");
	mm = vfiosim_task_mm(r.t);
	vfiosim_mmap(mm, 0, NPAGES * PAGE,
		     VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE,
		     VFIOSIM_MAP_PRIVATE, &r.addr);
	a = vfiosim_thread_create_task(w, "pinner", r.t, leaky_pinner, &r);
	b = vfiosim_thread_create_task(w, "execer", r.t, execer, &r);
	vfiosim_thread_join(a);
	vfiosim_thread_join(b);
}

START_TEST(leaked_pin_found)
{
	struct vfiosim_explore_opts o;
	struct vfiosim_explore_result res;
	struct vfiosim_config c;

	vfiosim_config_init(&c);
	c.mm.phys_size = 256ull << 20;
	vfiosim_explore_opts_init(&o);
	o.iterations = 500;
	o.name = "mm-leaky-pinner";
	vfiosim_ck_explore_finds(&c, &o, leaky_scenario, NULL,
				 VFIOSIM_FAIL_LEAK, &res);
	ck_assert(tu_contains(res.failure.message, "pin count"));
	ck_assert(tu_contains(res.failure.message, "pinner"));
	vfiosim_explore_result_release(&res);
}
END_TEST

static Suite *race_suite(void)
{
	Suite *s = suite_create("mm-race");
	TCase *tc = tcase_create("explore");

	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, pin_munmap_exec_explored);
	tcase_add_test(tc, leaked_pin_found);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(race_suite)
