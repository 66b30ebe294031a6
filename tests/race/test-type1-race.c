/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-type1-race.c - the type1 model under exploration: concurrent
 * map/unmap keeps every invariant, and taking mmap_lock before
 * iommu->lock (the order type1 forbids) is found both by lockdep and, with
 * lockdep off, as a real deadlock.
 */
#include <libvfiosim/iommu.h>
#include <libvfiosim/mm.h>
#include <libvfiosim/vfio.h>

#include "testutil.h"

#define PG 0x1000ull
#define RW (VFIOSIM_DMA_MAP_FLAG_READ | VFIOSIM_DMA_MAP_FLAG_WRITE)

struct race {
	struct vfiosim_world *w;
	struct vfiosim_iommu *iommu;
	struct vfiosim_iommu_group *group;
	struct vfiosim_type1 *t1;
	struct vfiosim_mm *mm;
	uint64_t buf;
};

static struct race *race_setup(struct vfiosim_world *w)
{
	struct race *r = vfiosim_zalloc(w, sizeof(*r), NULL);

	VFIOSIM_ASSERT(w, r != NULL, "alloc");
	r->w = w;
	VFIOSIM_ASSERT(w, vfiosim_iommu_create(w, NULL, &r->iommu) == 0,
		       "iommu");
	VFIOSIM_ASSERT(w, vfiosim_iommu_group_alloc(r->iommu, &r->group) == 0,
		       "group");
	VFIOSIM_ASSERT(w,
		       vfiosim_type1_open(w, VFIOSIM_TYPE1v2_IOMMU, 65535,
					  &r->t1) == 0,
		       "open");
	VFIOSIM_ASSERT(w, vfiosim_type1_attach_group(r->t1, r->group) == 0,
		       "attach");
	r->mm = vfiosim_current_mm(w);
	VFIOSIM_ASSERT(w,
		       vfiosim_mmap(r->mm, 0, 16 * PG,
				    VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE,
				    VFIOSIM_MAP_PRIVATE, &r->buf) == 0,
		       "mmap");
	return r;
}

static void race_teardown(struct race *r)
{
	vfiosim_type1_release(r->t1);
	vfiosim_iommu_group_free(r->group);
	vfiosim_iommu_destroy(r->iommu);
}

struct mapper_arg {
	struct race *r;
	int idx;
};

/* Schedules in which the two mappers' ranges met (one got -EEXIST). */
static unsigned long collisions;

/* Two threads of the same process map and unmap overlapping ranges. */
static void mapper(void *p)
{
	struct mapper_arg *a = p;
	struct race *r = a->r;
	int idx = a->idx;
	uint64_t iova = 0x100000 + (uint64_t)idx * 2 * PG;

	for (int i = 0; i < 2; i++) {
		int rc = vfiosim_type1_map_dma(r->t1,
					       r->buf + (uint64_t)idx * 4 * PG,
					       iova, 4 * PG, RW);

		/* The ranges overlap: one of the two may see -EEXIST. */
		VFIOSIM_ASSERT(r->w, rc == 0 || rc == -EEXIST, "map rc %d", rc);
		if (rc == -EEXIST)
			collisions++;
		if (!rc)
			VFIOSIM_ASSERT(r->w,
				       vfiosim_type1_unmap_dma(r->t1, iova,
							       4 * PG, 0, NULL,
							       NULL) == 0,
				       "unmap");
	}
}

static void concurrent_scenario(struct vfiosim_world *w, void *arg)
{
	struct race *r = race_setup(w);
	struct mapper_arg *args = vfiosim_zalloc(w, 2 * sizeof(*args), NULL);
	struct vfiosim_thread *t[2];

	(void)arg;
	VFIOSIM_ASSERT(w, args != NULL, "alloc");
	args[0] = (struct mapper_arg){ r, 0 };
	args[1] = (struct mapper_arg){ r, 1 };
	t[0] = vfiosim_thread_create(w, "mapper0", mapper, &args[0]);
	t[1] = vfiosim_thread_create(w, "mapper1", mapper, &args[1]);
	vfiosim_thread_join(t[0]);
	vfiosim_thread_join(t[1]);
	VFIOSIM_ASSERT(w, vfiosim_type1_check_invariants(r->t1) == 0,
		       "invariants");
	VFIOSIM_ASSERT(w, vfiosim_mm_locked_vm(r->mm) == 0, "locked_vm %llu",
		       (unsigned long long)vfiosim_mm_locked_vm(r->mm));
	race_teardown(r);
}

START_TEST(concurrent_map_unmap_keeps_invariants)
{
	struct vfiosim_explore_opts o;

	vfiosim_explore_opts_init(&o);
	o.name = "type1-concurrent";
	o.strategy = VFIOSIM_STRATEGY_PCT;
	o.iterations = 200;
	o.ignore_env = true; /* in this process, counted below */
	collisions = 0;
	vfiosim_ck_explore(NULL, &o, concurrent_scenario, NULL);
	o.strategy = VFIOSIM_STRATEGY_RANDOM;
	vfiosim_ck_explore(NULL, &o, concurrent_scenario, NULL);
	/* The exploration reached the overlap, not only the easy orders. */
	ck_assert_uint_gt(collisions, 0);
}
END_TEST

/* A thread that holds mmap_lock for writing and asks type1 for its info. */
static void wrong_order(void *p)
{
	struct race *r = p;
	struct vfiosim_type1_info info;

	vfiosim_down_write(vfiosim_mm_mmap_lock(r->mm));
	vfiosim_type1_get_info(r->t1, &info); /* takes iommu->lock */
	vfiosim_up_write(vfiosim_mm_mmap_lock(r->mm));
}

static void right_order(void *p)
{
	struct race *r = p;

	/* iommu->lock, then mmap_lock inside the pinning. */
	vfiosim_type1_map_dma(r->t1, r->buf, 0x100000, PG, RW);
	vfiosim_type1_unmap_dma(r->t1, 0x100000, PG, 0, NULL, NULL);
}

static void inversion_scenario(struct vfiosim_world *w, void *arg)
{
	struct race *r = race_setup(w);
	struct vfiosim_thread *a, *b;

	(void)arg;
	a = vfiosim_thread_create(w, "qemu-map", right_order, r);
	b = vfiosim_thread_create(w, "fault-path", wrong_order, r);
	vfiosim_thread_join(a);
	vfiosim_thread_join(b);
	race_teardown(r);
}

START_TEST(mmap_lock_before_iommu_lock_is_found)
{
	struct vfiosim_explore_opts o;
	struct vfiosim_explore_result res;
	struct vfiosim_config c;

	vfiosim_explore_opts_init(&o);
	o.name = "type1-inversion";
	o.strategy = VFIOSIM_STRATEGY_DFS;
	o.iterations = 0;
	o.preemption_bound = 2;
	vfiosim_ck_explore_finds(NULL, &o, inversion_scenario, NULL,
				 VFIOSIM_FAIL_LOCK_ORDER, &res);
	ck_assert(tu_contains(res.failure.report, "iommu->lock"));
	ck_assert(tu_contains(res.failure.report, "mm->mmap_lock"));
	vfiosim_explore_result_release(&res);

	vfiosim_config_init(&c);
	c.lockdep = false;
	vfiosim_ck_explore_finds(&c, &o, inversion_scenario, NULL,
				 VFIOSIM_FAIL_DEADLOCK, &res);
	ck_assert(tu_contains(res.failure.report, "Wait-for cycle"));
	ck_assert(tu_contains(res.failure.report, "mutex iommu->lock"));
	ck_assert(tu_contains(res.failure.report, "mm->mmap_lock"));
	vfiosim_explore_result_release(&res);
}
END_TEST

static Suite *type1_race_suite(void)
{
	Suite *s = suite_create("type1-race");
	TCase *tc = tcase_create("type1-race");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, concurrent_map_unmap_keeps_invariants);
	tcase_add_test(tc, mmap_lock_before_iommu_lock_is_found);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(type1_race_suite)
