/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-type1.c - the type1 backend model: validation order and errno,
 * pinning and locked_vm accounting, v1 and v2 unmap rules, UNMAP_ALL,
 * VADDR invalidation, IOVA list, replay onto a second domain, detach.
 *
 * Each test runs a body as the simulated thread "main" of a fresh world
 * (type1 takes its iommu->lock) and the test thread asserts on what the
 * body recorded.
 */
#include <errno.h>

#include <libvfiosim/iommu.h>
#include <libvfiosim/mm.h>
#include <libvfiosim/vfio.h>

#include "testutil.h"

#define PG 0x1000ull
#define RW (VFIOSIM_DMA_MAP_FLAG_READ | VFIOSIM_DMA_MAP_FLAG_WRITE)

struct env {
	struct vfiosim_world *w;
	struct vfiosim_iommu *iommu, *iommu2;
	struct vfiosim_iommu_group *group, *group2;
	struct vfiosim_type1 *t1;
	struct vfiosim_mm *mm;
	uint64_t buf; /* 64 pages of anonymous memory */
	unsigned long type;
	unsigned int limit;
	const struct vfiosim_config *cfg;
	void (*body)(struct env *e);
	/* results, read by the test thread */
	long r[64];
	uint64_t u[64];
	int n;
};

#define REC(e, v) ((e)->r[(e)->n++] = (long)(v))

static void env_body(struct vfiosim_world *w, void *arg)
{
	struct env *e = arg;

	e->w = w;
	VFIOSIM_ASSERT(w, vfiosim_iommu_create(w, NULL, &e->iommu) == 0,
		       "iommu");
	VFIOSIM_ASSERT(w, vfiosim_iommu_group_alloc(e->iommu, &e->group) == 0,
		       "group");
	VFIOSIM_ASSERT(
		w,
		vfiosim_type1_open(w, e->type ? e->type : VFIOSIM_TYPE1v2_IOMMU,
				   e->limit ? e->limit : 65535, &e->t1) == 0,
		"open");
	VFIOSIM_ASSERT(w, vfiosim_type1_attach_group(e->t1, e->group) == 0,
		       "attach");
	e->mm = vfiosim_current_mm(w);
	VFIOSIM_ASSERT(w, e->mm != NULL, "mm");
	VFIOSIM_ASSERT(w,
		       vfiosim_mmap(e->mm, 0, 64 * PG,
				    VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE,
				    VFIOSIM_MAP_PRIVATE, &e->buf) == 0,
		       "mmap");
	e->body(e);
	VFIOSIM_ASSERT(w, vfiosim_type1_check_invariants(e->t1) == 0,
		       "invariants");
	vfiosim_type1_release(e->t1);
	VFIOSIM_ASSERT(w, vfiosim_mm_locked_vm(e->mm) == 0,
		       "locked_vm %llu after release",
		       (unsigned long long)vfiosim_mm_locked_vm(e->mm));
	if (e->group2) {
		vfiosim_iommu_group_free(e->group2);
		vfiosim_iommu_destroy(e->iommu2);
	}
	vfiosim_iommu_group_free(e->group);
	vfiosim_iommu_destroy(e->iommu);
}

static void run_env(struct env *e)
{
	struct vfiosim_world *w;

	w = tu_run_clean(e->cfg, env_body, e);
	ck_assert_int_eq(vfiosim_world_destroy(w), 0);
}

/* ------------------------------------------------------------ extensions */

START_TEST(check_extension_table)
{
	ck_assert_int_eq(
		vfiosim_type1_check_extension(NULL, VFIOSIM_TYPE1_IOMMU), 1);
	ck_assert_int_eq(
		vfiosim_type1_check_extension(NULL, VFIOSIM_TYPE1v2_IOMMU), 1);
	ck_assert_int_eq(vfiosim_type1_check_extension(
				 NULL, VFIOSIM_TYPE1_NESTING_IOMMU),
			 1);
	ck_assert_int_eq(vfiosim_type1_check_extension(NULL, VFIOSIM_UNMAP_ALL),
			 1);
	/* 6.1.y: UPDATE_VADDR only once a backend exists. */
	ck_assert_int_eq(
		vfiosim_type1_check_extension(NULL, VFIOSIM_UPDATE_VADDR), 0);
	ck_assert_int_eq(
		vfiosim_type1_check_extension(NULL, VFIOSIM_DMA_CC_IOMMU), 0);
	ck_assert_int_eq(vfiosim_type1_check_extension(NULL,
						       VFIOSIM_SPAPR_TCE_IOMMU),
			 0);
	ck_assert_int_eq(vfiosim_type1_check_extension(NULL, 11), 0);
}
END_TEST

static void body_info(struct env *e)
{
	struct vfiosim_type1_info info;
	struct vfiosim_type1 *bad = (struct vfiosim_type1 *)1;

	REC(e, vfiosim_type1_get_info(e->t1, &info));
	e->u[0] = info.iova_pgsizes;
	e->u[1] = info.nr_iovas;
	e->u[2] = info.iovas[0].start;
	e->u[3] = info.iovas[0].last;
	e->u[4] = info.iovas[1].start;
	e->u[5] = info.iovas[1].last;
	e->u[6] = info.dma_avail;
	e->u[7] = info.migration_pgsize;
	REC(e, vfiosim_type1_check_extension(e->t1, VFIOSIM_UPDATE_VADDR));
	REC(e, vfiosim_type1_open(e->w, 2, 1, &bad));
	REC(e, bad == NULL);
	REC(e, vfiosim_type1_attach_group(e->t1, e->group)); /* again */
}

START_TEST(info_after_attach)
{
	struct env e = { .body = body_info };

	run_env(&e);
	ck_assert_int_eq(e.r[0], 0);
	/* VT-d geometry: 4K | 2M | 1G, 39-bit, the MSI window cut out. */
	ck_assert_uint_eq(e.u[0], 0x40201000ull);
	ck_assert_uint_eq(e.u[1], 2);
	ck_assert_uint_eq(e.u[2], 0);
	ck_assert_uint_eq(e.u[3], 0xfedfffffull);
	ck_assert_uint_eq(e.u[4], 0xfef00000ull);
	ck_assert_uint_eq(e.u[5], (1ull << 39) - 1);
	ck_assert_uint_eq(e.u[6], 65535);
	ck_assert_uint_eq(e.u[7], 0x1000);
	ck_assert_int_eq(e.r[1], 1);
	ck_assert_int_eq(e.r[2], -EINVAL);
	ck_assert_int_eq(e.r[3], 1);
	ck_assert_int_eq(e.r[4], -EINVAL);
}
END_TEST

/* ------------------------------------------------------------------ map */

static void body_map_unmap(struct env *e)
{
	struct vfiosim_type1_stats st;
	uint64_t unmapped = 0;

	REC(e, vfiosim_type1_map_dma(e->t1, e->buf, 0x100000, 4 * PG, RW));
	vfiosim_type1_get_stats(e->t1, &st);
	e->u[0] = st.dmas;
	e->u[1] = st.mapped_bytes;
	e->u[2] = vfiosim_mm_locked_vm(e->mm);
	REC(e, vfiosim_type1_check_invariants(e->t1));
	REC(e, vfiosim_type1_unmap_dma(e->t1, 0x100000, 4 * PG, 0, NULL,
				       &unmapped));
	e->u[3] = unmapped;
	e->u[4] = vfiosim_mm_locked_vm(e->mm);
	vfiosim_type1_get_stats(e->t1, &st);
	e->u[5] = st.dmas;
}

START_TEST(map_pins_charges_and_unmap_refunds)
{
	struct env e = { .body = body_map_unmap };

	run_env(&e);
	ck_assert_int_eq(e.r[0], 0);
	ck_assert_uint_eq(e.u[0], 1);
	ck_assert_uint_eq(e.u[1], 4 * PG);
	ck_assert_uint_eq(e.u[2], 4);
	ck_assert_int_eq(e.r[1], 0);
	ck_assert_int_eq(e.r[2], 0);
	ck_assert_uint_eq(e.u[3], 4 * PG);
	ck_assert_uint_eq(e.u[4], 0);
	ck_assert_uint_eq(e.u[5], 0);
}
END_TEST

static void body_map_errors(struct env *e)
{
	struct vfiosim_type1 *t = e->t1;
	uint64_t b = e->buf;

	REC(e, vfiosim_type1_map_dma(t, b, 0x100000, PG, 0x8)); /* flags */
	REC(e, vfiosim_type1_map_dma(t, b, 0x100000, PG, 0));	/* no prot */
	REC(e, vfiosim_type1_map_dma(t, b, 0x100000, PG,
				     RW | VFIOSIM_DMA_MAP_FLAG_VADDR));
	REC(e, vfiosim_type1_map_dma(t, b, 0x100000, 0, RW));	   /* size 0 */
	REC(e, vfiosim_type1_map_dma(t, b, 0x100800, PG, RW));	   /* iova */
	REC(e, vfiosim_type1_map_dma(t, b + 8, 0x100000, PG, RW)); /* vaddr */
	REC(e, vfiosim_type1_map_dma(t, b, UINT64_MAX - PG + 1, 2 * PG, RW));
	REC(e, vfiosim_type1_map_dma(t, b, 0x100000, 2 * PG, RW)); /* ok */
	REC(e, vfiosim_type1_map_dma(t, b, 0x101000, 2 * PG, RW)); /* EEXIST */
	REC(e, vfiosim_type1_map_dma(t, b, 0xfee00000, PG, RW));   /* MSI */
	REC(e, vfiosim_type1_map_dma(t, b, 1ull << 39, PG, RW)); /* > 39 bit */
	REC(e, vfiosim_type1_map_dma(t, 0x1000, 0x200000, PG, RW)); /* EFAULT */
	REC(e, vfiosim_type1_map_dma(
		       t, b, 0x100000, PG,
		       VFIOSIM_DMA_MAP_FLAG_VADDR)); /* not invalid */
	REC(e, vfiosim_type1_map_dma(t, b, 0x300000, PG,
				     VFIOSIM_DMA_MAP_FLAG_VADDR)); /* ENOENT */
	REC(e, vfiosim_type1_check_invariants(t));
	e->u[0] = vfiosim_mm_locked_vm(e->mm);
}

START_TEST(map_validation_order)
{
	struct env e = { .body = body_map_errors };

	run_env(&e);
	ck_assert_int_eq(e.r[0], -EINVAL);
	ck_assert_int_eq(e.r[1], -EINVAL);
	ck_assert_int_eq(e.r[2], -EINVAL);
	ck_assert_int_eq(e.r[3], -EINVAL);
	ck_assert_int_eq(e.r[4], -EINVAL);
	ck_assert_int_eq(e.r[5], -EINVAL);
	ck_assert_int_eq(e.r[6], -EINVAL);
	ck_assert_int_eq(e.r[7], 0);
	ck_assert_int_eq(e.r[8], -EEXIST);
	ck_assert_int_eq(e.r[9], -EINVAL);
	ck_assert_int_eq(e.r[10], -EINVAL);
	ck_assert_int_eq(e.r[11], -EFAULT);
	ck_assert_int_eq(e.r[12], -EINVAL);
	ck_assert_int_eq(e.r[13], -ENOENT);
	ck_assert_int_eq(e.r[14], 0);
	/* Only the successful mapping is charged. */
	ck_assert_uint_eq(e.u[0], 2);
}
END_TEST

static void body_limits(struct env *e)
{
	struct vfiosim_task *task = vfiosim_current_task(e->w);
	struct vfiosim_type1_stats st;

	/* dma_entry_limit 2 */
	REC(e, vfiosim_type1_map_dma(e->t1, e->buf, 0x100000, PG, RW));
	REC(e, vfiosim_type1_map_dma(e->t1, e->buf + PG, 0x101000, PG, RW));
	REC(e, vfiosim_type1_map_dma(e->t1, e->buf + 2 * PG, 0x102000, PG, RW));
	REC(e, vfiosim_type1_unmap_dma(e->t1, 0, 0, VFIOSIM_DMA_UNMAP_FLAG_ALL,
				       NULL, NULL));
	/* RLIMIT_MEMLOCK of 2 pages: a 4-page map fails and leaves nothing. */
	vfiosim_task_set_rlimit(task, VFIOSIM_RLIMIT_MEMLOCK, 2 * PG);
	REC(e, vfiosim_type1_map_dma(e->t1, e->buf, 0x100000, 4 * PG, RW));
	vfiosim_type1_get_stats(e->t1, &st);
	e->u[0] = st.dmas;
	e->u[1] = vfiosim_mm_locked_vm(e->mm);
	/* ... unless the task has CAP_IPC_LOCK. */
	vfiosim_task_set_cap(task, VFIOSIM_CAP_IPC_LOCK, true);
	REC(e, vfiosim_type1_map_dma(e->t1, e->buf, 0x100000, 4 * PG, RW));
	e->u[2] = vfiosim_mm_locked_vm(e->mm);
	REC(e, vfiosim_type1_unmap_dma(e->t1, 0x100000, 4 * PG, 0, NULL, NULL));
	e->u[3] = vfiosim_mm_locked_vm(e->mm);
}

START_TEST(entry_limit_rlimit_and_capability)
{
	struct env e = { .body = body_limits, .limit = 2 };

	run_env(&e);
	ck_assert_int_eq(e.r[0], 0);
	ck_assert_int_eq(e.r[1], 0);
	ck_assert_int_eq(e.r[2], -ENOSPC);
	ck_assert_int_eq(e.r[3], 0);
	ck_assert_int_eq(e.r[4], -ENOMEM);
	ck_assert_uint_eq(e.u[0], 0);
	ck_assert_uint_eq(e.u[1], 0);
	ck_assert_int_eq(e.r[5], 0);
	ck_assert_uint_eq(e.u[2], 4); /* charged, beyond the limit */
	ck_assert_int_eq(e.r[6], 0);
	ck_assert_uint_eq(e.u[3], 0);
}
END_TEST

/* ---------------------------------------------------------------- unmap */

/* Two adjacent mappings of two pages: 0x100000 and 0x102000. */
static void map_two_adjacent(struct env *e)
{
	VFIOSIM_ASSERT(e->w,
		       vfiosim_type1_map_dma(e->t1, e->buf, 0x100000, 2 * PG,
					     RW) == 0,
		       "map 0x100000");
	VFIOSIM_ASSERT(e->w,
		       vfiosim_type1_map_dma(e->t1, e->buf + 2 * PG, 0x102000,
					     2 * PG, RW) == 0,
		       "map 0x102000");
}

static void body_unmap_v2(struct env *e)
{
	struct vfiosim_type1 *t = e->t1;
	uint64_t n = 99;

	map_two_adjacent(e);
	vfiosim_type1_map_dma(t, e->buf + 4 * PG, 0x200000, 2 * PG, RW);
	REC(e,
	    vfiosim_type1_unmap_dma(t, 0x101000, PG, 0, NULL, &n)); /* bisect */
	e->u[0] = n;
	REC(e, vfiosim_type1_unmap_dma(t, 0x100000, 3 * PG, 0, NULL,
				       &n)); /* end */
	REC(e,
	    vfiosim_type1_unmap_dma(t, 0x100800, PG, 0, NULL, &n)); /* align */
	REC(e,
	    vfiosim_type1_unmap_dma(t, 0x100000, 0, 0, NULL, &n)); /* size 0 */
	REC(e, vfiosim_type1_unmap_dma(t, 0x100000, PG,
				       VFIOSIM_DMA_UNMAP_FLAG_ALL, NULL, &n));
	REC(e, vfiosim_type1_unmap_dma(t, 0x100000, PG, 0x8, NULL,
				       &n)); /* flags */
	REC(e,
	    vfiosim_type1_unmap_dma(t, 0x300000, PG, 0, NULL, &n)); /* hole */
	e->u[1] = n;
	/* Two whole mappings and the hole between them. */
	REC(e, vfiosim_type1_unmap_dma(t, 0x100000, 0x100000, 0, NULL, &n));
	e->u[2] = n;
	REC(e, vfiosim_type1_unmap_dma(t, 0, 0, VFIOSIM_DMA_UNMAP_FLAG_ALL,
				       NULL, &n));
	e->u[3] = n;
	e->u[4] = vfiosim_mm_locked_vm(e->mm);
}

START_TEST(unmap_v2_rules)
{
	struct env e = { .body = body_unmap_v2 };

	run_env(&e);
	ck_assert_int_eq(e.r[0], -EINVAL);
	ck_assert_uint_eq(e.u[0], 0);
	ck_assert_int_eq(e.r[1], -EINVAL);
	ck_assert_int_eq(e.r[2], -EINVAL);
	ck_assert_int_eq(e.r[3], -EINVAL);
	ck_assert_int_eq(e.r[4], -EINVAL);
	ck_assert_int_eq(e.r[5], -EINVAL);
	ck_assert_int_eq(e.r[6], 0);
	ck_assert_uint_eq(e.u[1], 0);
	ck_assert_int_eq(e.r[7], 0);
	ck_assert_uint_eq(e.u[2], 4 * PG);
	ck_assert_int_eq(e.r[8], 0);
	ck_assert_uint_eq(e.u[3], 2 * PG);
	ck_assert_uint_eq(e.u[4], 0);
}
END_TEST

static void body_unmap_v1(struct env *e)
{
	struct vfiosim_type1 *t = e->t1;
	uint64_t n = 99;

	map_two_adjacent(e);
	/* Starts inside the first mapping: v1 stops at once. */
	REC(e, vfiosim_type1_unmap_dma(t, 0x101000, 2 * PG, 0, NULL, &n));
	e->u[0] = n;
	/* One page of the second mapping removes all of it. */
	REC(e, vfiosim_type1_unmap_dma(t, 0x102000, PG, 0, NULL, &n));
	e->u[1] = n;
	e->u[2] = vfiosim_mm_locked_vm(e->mm);
}

START_TEST(unmap_v1_rules)
{
	struct env e = { .body = body_unmap_v1, .type = VFIOSIM_TYPE1_IOMMU };

	run_env(&e);
	ck_assert_int_eq(e.r[0], 0);
	ck_assert_uint_eq(e.u[0], 0);
	ck_assert_int_eq(e.r[1], 0);
	ck_assert_uint_eq(e.u[1], 2 * PG);
	ck_assert_uint_eq(e.u[2], 2);
}
END_TEST

static void body_vaddr(struct env *e)
{
	struct vfiosim_type1 *t = e->t1;
	struct vfiosim_type1_stats st;
	uint64_t n = 0;

	map_two_adjacent(e);
	REC(e, vfiosim_type1_unmap_dma(t, 0x102000, 2 * PG,
				       VFIOSIM_DMA_UNMAP_FLAG_VADDR, NULL, &n));
	e->u[0] = n;
	/* Invalidating again, together with a valid one: rolled back. */
	REC(e, vfiosim_type1_unmap_dma(t, 0, 0,
				       VFIOSIM_DMA_UNMAP_FLAG_ALL |
					       VFIOSIM_DMA_UNMAP_FLAG_VADDR,
				       NULL, &n));
	e->u[1] = n;
	vfiosim_type1_get_stats(t, &st);
	e->u[2] = st.vaddr_invalid;
	/* Restoring needs the same iova and size. */
	REC(e, vfiosim_type1_map_dma(t, e->buf + 8 * PG, 0x102000, PG,
				     VFIOSIM_DMA_MAP_FLAG_VADDR)); /* size */
	REC(e, vfiosim_type1_map_dma(t, e->buf + 8 * PG, 0x102000, 2 * PG,
				     VFIOSIM_DMA_MAP_FLAG_VADDR));
	vfiosim_type1_get_stats(t, &st);
	e->u[3] = st.vaddr_invalid;
	e->u[4] = vfiosim_mm_locked_vm(e->mm);
}

START_TEST(update_vaddr)
{
	struct env e = { .body = body_vaddr };

	run_env(&e);
	ck_assert_int_eq(e.r[0], 0);
	ck_assert_uint_eq(e.u[0], 2 * PG);
	ck_assert_int_eq(e.r[1], -EINVAL);
	ck_assert_uint_eq(e.u[1], 0);
	ck_assert_uint_eq(e.u[2], 1);
	ck_assert_int_eq(e.r[2], -EINVAL);
	ck_assert_int_eq(e.r[3], 0);
	ck_assert_uint_eq(e.u[3], 0);
	/* Pins stayed in place throughout. */
	ck_assert_uint_eq(e.u[4], 4);
}
END_TEST

/*
 * vfio_change_dma_owner(): a vaddr restored from another mm (here the same
 * task after exec, as QEMU's live update does) moves the mapping's
 * locked_vm there, under the new owner's limit.  Linux 6.1 in the oracle
 * VM: a child restoring with RLIMIT_MEMLOCK 0 and no CAP_IPC_LOCK got
 * ENOMEM; with 1 MiB it succeeded, its VmLck became 64 kB and the parent's
 * 0.
 */
static void body_owner(struct env *e)
{
	struct vfiosim_task *task = vfiosim_current_task(e->w);
	struct vfiosim_type1 *t = e->t1;
	struct vfiosim_mm *old = e->mm, *mm2, *mm3;
	struct vfiosim_type1_stats st;
	const unsigned int prw = VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE;
	uint64_t n, b2, b3;

	vfiosim_mmget(old); /* another user keeps it alive past the exec */
	vfiosim_mmgrab(old);
	REC(e, vfiosim_type1_map_dma(t, e->buf, 0x100000, 4 * PG, RW));
	REC(e, vfiosim_type1_unmap_dma(t, 0, 0,
				       VFIOSIM_DMA_UNMAP_FLAG_ALL |
					       VFIOSIM_DMA_UNMAP_FLAG_VADDR,
				       NULL, &n));
	REC(e, vfiosim_task_exec(task));
	mm2 = vfiosim_current_mm(e->w);
	vfiosim_task_set_rlimit(task, VFIOSIM_RLIMIT_MEMLOCK, 0);
	vfiosim_task_set_cap(task, VFIOSIM_CAP_IPC_LOCK, false);
	vfiosim_mmap(mm2, 0, 4 * PG, prw, VFIOSIM_MAP_PRIVATE, &b2);
	REC(e, vfiosim_type1_map_dma(t, b2, 0x100000, 4 * PG,
				     VFIOSIM_DMA_MAP_FLAG_VADDR)); /* 3 */
	vfiosim_type1_get_stats(t, &st);
	e->u[0] = st.vaddr_invalid;
	e->u[1] = vfiosim_mm_locked_vm(old);
	e->u[2] = vfiosim_mm_locked_vm(mm2);
	vfiosim_task_set_rlimit(task, VFIOSIM_RLIMIT_MEMLOCK, 1 << 20);
	REC(e, vfiosim_type1_map_dma(t, b2, 0x100000, 4 * PG,
				     VFIOSIM_DMA_MAP_FLAG_VADDR)); /* 4 */
	vfiosim_type1_get_stats(t, &st);
	e->u[3] = st.vaddr_invalid;
	e->u[4] = vfiosim_mm_locked_vm(old);
	e->u[5] = vfiosim_mm_locked_vm(mm2);
	REC(e, vfiosim_type1_check_invariants(t));
	/* Again, but the previous owner's mm is gone: nothing to refund. */
	vfiosim_type1_unmap_dma(t, 0x100000, 4 * PG,
				VFIOSIM_DMA_UNMAP_FLAG_VADDR, NULL, &n);
	vfiosim_task_exec(task);
	mm3 = vfiosim_current_mm(e->w);
	e->u[6] = vfiosim_mm_users(mm2);
	vfiosim_mmap(mm3, 0, 4 * PG, prw, VFIOSIM_MAP_PRIVATE, &b3);
	REC(e, vfiosim_type1_map_dma(t, b3, 0x100000, 4 * PG,
				     VFIOSIM_DMA_MAP_FLAG_VADDR)); /* 6 */
	e->u[7] = vfiosim_mm_locked_vm(mm3);
	REC(e, vfiosim_type1_unmap_dma(t, 0, 0, VFIOSIM_DMA_UNMAP_FLAG_ALL,
				       NULL, &n));
	e->u[8] = vfiosim_mm_locked_vm(mm3);
	vfiosim_mmput(old);
	vfiosim_mmdrop(old);
	e->mm = mm3; /* what env_body checks after the release */
}

START_TEST(update_vaddr_changes_owner)
{
	struct env e = { .body = body_owner };

	run_env(&e);
	ck_assert_int_eq(e.r[0], 0);
	ck_assert_int_eq(e.r[1], 0);
	ck_assert_int_eq(e.r[2], 0);
	ck_assert_int_eq(e.r[3], -ENOMEM); /* the new owner's limit */
	ck_assert_uint_eq(e.u[0], 1);	   /* still invalid */
	ck_assert_uint_eq(e.u[1], 4);	   /* nothing moved */
	ck_assert_uint_eq(e.u[2], 0);
	ck_assert_int_eq(e.r[4], 0);
	ck_assert_uint_eq(e.u[3], 0);
	ck_assert_uint_eq(e.u[4], 0); /* refunded */
	ck_assert_uint_eq(e.u[5], 4); /* charged */
	ck_assert_int_eq(e.r[5], 0);
	ck_assert_uint_eq(e.u[6], 0); /* mm2 is gone */
	ck_assert_int_eq(e.r[6], 0);
	ck_assert_uint_eq(e.u[7], 4);
	ck_assert_int_eq(e.r[7], 0);
	ck_assert_uint_eq(e.u[8], 0);
}
END_TEST

/* ------------------------------------------------- replay and detach */

static void body_replay(struct env *e)
{
	struct vfiosim_iommu_config c = vfiosim_world_config(e->w)->iommu;
	struct vfiosim_type1_stats st;

	vfiosim_type1_map_dma(e->t1, e->buf, 0x100000, 8 * PG, RW);
	vfiosim_type1_map_dma(e->t1, e->buf + 16 * PG, 0x400000, 4 * PG, RW);
	/* A second IOMMU unit: its domain cannot be shared, so replay. */
	vfiosim_iommu_create(e->w, &c, &e->iommu2);
	vfiosim_iommu_group_alloc(e->iommu2, &e->group2);
	REC(e, vfiosim_type1_attach_group(e->t1, e->group2));
	vfiosim_type1_get_stats(e->t1, &st);
	e->u[0] = st.domains;
	e->u[1] = vfiosim_mm_locked_vm(e->mm); /* no double charge */
	REC(e, vfiosim_type1_check_invariants(e->t1));
	/* Detaching the first group keeps the mappings (one domain left). */
	REC(e, vfiosim_type1_detach_group(e->t1, e->group));
	vfiosim_type1_get_stats(e->t1, &st);
	e->u[2] = st.dmas;
	REC(e, vfiosim_type1_check_invariants(e->t1));
	/* Detaching the last one removes every mapping. */
	REC(e, vfiosim_type1_detach_group(e->t1, e->group2));
	vfiosim_type1_get_stats(e->t1, &st);
	e->u[3] = st.dmas;
	e->u[4] = vfiosim_mm_locked_vm(e->mm);
	REC(e, vfiosim_type1_detach_group(e->t1, e->group2));
	/* Re-attach for the common teardown. */
	REC(e, vfiosim_type1_attach_group(e->t1, e->group));
}

START_TEST(replay_and_detach)
{
	struct env e = { .body = body_replay };

	run_env(&e);
	ck_assert_int_eq(e.r[0], 0);
	ck_assert_uint_eq(e.u[0], 2);
	ck_assert_uint_eq(e.u[1], 12);
	ck_assert_int_eq(e.r[1], 0);
	ck_assert_int_eq(e.r[2], 0);
	ck_assert_uint_eq(e.u[2], 2);
	ck_assert_int_eq(e.r[3], 0);
	ck_assert_int_eq(e.r[4], 0);
	ck_assert_uint_eq(e.u[3], 0);
	ck_assert_uint_eq(e.u[4], 0);
	ck_assert_int_eq(e.r[5], -ENOENT);
	ck_assert_int_eq(e.r[6], 0);
}
END_TEST

/* ------------------------------------------------------ dirty tracking */

static int get_bits(struct env *e, uint64_t iova, uint64_t size, uint64_t *bm,
		    uint64_t bmsize)
{
	struct vfiosim_type1_bitmap b = { PG, bmsize, bm };

	return vfiosim_type1_dirty_get(e->t1, iova, size, &b);
}

static void body_dirty(struct env *e)
{
	struct vfiosim_type1 *t = e->t1;
	struct vfiosim_type1_bitmap b = { PG, 16, NULL };
	uint64_t *bm = e->u; /* 8 words at u[0..7], results after */
	uint64_t n = 0;

	REC(e, get_bits(e, 0x100000, 16 * PG, bm, 8)); /* before start */
	REC(e, vfiosim_type1_dirty_stop(t));
	REC(e, vfiosim_type1_dirty_start(t));
	REC(e, vfiosim_type1_dirty_start(t));
	vfiosim_type1_map_dma(t, e->buf, 0x100000, 16 * PG, RW);
	/* The oracle's stale_bits sequence. */
	memset(bm, 0, 16);
	REC(e, get_bits(e, 0x100000, 16 * PG, bm, 16));
	e->u[8] = bm[0];
	memset(bm, 0, 16);
	REC(e, get_bits(e, 0xf0000, 32 * PG, bm, 16));
	e->u[9] = bm[0];
	memset(bm, 0, 16);
	REC(e, get_bits(e, 0x100000, 16 * PG, bm, 16));
	e->u[10] = bm[0];
	memset(bm, 0, 16);
	REC(e, get_bits(e, 0xfc000, 20 * PG, bm, 16));
	e->u[11] = bm[0];
	memset(bm, 0, 16);
	REC(e, get_bits(e, 0x100000, 16 * PG, bm, 16));
	e->u[12] = bm[0];
	/* Errors: bisecting range, wrong page size, fault. */
	REC(e, get_bits(e, 0x101000, 15 * PG, bm, 8));
	b.pgsize = 2 * PG;
	REC(e, vfiosim_type1_dirty_get(t, 0x100000, 16 * PG, &b));
	b.pgsize = PG;
	REC(e, vfiosim_type1_dirty_get(t, 0x100000, 16 * PG, &b)); /* NULL */
	/* Unmap with a bitmap, base below the mapping. */
	memset(bm, 0, 16);
	b.data = bm;
	REC(e, vfiosim_type1_unmap_dma(t, 0xfc000, 20 * PG,
				       VFIOSIM_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
				       &b, &n));
	e->u[13] = bm[0];
	e->u[14] = n;
	REC(e, vfiosim_type1_dirty_stop(t));
	REC(e, get_bits(e, 0x100000, 16 * PG, bm, 8)); /* after stop */
}

/* body_dirty()'s return codes: the same with either dirty profile. */
static void assert_dirty_rcs(const struct env *e)
{
	ck_assert_int_eq(e->n, 15);
	ck_assert_int_eq(e->r[0], -EINVAL);
	for (int i = 1; i <= 8; i++)
		ck_assert_int_eq(e->r[i], 0);
	ck_assert_int_eq(e->r[9], -EINVAL);
	ck_assert_int_eq(e->r[10], -EINVAL);
	ck_assert_int_eq(e->r[11], -EFAULT);
	ck_assert_int_eq(e->r[12], 0);
	ck_assert_int_eq(e->r[13], 0);
	ck_assert_int_eq(e->r[14], -EINVAL);
}

START_TEST(dirty_tracking_and_stale_bits)
{
	struct env e = { .body = body_dirty };

	run_env(&e);
	assert_dirty_rcs(&e);
	/* As recorded on Linux 6.1 (tests/conformance/recorded). */
	ck_assert_uint_eq(e.u[8], 0xffffull);
	ck_assert_uint_eq(e.u[9], 0xffff0000ull);
	ck_assert_uint_eq(e.u[10], 0xffffffffull);
	ck_assert_uint_eq(e.u[11], 0xffffffff0ull);
	ck_assert_uint_eq(e.u[12], 0xfffffffffull);
	ck_assert_uint_eq(e.u[13], 0xffff0ull | 0xfffff00000ull);
	ck_assert_uint_eq(e.u[14], 16 * PG);
}
END_TEST

START_TEST(dirty_shift_fixed_switch)
{
	struct vfiosim_config c;
	struct env e = { .body = body_dirty, .cfg = &c };

	vfiosim_config_init(&c);
	c.vfio.fix_dirty_shift = true;
	run_env(&e);
	assert_dirty_rcs(&e);
	/* The same reads, without bits left behind by the shifted ones. */
	ck_assert_uint_eq(e.u[8], 0xffffull);
	ck_assert_uint_eq(e.u[9], 0xffff0000ull);
	ck_assert_uint_eq(e.u[10], 0xffffull);
	ck_assert_uint_eq(e.u[11], 0xffff0ull);
	ck_assert_uint_eq(e.u[12], 0xffffull);
	ck_assert_uint_eq(e.u[13], 0xffff0ull);
	ck_assert_uint_eq(e.u[14], 16 * PG);
}
END_TEST

static void body_dirty_v1(struct env *e)
{
	REC(e, vfiosim_type1_dirty_start(e->t1));
	REC(e, vfiosim_type1_dirty_stop(e->t1));
}

START_TEST(dirty_needs_v2)
{
	struct env e = { .body = body_dirty_v1, .type = VFIOSIM_TYPE1_IOMMU };

	run_env(&e);
	ck_assert_int_eq(e.r[0], -EACCES);
	ck_assert_int_eq(e.r[1], -EACCES);
}
END_TEST

/* ------------------------------------------------------ emulated groups */

static void body_emulated_only(struct env *e)
{
	static const int token;
	struct vfiosim_type1_info info;
	struct vfiosim_type1_stats st;
	struct vfiosim_type1 *t;
	const uint64_t top = 0ull - 2 * PG; /* ends at the top of 64 bits */
	uint64_t n = 99;

	/* A second backend whose only group is emulated. */
	REC(e, vfiosim_type1_open(e->w, VFIOSIM_TYPE1v2_IOMMU, 65535, &t));
	REC(e, vfiosim_type1_attach_emulated_group(t, &token));
	REC(e, vfiosim_type1_attach_emulated_group(t, &token)); /* again */
	REC(e, vfiosim_type1_check_extension(t, VFIOSIM_UPDATE_VADDR));
	vfiosim_type1_get_info(t, &info);
	e->u[0] = info.nr_iovas; /* no IOVA constraint, no cap */
	REC(e, vfiosim_type1_map_dma(t, e->buf, top, 2 * PG, RW));
	e->u[1] = vfiosim_mm_locked_vm(e->mm); /* nothing pinned */
	/* Linux 6.1 cannot unmap a mapping that ends at 2^64: the end
	 * wraps to 0 and the walk finds nothing (fixed by the 2025 overflow
	 * rework). */
	REC(e, vfiosim_type1_unmap_dma(t, top, 2 * PG, 0, NULL, &n));
	e->u[2] = n;
	REC(e, vfiosim_type1_unmap_dma(t, 0, 0, VFIOSIM_DMA_UNMAP_FLAG_ALL,
				       NULL, &n));
	e->u[3] = n;
	vfiosim_type1_get_stats(t, &st);
	e->u[4] = st.dmas;
	e->u[5] = st.emulated_groups;
	REC(e, vfiosim_type1_unmap_dma(t, 0, 0,
				       VFIOSIM_DMA_UNMAP_FLAG_VADDR |
					       VFIOSIM_DMA_UNMAP_FLAG_ALL,
				       NULL, &n));
	/* The last group leaving removes it. */
	REC(e, vfiosim_type1_detach_emulated_group(t, &token));
	vfiosim_type1_get_stats(t, &st);
	e->u[6] = st.dmas;
	REC(e, vfiosim_type1_detach_emulated_group(t, &token));
	vfiosim_type1_release(t);
}

START_TEST(emulated_only_container)
{
	struct env e = { .body = body_emulated_only };

	run_env(&e);
	ck_assert_int_eq(e.r[0], 0);
	ck_assert_int_eq(e.r[1], 0);
	ck_assert_int_eq(e.r[2], -EINVAL);
	ck_assert_int_eq(e.r[3], 0);
	ck_assert_uint_eq(e.u[0], 0);
	ck_assert_int_eq(e.r[4], 0);
	ck_assert_uint_eq(e.u[1], 0);
	ck_assert_int_eq(e.r[5], 0);
	ck_assert_uint_eq(e.u[2], 0);
	ck_assert_int_eq(e.r[6], 0);
	ck_assert_uint_eq(e.u[3], 0);
	ck_assert_uint_eq(e.u[4], 1);
	ck_assert_uint_eq(e.u[5], 1);
	ck_assert_int_eq(e.r[7], -EBUSY);
	ck_assert_int_eq(e.r[8], 0);
	ck_assert_uint_eq(e.u[6], 0);
	ck_assert_int_eq(e.r[9], -ENOENT);
}
END_TEST

static void body_emulated_keeps_mappings(struct env *e)
{
	static const int token;
	struct vfiosim_type1_stats st;

	REC(e, vfiosim_type1_attach_emulated_group(e->t1, &token));
	REC(e, vfiosim_type1_map_dma(e->t1, e->buf, 0x100000, 4 * PG, RW));
	e->u[0] = vfiosim_mm_locked_vm(e->mm);
	/* The IOMMU group leaves: mappings stay, unpinned and refunded. */
	REC(e, vfiosim_type1_detach_group(e->t1, e->group));
	vfiosim_type1_get_stats(e->t1, &st);
	e->u[1] = st.dmas;
	e->u[2] = st.domains;
	e->u[3] = vfiosim_mm_locked_vm(e->mm);
	/* It comes back: replay pins and charges again. */
	REC(e, vfiosim_type1_attach_group(e->t1, e->group));
	e->u[4] = vfiosim_mm_locked_vm(e->mm);
	REC(e, vfiosim_type1_check_invariants(e->t1));
	REC(e, vfiosim_type1_detach_emulated_group(e->t1, &token));
}

START_TEST(emulated_group_keeps_mappings)
{
	struct env e = { .body = body_emulated_keeps_mappings };

	run_env(&e);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(e.r[i], 0);
	ck_assert_uint_eq(e.u[0], 4);
	ck_assert_uint_eq(e.u[1], 1);
	ck_assert_uint_eq(e.u[2], 0);
	ck_assert_uint_eq(e.u[3], 0);
	ck_assert_uint_eq(e.u[4], 4);
}
END_TEST

static Suite *type1_suite(void)
{
	Suite *s = suite_create("type1");
	TCase *tc = tcase_create("type1");

	tcase_add_test(tc, check_extension_table);
	tcase_add_test(tc, info_after_attach);
	tcase_add_test(tc, map_pins_charges_and_unmap_refunds);
	tcase_add_test(tc, map_validation_order);
	tcase_add_test(tc, entry_limit_rlimit_and_capability);
	tcase_add_test(tc, unmap_v2_rules);
	tcase_add_test(tc, unmap_v1_rules);
	tcase_add_test(tc, update_vaddr);
	tcase_add_test(tc, update_vaddr_changes_owner);
	tcase_add_test(tc, replay_and_detach);
	tcase_add_test(tc, dirty_tracking_and_stale_bits);
	tcase_add_test(tc, dirty_needs_v2);
	tcase_add_test(tc, dirty_shift_fixed_switch);
	tcase_add_test(tc, emulated_only_container);
	tcase_add_test(tc, emulated_group_keeps_mappings);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(type1_suite)
