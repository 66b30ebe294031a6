/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-iommu-fault.c - fail-nth sweep (after iommufd_fail_nth.c) over every
 * fault point of a pin / IOMMU bring-up / attach / map / DMA / unmap /
 * teardown sequence.  The sequence runs once un-faulted to count the fault
 * points it hits, then once per n = 1, 2, ... with the nth hit failing,
 * until a run consumes no injection.  Each run must unwind completely: a
 * failed step leaves the state it found (checked right there: domain
 * contents, table pages, frames in use, group attachment), and at the end
 * no frame is in use that was not before and teardown finds no leak.
 */
#include "iommu-testutil.h"

#define NMAP 5

struct seq {
	/* input */
	unsigned long nth; /* 0 = no injection */
	/* output */
	unsigned long hits;
	unsigned long injected;
	int failed_step; /* -1 = completed */
	int failed_rc;
	unsigned int dma_ok;
};

static const uint64_t map_iova[NMAP] = {
	0x100000,     /* 4 KiB pages ... */
	0x7fff000,    /* ... just below a 2 MiB boundary */
	300ull << 30, /* far away: new upper-level tables */
	(300ull << 30) + (2ull << 20),
	(1ull << 39) - 0x1000, /* the last page of the IOVA space */
};

static void frames_inuse(struct vfiosim_world *w, uint64_t *n)
{
	struct vfiosim_phys_stats st;

	VFIOSIM_ASSERT(w, vfiosim_phys_stats(w, &st) == 0);
	*n = st.frames_inuse;
}

static void seq_scenario(struct vfiosim_world *w, void *arg)
{
	struct seq *s = arg;
	struct vfiosim_fault_plan plan = { .nth = s->nth };
	struct vfiosim_fault_plan none = { 0 };
	struct vfiosim_iommu_domain_info before, after;
	struct vfiosim_iommu_mapping m;
	struct vfiosim_iommu *iommu = NULL;
	struct vfiosim_iommu_group *group = NULL;
	struct vfiosim_device *dev = NULL;
	struct vfiosim_iommu_domain *d = NULL;
	struct vfiosim_mm *mm = NULL;
	uint64_t addr = 0, pfns[NMAP], base_frames, f0, f1;
	long pinned = 0;
	bool attached = false;
	int nmapped = 0, step = 0, rc = 0;
	char buf[16] = "fail-nth";

	/* Setup, un-faulted. */
	IT_RC(w, vfiosim_mm_create(w, &mm), 0);
	IT_RC(w,
	      vfiosim_mmap(mm, 0, NMAP * 4 * KiB,
			   VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE,
			   VFIOSIM_MAP_PRIVATE | VFIOSIM_MAP_ANONYMOUS, &addr),
	      0);
	frames_inuse(w, &base_frames);
	s->failed_step = -1;
	vfiosim_fault_set_plan(w, &plan);
	s->hits = vfiosim_fault_hits(w, NULL);

#define STEP(expr)                             \
	do {                                   \
		step++;                        \
		rc = (expr);                   \
		if (rc < 0) {                  \
			s->failed_step = step; \
			s->failed_rc = rc;     \
			goto unwind;           \
		}                              \
	} while (0)

	frames_inuse(w, &f0);
	pinned = vfiosim_pin_user_pages_unlocked(
		mm, addr, NMAP, VFIOSIM_FOLL_WRITE | VFIOSIM_FOLL_LONGTERM,
		pfns);
	if (pinned > 0 && pinned < NMAP) {
		/* A short pin is a failure of the sequence: give back. */
		IT_RC(w,
		      vfiosim_unpin_user_pages(w, pfns, (unsigned long)pinned),
		      0);
		pinned = -ENOMEM;
	}
	STEP((int)pinned);
	frames_inuse(w, &f0);
	STEP(vfiosim_iommu_create(w, NULL, &iommu));
	STEP(vfiosim_iommu_group_alloc(iommu, &group));
	STEP(vfiosim_device_create(group, "nth", &dev));
	frames_inuse(w, &f0);
	rc = vfiosim_iommu_domain_alloc(iommu, &d);
	if (rc) {
		frames_inuse(w, &f1);
		IT_RC(w, f1, f0);
	}
	STEP(rc);
	step++;
	rc = vfiosim_iommu_attach_group(d, group);
	if (rc) {
		VFIOSIM_ASSERT(
			w, vfiosim_iommu_group_domain(group) ==
				   vfiosim_iommu_group_default_domain(group));
		s->failed_step = step;
		s->failed_rc = rc;
		goto unwind;
	}
	attached = true;
	for (int i = 0; i < NMAP; i++) {
		IT_RC(w, vfiosim_iommu_domain_get_info(d, &before), 0);
		frames_inuse(w, &f0);
		step++;
		rc = vfiosim_iommu_map(
			d, map_iova[i], pfns[i] * 4 * KiB, 4 * KiB,
			VFIOSIM_IOMMU_READ | VFIOSIM_IOMMU_WRITE);
		if (rc) {
			/* The failed map changed nothing. */
			IT_RC(w, vfiosim_iommu_domain_get_info(d, &after), 0);
			IT_RC(w, after.leaves, before.leaves);
			IT_RC(w, after.table_pages, before.table_pages);
			IT_RC(w, after.mapped_bytes, before.mapped_bytes);
			frames_inuse(w, &f1);
			IT_RC(w, f1, f0);
			IT_RC(w, vfiosim_iommu_lookup(d, map_iova[i], &m),
			      -ENOENT);
			s->failed_step = step;
			s->failed_rc = rc;
			goto unwind;
		}
		nmapped++;
	}
	for (int i = 0; i < NMAP; i++) {
		IT_RC(w,
		      vfiosim_device_dma(dev, map_iova[i], buf, sizeof(buf),
					 VFIOSIM_DMA_WRITE),
		      0);
		s->dma_ok++;
	}

unwind:
	s->hits = vfiosim_fault_hits(w, NULL) - s->hits;
	s->injected = vfiosim_fault_injected(w);
	vfiosim_fault_set_plan(w, &none);
	while (nmapped > 0) {
		nmapped--;
		IT_RC(w, vfiosim_iommu_unmap(d, map_iova[nmapped], 4 * KiB),
		      4 * KiB);
	}
	if (attached)
		IT_RC(w, vfiosim_iommu_detach_group(d, group), 0);
	if (d) {
		IT_RC(w, vfiosim_iommu_domain_get_info(d, &after), 0);
		IT_RC(w, after.table_pages, 1);
		IT_RC(w, vfiosim_iommu_domain_free(d), 0);
	}
	if (dev)
		IT_RC(w, vfiosim_device_destroy(dev), 0);
	if (group)
		IT_RC(w, vfiosim_iommu_group_free(group), 0);
	if (iommu)
		IT_RC(w, vfiosim_iommu_destroy(iommu), 0);
	if (pinned > 0)
		IT_RC(w, vfiosim_unpin_user_pages(w, pfns, NMAP), 0);
	/* Pins dropped; the mm may still hold pages it faulted in. */
	frames_inuse(w, &f1);
	VFIOSIM_ASSERT(w, f1 <= base_frames + NMAP);
	IT_RC(w, vfiosim_munmap(mm, addr, NMAP * 4 * KiB), 0);
	vfiosim_mmput(mm);
	frames_inuse(w, &f1);
	VFIOSIM_ASSERT(w, f1 <= base_frames, "frames %llu > %llu",
		       (unsigned long long)f1, (unsigned long long)base_frames);
#undef STEP
}

static int run_seq(struct seq *s)
{
	struct vfiosim_world *w;
	int rc, n;

	w = tu_run(NULL, seq_scenario, s, &rc);
	if (vfiosim_world_failure_count(w))
		it_print_failures(w);
	ck_assert_uint_eq(vfiosim_world_failure_count(w), 0);
	n = vfiosim_world_destroy(w);
	ck_assert_msg(n == 0, "nth=%lu: teardown reported %d failure(s)",
		      s->nth, n);
	return rc;
}

START_TEST(fail_nth_sweep)
{
	struct seq base = { 0 };
	unsigned long n, total, failures = 0;

	run_seq(&base);
	ck_assert_int_eq(base.failed_step, -1);
	ck_assert_uint_eq(base.dma_ok, NMAP);
	ck_assert_uint_eq(base.injected, 0);
	/* Fault points of the sequence (cumulative count, read before and
	 * after it). */
	ck_assert_uint_gt(base.hits, 10);
	total = 0;
	for (n = 1; n <= base.hits + 1; n++) {
		struct seq s = { .nth = n };

		run_seq(&s);
		if (n > base.hits) {
			/* Past the last point: nothing to inject. */
			ck_assert_uint_eq(s.injected, 0);
			ck_assert_int_eq(s.failed_step, -1);
			break;
		}
		total++;
		ck_assert_msg(s.injected == 1, "nth=%lu: %lu injected", n,
			      s.injected);
		/* Every injected failure must make the sequence fail. */
		if (s.failed_step > 0) {
			failures++;
			ck_assert_int_lt(s.failed_rc, 0);
		}
	}
	ck_assert_uint_eq(total, base.hits);
	/* No fault point of the sequence is absorbed silently. */
	ck_assert_uint_eq(failures, total);
	fprintf(stderr, "fail-nth: %lu fault points in the sequence\n", total);
}
END_TEST

static Suite *fault_suite(void)
{
	Suite *s = suite_create("iommu-fault");
	TCase *tc = tcase_create("fail-nth");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, fail_nth_sweep);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(fault_suite)
