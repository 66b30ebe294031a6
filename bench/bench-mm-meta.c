/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-mm-meta.c - what the mm layer costs.
 *
 *   bench-mm-meta meta   metadata bytes of untouched memory (16 TiB world)
 *                        and per touched 4 KiB page (1 GiB touched densely),
 *                        page-table bytes per touched page, and pages
 *                        touched sparsely (one per 2 MiB of address space)
 *   bench-mm-meta pin    pin + unpin of 1 GiB of present 4 KiB pages, ns a
 *                        page, against a baseline loop doing one 8-byte
 *                        store and one refcount increment per page (not
 *                        vectorised, as bench-iommu's); target 5x, the mm
 *                        layer's share of the 10x pin+map+unmap+unpin goal
 *
 * Memory figures are exact counts from vfiosim_phys_stats(); their
 * "baseline" is one 8-byte word per frame (a flat pfn-indexed array), the
 * least any per-frame index could cost.
 */
#include <libvfiosim/libvfiosim.h>

#include "bench-common.h"

#define PAGE 4096ull
#define GIB (1ull << 30)

static struct vfiosim_world *mkworld(uint64_t phys)
{
	struct vfiosim_config c;
	struct vfiosim_world *w;

	vfiosim_config_init(&c);
	c.mm.phys_size = phys;
	if (vfiosim_world_create(&c, &w))
		bench_die("cannot create a world");
	return w;
}

static void stats(struct vfiosim_world *w, struct vfiosim_phys_stats *st)
{
	if (vfiosim_phys_stats(w, st))
		bench_die("vfiosim_phys_stats failed");
}

/* Map @len unbacked bytes and fault every @stride-th page in. */
static uint64_t touch(struct vfiosim_world *w, struct vfiosim_mm *mm,
		      uint64_t len, uint64_t stride, uint64_t *pfns)
{
	uint64_t a, n = 0;

	if (vfiosim_mmap(mm, 0, len, VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE,
			 VFIOSIM_MAP_PRIVATE | VFIOSIM_MAP_UNBACKED, &a))
		bench_die("mmap failed");
	if (stride == PAGE) {
		n = len / PAGE;
		if (vfiosim_pin_user_pages(mm, a, n, VFIOSIM_FOLL_WRITE,
					   pfns) != (long)n)
			bench_die("pin failed");
	} else {
		for (uint64_t off = 0; off < len; off += stride, n++)
			if (vfiosim_pin_user_pages(mm, a + off, 1,
						   VFIOSIM_FOLL_WRITE,
						   pfns + n) != 1)
				bench_die("pin failed");
	}
	if (vfiosim_unpin_user_pages(w, pfns, n))
		bench_die("unpin failed");
	return n;
}

static int bench_meta(void)
{
	struct vfiosim_phys_stats st0, st;
	uint64_t npages = GIB / PAGE, n, flat;
	struct vfiosim_world *w;
	uint64_t *pfns = malloc(npages * sizeof(*pfns));
	double per_page, pt_per_page;

	if (!pfns)
		bench_die("out of memory");

	/* Untouched: a 16 TiB world costs no per-frame metadata. */
	w = mkworld(16ull << 40);
	stats(w, &st0);
	flat = vfiosim_phys_npages(w) * 8;
	fprintf(stderr,
		"16 TiB world: %llu frames, fixed cost %llu bytes (section "
		"index), frame metadata %llu bytes\n",
		(unsigned long long)vfiosim_phys_npages(w),
		(unsigned long long)st0.fixed_bytes,
		(unsigned long long)st0.meta_bytes);
	bench_report("mm-meta-untouched", (double)st0.meta_bytes, "bytes",
		     (double)flat, (double)st0.meta_bytes / (double)flat, 0,
		     st0.meta_bytes == 0);

	/* Dense: 1 GiB of 4 KiB pages touched. */
	n = touch(w, vfiosim_current_mm(w), GIB, PAGE, pfns);
	stats(w, &st);
	per_page = (double)(st.meta_bytes - st0.meta_bytes) /
		   (double)st.frames_inuse;
	pt_per_page = (double)st.table_bytes / (double)n;
	fprintf(stderr,
		"dense: %llu pages touched, %llu frames in use, %llu bytes of "
		"frame metadata, %llu bytes of page tables\n",
		(unsigned long long)n, (unsigned long long)st.frames_inuse,
		(unsigned long long)st.meta_bytes,
		(unsigned long long)st.table_bytes);
	bench_report("mm-meta-per-page", per_page, "bytes/page", 8,
		     per_page / 8, 32, per_page <= 32);
	bench_report("mm-pagetable-per-page", pt_per_page, "bytes/page", 8,
		     pt_per_page / 8, 16, pt_per_page <= 16);
	vfiosim_world_destroy(w);

	/* Sparse in address space: one page per 2 MiB of virtual memory.
	 * Frames are still allocated lowest first, so their metadata stays
	 * dense; the page tables pay for the sparseness. */
	w = mkworld(16ull << 40);
	n = touch(w, vfiosim_current_mm(w), GIB, 2ull << 20, pfns);
	stats(w, &st);
	per_page = (double)st.meta_bytes / (double)st.frames_inuse;
	fprintf(stderr,
		"sparse: %llu pages touched, one per 2 MiB of address space: "
		"%llu bytes of frame metadata, %llu of page tables\n",
		(unsigned long long)n, (unsigned long long)st.meta_bytes,
		(unsigned long long)st.table_bytes);
	bench_report("mm-meta-sparse-va", per_page, "bytes/page", 8,
		     per_page / 8, 64, per_page <= 64);
	vfiosim_world_destroy(w);
	free(pfns);
	return 0;
}

static int bench_pin(void)
{
	const uint64_t npages = GIB / PAGE;
	struct vfiosim_world *w = mkworld(64ull << 30);
	struct vfiosim_mm *mm = vfiosim_current_mm(w);
	uint64_t *pfns = malloc(npages * sizeof(*pfns));
	uint64_t *store = calloc(npages, sizeof(*store));
	uint32_t *ref = calloc(npages, sizeof(*ref));
	double base[7], val[7], b, v;
	uint64_t a;
	int i;

	if (!pfns || !store || !ref)
		bench_die("out of memory");
	bench_pin_main();
	if (vfiosim_mmap(mm, 0, GIB, VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE,
			 VFIOSIM_MAP_PRIVATE | VFIOSIM_MAP_UNBACKED |
				 VFIOSIM_MAP_POPULATE,
			 &a))
		bench_die("mmap failed");
	for (i = 0; i < 7; i++) {
		uint64_t t0 = bench_now_ns(), t1;
		long got;

		/* Baseline: one 8-byte store and one refcount increment a
		 * page, not vectorised (the same loop as bench-iommu's). */
		for (uint64_t k = 0; k < npages; k++) {
			((volatile uint64_t *)store)[k] = (k << 12) | 3;
			((volatile uint32_t *)ref)[k]++;
		}
		t1 = bench_now_ns();
		base[i] = (double)(t1 - t0) / (double)npages;
		t0 = bench_now_ns();
		got = vfiosim_pin_user_pages(
			mm, a, npages,
			VFIOSIM_FOLL_WRITE | VFIOSIM_FOLL_LONGTERM, pfns);
		if (got != (long)npages)
			bench_die("pin returned %ld", got);
		if (vfiosim_unpin_user_pages(w, pfns, npages))
			bench_die("unpin failed");
		t1 = bench_now_ns();
		val[i] = (double)(t1 - t0) / (double)npages;
	}
	b = bench_median(base, 7);
	v = bench_median(val, 7);
	fprintf(stderr,
		"pin+unpin of 1 GiB of 4 KiB pages: %.2f ns/page; "
		"baseline %.2f ns/page\n",
		v, b);
	bench_report("mm-pin-unpin", v, "ns/page", b, v / b, 5, v / b <= 5);
	vfiosim_world_destroy(w);
	free(pfns);
	free(store);
	free(ref);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "meta"))
		return bench_meta();
	if (argc == 2 && !strcmp(argv[1], "pin"))
		return bench_pin();
	fprintf(stderr, "usage: %s meta|pin\n", argv[0]);
	return 1;
}
