/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommu-testutil.h - helpers shared by the iommu and dev layer tests.
 *
 * Scenarios run as the "main" simulated thread and check with
 * VFIOSIM_ASSERT(); the Check test then asserts, on its own thread, how
 * many failures of each kind the run recorded and that teardown found
 * nothing more (no leaked frame, no live mapping).
 */
#ifndef VFIOSIM_IOMMU_TESTUTIL_H
#define VFIOSIM_IOMMU_TESTUTIL_H

#include <errno.h>
#include <stdio.h>

#include "testutil.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)

struct it_expect {
	unsigned int warn;
	unsigned int leak;
	unsigned int dma;
	unsigned int teardown; /* failures added by vfiosim_world_destroy */
};

static inline void it_print_failures(const struct vfiosim_world *w)
{
	for (size_t i = 0; i < vfiosim_world_failure_count(w); i++) {
		const struct vfiosim_failure *f = vfiosim_world_failure(w, i);

		fprintf(stderr, "  failure %zu: %s %s:%d %s\n", i,
			vfiosim_failure_kind_name(f->kind), f->file, f->line,
			f->message);
	}
}

static inline unsigned int it_count(const struct vfiosim_world *w,
				    enum vfiosim_failure_kind kind)
{
	unsigned int n = 0;

	for (size_t i = 0; i < vfiosim_world_failure_count(w); i++)
		n += vfiosim_world_failure(w, i)->kind == kind;
	return n;
}

/* Index of the first failure of @kind whose message contains @needle. */
static inline int it_find(const struct vfiosim_world *w,
			  enum vfiosim_failure_kind kind, const char *needle)
{
	for (size_t i = 0; i < vfiosim_world_failure_count(w); i++) {
		const struct vfiosim_failure *f = vfiosim_world_failure(w, i);

		if (f->kind == kind && tu_contains(f->message, needle))
			return (int)i;
	}
	return -1;
}

/*
 * Run @fn in a world made from @cfg (NULL: defaults), check the failure
 * counts against @e, destroy the world and check teardown.  If @inspect is
 * non-NULL it is called on the test thread before the world is destroyed.
 */
static inline void it_run(const struct vfiosim_config *cfg,
			  void (*fn)(struct vfiosim_world *w, void *arg),
			  void *arg, struct it_expect e,
			  void (*inspect)(struct vfiosim_world *w, void *arg))
{
	struct vfiosim_world *w;
	size_t total;
	int rc, n;

	w = tu_run(cfg, fn, arg, &rc);
	if (it_count(w, VFIOSIM_FAIL_WARN) != e.warn ||
	    it_count(w, VFIOSIM_FAIL_LEAK) != e.leak ||
	    it_count(w, VFIOSIM_FAIL_DMA) != e.dma ||
	    vfiosim_world_failure_count(w) != e.warn + e.leak + e.dma)
		it_print_failures(w);
	ck_assert_int_eq(it_count(w, VFIOSIM_FAIL_ASSERT), 0);
	ck_assert_uint_eq(it_count(w, VFIOSIM_FAIL_WARN), e.warn);
	ck_assert_uint_eq(it_count(w, VFIOSIM_FAIL_LEAK), e.leak);
	ck_assert_uint_eq(it_count(w, VFIOSIM_FAIL_DMA), e.dma);
	ck_assert_uint_eq(vfiosim_world_failure_count(w),
			  e.warn + e.leak + e.dma);
	ck_assert_int_eq(rc, (int)(e.warn + e.leak + e.dma));
	if (inspect)
		inspect(w, arg);
	total = vfiosim_world_failure_count(w);
	n = vfiosim_world_destroy(w);
	if (n != (int)(total + e.teardown))
		fprintf(stderr, "teardown added %d failure(s)\n",
			n - (int)total);
	ck_assert_int_eq(n, (int)(total + e.teardown));
}

#define IT_EXPECT(...) ((struct it_expect){ __VA_ARGS__ })

/* Scenario-side check of a model-API return value. */
#define IT_RC(w, expr, want)                                               \
	do {                                                               \
		long long _got = (long long)(expr);                        \
		long long _want = (long long)(want);                       \
		VFIOSIM_ASSERT((w), _got == _want, "%s = %lld, want %lld", \
			       #expr, _got, _want);                        \
	} while (0)

static inline uint64_t it_pfn_phys(struct vfiosim_world *w, uint64_t pfn)
{
	return pfn * vfiosim_page_size(w);
}

#endif /* VFIOSIM_IOMMU_TESTUTIL_H */
