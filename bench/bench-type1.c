/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-type1.c - the cost of the type1 model and the uAPI façade.
 *
 *   type1-uapi-4k   VFIO_IOMMU_MAP_DMA + UNMAP_DMA of 1 GiB of 4 KiB pages
 *                   through vfiosim_uapi_ioctl(), ns per page; baseline: the
 *                   mm and iommu layers doing the same pin + map + unmap +
 *                   unpin directly, in the same run.  Target: ratio <= 1.3
 *                   (the type1 bookkeeping must be cheap).
 *   type1-uapi-64g  the same for 64 GiB backed by 1 GiB huge pages, ms;
 *                   target < 20 ms (baseline: the direct layers again).
 *
 * Each figure is ROUNDS rounds of REPS repetitions a side, the sides
 * alternating round by round; values are medians, the ratio the median of
 * the rounds' ratios.
 *
 * Memory is metadata-only (VFIOSIM_MAP_UNBACKED) and populated before the
 * clock starts; both sides run in one simulated thread of a fresh world.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/vfio.h>

#include <libvfiosim/libvfiosim.h>

#include "bench-common.h"

#define GIB (1ull << 30)
#define REPS 3
#define BATCH 512

struct run {
	uint64_t bytes;
	bool huge;
	bool direct;
	double ms[REPS];
	int err;
};

static int map_runs(struct vfiosim_iommu_domain *d, uint64_t iova,
		    const uint64_t *pfns, unsigned int n, uint64_t psize)
{
	for (unsigned int i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && pfns[j] == pfns[j - 1] + 1; j++)
			;
		if (vfiosim_iommu_map(d, iova + (uint64_t)i * psize,
				      pfns[i] * psize,
				      (uint64_t)(j - i) * psize,
				      VFIOSIM_IOMMU_READ | VFIOSIM_IOMMU_WRITE |
					      VFIOSIM_IOMMU_CACHE))
			return -1;
	}
	return 0;
}

/* The direct side: pin in batches, map runs, unmap, unpin. */
static int direct_once(struct vfiosim_world *w, struct vfiosim_mm *mm,
		       struct vfiosim_iommu_domain *d, uint64_t addr,
		       uint64_t bytes, uint64_t *pfns)
{
	uint64_t psize = vfiosim_page_size(w), n = bytes / psize;
	struct vfiosim_iotlb_gather g;

	for (uint64_t b = 0; b < n; b += BATCH) {
		if (vfiosim_pin_user_pages_unlocked(
			    mm, addr + b * psize, BATCH,
			    VFIOSIM_FOLL_WRITE | VFIOSIM_FOLL_LONGTERM,
			    pfns + b) != BATCH)
			return -1;
		if (map_runs(d, (1ull << 32) + b * psize, pfns + b, BATCH,
			     psize))
			return -2;
	}
	vfiosim_iotlb_gather_init(&g);
	if (vfiosim_iommu_unmap_fast(d, 1ull << 32, bytes, &g) !=
	    (int64_t)bytes)
		return -3;
	vfiosim_iommu_iotlb_sync(d, &g);
	for (uint64_t b = 0; b < n; b += BATCH)
		if (vfiosim_unpin_user_pages(w, pfns + b, BATCH))
			return -4;
	return 0;
}

static void scenario(struct vfiosim_world *w, void *arg)
{
	struct run *r = arg;
	struct vfiosim_mm *mm = vfiosim_current_mm(w);
	unsigned int flags = VFIOSIM_MAP_PRIVATE | VFIOSIM_MAP_UNBACKED |
			     VFIOSIM_MAP_POPULATE;
	struct vfiosim_iommu *iommu;
	struct vfiosim_iommu_group *ig;
	struct vfiosim_iommu_domain *d = NULL;
	uint64_t *pfns = NULL, addr;
	int c = -1, g = -1;

	if (r->huge)
		flags |= VFIOSIM_MAP_HUGETLB | VFIOSIM_MAP_HUGE_1GB;
	if (vfiosim_iommu_create(w, NULL, &iommu) ||
	    vfiosim_iommu_group_alloc(iommu, &ig) ||
	    vfiosim_mmap(mm, 0, r->bytes,
			 VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE, flags,
			 &addr)) {
		r->err = 1;
		return;
	}
	if (r->direct) {
		pfns = malloc(r->bytes / vfiosim_page_size(w) * sizeof(*pfns));
		if (!pfns || vfiosim_iommu_domain_alloc(iommu, &d)) {
			r->err = 2;
			return;
		}
	} else {
		vfiosim_uapi_add_group(w, 1, ig);
		c = vfiosim_uapi_open(w, "/dev/vfio/vfio", O_RDWR);
		g = vfiosim_uapi_open(w, "/dev/vfio/1", O_RDWR);
		if (vfiosim_uapi_ioctl(w, g, VFIO_GROUP_SET_CONTAINER,
				       (unsigned long)&c) ||
		    vfiosim_uapi_ioctl(w, c, VFIO_SET_IOMMU,
				       VFIO_TYPE1v2_IOMMU)) {
			r->err = 3;
			return;
		}
	}
	for (int i = 0; i < REPS && !r->err; i++) {
		struct vfio_iommu_type1_dma_map m = {
			.argsz = sizeof(m),
			.flags = 3,
			.vaddr = addr,
			.iova = 1ull << 32,
			.size = r->bytes,
		};
		struct vfio_iommu_type1_dma_unmap u = {
			.argsz = sizeof(u),
			.iova = 1ull << 32,
			.size = r->bytes,
		};
		uint64_t t0 = bench_now_ns();

		if (r->direct)
			r->err = direct_once(w, mm, d, addr, r->bytes, pfns) ?
					 4 :
					 0;
		else if (vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_MAP_DMA,
					    (unsigned long)&m) ||
			 vfiosim_uapi_ioctl(w, c, VFIO_IOMMU_UNMAP_DMA,
					    (unsigned long)&u) ||
			 u.size != r->bytes)
			r->err = 5;
		r->ms[i] = (double)(bench_now_ns() - t0) / 1e6;
	}
	if (r->direct) {
		vfiosim_iommu_domain_free(d);
		free(pfns);
	} else {
		vfiosim_uapi_close(w, g);
		vfiosim_uapi_close(w, c);
	}
	vfiosim_munmap(mm, addr, r->bytes);
	vfiosim_iommu_group_free(ig);
	vfiosim_iommu_destroy(iommu);
}

static double measure(uint64_t bytes, bool huge, bool direct)
{
	struct run r = { .bytes = bytes, .huge = huge, .direct = direct };
	struct vfiosim_config cfg;
	struct vfiosim_world *w;
	int rc;

	vfiosim_config_init(&cfg);
	cfg.mm.phys_size = 2 * bytes;
	cfg.mm.memlock_limit = 2 * bytes;
	cfg.max_steps = 0; /* 64 GiB is a long run, not a livelock */
	if (vfiosim_world_create(&cfg, &w))
		bench_die("world");
	rc = vfiosim_world_run(w, scenario, &r);
	for (size_t i = 0; rc > 0 && i < vfiosim_world_failure_count(w); i++)
		fprintf(stderr, "%s\n", vfiosim_world_failure(w, i)->report);
	if (rc || r.err)
		bench_die("%s %s run failed: rc %d err %d",
			  direct ? "direct" : "uapi", huge ? "1G" : "4K", rc,
			  r.err);
	if (vfiosim_world_destroy(w))
		bench_die("world teardown reported failures");
	return bench_median(r.ms, REPS);
}

/*
 * Rounds alternate the two sides, so a change of machine speed during the
 * run (a shared CI machine, frequency scaling) hits both; the ratio is the
 * median of the rounds' ratios.
 */
#define ROUNDS 5

static void compare(uint64_t bytes, bool huge, double *u, double *d,
		    double *ratio)
{
	double us[ROUNDS], ds[ROUNDS], rs[ROUNDS];

	for (int i = 0; i < ROUNDS; i++) {
		us[i] = measure(bytes, huge, false);
		ds[i] = measure(bytes, huge, true);
		rs[i] = ds[i] > 0 ? us[i] / ds[i] : 0;
	}
	*u = bench_median(us, ROUNDS);
	*d = bench_median(ds, ROUNDS);
	*ratio = bench_median(rs, ROUNDS);
}

int main(void)
{
	double u, d, r, pages = (double)GIB / 4096;

	bench_pin_main();
	compare(GIB, false, &u, &d, &r);
	bench_report("type1-uapi-4k", u * 1e6 / pages, "ns/page",
		     d * 1e6 / pages, r, 1.3, r <= 1.3);
	compare(64 * GIB, true, &u, &d, &r);
	bench_report("type1-uapi-64g", u, "ms", d, r, 20, u < 20);
	return 0;
}
