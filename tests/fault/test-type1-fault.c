/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-type1-fault.c - fail-nth sweeps over type1 operations, in the
 * manner of iommufd_fail_nth: run an operation once to count the fault
 * points it passes, then once more for each n, failing the nth.  A failed
 * operation must leave the model exactly as it was (mappings, domains,
 * locked_vm, frames in use, invariants); one that survives its fault (a
 * fallback path) must end as the unfaulted run does; and the world must
 * tear down without a leak either way.
 */
#include <errno.h>

#include <libvfiosim/iommu.h>
#include <libvfiosim/mm.h>
#include <libvfiosim/vfio.h>

#include "testutil.h"

#define PG 0x1000ull
#define RW (VFIOSIM_DMA_MAP_FLAG_READ | VFIOSIM_DMA_MAP_FLAG_WRITE)

enum op { OP_MAP, OP_ATTACH_REPLAY, OP_DIRTY_START, OP_UNMAP, OP_OPEN_ATTACH };

static const char *const op_names[] = { "map", "attach+replay", "dirty start",
					"unmap", "open+attach" };

struct snap {
	struct vfiosim_type1_stats st;
	uint64_t locked_vm;
	uint64_t frames;
	int invariants;
};

struct run {
	enum op op;
	unsigned long nth; /* 0: no fault */
	/* results */
	int rc;
	unsigned long hits;
	unsigned long injected;
	struct snap before, after;
};

static void snap(struct vfiosim_world *w, struct vfiosim_type1 *t1,
		 struct vfiosim_mm *mm, struct snap *s)
{
	struct vfiosim_phys_stats ps;

	memset(s, 0, sizeof(*s));
	if (t1) {
		vfiosim_type1_get_stats(t1, &s->st);
		s->invariants = vfiosim_type1_check_invariants(t1);
	}
	s->locked_vm = vfiosim_mm_locked_vm(mm);
	vfiosim_phys_stats(w, &ps);
	s->frames = ps.frames_inuse;
}

static void body(struct vfiosim_world *w, void *arg)
{
	struct run *r = arg;
	struct vfiosim_iommu_config c2 = vfiosim_world_config(w)->iommu;
	struct vfiosim_iommu *iommu, *iommu2;
	struct vfiosim_iommu_group *g1, *g2;
	struct vfiosim_type1 *t1 = NULL;
	struct vfiosim_fault_plan plan = { 0 };
	struct vfiosim_mm *mm = vfiosim_current_mm(w);
	unsigned long hits0;
	uint64_t buf, n;

	/* Set-up, never faulted. */
	VFIOSIM_ASSERT(w, vfiosim_iommu_create(w, NULL, &iommu) == 0, "iommu");
	VFIOSIM_ASSERT(w, vfiosim_iommu_group_alloc(iommu, &g1) == 0, "g1");
	VFIOSIM_ASSERT(w, vfiosim_iommu_create(w, &c2, &iommu2) == 0, "iommu2");
	VFIOSIM_ASSERT(w, vfiosim_iommu_group_alloc(iommu2, &g2) == 0, "g2");
	VFIOSIM_ASSERT(w,
		       vfiosim_mmap(mm, 0, 64 * PG,
				    VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE,
				    VFIOSIM_MAP_PRIVATE | VFIOSIM_MAP_POPULATE,
				    &buf) == 0,
		       "mmap");
	if (r->op != OP_OPEN_ATTACH) {
		VFIOSIM_ASSERT(w,
			       vfiosim_type1_open(w, VFIOSIM_TYPE1v2_IOMMU,
						  65535, &t1) == 0,
			       "open");
		VFIOSIM_ASSERT(w, vfiosim_type1_attach_group(t1, g1) == 0,
			       "attach");
		/* Two mappings, the second made of two physical runs. */
		VFIOSIM_ASSERT(w,
			       vfiosim_type1_map_dma(t1, buf, 0x100000, 8 * PG,
						     RW) == 0,
			       "map A");
		VFIOSIM_ASSERT(w,
			       vfiosim_type1_map_dma(t1, buf + 8 * PG, 0x400000,
						     8 * PG, RW) == 0,
			       "map C");
	}
	snap(w, t1, mm, &r->before);

	hits0 = vfiosim_fault_hits(w, NULL);
	plan.nth = r->nth;
	vfiosim_fault_set_plan(w, &plan);
	switch (r->op) {
	case OP_MAP:
		r->rc = vfiosim_type1_map_dma(t1, buf + 16 * PG, 0x200000,
					      16 * PG, RW);
		break;
	case OP_ATTACH_REPLAY:
		r->rc = vfiosim_type1_attach_group(t1, g2);
		break;
	case OP_DIRTY_START:
		r->rc = vfiosim_type1_dirty_start(t1);
		break;
	case OP_UNMAP:
		r->rc = vfiosim_type1_unmap_dma(
			t1, 0, 0, VFIOSIM_DMA_UNMAP_FLAG_ALL, NULL, &n);
		break;
	case OP_OPEN_ATTACH:
		r->rc = vfiosim_type1_open(w, VFIOSIM_TYPE1v2_IOMMU, 65535,
					   &t1);
		if (!r->rc) {
			r->rc = vfiosim_type1_attach_group(t1, g1);
			if (r->rc) {
				vfiosim_type1_release(t1);
				t1 = NULL;
			}
		}
		break;
	}
	r->injected = vfiosim_fault_injected(w);
	plan.nth = 0;
	vfiosim_fault_set_plan(w, &plan);
	r->hits = vfiosim_fault_hits(w, NULL) - hits0;
	snap(w, t1, mm, &r->after);

	if (t1) {
		vfiosim_type1_release(t1);
		VFIOSIM_ASSERT(w, vfiosim_mm_locked_vm(mm) == 0,
			       "locked_vm %llu after release",
			       (unsigned long long)vfiosim_mm_locked_vm(mm));
	}
	vfiosim_iommu_group_free(g2);
	vfiosim_iommu_destroy(iommu2);
	vfiosim_iommu_group_free(g1);
	vfiosim_iommu_destroy(iommu);
}

static int run_once(struct run *r)
{
	struct vfiosim_world *w;
	int rc, failures;

	w = tu_run(NULL, body, r, &rc);
	failures = vfiosim_world_destroy(w);
	return rc < 0 ? rc : failures;
}

static void assert_same(const struct snap *a, const struct snap *b,
			const char *what, unsigned long n)
{
	ck_assert_msg(a->st.dmas == b->st.dmas &&
			      a->st.domains == b->st.domains &&
			      a->st.mapped_bytes == b->st.mapped_bytes &&
			      a->st.iommu_groups == b->st.iommu_groups,
		      "%s, fault %lu: mappings/domains changed (%lu/%u/%llu -> "
		      "%lu/%u/%llu)",
		      what, n, a->st.dmas, a->st.domains,
		      (unsigned long long)a->st.mapped_bytes, b->st.dmas,
		      b->st.domains, (unsigned long long)b->st.mapped_bytes);
	ck_assert_msg(a->locked_vm == b->locked_vm,
		      "%s, fault %lu: locked_vm %llu -> %llu", what, n,
		      (unsigned long long)a->locked_vm,
		      (unsigned long long)b->locked_vm);
	ck_assert_msg(a->frames == b->frames,
		      "%s, fault %lu: frames in use %llu -> %llu", what, n,
		      (unsigned long long)a->frames,
		      (unsigned long long)b->frames);
	ck_assert_msg(!b->invariants, "%s, fault %lu: invariants broken", what,
		      n);
}

static void sweep(enum op op)
{
	struct run clean = { .op = op };
	const char *what = op_names[op];

	ck_assert_int_eq(run_once(&clean), 0);
	ck_assert_int_eq(clean.rc, 0);
	ck_assert_uint_gt(clean.hits, 0);
	fprintf(stderr, "%s: %lu fault points\n", what, clean.hits);
	for (unsigned long n = 1; n <= clean.hits; n++) {
		struct run r = { .op = op, .nth = n };
		int failures = run_once(&r);

		ck_assert_msg(failures == 0,
			      "%s, fault %lu: %d failure(s) "
			      "(leak or warning)",
			      what, n, failures);
		ck_assert_msg(r.injected == 1, "%s, fault %lu: %lu injected",
			      what, n, r.injected);
		if (r.rc) {
			ck_assert_msg(r.rc == -ENOMEM || r.rc == -EIO ||
					      r.rc == -EAGAIN,
				      "%s, fault %lu: rc %d", what, n, r.rc);
			assert_same(&r.before, &r.after, what, n);
		} else {
			assert_same(&clean.after, &r.after, what, n);
		}
	}
}

START_TEST(fail_nth_map)
{
	sweep(OP_MAP);
}
END_TEST
START_TEST(fail_nth_attach_with_replay)
{
	sweep(OP_ATTACH_REPLAY);
}
END_TEST
START_TEST(fail_nth_dirty_start)
{
	sweep(OP_DIRTY_START);
}
END_TEST
START_TEST(fail_nth_unmap)
{
	sweep(OP_UNMAP);
}
END_TEST
START_TEST(fail_nth_open_attach)
{
	sweep(OP_OPEN_ATTACH);
}
END_TEST

static Suite *fault_suite(void)
{
	Suite *s = suite_create("type1-fault");
	TCase *tc = tcase_create("type1-fault");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, fail_nth_map);
	tcase_add_test(tc, fail_nth_attach_with_replay);
	tcase_add_test(tc, fail_nth_dirty_start);
	tcase_add_test(tc, fail_nth_unmap);
	tcase_add_test(tc, fail_nth_open_attach);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(fault_suite)
