/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-iommu-model.c - randomized, seeded map/unmap sequences on one
 * domain, checked step by step against a simple reference: an array with
 * one slot per IO page of a window, recording which leaf (start, size,
 * phys) covers it.  The reference implements the contracts independently:
 * iommu_pgsize()'s largest-page choice, -EEXIST over live entries,
 * unmap removing whole leaves and stopping at the first hole, and the
 * WARNs the hardware raises for its caller.
 */
#include <stdlib.h>

#include "iommu-testutil.h"

struct ref_page {
	uint64_t leaf_start; /* page index of the covering leaf's start */
	uint64_t leaf_pages; /* 0 = not mapped */
	uint64_t phys;	     /* phys of the leaf start */
};

struct model {
	/* configuration */
	unsigned int aw;
	uint64_t bitmap;
	uint64_t base; /* window start IOVA */
	uint64_t npages;
	uint64_t seed;
	unsigned int ops;
	/* state */
	uint64_t rng;
	uint64_t granule;
	struct ref_page *ref;
	uint64_t leaves, mapped;
	unsigned int expect_warn;
	unsigned int checks;
	unsigned int maps_ok, unmaps_ok, eexist, holes, supers;
	uint64_t *hist_iova, *hist_size; /* successful maps, for unmaps */
	unsigned int nhist;
};

/* splitmix64, seeded: the sequence depends on the seed only. */
static uint64_t rnd(struct model *m, uint64_t n)
{
	uint64_t z = (m->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (uint64_t)(((unsigned __int128)z * n) >> 64);
}

static uint64_t pick_pgsize(const struct model *m, uint64_t iova,
			    uint64_t paddr, uint64_t size)
{
	uint64_t best = 0;

	for (unsigned int b = 0; b < 64; b++) {
		uint64_t s = 1ull << b;

		if ((m->bitmap & s) && s <= size && !((iova | paddr) & (s - 1)))
			best = s;
	}
	return best;
}

static int ref_map(struct model *m, uint64_t iova, uint64_t paddr,
		   uint64_t size)
{
	uint64_t p0 = (iova - m->base) / m->granule, n = size / m->granule;

	for (uint64_t i = 0; i < n; i++)
		if (m->ref[p0 + i].leaf_pages)
			return -EEXIST;
	while (size) {
		uint64_t s = pick_pgsize(m, iova, paddr, size);
		uint64_t p = (iova - m->base) / m->granule, k = s / m->granule;

		for (uint64_t i = 0; i < k; i++)
			m->ref[p + i] = (struct ref_page){ p, k, paddr };
		m->leaves++;
		m->supers += s > m->granule;
		m->mapped += s;
		iova += s;
		paddr += s;
		size -= s;
	}
	return 0;
}

static int64_t ref_unmap(struct model *m, uint64_t iova, uint64_t size,
			 bool *hole)
{
	uint64_t p = (iova - m->base) / m->granule;
	uint64_t last = p + size / m->granule - 1;
	int64_t removed = 0;

	*hole = false;
	while (p <= last) {
		struct ref_page r = m->ref[p];

		if (!r.leaf_pages) {
			*hole = true;
			break;
		}
		for (uint64_t i = 0; i < r.leaf_pages; i++)
			m->ref[r.leaf_start + i].leaf_pages = 0;
		m->leaves--;
		m->mapped -= r.leaf_pages * m->granule;
		removed += (int64_t)(r.leaf_pages * m->granule);
		p = r.leaf_start + r.leaf_pages;
	}
	return removed;
}

/* Compare every leaf of the reference, and some holes, with the domain. */
static void check_all(struct vfiosim_world *w, struct model *m,
		      struct vfiosim_iommu_domain *d)
{
	struct vfiosim_iommu_domain_info info;
	struct vfiosim_iommu_mapping map;

	m->checks++;
	IT_RC(w, vfiosim_iommu_domain_get_info(d, &info), 0);
	IT_RC(w, info.leaves, m->leaves);
	IT_RC(w, info.mapped_bytes, m->mapped);
	for (uint64_t p = 0; p < m->npages;) {
		struct ref_page r = m->ref[p];
		uint64_t iova = m->base + p * m->granule;

		if (!r.leaf_pages) {
			if (p % 7 == 0)
				IT_RC(w, vfiosim_iommu_lookup(d, iova, &map),
				      -ENOENT);
			p++;
			continue;
		}
		IT_RC(w, vfiosim_iommu_lookup(d, iova, &map), 0);
		IT_RC(w, map.iova, iova);
		IT_RC(w, map.size, r.leaf_pages * m->granule);
		IT_RC(w, map.phys, r.phys);
		p += r.leaf_pages;
	}
}

static void gen_range(struct model *m, uint64_t *iova, uint64_t *size)
{
	uint64_t sizes[3], cls, s, align, span = m->npages * m->granule;
	unsigned int ns = 0;

	for (unsigned int b = 0; b < 64; b++)
		if ((m->bitmap >> b) & 1)
			sizes[ns++] = 1ull << b;
	cls = rnd(m, 100);
	if (cls < 60 || ns == 1)
		s = m->granule * (1 + rnd(m, 16));
	else if (cls < 92 || ns == 2 || sizes[2] * 2 > span)
		s = sizes[1] * (1 + rnd(m, 2)) +
		    (rnd(m, 2) ? m->granule * rnd(m, 4) : 0);
	else
		s = sizes[2];
	if (s > span / 2)
		s = span / 2;
	align = rnd(m, 10) < 7 ?
			(s >= sizes[ns > 1 ? 1 : 0] ? sizes[ns > 1 ? 1 : 0] :
						      m->granule) :
			m->granule;
	if (s == sizes[ns - 1])
		align = s;
	*iova = m->base + rnd(m, (span - s) / align + 1) * align;
	*size = s;
}

static void model_scenario(struct vfiosim_world *w, void *arg)
{
	struct model *m = arg;
	struct vfiosim_iommu_config c = vfiosim_world_config(w)->iommu;
	struct vfiosim_iommu_domain_info info;
	struct vfiosim_iommu *iommu;
	struct vfiosim_iommu_domain *d;

	c.addr_width = m->aw;
	c.pgsize_bitmap = m->bitmap;
	c.nresv = 0;
	m->rng = m->seed;
	m->granule = m->bitmap & -m->bitmap;
	IT_RC(w, vfiosim_iommu_create(w, &c, &iommu), 0);
	IT_RC(w, vfiosim_iommu_domain_alloc(iommu, &d), 0);
	for (unsigned int op = 0; op < m->ops; op++) {
		uint64_t iova, size, paddr;
		bool hole;

		if (rnd(m, 100) < 55) {
			gen_range(m, &iova, &size);
			/* paddr shares the iova's alignment most of the time */
			paddr = (rnd(m, 1ull << 20) << 20) |
				(rnd(m, 4) ? (iova & ((1ull << 20) - 1)) :
					     m->granule * rnd(m, 8));
			paddr &= ~(m->granule - 1);
			paddr = (paddr & ~((1ull << 30) - 1)) |
				(rnd(m, 3) ? (iova & ((1ull << 30) - 1)) :
					     (paddr & ((1ull << 30) - 1)));
			{
				int want = ref_map(m, iova, paddr, size);

				if (want == -EEXIST) {
					m->expect_warn++;
					m->eexist++;
				} else {
					m->maps_ok++;
					m->hist_iova[m->nhist] = iova;
					m->hist_size[m->nhist++] = size;
				}
				IT_RC(w,
				      vfiosim_iommu_map(d, iova, paddr, size,
							VFIOSIM_IOMMU_READ),
				      want);
			}
		} else {
			uint64_t p = rnd(m, m->npages), span;

			span = m->npages * m->granule;
			if (m->nhist && rnd(m, 10) < 6) {
				/* a range mapped before, maybe trimmed */
				unsigned int h = (unsigned int)rnd(m, m->nhist);

				iova = m->hist_iova[h];
				size = m->hist_size[h];
				if (rnd(m, 4) == 0 && size > m->granule) {
					uint64_t cut =
						m->granule *
						(1 +
						 rnd(m, size / m->granule - 1));

					if (rnd(m, 2))
						iova += cut;
					size -= cut;
				}
			} else if (rnd(m, 2) && m->ref[p].leaf_pages) {
				/* exactly one leaf, or part of it */
				struct ref_page r = m->ref[p];

				iova = m->base +
				       (rnd(m, 2) ? r.leaf_start : p) *
					       m->granule;
				size = rnd(m, 2) ? r.leaf_pages * m->granule :
						   m->granule;
				if (iova - m->base + size > span)
					size = m->granule;
			} else {
				gen_range(m, &iova, &size);
			}
			{
				int64_t want = ref_unmap(m, iova, size, &hole);

				if (hole) {
					m->expect_warn++;
					m->holes++;
				}
				if (want)
					m->unmaps_ok++;
				IT_RC(w, vfiosim_iommu_unmap(d, iova, size),
				      want);
			}
		}
		if (op % 64 == 63)
			check_all(w, m, d);
	}
	check_all(w, m, d);
	/* Empty the domain leaf by leaf: every table page must go. */
	for (uint64_t p = 0; p < m->npages; p++) {
		bool hole;

		if (m->ref[p].leaf_pages && m->ref[p].leaf_start == p) {
			uint64_t sz = m->ref[p].leaf_pages * m->granule;

			IT_RC(w,
			      ref_unmap(m, m->base + p * m->granule, sz, &hole),
			      (int64_t)sz);
			IT_RC(w,
			      vfiosim_iommu_unmap(d, m->base + p * m->granule,
						  sz),
			      (int64_t)sz);
		}
	}
	IT_RC(w, vfiosim_iommu_domain_get_info(d, &info), 0);
	IT_RC(w, info.leaves, 0);
	IT_RC(w, info.table_pages, 1);
	IT_RC(w, vfiosim_iommu_domain_free(d), 0);
	IT_RC(w, vfiosim_iommu_destroy(iommu), 0);
}

static void run_model(struct model *m)
{
	struct vfiosim_world *w;
	int rc, n;

	m->ref = calloc(m->npages, sizeof(*m->ref));
	m->hist_iova = calloc(m->ops, sizeof(uint64_t));
	m->hist_size = calloc(m->ops, sizeof(uint64_t));
	ck_assert_ptr_nonnull(m->ref);
	ck_assert_ptr_nonnull(m->hist_iova);
	ck_assert_ptr_nonnull(m->hist_size);
	w = tu_run(NULL, model_scenario, m, &rc);
	ck_assert_int_eq(rc, (int)m->expect_warn);
	if (it_count(w, VFIOSIM_FAIL_ASSERT))
		it_print_failures(w);
	ck_assert_int_eq(it_count(w, VFIOSIM_FAIL_ASSERT), 0);
	ck_assert_uint_eq(it_count(w, VFIOSIM_FAIL_WARN), m->expect_warn);
	ck_assert_uint_eq(vfiosim_world_failure_count(w), m->expect_warn);
	/* The sequence must have exercised every outcome. */
	ck_assert_uint_gt(m->maps_ok, m->ops / 8);
	ck_assert_uint_gt(m->unmaps_ok, m->ops / 16);
	ck_assert_uint_gt(m->eexist, 0);
	ck_assert_uint_gt(m->holes, 0);
	if (m->bitmap != m->granule)
		ck_assert_uint_gt(m->supers, 3);
	ck_assert_uint_gt(m->checks, m->ops / 64);
	n = vfiosim_world_destroy(w);
	ck_assert_int_eq(n, (int)m->expect_warn);
	free(m->ref);
	free(m->hist_iova);
	free(m->hist_size);
	fprintf(stderr,
		"model aw=%u bitmap=%#llx seed=%llu: %u maps, %u unmaps, "
		"%u EEXIST, %u holes, %u superpages\n",
		m->aw, (unsigned long long)m->bitmap,
		(unsigned long long)m->seed, m->maps_ok, m->unmaps_ok,
		m->eexist, m->holes, m->supers);
}

START_TEST(random_4k_2m_1g_low)
{
	for (uint64_t seed = 1; seed <= 4; seed++) {
		struct model m = { .aw = 39,
				   .bitmap = 0x40201000ull,
				   .base = 0,
				   .npages = (4 * GiB) >> 12,
				   .seed = seed * 7919,
				   .ops = 600 };

		run_model(&m);
	}
}
END_TEST

START_TEST(random_4k_2m_1g_top_of_space)
{
	for (uint64_t seed = 1; seed <= 4; seed++) {
		struct model m = { .aw = 39,
				   .bitmap = 0x40201000ull,
				   .base = (1ull << 39) - 4 * GiB,
				   .npages = (4 * GiB) >> 12,
				   .seed = seed * 104729,
				   .ops = 600 };

		run_model(&m);
	}
}
END_TEST

START_TEST(random_16k_granule_48bit_top)
{
	for (uint64_t seed = 1; seed <= 4; seed++) {
		struct model m = { .aw = 48,
				   .bitmap = (16 * KiB) | (32 * MiB),
				   .base = (1ull << 48) - 1 * GiB,
				   .npages = (1 * GiB) / (16 * KiB),
				   .seed = seed * 31,
				   .ops = 800 };

		run_model(&m);
	}
}
END_TEST

START_TEST(random_4k_only_57bit)
{
	for (uint64_t seed = 1; seed <= 2; seed++) {
		struct model m = { .aw = 57,
				   .bitmap = 4 * KiB,
				   .base = (1ull << 57) - 64 * MiB,
				   .npages = (64 * MiB) >> 12,
				   .seed = seed,
				   .ops = 800 };

		run_model(&m);
	}
}
END_TEST

static Suite *model_suite(void)
{
	Suite *s = suite_create("iommu-model");
	TCase *tc = tcase_create("map-unmap");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, random_4k_2m_1g_low);
	tcase_add_test(tc, random_4k_2m_1g_top_of_space);
	tcase_add_test(tc, random_16k_granule_48bit_top);
	tcase_add_test(tc, random_4k_only_57bit);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(model_suite)
