/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-iommu-dma-model.c - randomized, seeded map / unmap / device DMA
 * sequences in strict mode with a small IOTLB, checked against a
 * reference: the leaf layout of the window (as in test-iommu-model.c) and
 * a mirror of the physical bytes.  Every DMA must return what the
 * reference predicts (success, -EFAULT for a missing translation,
 * -EACCES for a write to a read-only leaf), fault at the predicted
 * address, move exactly the predicted bytes and never use a stale
 * translation (strict mode: the IOTLB may only ever hold live entries).
 * At the end the frames' bytes must equal the mirror.
 */
#include <stdlib.h>

#include "iommu-testutil.h"

#define WINDOW (64 * MiB)
#define NBLOCKS 4 /* backed 2 MiB blocks of physical memory */
#define POOL (NBLOCKS * 2 * MiB)

struct ref_page {
	uint32_t leaf_start; /* page index */
	uint32_t leaf_pages; /* 0 = not mapped */
	uint64_t poff;	     /* pool offset of the leaf's first byte */
	bool writable;
};

struct dm {
	uint64_t seed, rng;
	unsigned int ops;
	uint64_t pfn[NBLOCKS];
	uint64_t phys[NBLOCKS];
	struct ref_page ref[WINDOW >> 12];
	uint8_t mirror[POOL];
	uint8_t buf[16 * KiB];
	uint8_t expect[16 * KiB];
	uint64_t hist_iova[4096], hist_size[4096];
	unsigned int nhist;
	uint64_t gone[16]; /* recently unmapped IOVAs: DMA there too */
	unsigned int ngone;
	unsigned int expect_warn;
	unsigned int dma_ok, dma_fault, dma_acces, maps, unmaps, supers;
};

static uint64_t rnd(struct dm *m, uint64_t n)
{
	uint64_t z = (m->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (uint64_t)(((unsigned __int128)z * n) >> 64);
}

static uint8_t *pool_bytes(struct vfiosim_world *w, struct dm *m, uint64_t poff)
{
	uint64_t b = poff / (2 * MiB), off = poff % (2 * MiB);
	uint64_t psize = vfiosim_page_size(w);

	return (uint8_t *)vfiosim_page_bytes(w, m->pfn[b] + off / psize) +
	       off % psize;
}

static uint64_t pool_phys(const struct dm *m, uint64_t poff)
{
	return m->phys[poff / (2 * MiB)] + poff % (2 * MiB);
}

static int ref_map(struct dm *m, uint64_t iova, uint64_t poff, uint64_t size,
		   bool writable)
{
	uint64_t p0 = iova >> 12, n = size >> 12;

	for (uint64_t i = 0; i < n; i++)
		if (m->ref[p0 + i].leaf_pages)
			return -EEXIST;
	while (size) {
		/* 2 MiB when iova and phys allow it, else 4 KiB */
		uint64_t phys = pool_phys(m, poff);
		uint64_t s =
			(size >= 2 * MiB && !((iova | phys) & (2 * MiB - 1))) ?
				2 * MiB :
				4 * KiB;
		uint64_t p = iova >> 12, k = s >> 12;

		for (uint64_t i = 0; i < k; i++)
			m->ref[p + i] = (struct ref_page){ (uint32_t)p,
							   (uint32_t)k, poff,
							   writable };
		m->supers += s > 4 * KiB;
		iova += s;
		poff += s;
		size -= s;
	}
	return 0;
}

static int64_t ref_unmap(struct dm *m, uint64_t iova, uint64_t size)
{
	uint64_t p = iova >> 12, last = p + (size >> 12) - 1;
	int64_t removed = 0;

	while (p <= last) {
		struct ref_page r = m->ref[p];

		if (!r.leaf_pages) {
			m->expect_warn++;
			break;
		}
		for (uint64_t i = 0; i < r.leaf_pages; i++)
			m->ref[r.leaf_start + i].leaf_pages = 0;
		removed += (int64_t)r.leaf_pages << 12;
		p = r.leaf_start + r.leaf_pages;
	}
	return removed;
}

/* The DMA the reference predicts: bytes moved and the result. */
static int ref_dma(struct dm *m, uint64_t iova, size_t len, bool write,
		   size_t *moved)
{
	size_t pos = 0;

	while (pos < len) {
		uint64_t cur = iova + pos;
		struct ref_page r = m->ref[cur >> 12];
		uint64_t n = 4 * KiB - (cur & (4 * KiB - 1));
		uint64_t poff;

		if (!r.leaf_pages) {
			*moved = pos;
			return -EFAULT;
		}
		if (write && !r.writable) {
			*moved = pos;
			return -EACCES;
		}
		if (n > len - pos)
			n = len - pos;
		poff = r.poff + (cur - ((uint64_t)r.leaf_start << 12));
		if (write)
			memcpy(m->mirror + poff, m->buf + pos, n);
		pos += n;
	}
	*moved = pos;
	return 0;
}

static void dm_scenario(struct vfiosim_world *w, void *arg)
{
	struct dm *m = arg;
	struct vfiosim_iommu_config c = vfiosim_world_config(w)->iommu;
	struct vfiosim_iommu_stats st;
	struct vfiosim_iommu *iommu;
	struct vfiosim_iommu_group *g;
	struct vfiosim_iommu_domain *d;
	struct vfiosim_device *dev;
	uint8_t *expect = m->expect;

	m->rng = m->seed;
	c.nresv = 0;
	c.iotlb_entries = 8;
	IT_RC(w, vfiosim_iommu_create(w, &c, &iommu), 0);
	IT_RC(w, vfiosim_iommu_group_alloc(iommu, &g), 0);
	IT_RC(w, vfiosim_device_create(g, "dma-model", &dev), 0);
	d = vfiosim_iommu_group_default_domain(g);
	for (int b = 0; b < NBLOCKS; b++) {
		IT_RC(w,
		      vfiosim_phys_alloc(w, 9, VFIOSIM_PAGE_BACKED, &m->pfn[b]),
		      0);
		m->phys[b] = it_pfn_phys(w, m->pfn[b]);
		for (uint64_t i = 0; i < 2 * MiB; i += 4 * KiB)
			memcpy(m->mirror + b * 2 * MiB + i,
			       pool_bytes(w, m, b * 2 * MiB + i), 4 * KiB);
	}

	for (unsigned int op = 0; op < m->ops; op++) {
		unsigned int kind = (unsigned int)rnd(m, 100);

		if (kind < 30) {
			/* map: 4K..64K or a 2M-multiple, from the pool */
			uint64_t size, iova, poff;
			bool wr = rnd(m, 4) != 0;
			int want;

			if (rnd(m, 4) == 0) {
				size = 2 * MiB;
				iova = rnd(m, WINDOW / (2 * MiB)) * 2 * MiB;
				poff = rnd(m, 2) ? rnd(m, NBLOCKS) * 2 * MiB :
						   rnd(m, (POOL - size) >> 12)
							   << 12;
			} else {
				size = (1 + rnd(m, 16)) * 4 * KiB;
				iova = rnd(m, (WINDOW - size) >> 12) << 12;
				poff = rnd(m, (POOL - size) >> 12) << 12;
			}
			/* keep the range inside one block (phys contiguity) */
			if (poff / (2 * MiB) != (poff + size - 1) / (2 * MiB))
				poff = (poff / (2 * MiB)) * 2 * MiB;
			want = ref_map(m, iova, poff, size, wr);
			if (want)
				m->expect_warn++;
			else if (m->nhist < 4096) {
				m->hist_iova[m->nhist] = iova;
				m->hist_size[m->nhist++] = size;
			}
			m->maps += !want;
			IT_RC(w,
			      vfiosim_iommu_map(
				      d, iova, pool_phys(m, poff), size,
				      VFIOSIM_IOMMU_READ |
					      (wr ? VFIOSIM_IOMMU_WRITE : 0)),
			      want);
		} else if (kind < 45 && m->nhist) {
			unsigned int h = (unsigned int)rnd(m, m->nhist);
			uint64_t iova = m->hist_iova[h], size = m->hist_size[h];
			int64_t want = ref_unmap(m, iova, size);

			m->unmaps += want > 0;
			m->gone[m->ngone++ % 16] = iova;
			m->hist_iova[h] = m->hist_iova[m->nhist - 1];
			m->hist_size[h] = m->hist_size[--m->nhist];
			IT_RC(w, vfiosim_iommu_unmap(d, iova, size), want);
		} else {
			/* DMA, often near something mapped */
			size_t len = 1 + rnd(m, sizeof(m->buf)), moved = 0;
			bool write = rnd(m, 2);
			uint64_t iova;
			int want, got;

			if (m->ngone && rnd(m, 4) == 0)
				iova = m->gone[rnd(m, m->ngone < 16 ? m->ngone :
								      16)] +
				       rnd(m, 4 * KiB);
			else if (m->nhist && rnd(m, 3))
				iova = m->hist_iova[rnd(m, m->nhist)] +
				       rnd(m, 8 * KiB);
			else
				iova = rnd(m, WINDOW - len);
			if (iova + len > WINDOW)
				iova = WINDOW - len;
			for (size_t i = 0; i < len; i++)
				m->buf[i] = (uint8_t)rnd(m, 256);
			memcpy(expect, m->buf, len);
			want = ref_dma(m, iova, len, write, &moved);
			if (!write) {
				/* the expected bytes come from the mirror */
				size_t pos = 0;

				while (pos < moved) {
					uint64_t cur = iova + pos;
					struct ref_page r = m->ref[cur >> 12];
					uint64_t n =
						4 * KiB - (cur & (4 * KiB - 1));

					if (n > moved - pos)
						n = moved - pos;
					memcpy(expect + pos,
					       m->mirror + r.poff +
						       (cur -
							((uint64_t)r.leaf_start
							 << 12)),
					       n);
					pos += n;
				}
			}
			got = vfiosim_device_dma(dev, iova, m->buf, len,
						 write ? VFIOSIM_DMA_WRITE :
							 VFIOSIM_DMA_READ);
			IT_RC(w, got, want);
			if (!write)
				IT_RC(w, memcmp(m->buf, expect, moved), 0);
			if (want) {
				struct vfiosim_dma_fault f;

				IT_RC(w,
				      vfiosim_iommu_fault_get(
					      iommu,
					      vfiosim_iommu_fault_count(iommu) -
						      1,
					      &f),
				      0);
				IT_RC(w, f.iova, iova + moved);
				IT_RC(w, f.write, write);
			}
			m->dma_ok += !want;
			m->dma_fault += want == -EFAULT;
			m->dma_acces += want == -EACCES;
		}
	}
	IT_RC(w, vfiosim_iommu_get_stats(iommu, &st), 0);
	IT_RC(w, st.iotlb_stale_hits, 0);
	VFIOSIM_ASSERT(w, st.iotlb_evictions > 0, "IOTLB never full");
	VFIOSIM_ASSERT(w, st.iotlb_hits > 0, "IOTLB never hit");
	for (uint64_t i = 0; i < POOL; i += 4 * KiB)
		IT_RC(w, memcmp(pool_bytes(w, m, i), m->mirror + i, 4 * KiB),
		      0);
	/* Clean up. */
	for (uint64_t p = 0; p < (WINDOW >> 12); p++)
		if (m->ref[p].leaf_pages && m->ref[p].leaf_start == p) {
			uint64_t sz = (uint64_t)m->ref[p].leaf_pages << 12;

			IT_RC(w, ref_unmap(m, p << 12, sz), (int64_t)sz);
			IT_RC(w, vfiosim_iommu_unmap(d, p << 12, sz),
			      (int64_t)sz);
		}
	for (int b = 0; b < NBLOCKS; b++)
		IT_RC(w, vfiosim_page_put(w, m->pfn[b]), 0);
	IT_RC(w, vfiosim_device_destroy(dev), 0);
	IT_RC(w, vfiosim_iommu_group_free(g), 0);
	IT_RC(w, vfiosim_iommu_destroy(iommu), 0);
}

START_TEST(random_map_unmap_dma_strict)
{
	for (uint64_t seed = 1; seed <= 6; seed++) {
		struct dm *m = calloc(1, sizeof(*m));
		struct vfiosim_world *w;
		int rc, n;

		ck_assert_ptr_nonnull(m);
		m->seed = seed * 2654435761u;
		m->ops = 3000;
		w = tu_run(NULL, dm_scenario, m, &rc);
		ck_assert_int_eq(rc, (int)m->expect_warn);
		if (it_count(w, VFIOSIM_FAIL_ASSERT) ||
		    it_count(w, VFIOSIM_FAIL_DMA))
			it_print_failures(w);
		ck_assert_uint_eq(it_count(w, VFIOSIM_FAIL_ASSERT), 0);
		ck_assert_uint_eq(it_count(w, VFIOSIM_FAIL_DMA), 0);
		ck_assert_uint_eq(it_count(w, VFIOSIM_FAIL_WARN),
				  m->expect_warn);
		ck_assert_uint_gt(m->dma_ok, 100);
		ck_assert_uint_gt(m->dma_fault, 10);
		ck_assert_uint_gt(m->dma_acces, 5);
		ck_assert_uint_gt(m->supers, 3);
		ck_assert_uint_gt(m->unmaps, 50);
		n = vfiosim_world_destroy(w);
		ck_assert_int_eq(n, (int)m->expect_warn);
		fprintf(stderr,
			"dma-model seed=%llu: %u maps (%u superpages), %u "
			"unmaps, DMA %u ok / %u EFAULT / %u EACCES\n",
			(unsigned long long)m->seed, m->maps, m->supers,
			m->unmaps, m->dma_ok, m->dma_fault, m->dma_acces);
		free(m);
	}
}
END_TEST

static Suite *dm_suite(void)
{
	Suite *s = suite_create("iommu-dma-model");
	TCase *tc = tcase_create("strict");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, random_map_unmap_dma_strict);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(dm_suite)
