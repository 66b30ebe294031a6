/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-iommu.c - the IOMMU layer's figures (issue 3, section 6).
 *
 *   bench-iommu [tib] [pin4k]        (no argument: both)
 *
 * iommu-map-1tib-1g: 1 TiB of unbacked memory in 1024 pages of 1 GiB
 * (vfiosim_phys_alloc(order 18, unbacked), outside the timing) is mapped
 * into one unmanaged domain of a 48-bit IOMMU, one vfiosim_iommu_map() per
 * 1 GiB page, and unmapped again, one vfiosim_iommu_unmap() per page.
 * value = median wall-clock ms of map + unmap over REPS rounds, target:
 * value < 50 ms.  baseline = the median ms of a trivial loop writing the
 * same number of 8-byte entries, so ratio = value / baseline says how far
 * the model is from "just writing the 1024 leaf entries".
 *
 * iommu-pin-map-unmap-4k: 1 GiB of 4 KiB pages (262144 pages) of a
 * populated, unbacked anonymous mapping goes through one domain the way
 * VFIO type1 does it: pin in batches of 512 (vfiosim_pin_user_pages(),
 * FOLL_WRITE | FOLL_LONGTERM) into one batch buffer, map each physically
 * contiguous run of a batch with one vfiosim_iommu_map(); then, batch by
 * batch as vfio_unmap_unpin() does, find each run with
 * vfiosim_iommu_lookup_run(), unmap it with vfiosim_iommu_unmap_fast(),
 * flush once with vfiosim_iommu_iotlb_sync(), and only then unpin the
 * runs (vfiosim_unpin_user_page_range_dirty_lock()).  Like type1, nothing
 * remembers the pfns between map and unmap: the page table is asked.
 * value = median ns per page of the whole cycle;
 * baseline = median ns per page of a loop doing one 8-byte store and one
 * refcount increment per page; target: ratio <= 10.  Both are measured in
 * ROUNDS alternating rounds; values are medians and the ratio is the median
 * of the rounds' ratios.
 *
 * iommu-map-unmap-4k: the same cycle without pin/unpin (the pfns pinned
 * once, outside the timing, and mapped from that array): the IOMMU layer's own share.  Same baseline,
 * target ratio <= 10.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvfiosim/libvfiosim.h>

#include "bench-common.h"

#define REPS 5
#define GIB (1ull << 30)
#define NGIG 1024u
#define NPAGES4K (GIB >> 12)
#define BATCH 512u

struct tib {
	uint64_t pfn[NGIG];
	double ms[REPS];
	unsigned long leaves;
	int err;
};

static volatile uint64_t sink;

static double baseline_entries_ms(unsigned int n)
{
	double v[REPS];

	for (int r = 0; r < REPS; r++) {
		uint64_t *a = calloc(n, sizeof(*a));
		uint64_t t0;

		if (!a)
			bench_die("out of memory");
		t0 = bench_now_ns();
		for (unsigned int i = 0; i < n; i++)
			((volatile uint64_t *)a)[i] = ((uint64_t)i << 30) |
						      0x83;
		v[r] = (double)(bench_now_ns() - t0) / 1e6;
		sink += a[n - 1];
		free(a);
	}
	return bench_median(v, REPS);
}

static void tib_scenario(struct vfiosim_world *w, void *arg)
{
	struct tib *t = arg;
	struct vfiosim_iommu_config c = vfiosim_world_config(w)->iommu;
	struct vfiosim_iommu_domain_info info;
	struct vfiosim_iommu *iommu;
	struct vfiosim_iommu_domain *d;
	uint64_t psize = vfiosim_page_size(w);

	c.addr_width = 48;
	c.nresv = 0;
	if (vfiosim_iommu_create(w, &c, &iommu) ||
	    vfiosim_iommu_domain_alloc(iommu, &d)) {
		t->err = 1;
		return;
	}
	for (unsigned int i = 0; i < NGIG; i++)
		if (vfiosim_phys_alloc(w, 18, 0, &t->pfn[i])) {
			t->err = 2;
			return;
		}
	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = bench_now_ns();

		for (unsigned int i = 0; i < NGIG; i++)
			if (vfiosim_iommu_map(d, (uint64_t)i * GIB,
					      t->pfn[i] * psize, GIB,
					      VFIOSIM_IOMMU_READ |
						      VFIOSIM_IOMMU_WRITE))
				t->err = 3;
		if (r == 0 && !vfiosim_iommu_domain_get_info(d, &info))
			t->leaves = info.leaves;
		for (unsigned int i = 0; i < NGIG; i++)
			if (vfiosim_iommu_unmap(d, (uint64_t)i * GIB, GIB) !=
			    (int64_t)GIB)
				t->err = 4;
		t->ms[r] = (double)(bench_now_ns() - t0) / 1e6;
	}
	for (unsigned int i = 0; i < NGIG; i++)
		vfiosim_page_put(w, t->pfn[i]);
	vfiosim_iommu_domain_free(d);
	vfiosim_iommu_destroy(iommu);
}

static void bench_tib(void)
{
	struct vfiosim_config cfg;
	struct vfiosim_world *w;
	struct tib *t = calloc(1, sizeof(*t));
	double value, base;
	int rc;

	if (!t)
		bench_die("out of memory");
	vfiosim_config_init(&cfg);
	cfg.mm.phys_size = 2ull << 40;
	if (vfiosim_world_create(&cfg, &w))
		bench_die("world create");
	rc = vfiosim_world_run(w, tib_scenario, t);
	if (rc || t->err)
		bench_die("1 TiB run failed: rc %d err %d", rc, t->err);
	if (vfiosim_world_destroy(w))
		bench_die("1 TiB world teardown reported failures");
	value = bench_median(t->ms, REPS);
	base = baseline_entries_ms(NGIG);
	fprintf(stderr, "iommu-map-1tib-1g: %lu leaves of 1 GiB per round\n",
		t->leaves);
	bench_report("iommu-map-1tib-1g", value, "ms", base,
		     base > 0 ? value / base : 0, 50, value < 50);
	free(t);
}

struct pin4k {
	bool with_pin;
	uint64_t *pfns;
	double ns_per_page[REPS];
	unsigned long runs, leaves;
	int err;
};

/*
 * The end of the physically contiguous run of pfns[] that starts at @i
 * (below @n): eight entries a step, two to a vector (GCC/clang vector
 * extensions), while they all continue it -- as type1's pin loop scans its
 * batches -- then one at a time.
 */
typedef uint64_t v2u64 __attribute__((vector_size(16)));

static unsigned int run_end(const uint64_t *pfns, unsigned int i,
			    unsigned int n)
{
	const v2u64 two = { 2, 2 };
	v2u64 exp = { pfns[i] + 1, pfns[i] + 2 };
	unsigned int j = i + 1;

	while (j + 8 <= n) {
		v2u64 v[4], d;

		memcpy(v, &pfns[j], sizeof(v));
		d = v[0] ^ exp;
		d |= v[1] ^ (exp + two);
		d |= v[2] ^ (exp + 2 * two);
		d |= v[3] ^ (exp + 3 * two);
		if (d[0] | d[1])
			break;
		exp += 4 * two;
		j += 8;
	}
	while (j < n && pfns[j] == pfns[i] + (j - i))
		j++;
	return j;
}

/* Map the contiguous runs of pfns[0..n) at iova; count them. */
static int map_runs(struct vfiosim_iommu_domain *d, uint64_t iova,
		    const uint64_t *pfns, unsigned int n, uint64_t psize,
		    unsigned long *runs)
{
	unsigned int i = 0;

	while (i < n) {
		unsigned int j = run_end(pfns, i, n);

		if (vfiosim_iommu_map(d, iova + (uint64_t)i * psize,
				      pfns[i] * psize,
				      (uint64_t)(j - i) * psize,
				      VFIOSIM_IOMMU_READ | VFIOSIM_IOMMU_WRITE))
			return -1;
		(*runs)++;
		i = j;
	}
	return 0;
}

/*
 * Unmap the @n pages at @iova the way type1's vfio_unmap_unpin() does:
 * ask the page table where the next IOVA maps and how far that is
 * physically contiguous, unmap that run without a flush, and, once the
 * whole batch is unmapped, flush the IOTLB once and only then unpin the
 * runs (unpin before the flush would let a device reach an unpinned
 * frame).
 */
static int unmap_unpin(struct vfiosim_world *w, struct vfiosim_iommu_domain *d,
		       uint64_t iova, unsigned int n, uint64_t psize,
		       unsigned int shift, bool unpin)
{
	struct vfiosim_iotlb_gather g;
	struct {
		uint64_t pfn, npages;
	} runs[BATCH];
	unsigned int nruns = 0;
	uint64_t len = (uint64_t)n * psize, done = 0;

	vfiosim_iotlb_gather_init(&g);
	while (done < len) {
		uint64_t phys, run;
		int64_t got;

		if (vfiosim_iommu_lookup_run(d, iova + done, len - done, &phys,
					     &run))
			return -1;
		got = vfiosim_iommu_unmap_fast(d, iova + done, run, &g);
		if (got <= 0 || nruns == BATCH)
			return -1;
		runs[nruns].pfn = phys >> shift;
		runs[nruns++].npages = (uint64_t)got >> shift;
		done += (uint64_t)got;
	}
	if (vfiosim_iommu_iotlb_sync(d, &g))
		return -1;
	for (unsigned int i = 0; unpin && i < nruns; i++)
		if (vfiosim_unpin_user_page_range_dirty_lock(
			    w, runs[i].pfn, runs[i].npages, false))
			return -1;
	return 0;
}

static void pin4k_scenario(struct vfiosim_world *w, void *arg)
{
	struct pin4k *p = arg;
	struct vfiosim_iommu_domain_info info;
	struct vfiosim_iommu *iommu;
	struct vfiosim_iommu_domain *d;
	struct vfiosim_mm *mm;
	uint64_t addr, psize = vfiosim_page_size(w), batch[BATCH];
	unsigned int shift = (unsigned int)__builtin_ctzll(psize);
	const uint64_t iova0 = 1ull << 32;

	if (vfiosim_iommu_create(w, NULL, &iommu) ||
	    vfiosim_iommu_domain_alloc(iommu, &d) ||
	    vfiosim_mm_create(w, &mm)) {
		p->err = 1;
		return;
	}
	if (vfiosim_mmap(mm, 0, GIB, VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE,
			 VFIOSIM_MAP_PRIVATE | VFIOSIM_MAP_ANONYMOUS |
				 VFIOSIM_MAP_UNBACKED | VFIOSIM_MAP_POPULATE,
			 &addr)) {
		p->err = 2;
		return;
	}
	if (!p->with_pin) {
		for (unsigned int b = 0; b < NPAGES4K; b += BATCH)
			if (vfiosim_pin_user_pages_unlocked(
				    mm, addr + (uint64_t)b * psize, BATCH,
				    VFIOSIM_FOLL_WRITE | VFIOSIM_FOLL_LONGTERM,
				    p->pfns + b) != BATCH)
				p->err = 3;
	}
	for (int r = 0; r < REPS && !p->err; r++) {
		uint64_t t0 = bench_now_ns();

		p->runs = 0;
		for (unsigned int b = 0; b < NPAGES4K; b += BATCH) {
			uint64_t *pfns = p->with_pin ? batch : p->pfns + b;

			if (p->with_pin &&
			    vfiosim_pin_user_pages_unlocked(
				    mm, addr + (uint64_t)b * psize, BATCH,
				    VFIOSIM_FOLL_WRITE | VFIOSIM_FOLL_LONGTERM,
				    batch) != BATCH) {
				p->err = 3;
				break;
			}
			if (map_runs(d, iova0 + (uint64_t)b * psize, pfns,
				     BATCH, psize, &p->runs)) {
				p->err = 4;
				break;
			}
		}
		if (r == 0 && !vfiosim_iommu_domain_get_info(d, &info))
			p->leaves = info.leaves;
		for (unsigned int b = 0; b < NPAGES4K && !p->err; b += BATCH) {
			if (unmap_unpin(w, d, iova0 + (uint64_t)b * psize,
					BATCH, psize, shift, p->with_pin)) {
				p->err = 5;
				break;
			}
		}
		p->ns_per_page[r] =
			(double)(bench_now_ns() - t0) / (double)NPAGES4K;
	}
	if (!p->with_pin && !p->err)
		vfiosim_unpin_user_pages(w, p->pfns, NPAGES4K);
	vfiosim_munmap(mm, addr, GIB);
	vfiosim_mmput(mm);
	vfiosim_iommu_domain_free(d);
	vfiosim_iommu_destroy(iommu);
}

static double baseline_store_ref_ns(void)
{
	double v[REPS];
	uint64_t *store = calloc(NPAGES4K, sizeof(*store));
	uint32_t *ref = calloc(NPAGES4K, sizeof(*ref));

	if (!store || !ref)
		bench_die("out of memory");
	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = bench_now_ns();

		for (uint64_t i = 0; i < NPAGES4K; i++) {
			((volatile uint64_t *)store)[i] = (i << 12) | 3;
			((volatile uint32_t *)ref)[i]++;
		}
		v[r] = (double)(bench_now_ns() - t0) / (double)NPAGES4K;
	}
	sink += store[7] + ref[7];
	free(store);
	free(ref);
	return bench_median(v, REPS);
}

/* One run of the scenario: the median ns per page of its REPS cycles. */
static double pin4k_once(struct pin4k *p, const char *name)
{
	struct vfiosim_config cfg;
	struct vfiosim_world *w;
	int rc;

	vfiosim_config_init(&cfg);
	cfg.mm.memlock_limit = 4 * GIB;
	if (vfiosim_world_create(&cfg, &w))
		bench_die("world create");
	rc = vfiosim_world_run(w, pin4k_scenario, p);
	if (rc || p->err)
		bench_die("%s: run failed: rc %d err %d", name, rc, p->err);
	if (vfiosim_world_destroy(w))
		bench_die("%s: world teardown reported failures", name);
	return bench_median(p->ns_per_page, REPS);
}

/*
 * ROUNDS rounds, each a run of the scenario and then the baseline, so that
 * a change of machine speed during the benchmark hits both sides; the
 * ratio is the median of the rounds' ratios (9 rounds: on a shared host a
 * neighbour's burst can slow one side of a round; 5 were not enough to
 * keep such a round from deciding the median).
 */
#define ROUNDS 9

static void bench_pin4k(bool with_pin)
{
	const char *name = with_pin ? "iommu-pin-map-unmap-4k" :
				      "iommu-map-unmap-4k";
	struct pin4k p = { .with_pin = with_pin };
	double vs[ROUNDS], bs[ROUNDS], rs[ROUNDS], value, base, ratio;

	p.pfns = calloc(NPAGES4K, sizeof(*p.pfns));
	if (!p.pfns)
		bench_die("out of memory");
	for (int i = 0; i < ROUNDS; i++) {
		vs[i] = pin4k_once(&p, name);
		bs[i] = baseline_store_ref_ns();
		rs[i] = bs[i] > 0 ? vs[i] / bs[i] : 0;
	}
	value = bench_median(vs, ROUNDS);
	base = bench_median(bs, ROUNDS);
	ratio = bench_median(rs, ROUNDS);
	fprintf(stderr,
		"%s: %lu contiguous runs mapped as %lu leaves per round\n",
		name, p.runs, p.leaves);
	bench_report(name, value, "ns/page", base, ratio, 10,
		     ratio > 0 && ratio <= 10);
	free(p.pfns);
}

int main(int argc, char **argv)
{
	bool tib = argc < 2, pin = argc < 2;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "tib"))
			tib = true;
		else if (!strcmp(argv[i], "pin4k"))
			pin = true;
		else
			bench_die("usage: bench-iommu [tib] [pin4k]");
	}
	bench_pin_main();
	if (tib)
		bench_tib();
	if (pin) {
		bench_pin4k(true);
		bench_pin4k(false);
	}
	return 0;
}
