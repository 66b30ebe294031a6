/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-iommu.c - the simulated IOMMU: geometry, the iommu_map() /
 * iommu_unmap() contracts, superpages, table pages, the caller checks,
 * the IOTLB in strict and deferred mode, groups and attach/detach.
 */
#include "iommu-testutil.h"

/* ------------------------------------------------------------ geometry */

struct geo {
	unsigned int aw;
	uint64_t bitmap;
	int want_rc;
	unsigned int want_levels;
};

static void geo_scenario(struct vfiosim_world *w, void *arg)
{
	const struct geo *g = arg;
	struct vfiosim_iommu_config c = vfiosim_world_config(w)->iommu;
	struct vfiosim_iommu_domain_info info;
	struct vfiosim_iommu_domain *d;
	struct vfiosim_iommu *iommu = NULL;

	c.addr_width = g->aw;
	c.pgsize_bitmap = g->bitmap;
	IT_RC(w, vfiosim_iommu_create(w, &c, &iommu), g->want_rc);
	if (g->want_rc)
		return;
	IT_RC(w, vfiosim_iommu_domain_alloc(iommu, &d), 0);
	IT_RC(w, vfiosim_iommu_domain_get_info(d, &info), 0);
	IT_RC(w, info.levels, g->want_levels);
	IT_RC(w, info.aperture_start, 0);
	IT_RC(w, info.aperture_end, (1ull << g->aw) - 1);
	IT_RC(w, info.pgsize_bitmap, g->bitmap);
	IT_RC(w, info.table_pages, 1);
	IT_RC(w, info.type, VFIOSIM_IOMMU_DOMAIN_UNMANAGED);
	IT_RC(w, vfiosim_iommu_destroy(iommu), -EBUSY);
	IT_RC(w, vfiosim_iommu_domain_free(d), 0);
	IT_RC(w, vfiosim_iommu_destroy(iommu), 0);
}

START_TEST(geometry)
{
	static const struct geo cases[] = {
		{ 39, 0x40201000ull, 0, 3 },
		{ 48, 0x40201000ull, 0, 4 },
		{ 57, 0x40201000ull, 0, 5 },
		{ 48, 0x1000ull, 0, 4 },
		{ 39, (16 * KiB) | (32 * MiB), 0, 3 },
		{ 48, (64 * KiB) | (512 * MiB), 0, 3 },
		{ 40, 0x40201000ull, -EINVAL, 0 },
		{ 39, 0, -EINVAL, 0 },
		{ 39, (4 * KiB) | (4 * MiB), -EINVAL, 0 },
		{ 39, 2 * KiB, -EINVAL, 0 },
		{ 39, (16 * KiB) | (2 * MiB), -EINVAL, 0 },
		{ 39, (4 * KiB) | (512 * GiB), -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		it_run(NULL, geo_scenario, (void *)&cases[i], IT_EXPECT(0),
		       NULL);
}
END_TEST

static void caps_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_iommu_config c = vfiosim_world_config(w)->iommu;
	struct vfiosim_iommu_range r[4];
	struct vfiosim_iommu_group *g;
	struct vfiosim_iommu *iommu;

	(void)arg;
	c.cache_coherent = false;
	c.dirty_tracking = true;
	c.resv[1] = (struct vfiosim_iommu_range){ 0x1000, 0x1fff, 0 };
	c.nresv = 2;
	IT_RC(w, vfiosim_iommu_create(w, &c, &iommu), 0);
	VFIOSIM_ASSERT(w, !vfiosim_iommu_capable(
				  iommu, VFIOSIM_IOMMU_CAP_CACHE_COHERENCY));
	VFIOSIM_ASSERT(w, vfiosim_iommu_capable(iommu,
						VFIOSIM_IOMMU_CAP_INTR_REMAP));
	VFIOSIM_ASSERT(w, vfiosim_iommu_capable(
				  iommu, VFIOSIM_IOMMU_CAP_DIRTY_TRACKING));
	IT_RC(w, vfiosim_iommu_group_alloc(iommu, &g), 0);
	IT_RC(w, vfiosim_iommu_group_resv_regions(g, r, 4), 2);
	IT_RC(w, r[0].start, 0x1000);
	IT_RC(w, r[1].start, 0xfee00000ull);
	IT_RC(w, r[1].last, 0xfeefffffull);
	IT_RC(w, r[1].type, 1);
	IT_RC(w, vfiosim_iommu_group_resv_regions(g, r, 1), 2);
	IT_RC(w, vfiosim_iommu_group_resv_regions(g, NULL, 1), -EINVAL);
	IT_RC(w, vfiosim_iommu_group_free(g), 0);
	IT_RC(w, vfiosim_iommu_destroy(iommu), 0);
}

START_TEST(capabilities_and_reserved_regions)
{
	it_run(NULL, caps_scenario, NULL, IT_EXPECT(0), NULL);
}
END_TEST

/* ------------------------------------------------------------- map/unmap */

struct one {
	struct vfiosim_iommu *iommu;
	struct vfiosim_iommu_domain *d;
};

static void one_setup(struct vfiosim_world *w, struct one *o,
		      const struct vfiosim_iommu_config *c)
{
	IT_RC(w, vfiosim_iommu_create(w, c, &o->iommu), 0);
	IT_RC(w, vfiosim_iommu_domain_alloc(o->iommu, &o->d), 0);
}

static void one_teardown(struct vfiosim_world *w, struct one *o)
{
	IT_RC(w, vfiosim_iommu_domain_free(o->d), 0);
	IT_RC(w, vfiosim_iommu_destroy(o->iommu), 0);
}

static uint64_t leaf_size(struct vfiosim_iommu_domain *d, uint64_t iova)
{
	struct vfiosim_iommu_mapping m;

	if (vfiosim_iommu_lookup(d, iova, &m))
		return 0;
	return m.size;
}

static void largest_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_iommu_domain_info info;
	struct vfiosim_iommu_mapping m;
	struct one o;
	uint64_t phys;
	const unsigned int rw = VFIOSIM_IOMMU_READ | VFIOSIM_IOMMU_WRITE;

	(void)arg;
	one_setup(w, &o, NULL);
	/* 4K below a 2M boundary, then 2M, then 4K: three leaf sizes. */
	IT_RC(w,
	      vfiosim_iommu_map(o.d, 2 * MiB - 4 * KiB, 6 * MiB - 4 * KiB,
				2 * MiB + 8 * KiB, rw),
	      0);
	IT_RC(w, leaf_size(o.d, 2 * MiB - 4 * KiB), 4 * KiB);
	IT_RC(w, leaf_size(o.d, 2 * MiB), 2 * MiB);
	IT_RC(w, leaf_size(o.d, 3 * MiB), 2 * MiB);
	IT_RC(w, leaf_size(o.d, 4 * MiB), 4 * KiB);
	IT_RC(w, leaf_size(o.d, 4 * MiB + 4 * KiB), 0);
	IT_RC(w, vfiosim_iommu_iova_to_phys(o.d, 3 * MiB + 5, &phys), 0);
	IT_RC(w, phys, 7 * MiB + 5);
	IT_RC(w, vfiosim_iommu_lookup(o.d, 3 * MiB, &m), 0);
	IT_RC(w, m.iova, 2 * MiB);
	IT_RC(w, m.phys, 6 * MiB);
	IT_RC(w, m.level, 1);
	IT_RC(w, m.prot, rw);
	IT_RC(w, vfiosim_iommu_domain_get_info(o.d, &info), 0);
	IT_RC(w, info.leaves, 3);
	IT_RC(w, info.mapped_bytes, 2 * MiB + 8 * KiB);

	/* Misaligned physical address: no superpage possible. */
	IT_RC(w,
	      vfiosim_iommu_map(o.d, 8 * MiB, 10 * MiB + 4 * KiB, 2 * MiB,
				VFIOSIM_IOMMU_READ),
	      0);
	IT_RC(w, leaf_size(o.d, 8 * MiB), 4 * KiB);
	IT_RC(w, vfiosim_iommu_domain_get_info(o.d, &info), 0);
	IT_RC(w, info.leaves, 3 + 512);

	/* 1 GiB page. */
	IT_RC(w, vfiosim_iommu_map(o.d, 1 * GiB, 3 * GiB, 1 * GiB, rw), 0);
	IT_RC(w, leaf_size(o.d, 1 * GiB + 12345), 1 * GiB);
	IT_RC(w, vfiosim_iommu_iova_to_phys(o.d, 2 * GiB - 1, &phys), 0);
	IT_RC(w, phys, 4 * GiB - 1);

	IT_RC(w, vfiosim_iommu_unmap(o.d, 1 * GiB, 1 * GiB), 1 * GiB);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 8 * MiB, 2 * MiB), 2 * MiB);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 2 * MiB - 4 * KiB, 2 * MiB + 8 * KiB),
	      2 * MiB + 8 * KiB);
	IT_RC(w, vfiosim_iommu_domain_get_info(o.d, &info), 0);
	IT_RC(w, info.leaves, 0);
	IT_RC(w, info.mapped_bytes, 0);
	IT_RC(w, info.table_pages, 1);
	IT_RC(w, vfiosim_iommu_iova_to_phys(o.d, 3 * MiB, &phys), -ENOENT);
	one_teardown(w, &o);
}

START_TEST(map_uses_largest_page)
{
	it_run(NULL, largest_scenario, NULL, IT_EXPECT(0), NULL);
}
END_TEST

/*
 * vfiosim_iommu_lookup_run() agrees with iova_to_phys() asked page by page
 * (type1's loop): across 4K and 2M leaves, across table boundaries, up to
 * a physical discontinuity, a hole, or the length asked.
 */
static void lookup_run_scenario(struct vfiosim_world *w, void *arg)
{
	const unsigned int rw = VFIOSIM_IOMMU_READ | VFIOSIM_IOMMU_WRITE;
	const uint64_t lo = 2 * MiB - 4 * KiB, b = 4 * MiB + 4 * KiB;
	const uint64_t c = b + 600 * 4 * KiB, end = c + 16 * KiB;
	uint64_t phys, run;
	struct one o;

	(void)arg;
	one_setup(w, &o, NULL);
	/* 4K + 2M + 4K leaves, then 600 4K leaves over a table boundary,
	 * all one physical run; then 4 pages elsewhere; then a hole. */
	IT_RC(w, vfiosim_iommu_map(o.d, lo, 6 * MiB - 4 * KiB, b - lo, rw), 0);
	IT_RC(w,
	      vfiosim_iommu_map(o.d, b, 8 * MiB + 4 * KiB, c - b,
				VFIOSIM_IOMMU_READ),
	      0);
	IT_RC(w, vfiosim_iommu_map(o.d, c, 64 * MiB, end - c, rw), 0);
	IT_RC(w, vfiosim_iommu_lookup_run(o.d, lo, 1ull << 30, &phys, &run), 0);
	IT_RC(w, phys, 6 * MiB - 4 * KiB);
	IT_RC(w, run, c - lo);
	IT_RC(w, vfiosim_iommu_lookup_run(o.d, 3 * MiB + 5, 4096, &phys, &run),
	      0);
	IT_RC(w, phys, 7 * MiB + 5);
	IT_RC(w, run, 4096);
	IT_RC(w, vfiosim_iommu_lookup_run(o.d, c, 1ull << 30, &phys, &run), 0);
	IT_RC(w, run, end - c);
	IT_RC(w, vfiosim_iommu_lookup_run(o.d, end, 4096, &phys, &run),
	      -ENOENT);
	IT_RC(w, vfiosim_iommu_lookup_run(o.d, lo, 0, &phys, &run), -EINVAL);
	IT_RC(w, vfiosim_iommu_lookup_run(NULL, lo, 1, &phys, &run), -EINVAL);
	for (uint64_t at = lo, k = 0; at < end; at += 37 * 4 * KiB, k++) {
		/* Lengths that end inside and at the end of a step of the
		 * four-entries-at-a-time scan, and one that goes past c. */
		uint64_t len = (k % 3 == 2 ? 700 : 5 + k % 4) * 4 * KiB;
		uint64_t p0, want = 0, p;

		IT_RC(w, vfiosim_iommu_lookup_run(o.d, at, len, &phys, &run),
		      0);
		IT_RC(w, vfiosim_iommu_iova_to_phys(o.d, at, &p0), 0);
		while (want < len &&
		       !vfiosim_iommu_iova_to_phys(o.d, at + want, &p) &&
		       p == p0 + want)
			want += 4 * KiB;
		IT_RC(w, phys, p0);
		IT_RC(w, run, want);
	}
	IT_RC(w, vfiosim_iommu_unmap(o.d, lo, end - lo), end - lo);
	one_teardown(w, &o);
}

START_TEST(lookup_run_matches_page_walk)
{
	it_run(NULL, lookup_run_scenario, NULL, IT_EXPECT(0), NULL);
}
END_TEST

static void badargs_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_iotlb_gather g;
	struct vfiosim_iommu_domain_info info;
	struct one o;
	const unsigned int r = VFIOSIM_IOMMU_READ;
	const uint64_t top = (1ull << 39) - 1;

	(void)arg;
	one_setup(w, &o, NULL);
	IT_RC(w, vfiosim_iommu_map(NULL, 0, 0, 4 * KiB, r), -EINVAL);
	IT_RC(w, vfiosim_iommu_map(o.d, 0x800, 0, 4 * KiB, r), -EINVAL);
	IT_RC(w, vfiosim_iommu_map(o.d, 0, 0x800, 4 * KiB, r), -EINVAL);
	IT_RC(w, vfiosim_iommu_map(o.d, 0, 0, 0x800, r), -EINVAL);
	IT_RC(w, vfiosim_iommu_map(o.d, 0, 0, 0, r), -EINVAL);
	IT_RC(w, vfiosim_iommu_map(o.d, 0, 0, 4 * KiB, 0), -EINVAL);
	IT_RC(w, vfiosim_iommu_map(o.d, 0, 0, 4 * KiB, VFIOSIM_IOMMU_CACHE),
	      -EINVAL);
	IT_RC(w, vfiosim_iommu_map(o.d, 0, 0, 4 * KiB, 0x100 | r), -EINVAL);
	IT_RC(w, vfiosim_iommu_map(o.d, 1ull << 39, 0, 4 * KiB, r), -EFAULT);
	IT_RC(w, vfiosim_iommu_map(o.d, top - 4 * KiB + 1, 0, 8 * KiB, r),
	      -EFAULT);
	IT_RC(w, vfiosim_iommu_map(o.d, 4 * KiB, 0, UINT64_MAX - 4095, r),
	      -EFAULT);
	IT_RC(w, vfiosim_iommu_map(o.d, 0, UINT64_MAX - 4095, 4 * KiB, r),
	      -EINVAL);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 0x800, 4 * KiB), -EINVAL);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 0, 0), -EINVAL);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 1ull << 39, 4 * KiB), -EFAULT);
	IT_RC(w, vfiosim_iommu_unmap(NULL, 0, 4 * KiB), -EINVAL);
	IT_RC(w, vfiosim_iommu_unmap_fast(o.d, 0, 4 * KiB, NULL), -EINVAL);
	IT_RC(w, vfiosim_iommu_iotlb_sync(o.d, NULL), -EINVAL);
	vfiosim_iotlb_gather_init(&g);
	IT_RC(w, vfiosim_iommu_iotlb_sync(NULL, &g), -EINVAL);
	IT_RC(w, vfiosim_iommu_domain_get_info(o.d, &info), 0);
	IT_RC(w, info.table_pages, 1);
	IT_RC(w, info.leaves, 0);

	/* The very top of the IOVA space: last == 2^39 - 1, no overflow. */
	IT_RC(w, vfiosim_iommu_map(o.d, top - 2 * MiB + 1, 2 * MiB, 2 * MiB, r),
	      0);
	IT_RC(w, leaf_size(o.d, top), 2 * MiB);
	IT_RC(w, vfiosim_iommu_map(o.d, top - 4 * MiB + 1, 0, 2 * MiB, r), 0);
	IT_RC(w, vfiosim_iommu_unmap(o.d, top - 4 * MiB + 1, 4 * MiB), 4 * MiB);
	IT_RC(w, vfiosim_iommu_domain_get_info(o.d, &info), 0);
	IT_RC(w, info.table_pages, 1);
	one_teardown(w, &o);
}

START_TEST(bad_arguments_change_nothing)
{
	it_run(NULL, badargs_scenario, NULL, IT_EXPECT(0), NULL);
}
END_TEST

static void super_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_iommu_stats st;
	struct vfiosim_iommu_domain_info info;
	struct one o;
	const unsigned int rw = VFIOSIM_IOMMU_READ | VFIOSIM_IOMMU_WRITE;

	(void)arg;
	one_setup(w, &o, NULL);
	IT_RC(w, vfiosim_iommu_map(o.d, 2 * MiB, 4 * MiB, 4 * MiB, rw), 0);
	/* 4 KiB from the middle of the first 2 MiB page: all of it goes. */
	IT_RC(w, vfiosim_iommu_unmap(o.d, 2 * MiB + 64 * KiB, 4 * KiB),
	      2 * MiB);
	IT_RC(w, leaf_size(o.d, 2 * MiB), 0);
	IT_RC(w, leaf_size(o.d, 4 * MiB - 4 * KiB), 0);
	IT_RC(w, leaf_size(o.d, 4 * MiB), 2 * MiB);
	/* A range straddling the end of the second superpage. */
	IT_RC(w, vfiosim_iommu_map(o.d, 6 * MiB, 0, 4 * KiB, rw), 0);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 6 * MiB - 4 * KiB, 8 * KiB),
	      2 * MiB + 4 * KiB);
	IT_RC(w, vfiosim_iommu_get_stats(o.iommu, &st), 0);
	IT_RC(w, st.superpage_whole_unmaps, 2);
	/* A 1G page cut by a 4K unmap at its end. */
	IT_RC(w, vfiosim_iommu_map(o.d, 1 * GiB, 0, 1 * GiB, rw), 0);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 2 * GiB - 4 * KiB, 4 * KiB), 1 * GiB);
	IT_RC(w, vfiosim_iommu_domain_get_info(o.d, &info), 0);
	IT_RC(w, info.leaves, 0);
	IT_RC(w, info.table_pages, 1);
	one_teardown(w, &o);
}

START_TEST(unmap_inside_superpage_removes_it_whole)
{
	it_run(NULL, super_scenario, NULL, IT_EXPECT(0), NULL);
}
END_TEST

static void tables_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_phys_stats before, mid, after;
	struct vfiosim_iommu_domain_info info;
	struct vfiosim_iommu_stats st;
	struct one o;
	const unsigned int rw = VFIOSIM_IOMMU_READ | VFIOSIM_IOMMU_WRITE;

	(void)arg;
	one_setup(w, &o, NULL);
	IT_RC(w, vfiosim_phys_stats(w, &before), 0);
	/* Two pages far apart: each needs its own level-1 and level-0. */
	IT_RC(w, vfiosim_iommu_map(o.d, 0, 0, 4 * KiB, rw), 0);
	IT_RC(w, vfiosim_iommu_map(o.d, 300 * GiB, 0, 4 * KiB, rw), 0);
	IT_RC(w, vfiosim_iommu_domain_get_info(o.d, &info), 0);
	IT_RC(w, info.table_pages, 5);
	IT_RC(w, vfiosim_phys_stats(w, &mid), 0);
	IT_RC(w, mid.frames_inuse - before.frames_inuse, 4);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 0, 4 * KiB), 4 * KiB);
	IT_RC(w, vfiosim_iommu_domain_get_info(o.d, &info), 0);
	IT_RC(w, info.table_pages, 3);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 300 * GiB, 4 * KiB), 4 * KiB);
	IT_RC(w, vfiosim_iommu_domain_get_info(o.d, &info), 0);
	IT_RC(w, info.table_pages, 1);
	IT_RC(w, vfiosim_phys_stats(w, &after), 0);
	IT_RC(w, after.frames_inuse, before.frames_inuse);
	IT_RC(w, vfiosim_iommu_get_stats(o.iommu, &st), 0);
	IT_RC(w, st.table_pages, 1);
	IT_RC(w, st.table_pages_peak, 5);
	one_teardown(w, &o);
	IT_RC(w, vfiosim_phys_stats(w, &after), 0);
	IT_RC(w, after.frames_inuse, before.frames_inuse - 1);
}

START_TEST(table_pages_freed_when_empty)
{
	it_run(NULL, tables_scenario, NULL, IT_EXPECT(0), NULL);
}
END_TEST

/*
 * The number of non-zero entries of the table frame (among the first 4096
 * frames) holding a present leaf for @leaf_addr, or 0 if none does.
 */
static unsigned int live_entries_of_frame_with(struct vfiosim_world *w,
					       uint64_t leaf_addr)
{
	for (uint64_t pfn = 0; pfn < 4096; pfn++) {
		const uint64_t *e = vfiosim_page_bytes(w, pfn);
		unsigned int n = 0;
		bool found = false;

		if (!e)
			continue;
		for (unsigned int i = 0; i < 512; i++) {
			n += e[i] != 0;
			found |= (e[i] & 1) &&
				 (e[i] & ~0xfffull & ((1ull << 52) - 1)) ==
					 leaf_addr;
		}
		if (found)
			return n;
	}
	return 0;
}

/* The table entries live in the frames' bytes: look at them. */
static void bytes_scenario(struct vfiosim_world *w, void *arg)
{
	struct one o;

	(void)arg;
	one_setup(w, &o, NULL);
	IT_RC(w,
	      vfiosim_iommu_map(o.d, 0, 0x12345000, 4 * KiB,
				VFIOSIM_IOMMU_READ),
	      0);
	/* The leaf 0x12345000|R, alone in its table frame. */
	IT_RC(w, live_entries_of_frame_with(w, 0x12345000), 1);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 0, 4 * KiB), 4 * KiB);
	one_teardown(w, &o);
}

START_TEST(entries_live_in_frame_bytes)
{
	it_run(NULL, bytes_scenario, NULL, IT_EXPECT(0), NULL);
}
END_TEST

/*
 * A table frame is reused without stale entries: a last-level table that
 * one map fills whole is not zeroed first, and an unmap that empties a
 * table leaves its entries in the freed frame; a partial map into a
 * reused frame must still see only its own leaf.
 */
static void reuse_scenario(struct vfiosim_world *w, void *arg)
{
	const unsigned int rw = VFIOSIM_IOMMU_READ | VFIOSIM_IOMMU_WRITE;
	struct vfiosim_iommu_domain_info info;
	struct vfiosim_iommu_mapping m;
	uint64_t phys, run;
	struct one o;

	(void)arg;
	one_setup(w, &o, NULL);
	/* A physical address off 2 MiB alignment: 512 4K leaves. */
	IT_RC(w, vfiosim_iommu_map(o.d, 8 * MiB, 0x40001000, 2 * MiB, rw), 0);
	IT_RC(w, live_entries_of_frame_with(w, 0x40001000 + 7 * 4 * KiB), 512);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 8 * MiB, 2 * MiB), 2 * MiB);
	IT_RC(w,
	      vfiosim_iommu_map(o.d, 8 * MiB + 8 * KiB, 0x50000000, 4 * KiB,
				rw),
	      0);
	IT_RC(w, vfiosim_iommu_lookup(o.d, 8 * MiB, &m), -ENOENT);
	IT_RC(w, vfiosim_iommu_lookup(o.d, 8 * MiB + 12 * KiB, &m), -ENOENT);
	IT_RC(w, vfiosim_iommu_iova_to_phys(o.d, 8 * MiB + 8 * KiB, &phys), 0);
	IT_RC(w, phys, 0x50000000);
	IT_RC(w, vfiosim_iommu_domain_get_info(o.d, &info), 0);
	IT_RC(w, info.leaves, 1);
	IT_RC(w, live_entries_of_frame_with(w, 0x50000000), 1);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 8 * MiB + 8 * KiB, 4 * KiB), 4 * KiB);
	/* Filled whole again over a frame that held one entry. */
	IT_RC(w, vfiosim_iommu_map(o.d, 8 * MiB, 0x60003000, 2 * MiB, rw), 0);
	IT_RC(w, vfiosim_iommu_lookup_run(o.d, 8 * MiB, 2 * MiB, &phys, &run),
	      0);
	IT_RC(w, phys, 0x60003000);
	IT_RC(w, run, 2 * MiB);
	IT_RC(w, live_entries_of_frame_with(w, 0x60003000), 512);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 8 * MiB, 2 * MiB), 2 * MiB);
	one_teardown(w, &o);
}

START_TEST(reused_table_frames_hold_no_stale_entries)
{
	it_run(NULL, reuse_scenario, NULL, IT_EXPECT(0), NULL);
}
END_TEST

/* ---------------------------------------------------------- caller checks */

static void checks_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_iommu_domain_info info, info2;
	struct one o;
	const unsigned int rw = VFIOSIM_IOMMU_READ | VFIOSIM_IOMMU_WRITE;

	(void)arg;
	one_setup(w, &o, NULL);
	IT_RC(w, vfiosim_iommu_map(o.d, 8 * MiB, 0, 8 * KiB, rw), 0);
	IT_RC(w, vfiosim_iommu_domain_get_info(o.d, &info), 0);
	/* Map over a live entry: WARN, -EEXIST, nothing changed. */
	IT_RC(w, vfiosim_iommu_map(o.d, 8 * MiB - 4 * MiB, 0, 8 * MiB, rw),
	      -EEXIST);
	IT_RC(w, vfiosim_iommu_domain_get_info(o.d, &info2), 0);
	IT_RC(w, info2.leaves, info.leaves);
	IT_RC(w, info2.table_pages, info.table_pages);
	IT_RC(w, info2.mapped_bytes, info.mapped_bytes);
	IT_RC(w, leaf_size(o.d, 4 * MiB), 0);
	/* A superpage over a table that has live entries: same. */
	IT_RC(w, vfiosim_iommu_map(o.d, 8 * MiB, 0, 2 * MiB, rw), -EEXIST);
	/* Unmap what was never mapped: WARN, 0 bytes. */
	IT_RC(w, vfiosim_iommu_unmap(o.d, 64 * MiB, 4 * KiB), 0);
	/* A range with a hole after the mapping: stops there, WARN. */
	IT_RC(w, vfiosim_iommu_unmap(o.d, 8 * MiB, 16 * KiB), 8 * KiB);
	/* Reserved region (the MSI window). */
	IT_RC(w, vfiosim_iommu_map(o.d, 0xfee00000ull, 0, 4 * KiB, rw),
	      -EINVAL);
	/* Free with live mappings: LEAK, but the tables are freed. */
	IT_RC(w, vfiosim_iommu_map(o.d, 1 * GiB, 0, 4 * KiB, rw), 0);
	one_teardown(w, &o);
}

static void checks_inspect(struct vfiosim_world *w, void *arg)
{
	(void)arg;
	ck_assert_int_ge(it_find(w, VFIOSIM_FAIL_WARN, "over a live entry"), 0);
	ck_assert_int_ge(it_find(w, VFIOSIM_FAIL_WARN, "never mapped"), 0);
	ck_assert_int_ge(it_find(w, VFIOSIM_FAIL_WARN, "stopped at unmapped"),
			 0);
	ck_assert_int_ge(it_find(w, VFIOSIM_FAIL_WARN, "reserved region"), 0);
	ck_assert_int_ge(it_find(w, VFIOSIM_FAIL_LEAK, "1 live mapping"), 0);
}

START_TEST(caller_checks_are_reported)
{
	it_run(NULL, checks_scenario, NULL, IT_EXPECT(.warn = 5, .leak = 1),
	       checks_inspect);
}
END_TEST

static void forgot_scenario(struct vfiosim_world *w, void *arg)
{
	struct one o;

	(void)arg;
	one_setup(w, &o, NULL);
	IT_RC(w, vfiosim_iommu_map(o.d, 0, 0, 4 * KiB, VFIOSIM_IOMMU_READ), 0);
}

START_TEST(teardown_reports_forgotten_iommu)
{
	/* "not destroyed" plus the domain's live mapping. */
	it_run(NULL, forgot_scenario, NULL, IT_EXPECT(.teardown = 2), NULL);
}
END_TEST

/* ------------------------------------------------- IO page != CPU page */

static void granule_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_iommu_config c = vfiosim_world_config(w)->iommu;
	struct vfiosim_iommu_domain_info info;
	struct one o;
	uint64_t g = *(uint64_t *)arg,
		 big = g == 16 * KiB ? 32 * MiB : 512 * MiB;
	const unsigned int rw = VFIOSIM_IOMMU_READ | VFIOSIM_IOMMU_WRITE;

	c.addr_width = 48;
	c.pgsize_bitmap = g | big;
	one_setup(w, &o, &c);
	/* CPU-page (4 KiB) alignment is not enough. */
	IT_RC(w, vfiosim_iommu_map(o.d, 4 * KiB, 0, g, rw), -EINVAL);
	IT_RC(w, vfiosim_iommu_map(o.d, 0, 4 * KiB, g, rw), -EINVAL);
	IT_RC(w, vfiosim_iommu_map(o.d, 0, 0, g + 4 * KiB, rw), -EINVAL);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 0, 4 * KiB), -EINVAL);
	IT_RC(w, vfiosim_iommu_map(o.d, g, 2 * g, 3 * g, rw), 0);
	IT_RC(w, leaf_size(o.d, g), g);
	IT_RC(w, vfiosim_iommu_map(o.d, big, big, big + g, rw), 0);
	IT_RC(w, leaf_size(o.d, big + 5 * g), big);
	IT_RC(w, leaf_size(o.d, 2 * big), g);
	/* Unmapping one granule inside the block takes the whole block. */
	IT_RC(w, vfiosim_iommu_unmap(o.d, big + g, g), big);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 2 * big, g), g);
	IT_RC(w, vfiosim_iommu_unmap(o.d, g, 3 * g), 3 * g);
	IT_RC(w, vfiosim_iommu_domain_get_info(o.d, &info), 0);
	IT_RC(w, info.table_pages, 1);
	IT_RC(w, info.leaves, 0);
	one_teardown(w, &o);
}

START_TEST(io_page_larger_than_cpu_page)
{
	uint64_t g16 = 16 * KiB, g64 = 64 * KiB;

	it_run(NULL, granule_scenario, &g16, IT_EXPECT(0), NULL);
	it_run(NULL, granule_scenario, &g64, IT_EXPECT(0), NULL);
}
END_TEST

/* ---------------------------------------------------------------- groups */

struct grp {
	int dummy;
};

static void groups_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_iommu *iommu, *other;
	struct vfiosim_iommu_group *g, *g2;
	struct vfiosim_iommu_domain *d, *d2, *od;
	struct vfiosim_iommu_device *dev, *dev2;
	struct vfiosim_iommu_domain_info info;

	(void)arg;
	IT_RC(w, vfiosim_iommu_create(w, NULL, &iommu), 0);
	IT_RC(w, vfiosim_iommu_create(w, NULL, &other), 0);
	IT_RC(w, vfiosim_iommu_group_alloc(iommu, &g), 0);
	IT_RC(w, vfiosim_iommu_group_alloc(iommu, &g2), 0);
	IT_RC(w, vfiosim_iommu_group_id(g), 0);
	IT_RC(w, vfiosim_iommu_group_id(g2), 1);
	VFIOSIM_ASSERT(w, vfiosim_iommu_group_domain(g) ==
				  vfiosim_iommu_group_default_domain(g));
	IT_RC(w,
	      vfiosim_iommu_domain_get_info(vfiosim_iommu_group_domain(g),
					    &info),
	      0);
	IT_RC(w, info.type, VFIOSIM_IOMMU_DOMAIN_DMA);
	IT_RC(w, info.groups, 1);
	IT_RC(w, vfiosim_iommu_probe_device(g, "dev0", &dev), 0);
	IT_RC(w, vfiosim_iommu_probe_device(g, "dev1", &dev2), 0);
	IT_RC(w, vfiosim_iommu_group_device_count(g), 2);
	VFIOSIM_ASSERT(w, vfiosim_iommu_device_group(dev) == g);
	IT_RC(w, strcmp(vfiosim_iommu_device_name(dev2), "dev1"), 0);

	IT_RC(w, vfiosim_iommu_domain_alloc(iommu, &d), 0);
	IT_RC(w, vfiosim_iommu_domain_alloc(iommu, &d2), 0);
	IT_RC(w, vfiosim_iommu_domain_alloc(other, &od), 0);
	IT_RC(w, vfiosim_iommu_attach_group(od, g), -EMEDIUMTYPE);
	IT_RC(w,
	      vfiosim_iommu_attach_group(vfiosim_iommu_group_default_domain(g2),
					 g),
	      -EINVAL);
	IT_RC(w, vfiosim_iommu_attach_group(d, g), 0);
	VFIOSIM_ASSERT(w, vfiosim_iommu_group_domain(g) == d);
	IT_RC(w, vfiosim_iommu_attach_group(d, g), -EBUSY);
	IT_RC(w, vfiosim_iommu_attach_group(d2, g), -EBUSY);
	IT_RC(w, vfiosim_iommu_attach_group(d, g2), 0);
	IT_RC(w, vfiosim_iommu_domain_get_info(d, &info), 0);
	IT_RC(w, info.groups, 2);
	/* Freeing an attached domain: WARN, refused. */
	IT_RC(w, vfiosim_iommu_domain_free(d), -EBUSY);
	IT_RC(w, vfiosim_iommu_group_free(g), -EBUSY);
	/* Detaching from the wrong domain: WARN, refused. */
	IT_RC(w, vfiosim_iommu_detach_group(d2, g), -EINVAL);
	IT_RC(w, vfiosim_iommu_detach_group(d, g), 0);
	IT_RC(w, vfiosim_iommu_detach_group(d, g2), 0);
	VFIOSIM_ASSERT(w, vfiosim_iommu_group_domain(g) ==
				  vfiosim_iommu_group_default_domain(g));
	IT_RC(w, vfiosim_iommu_domain_get_info(d, &info), 0);
	IT_RC(w, info.groups, 0);
	/* Re-attach to another domain after detach. */
	IT_RC(w, vfiosim_iommu_attach_group(d2, g), 0);
	IT_RC(w, vfiosim_iommu_detach_group(d2, g), 0);

	IT_RC(w, vfiosim_iommu_group_free(g), -EBUSY); /* devices */
	IT_RC(w, vfiosim_iommu_release_device(dev), 0);
	IT_RC(w, vfiosim_iommu_release_device(dev), -ENODEV);
	VFIOSIM_ASSERT(w, vfiosim_iommu_device_group(dev) == NULL);
	IT_RC(w, vfiosim_iommu_group_device_count(g), 1);
	IT_RC(w, vfiosim_iommu_release_device(dev2), 0);
	IT_RC(w, vfiosim_iommu_destroy(iommu), -EBUSY);
	IT_RC(w, vfiosim_iommu_group_free(g), 0);
	IT_RC(w, vfiosim_iommu_group_free(g2), 0);
	IT_RC(w, vfiosim_iommu_domain_free(d), 0);
	IT_RC(w, vfiosim_iommu_domain_free(d2), 0);
	IT_RC(w, vfiosim_iommu_domain_free(od), 0);
	IT_RC(w, vfiosim_iommu_destroy(iommu), 0);
	IT_RC(w, vfiosim_iommu_destroy(other), 0);
}

START_TEST(groups_attach_detach)
{
	it_run(NULL, groups_scenario, NULL, IT_EXPECT(.warn = 2), NULL);
}
END_TEST

/* --------------------------------------------------------- IOTLB stats */

static void sync_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_iotlb_gather g;
	struct vfiosim_iommu_stats st;
	struct one o;
	const unsigned int rw = VFIOSIM_IOMMU_READ | VFIOSIM_IOMMU_WRITE;
	bool deferred = *(bool *)arg;
	struct vfiosim_iommu_config c = vfiosim_world_config(w)->iommu;

	c.deferred_flush = deferred;
	c.flush_queue_size = 3;
	one_setup(w, &o, &c);
	IT_RC(w, vfiosim_iommu_map(o.d, 0, 0, 64 * KiB, rw), 0);
	vfiosim_iotlb_gather_init(&g);
	IT_RC(w, vfiosim_iommu_unmap_fast(o.d, 0, 16 * KiB, &g), 16 * KiB);
	IT_RC(w, vfiosim_iommu_unmap_fast(o.d, 32 * KiB, 16 * KiB, &g),
	      16 * KiB);
	IT_RC(w, g.start, 0);
	IT_RC(w, g.last, 48 * KiB - 1);
	IT_RC(w, g.pgsize, 4 * KiB);
	IT_RC(w, vfiosim_iommu_get_stats(o.iommu, &st), 0);
	IT_RC(w, st.flushes, 0);
	IT_RC(w, vfiosim_iommu_iotlb_sync(o.d, &g), 0);
	VFIOSIM_ASSERT(w, g.empty);
	IT_RC(w, vfiosim_iommu_get_stats(o.iommu, &st), 0);
	IT_RC(w, st.flushes, deferred ? 0 : 1);
	IT_RC(w, vfiosim_iommu_flush_queue_pending(o.iommu), deferred ? 1 : 0);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 16 * KiB, 16 * KiB), 16 * KiB);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 48 * KiB, 16 * KiB), 16 * KiB);
	IT_RC(w, vfiosim_iommu_get_stats(o.iommu, &st), 0);
	if (deferred) {
		/* The third queued invalidation filled the queue. */
		IT_RC(w, st.fq_queued, 3);
		IT_RC(w, st.fq_full, 1);
		IT_RC(w, st.fq_flushes, 1);
		IT_RC(w, st.flushes, 1);
		IT_RC(w, st.flush_all, 1);
		IT_RC(w, vfiosim_iommu_flush_queue_pending(o.iommu), 0);
	} else {
		IT_RC(w, st.flushes, 3);
		IT_RC(w, st.flush_ranges, 3);
		IT_RC(w, st.fq_queued, 0);
	}
	IT_RC(w, st.flush_cost_ns, st.flushes * 1000);
	IT_RC(w, st.maps, 1);
	IT_RC(w, st.unmaps, 4);
	one_teardown(w, &o);
}

START_TEST(iotlb_sync_strict_and_deferred)
{
	bool strict = false, deferred = true;

	it_run(NULL, sync_scenario, &strict, IT_EXPECT(0), NULL);
	it_run(NULL, sync_scenario, &deferred, IT_EXPECT(0), NULL);
}
END_TEST

static void timeout_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_iommu_stats st;
	struct one o;
	struct vfiosim_iommu_config c = vfiosim_world_config(w)->iommu;

	(void)arg;
	c.deferred_flush = true;
	c.flush_timeout_ns = 5000;
	one_setup(w, &o, &c);
	IT_RC(w, vfiosim_iommu_map(o.d, 0, 0, 8 * KiB, VFIOSIM_IOMMU_READ), 0);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 0, 4 * KiB), 4 * KiB);
	IT_RC(w, vfiosim_iommu_flush_queue_pending(o.iommu), 1);
	vfiosim_sleep(w, 4000);
	IT_RC(w, vfiosim_iommu_flush_queue_pending(o.iommu), 1);
	vfiosim_sleep(w, 1000);
	IT_RC(w, vfiosim_iommu_flush_queue_pending(o.iommu), 0);
	IT_RC(w, vfiosim_iommu_get_stats(o.iommu, &st), 0);
	IT_RC(w, st.fq_timeouts, 1);
	IT_RC(w, vfiosim_iommu_unmap(o.d, 4 * KiB, 4 * KiB), 4 * KiB);
	IT_RC(w, vfiosim_iommu_flush_queue_flush(o.iommu), 1);
	IT_RC(w, vfiosim_iommu_flush_queue_flush(o.iommu), 0);
	one_teardown(w, &o);
}

START_TEST(flush_queue_timeout_on_virtual_clock)
{
	it_run(NULL, timeout_scenario, NULL, IT_EXPECT(0), NULL);
}
END_TEST

static Suite *iommu_suite(void)
{
	Suite *s = suite_create("iommu");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, geometry);
	tcase_add_test(tc, capabilities_and_reserved_regions);
	tcase_add_test(tc, map_uses_largest_page);
	tcase_add_test(tc, lookup_run_matches_page_walk);
	tcase_add_test(tc, bad_arguments_change_nothing);
	tcase_add_test(tc, unmap_inside_superpage_removes_it_whole);
	tcase_add_test(tc, table_pages_freed_when_empty);
	tcase_add_test(tc, entries_live_in_frame_bytes);
	tcase_add_test(tc, reused_table_frames_hold_no_stale_entries);
	tcase_add_test(tc, caller_checks_are_reported);
	tcase_add_test(tc, teardown_reports_forgotten_iommu);
	tcase_add_test(tc, io_page_larger_than_cpu_page);
	tcase_add_test(tc, groups_attach_detach);
	tcase_add_test(tc, iotlb_sync_strict_and_deferred);
	tcase_add_test(tc, flush_queue_timeout_on_virtual_clock);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(iommu_suite)
