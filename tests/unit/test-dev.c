/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-dev.c - mock DMA through the simulated IOMMU: data movement, the
 * DMAR fault log, what "held" means per domain type, the written-pages
 * log, and stale-IOTLB use after unmap (caught in deferred mode,
 * impossible in strict mode, caught in strict mode too when the caller
 * unpins before the IOTLB sync).
 */
#include <sys/mman.h>
#include <unistd.h>

#include "iommu-testutil.h"

struct rig {
	struct vfiosim_iommu *iommu;
	struct vfiosim_iommu_group *group;
	struct vfiosim_device *dev;
	struct vfiosim_iommu_domain *d; /* unmanaged, attached if asked */
	struct vfiosim_iommu_domain *dflt;
};

static void rig_up(struct vfiosim_world *w, struct rig *r,
		   const struct vfiosim_iommu_config *c, bool attach)
{
	memset(r, 0, sizeof(*r));
	IT_RC(w, vfiosim_iommu_create(w, c, &r->iommu), 0);
	IT_RC(w, vfiosim_iommu_group_alloc(r->iommu, &r->group), 0);
	IT_RC(w, vfiosim_device_create(r->group, "edu0", &r->dev), 0);
	r->dflt = vfiosim_iommu_group_default_domain(r->group);
	if (attach) {
		IT_RC(w, vfiosim_iommu_domain_alloc(r->iommu, &r->d), 0);
		IT_RC(w, vfiosim_iommu_attach_group(r->d, r->group), 0);
	}
}

static void rig_down(struct vfiosim_world *w, struct rig *r)
{
	if (r->d) {
		if (vfiosim_iommu_group_domain(r->group) == r->d)
			IT_RC(w, vfiosim_iommu_detach_group(r->d, r->group), 0);
		IT_RC(w, vfiosim_iommu_domain_free(r->d), 0);
	}
	IT_RC(w, vfiosim_device_destroy(r->dev), 0);
	IT_RC(w, vfiosim_iommu_group_free(r->group), 0);
	IT_RC(w, vfiosim_iommu_destroy(r->iommu), 0);
}

static unsigned int did_of(struct vfiosim_iommu_domain *d)
{
	struct vfiosim_iommu_domain_info info;

	vfiosim_iommu_domain_get_info(d, &info);
	return info.id;
}

static const unsigned int RW = VFIOSIM_IOMMU_READ | VFIOSIM_IOMMU_WRITE;

/* ------------------------------------------------------------- success */

static void success_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_iommu_stats st;
	struct vfiosim_dma_written wr;
	struct rig r;
	uint64_t pfn[2], iova = 0x100000;
	char out[16] = "hello, world!!!", in[16] = { 0 };
	uint8_t *b0, *b1;

	(void)arg;
	rig_up(w, &r, NULL, false);
	IT_RC(w, vfiosim_phys_alloc(w, 0, VFIOSIM_PAGE_BACKED, &pfn[0]), 0);
	IT_RC(w, vfiosim_phys_alloc(w, 0, VFIOSIM_PAGE_BACKED, &pfn[1]), 0);
	/* The DMA API domain: a kernel driver's dma_map_page(). */
	IT_RC(w,
	      vfiosim_iommu_map(r.dflt, iova, it_pfn_phys(w, pfn[0]), 4 * KiB,
				RW),
	      0);
	IT_RC(w,
	      vfiosim_iommu_map(r.dflt, iova + 4 * KiB, it_pfn_phys(w, pfn[1]),
				4 * KiB, RW),
	      0);
	/* Across the page boundary. */
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova + 4 * KiB - 6, out, sizeof(out),
				 VFIOSIM_DMA_WRITE),
	      0);
	b0 = vfiosim_page_bytes(w, pfn[0]);
	b1 = vfiosim_page_bytes(w, pfn[1]);
	VFIOSIM_ASSERT(w, b0 && b1);
	IT_RC(w, memcmp(b0 + 4 * KiB - 6, "hello,", 6), 0);
	IT_RC(w, memcmp(b1, " world!!!", 10), 0);
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova + 4 * KiB - 6, in, sizeof(in),
				 VFIOSIM_DMA_READ),
	      0);
	IT_RC(w, memcmp(in, out, sizeof(in)), 0);
	IT_RC(w, vfiosim_device_dma(r.dev, iova, in, 0, VFIOSIM_DMA_READ), 0);

	IT_RC(w, vfiosim_device_written_count(r.dev), 2);
	IT_RC(w, vfiosim_device_written_get(r.dev, 0, &wr), 0);
	IT_RC(w, wr.domain_id, did_of(r.dflt));
	IT_RC(w, wr.iova, iova);
	IT_RC(w, wr.pfn, pfn[0]);
	IT_RC(w, wr.writes, 1);
	IT_RC(w, vfiosim_device_written_get(r.dev, 1, &wr), 0);
	IT_RC(w, wr.iova, iova + 4 * KiB);
	IT_RC(w, wr.pfn, pfn[1]);
	IT_RC(w, vfiosim_device_written_get(r.dev, 2, &wr), -ENOENT);
	VFIOSIM_ASSERT(w, vfiosim_device_written_test(r.dev, did_of(r.dflt),
						      iova + 17));
	VFIOSIM_ASSERT(w, !vfiosim_device_written_test(r.dev, did_of(r.dflt),
						       iova + 8 * KiB));
	IT_RC(w, vfiosim_device_written_clear(r.dev), 0);
	IT_RC(w, vfiosim_device_written_count(r.dev), 0);

	IT_RC(w, vfiosim_iommu_get_stats(r.iommu, &st), 0);
	IT_RC(w, st.dma_bytes, 2 * sizeof(out));
	/* First access to each leaf missed, the rest hit. */
	IT_RC(w, st.iotlb_misses, 2);
	IT_RC(w, st.iotlb_hits, 2);
	IT_RC(w, vfiosim_device_fault_count(r.dev), 0);

	IT_RC(w, vfiosim_device_dma(NULL, iova, in, 1, VFIOSIM_DMA_READ),
	      -EINVAL);
	IT_RC(w, vfiosim_device_dma(r.dev, iova, NULL, 1, VFIOSIM_DMA_READ),
	      -EINVAL);
	IT_RC(w, vfiosim_device_dma(r.dev, iova, in, 1, 0), -EINVAL);
	IT_RC(w, vfiosim_device_dma(r.dev, UINT64_MAX, in, 2, VFIOSIM_DMA_READ),
	      -EINVAL);
	IT_RC(w, vfiosim_device_set_flags(r.dev, 0x80), -EINVAL);

	IT_RC(w, vfiosim_iommu_unmap(r.dflt, iova, 8 * KiB), 8 * KiB);
	IT_RC(w, vfiosim_page_put(w, pfn[0]), 0);
	IT_RC(w, vfiosim_page_put(w, pfn[1]), 0);
	rig_down(w, &r);
}

START_TEST(dma_moves_bytes_and_records_writes)
{
	it_run(NULL, success_scenario, NULL, IT_EXPECT(0), NULL);
}
END_TEST

/* --------------------------------------------------------------- faults */

static void faults_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_dma_fault f;
	struct rig r;
	uint64_t pfn, iova = 0x200000;
	char buf[8 * 1024] = { 0 };
	uint8_t *bytes;

	(void)arg;
	rig_up(w, &r, NULL, false);
	IT_RC(w, vfiosim_phys_alloc(w, 0, VFIOSIM_PAGE_BACKED, &pfn), 0);
	IT_RC(w,
	      vfiosim_iommu_map(r.dflt, iova, it_pfn_phys(w, pfn), 4 * KiB,
				VFIOSIM_IOMMU_READ),
	      0);
	/* Not mapped (read). */
	IT_RC(w, vfiosim_device_dma(r.dev, 0x5000, buf, 8, VFIOSIM_DMA_READ),
	      -EFAULT);
	IT_RC(w, vfiosim_iommu_fault_count(r.iommu), 1);
	IT_RC(w, vfiosim_iommu_fault_get(r.iommu, 0, &f), 0);
	IT_RC(w, f.reason, VFIOSIM_DMA_FAULT_NO_READ);
	IT_RC(w, f.iova, 0x5000);
	IT_RC(w, f.write, 0);
	IT_RC(w, f.present, 0);
	IT_RC(w, f.domain_id, did_of(r.dflt));
	VFIOSIM_ASSERT(w,
		       tu_contains(f.line, "DMAR: [DMA Read NO_PASID] "
					   "Request device [00:00.0] fault "
					   "addr 0x5000 [fault reason 0x06] "
					   "PTE Read access is not set"),
		       "%s", f.line);
	VFIOSIM_ASSERT(w, tu_contains(f.device, "edu0"));
	/* Write to a read-only mapping: a permission fault. */
	IT_RC(w, vfiosim_device_dma(r.dev, iova, buf, 8, VFIOSIM_DMA_WRITE),
	      -EACCES);
	IT_RC(w, vfiosim_iommu_fault_get(r.iommu, 1, &f), 0);
	IT_RC(w, f.reason, VFIOSIM_DMA_FAULT_NO_WRITE);
	IT_RC(w, f.present, 1);
	VFIOSIM_ASSERT(w, tu_contains(f.line, "PTE Write access is not set"));
	/* The MSI window and beyond the address width. */
	IT_RC(w,
	      vfiosim_device_dma(r.dev, 0xfee00000ull, buf, 4,
				 VFIOSIM_DMA_WRITE),
	      -EFAULT);
	IT_RC(w, vfiosim_iommu_fault_get(r.iommu, 2, &f), 0);
	IT_RC(w, f.reason, VFIOSIM_DMA_FAULT_INTR);
	IT_RC(w,
	      vfiosim_device_dma(r.dev, 1ull << 39, buf, 4, VFIOSIM_DMA_READ),
	      -EFAULT);
	IT_RC(w, vfiosim_iommu_fault_get(r.iommu, 3, &f), 0);
	IT_RC(w, f.reason, VFIOSIM_DMA_FAULT_BEYOND_AW);
	IT_RC(w, vfiosim_iommu_fault_get(r.iommu, 4, &f), -ENOENT);
	/* A read running off the end: the first page moved, then a fault;
	 * the rest of the buffer reads as zeros (QEMU, probe dma_edges). */
	bytes = vfiosim_page_bytes(w, pfn);
	memset(bytes, 0xab, 4 * KiB);
	memset(buf, 0x5a, sizeof(buf));
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova, buf, sizeof(buf),
				 VFIOSIM_DMA_READ),
	      -EFAULT);
	IT_RC(w, (uint8_t)buf[4095], 0xab);
	IT_RC(w, buf[4096], 0);
	IT_RC(w, buf[sizeof(buf) - 1], 0);
	IT_RC(w, vfiosim_iommu_fault_get(r.iommu, 4, &f), 0);
	IT_RC(w, f.iova, iova + 4 * KiB);
	IT_RC(w, vfiosim_device_fault_count(r.dev), 5);
	IT_RC(w, vfiosim_device_dma_failures(r.dev), 0);

	/* With FAULT_FAILS a fault is also a DMA failure. */
	IT_RC(w, vfiosim_device_set_flags(r.dev, VFIOSIM_DEVICE_FAULT_FAILS),
	      0);
	IT_RC(w, vfiosim_device_dma(r.dev, 0x5000, buf, 8, VFIOSIM_DMA_READ),
	      -EFAULT);
	IT_RC(w, vfiosim_device_dma_failures(r.dev), 1);

	/* A released device cannot DMA. */
	IT_RC(w, vfiosim_device_release(r.dev), 0);
	IT_RC(w, vfiosim_device_release(r.dev), -ENODEV);
	IT_RC(w, vfiosim_device_dma(r.dev, iova, buf, 8, VFIOSIM_DMA_READ),
	      -ENODEV);

	IT_RC(w, vfiosim_iommu_unmap(r.dflt, iova, 4 * KiB), 4 * KiB);
	IT_RC(w, vfiosim_page_put(w, pfn), 0);
	rig_down(w, &r);
}

static void faults_inspect(struct vfiosim_world *w, void *arg)
{
	(void)arg;
	ck_assert_int_ge(it_find(w, VFIOSIM_FAIL_DMA,
				 "unexpected DMA fault: "
				 "DMAR: [DMA Read"),
			 0);
}

START_TEST(dma_faults_are_logged)
{
	it_run(NULL, faults_scenario, NULL, IT_EXPECT(.dma = 1),
	       faults_inspect);
}
END_TEST

/*
 * DMA into pages of the real process that the program changed behind the
 * model's back: a pinned page made read-only still takes the device's
 * writes (the IOMMU ignores CPU protections), and a pinned page unmapped
 * without telling the model neither crashes the program nor lands
 * anywhere: the write is lost, a read gets zeros.
 */
static void host_dma_scenario(struct vfiosim_world *w, void *arg)
{
	const unsigned int rw = VFIOSIM_IOMMU_READ | VFIOSIM_IOMMU_WRITE;
	struct vfiosim_mm *h;
	uint64_t pfns[2], iova = 0x300000;
	char got[8];
	struct rig r;
	char *buf;

	(void)arg;
	rig_up(w, &r, NULL, false);
	IT_RC(w, vfiosim_mm_host(w, &h), 0);
	buf = mmap(NULL, 2 * 4 * KiB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	VFIOSIM_ASSERT(w, buf != MAP_FAILED, "mmap");
	IT_RC(w,
	      vfiosim_pin_user_pages_unlocked(
		      h, (uintptr_t)buf, 2,
		      VFIOSIM_FOLL_WRITE | VFIOSIM_FOLL_LONGTERM, pfns),
	      2);
	for (int i = 0; i < 2; i++)
		IT_RC(w,
		      vfiosim_iommu_map(r.dflt, iova + i * 4 * KiB,
					it_pfn_phys(w, pfns[i]), 4 * KiB, rw),
		      0);
	/* Read-only now: the device's write still lands. */
	IT_RC(w, mprotect(buf, 4 * KiB, PROT_READ), 0);
	IT_RC(w, vfiosim_device_dma(r.dev, iova, "ro-ok", 6, VFIOSIM_DMA_WRITE),
	      0);
	VFIOSIM_ASSERT(w, !strcmp(buf, "ro-ok"), "%s", buf);
	/* Gone: nothing faults, the write is lost, a read gets zeros. */
	IT_RC(w, munmap(buf + 4 * KiB, 4 * KiB), 0);
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova + 4 * KiB, "lost", 5,
				 VFIOSIM_DMA_WRITE),
	      0);
	memset(got, 0x5a, sizeof(got));
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova + 4 * KiB, got, sizeof(got),
				 VFIOSIM_DMA_READ),
	      0);
	IT_RC(w, got[0] | got[7], 0);
	IT_RC(w, vfiosim_iommu_unmap(r.dflt, iova, 8 * KiB), 8 * KiB);
	IT_RC(w, vfiosim_unpin_user_pages(w, pfns, 2), 0);
	IT_RC(w, vfiosim_munmap(h, (uintptr_t)buf, 8 * KiB), 0);
	munmap(buf, 4 * KiB);
	vfiosim_mmput(h);
	rig_down(w, &r);
}

START_TEST(dma_into_host_pages_changed_behind_the_model)
{
	if (sysconf(_SC_PAGESIZE) != 4096) {
		fprintf(stderr, "skipped: the host page size is not 4 KiB\n");
		return;
	}
	it_run(NULL, host_dma_scenario, NULL, IT_EXPECT(0), NULL);
}
END_TEST

/* ------------------------------------------- what "held" means per domain */

static void held_scenario(struct vfiosim_world *w, void *arg)
{
	struct rig r;
	uint64_t pfn, mmio = vfiosim_phys_npages(w) - 16, iova = 0x300000;
	char buf[64] = "x";

	(void)arg;
	rig_up(w, &r, NULL, true);
	IT_RC(w, vfiosim_phys_alloc(w, 0, VFIOSIM_PAGE_BACKED, &pfn), 0);
	IT_RC(w, vfiosim_phys_add_mmio(w, mmio, 16), 0);
	/* Unmanaged domain: allocated but not pinned is not enough. */
	IT_RC(w, vfiosim_iommu_map(r.d, iova, it_pfn_phys(w, pfn), 4 * KiB, RW),
	      0);
	IT_RC(w, vfiosim_device_dma(r.dev, iova, buf, 8, VFIOSIM_DMA_WRITE), 0);
	IT_RC(w, vfiosim_device_dma_failures(r.dev), 1);
	/* MMIO (peer-to-peer BAR) needs no pin. */
	IT_RC(w,
	      vfiosim_iommu_map(r.d, iova + 64 * KiB, it_pfn_phys(w, mmio),
				64 * KiB, RW),
	      0);
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova + 64 * KiB, buf, sizeof(buf),
				 VFIOSIM_DMA_WRITE),
	      0);
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova + 100 * KiB, buf, sizeof(buf),
				 VFIOSIM_DMA_READ),
	      0);
	IT_RC(w, vfiosim_device_dma_failures(r.dev), 1);
	IT_RC(w, vfiosim_iommu_unmap(r.d, iova, 4 * KiB), 4 * KiB);
	IT_RC(w, vfiosim_iommu_unmap(r.d, iova + 64 * KiB, 64 * KiB), 64 * KiB);
	/* Back on the default domain: the same frame is fine (refcount). */
	IT_RC(w, vfiosim_iommu_detach_group(r.d, r.group), 0);
	IT_RC(w,
	      vfiosim_iommu_map(r.dflt, iova, it_pfn_phys(w, pfn), 4 * KiB, RW),
	      0);
	IT_RC(w, vfiosim_device_dma(r.dev, iova, buf, 8, VFIOSIM_DMA_WRITE), 0);
	IT_RC(w, vfiosim_device_dma_failures(r.dev), 1);
	/* ... until it is freed while still mapped. */
	IT_RC(w, vfiosim_page_put(w, pfn), 0);
	IT_RC(w, vfiosim_device_dma(r.dev, iova, buf, 8, VFIOSIM_DMA_READ), 0);
	IT_RC(w, vfiosim_device_dma_failures(r.dev), 2);
	IT_RC(w, vfiosim_iommu_unmap(r.dflt, iova, 4 * KiB), 4 * KiB);
	rig_down(w, &r);
}

static void held_inspect(struct vfiosim_world *w, void *arg)
{
	(void)arg;
	ck_assert_int_ge(it_find(w, VFIOSIM_FAIL_DMA,
				 "is not pinned (use after unpin), through "
				 "the live page table"),
			 0);
	ck_assert_int_ge(
		it_find(w, VFIOSIM_FAIL_DMA, "is free (use after free)"), 0);
}

START_TEST(held_means_pinned_or_allocated_by_domain_type)
{
	it_run(NULL, held_scenario, NULL, IT_EXPECT(.dma = 2), held_inspect);
}
END_TEST

/* The device follows its group: detach sends it back to the default. */
static void follow_scenario(struct vfiosim_world *w, void *arg)
{
	struct rig r;
	struct vfiosim_device *late;
	struct vfiosim_dma_fault f;
	uint64_t iova = 0x400000;
	char buf[8];

	(void)arg;
	rig_up(w, &r, NULL, true);
	/* MMIO-free frame-free map: a reserved-looking pfn beyond memory
	 * is only reached if the DMA translates; it must fault instead. */
	IT_RC(w, vfiosim_phys_add_mmio(w, 4096, 1), 0);
	IT_RC(w, vfiosim_iommu_map(r.d, iova, 4096 * 4 * KiB, 4 * KiB, RW), 0);
	IT_RC(w, vfiosim_device_dma(r.dev, iova, buf, 8, VFIOSIM_DMA_READ), 0);
	/* A device probed while attached uses the attached domain. */
	IT_RC(w, vfiosim_device_create(r.group, "late", &late), 0);
	IT_RC(w, vfiosim_device_dma(late, iova, buf, 8, VFIOSIM_DMA_READ), 0);
	IT_RC(w, vfiosim_iommu_detach_group(r.d, r.group), 0);
	IT_RC(w, vfiosim_device_dma(r.dev, iova, buf, 8, VFIOSIM_DMA_READ),
	      -EFAULT);
	IT_RC(w, vfiosim_iommu_fault_get(r.iommu, 0, &f), 0);
	IT_RC(w, f.domain_id, did_of(r.dflt));
	IT_RC(w, vfiosim_device_destroy(late), 0);
	IT_RC(w, vfiosim_iommu_unmap(r.d, iova, 4 * KiB), 4 * KiB);
	rig_down(w, &r);
}

START_TEST(devices_follow_group_domain)
{
	it_run(NULL, follow_scenario, NULL, IT_EXPECT(0), NULL);
}
END_TEST

/* ------------------------------------- stale IOTLB: use after unmap/unpin */

enum order {
	UNMAP_THEN_UNPIN,      /* type1: iommu_unmap (synced), then unpin */
	UNMAP_FAST_UNPIN_SYNC, /* the bug: unpin before iommu_iotlb_sync */
	UNMAP_FAST_SYNC_UNPIN, /* type1's fast path done right */
};

struct stale {
	bool deferred;
	enum order order;
	int dma_rc_after; /* the DMA after the unpin */
	unsigned int stale_hits;
};

static void stale_scenario(struct vfiosim_world *w, void *arg)
{
	struct stale *s = arg;
	struct vfiosim_iommu_config c = vfiosim_world_config(w)->iommu;
	struct vfiosim_iotlb_gather g;
	struct vfiosim_iommu_stats st;
	struct vfiosim_mm *mm;
	struct rig r;
	uint64_t addr, pfn, iova = 0x500000;
	char buf[8] = "dmadata";

	c.deferred_flush = s->deferred;
	rig_up(w, &r, &c, true);
	IT_RC(w, vfiosim_mm_create(w, &mm), 0);
	IT_RC(w,
	      vfiosim_mmap(mm, 0, 4 * KiB,
			   VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE,
			   VFIOSIM_MAP_PRIVATE | VFIOSIM_MAP_ANONYMOUS, &addr),
	      0);
	IT_RC(w,
	      vfiosim_pin_user_pages_unlocked(
		      mm, addr, 1, VFIOSIM_FOLL_WRITE | VFIOSIM_FOLL_LONGTERM,
		      &pfn),
	      1);
	IT_RC(w, vfiosim_iommu_map(r.d, iova, it_pfn_phys(w, pfn), 4 * KiB, RW),
	      0);
	/* The device uses the mapping: the IOTLB now holds it. */
	IT_RC(w, vfiosim_device_dma(r.dev, iova, buf, 8, VFIOSIM_DMA_WRITE), 0);
	switch (s->order) {
	case UNMAP_THEN_UNPIN:
		IT_RC(w, vfiosim_iommu_unmap(r.d, iova, 4 * KiB), 4 * KiB);
		IT_RC(w, vfiosim_unpin_user_pages(w, &pfn, 1), 0);
		break;
	case UNMAP_FAST_UNPIN_SYNC:
		vfiosim_iotlb_gather_init(&g);
		IT_RC(w, vfiosim_iommu_unmap_fast(r.d, iova, 4 * KiB, &g),
		      4 * KiB);
		IT_RC(w, vfiosim_unpin_user_pages(w, &pfn, 1), 0);
		/* The device is quicker than the sync. */
		s->dma_rc_after = vfiosim_device_dma(r.dev, iova, buf, 8,
						     VFIOSIM_DMA_WRITE);
		IT_RC(w, vfiosim_iommu_iotlb_sync(r.d, &g), 0);
		goto check;
	case UNMAP_FAST_SYNC_UNPIN:
		vfiosim_iotlb_gather_init(&g);
		IT_RC(w, vfiosim_iommu_unmap_fast(r.d, iova, 4 * KiB, &g),
		      4 * KiB);
		IT_RC(w, vfiosim_iommu_iotlb_sync(r.d, &g), 0);
		IT_RC(w, vfiosim_unpin_user_pages(w, &pfn, 1), 0);
		break;
	}
	s->dma_rc_after =
		vfiosim_device_dma(r.dev, iova, buf, 8, VFIOSIM_DMA_WRITE);
check:
	IT_RC(w, vfiosim_iommu_get_stats(r.iommu, &st), 0);
	s->stale_hits = (unsigned int)st.iotlb_stale_hits;
	/* After the flush queue drains, the translation is gone for good. */
	vfiosim_iommu_flush_queue_flush(r.iommu);
	IT_RC(w, vfiosim_device_dma(r.dev, iova, buf, 8, VFIOSIM_DMA_READ),
	      -EFAULT);
	IT_RC(w, vfiosim_munmap(mm, addr, 4 * KiB), 0);
	vfiosim_mmput(mm);
	rig_down(w, &r);
}

static void stale_inspect(struct vfiosim_world *w, void *arg)
{
	(void)arg;
	ck_assert_int_ge(
		it_find(w, VFIOSIM_FAIL_DMA, "through a stale IOTLB entry"), 0);
	ck_assert_int_ge(it_find(w, VFIOSIM_FAIL_DMA, "use after unpin"), 0);
}

START_TEST(stale_iotlb_caught_in_deferred_mode)
{
	struct stale s = { .deferred = true, .order = UNMAP_THEN_UNPIN };

	it_run(NULL, stale_scenario, &s, IT_EXPECT(.dma = 1), stale_inspect);
	ck_assert_int_eq(s.dma_rc_after, 0);
	ck_assert_uint_eq(s.stale_hits, 1);

	s = (struct stale){ .deferred = true, .order = UNMAP_FAST_SYNC_UNPIN };
	it_run(NULL, stale_scenario, &s, IT_EXPECT(.dma = 1), stale_inspect);
	ck_assert_uint_eq(s.stale_hits, 1);
}
END_TEST

START_TEST(stale_iotlb_impossible_in_strict_mode)
{
	struct stale s = { .deferred = false, .order = UNMAP_THEN_UNPIN };

	it_run(NULL, stale_scenario, &s, IT_EXPECT(0), NULL);
	ck_assert_int_eq(s.dma_rc_after, -EFAULT);
	ck_assert_uint_eq(s.stale_hits, 0);

	s = (struct stale){ .deferred = false, .order = UNMAP_FAST_SYNC_UNPIN };
	it_run(NULL, stale_scenario, &s, IT_EXPECT(0), NULL);
	ck_assert_int_eq(s.dma_rc_after, -EFAULT);
}
END_TEST

START_TEST(unpin_before_sync_caught_in_strict_mode)
{
	struct stale s = { .deferred = false, .order = UNMAP_FAST_UNPIN_SYNC };

	it_run(NULL, stale_scenario, &s, IT_EXPECT(.dma = 1), stale_inspect);
	ck_assert_int_eq(s.dma_rc_after, 0);
	ck_assert_uint_eq(s.stale_hits, 1);
}
END_TEST

/*
 * The same question over every schedule: a device thread DMAs while the
 * "type1" thread unmaps and unpins.  Strict mode: no schedule reaches an
 * unpinned frame.  Deferred mode: some schedule does.
 */
struct race {
	struct vfiosim_world *w;
	struct rig r;
	uint64_t iova;
	int faults;
};

/* DMAs refused in strict mode, over all schedules explored. */
static unsigned long strict_faults;

static void race_device(void *arg)
{
	struct race *x = arg;
	char buf[8] = "racing";

	for (int i = 0; i < 3; i++)
		if (vfiosim_device_dma(x->r.dev, x->iova, buf, sizeof(buf),
				       VFIOSIM_DMA_WRITE))
			x->faults++;
}

static void race_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_iommu_config c = vfiosim_world_config(w)->iommu;
	struct vfiosim_thread *t;
	struct vfiosim_mm *mm;
	struct race *x;
	uint64_t addr, pfn;

	x = vfiosim_zalloc(w, sizeof(*x), NULL);
	VFIOSIM_ASSERT(w, x != NULL);
	x->w = w;
	x->iova = 0x600000;
	c.deferred_flush = *(bool *)arg;
	rig_up(w, &x->r, &c, true);
	IT_RC(w, vfiosim_mm_create(w, &mm), 0);
	IT_RC(w,
	      vfiosim_mmap(mm, 0, 4 * KiB,
			   VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE,
			   VFIOSIM_MAP_PRIVATE | VFIOSIM_MAP_ANONYMOUS, &addr),
	      0);
	IT_RC(w,
	      vfiosim_pin_user_pages_unlocked(
		      mm, addr, 1, VFIOSIM_FOLL_WRITE | VFIOSIM_FOLL_LONGTERM,
		      &pfn),
	      1);
	IT_RC(w,
	      vfiosim_iommu_map(x->r.d, x->iova, it_pfn_phys(w, pfn), 4 * KiB,
				RW),
	      0);
	t = vfiosim_thread_create(w, "device", race_device, x);
	VFIOSIM_ASSERT(w, t != NULL);
	vfiosim_sched_point(w, "before unmap");
	IT_RC(w, vfiosim_iommu_unmap(x->r.d, x->iova, 4 * KiB), 4 * KiB);
	vfiosim_sched_point(w, "between unmap and unpin");
	IT_RC(w, vfiosim_unpin_user_pages(w, &pfn, 1), 0);
	vfiosim_sched_point(w, "after unpin");
	IT_RC(w, vfiosim_thread_join(t), 0);
	VFIOSIM_ASSERT(w, x->faults <= 3, "faults %d", x->faults);
	if (!c.deferred_flush)
		strict_faults += (unsigned long)x->faults;
	vfiosim_iommu_flush_queue_flush(x->r.iommu);
	IT_RC(w, vfiosim_munmap(mm, addr, 4 * KiB), 0);
	vfiosim_mmput(mm);
	rig_down(w, &x->r);
}

static struct vfiosim_explore_opts race_opts(const char *name)
{
	struct vfiosim_explore_opts o;

	vfiosim_explore_opts_init(&o);
	o.strategy = VFIOSIM_STRATEGY_DFS;
	o.preemption_bound = 2;
	o.iterations = 0;
	o.name = name;
	o.ignore_env = true;
	return o;
}

START_TEST(stale_iotlb_over_every_schedule)
{
	struct vfiosim_explore_opts o = race_opts("stale-strict");
	struct vfiosim_explore_result res;
	bool strict = false, deferred = true;

	strict_faults = 0;
	vfiosim_ck_explore(NULL, &o, race_scenario, &strict);
	/* Strict mode: a DMA after the unmap faults, it never lands. */
	ck_assert_uint_gt(strict_faults, 0);
	o = race_opts("stale-deferred");
	vfiosim_ck_explore_finds(NULL, &o, race_scenario, &deferred,
				 VFIOSIM_FAIL_DMA, &res);
	ck_assert(tu_contains(res.failure.message, "stale IOTLB entry"));
	vfiosim_explore_result_release(&res);
}
END_TEST

/*
 * A 2-entry IOTLB: the third leaf evicts the least recently used one, and
 * an evicted translation can no longer be used stale (deferred mode).
 */
static void lru_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_iommu_config c = vfiosim_world_config(w)->iommu;
	struct vfiosim_iommu_stats st;
	struct rig r;
	uint64_t pfn, iova = 0x800000;
	char buf[8];

	(void)arg;
	c.iotlb_entries = 2;
	c.deferred_flush = true;
	rig_up(w, &r, &c, false);
	IT_RC(w, vfiosim_phys_alloc(w, 0, VFIOSIM_PAGE_BACKED, &pfn), 0);
	for (int i = 0; i < 3; i++)
		IT_RC(w,
		      vfiosim_iommu_map(r.dflt, iova + i * 4 * KiB,
					it_pfn_phys(w, pfn), 4 * KiB, RW),
		      0);
	IT_RC(w, vfiosim_device_dma(r.dev, iova, buf, 8, VFIOSIM_DMA_READ), 0);
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova + 4 * KiB, buf, 8,
				 VFIOSIM_DMA_READ),
	      0);
	/* Touch the first again: the second is now least recently used. */
	IT_RC(w, vfiosim_device_dma(r.dev, iova, buf, 8, VFIOSIM_DMA_READ), 0);
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova + 8 * KiB, buf, 8,
				 VFIOSIM_DMA_READ),
	      0);
	IT_RC(w, vfiosim_iommu_get_stats(r.iommu, &st), 0);
	IT_RC(w, st.iotlb_misses, 3);
	IT_RC(w, st.iotlb_hits, 1);
	IT_RC(w, st.iotlb_evictions, 1);
	/* Unmap all three; the flush is only queued. */
	IT_RC(w, vfiosim_iommu_unmap(r.dflt, iova, 12 * KiB), 12 * KiB);
	IT_RC(w, vfiosim_iommu_flush_queue_pending(r.iommu), 1);
	/* Cached ones are still usable (stale), the evicted one faults. */
	IT_RC(w, vfiosim_device_dma(r.dev, iova, buf, 8, VFIOSIM_DMA_READ), 0);
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova + 4 * KiB, buf, 8,
				 VFIOSIM_DMA_READ),
	      -EFAULT);
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova + 8 * KiB, buf, 8,
				 VFIOSIM_DMA_READ),
	      0);
	IT_RC(w, vfiosim_iommu_get_stats(r.iommu, &st), 0);
	IT_RC(w, st.iotlb_stale_hits, 2);
	/* The frame is still allocated: the default domain's rule holds. */
	IT_RC(w, vfiosim_device_dma_failures(r.dev), 0);
	IT_RC(w, vfiosim_iommu_flush_queue_flush(r.iommu), 1);
	IT_RC(w, vfiosim_device_dma(r.dev, iova, buf, 8, VFIOSIM_DMA_READ),
	      -EFAULT);
	IT_RC(w, vfiosim_page_put(w, pfn), 0);
	rig_down(w, &r);
}

START_TEST(iotlb_size_and_lru)
{
	it_run(NULL, lru_scenario, NULL, IT_EXPECT(0), NULL);
}
END_TEST

/*
 * Hardware dirty bits against the ground truth: the device's written-page
 * log.  A write into a 2 MiB leaf dirties the whole leaf.
 */
static void dirty_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_iommu_config c = vfiosim_world_config(w)->iommu;
	struct vfiosim_iommu_mapping m;
	struct rig r;
	uint64_t pfn, big, bitmap[16], iova = 4 * MiB; /* 2M-aligned */
	char buf[8] = "dirty";

	(void)arg;
	c.dirty_tracking = true;
	rig_up(w, &r, &c, false);
	IT_RC(w, vfiosim_phys_alloc(w, 0, VFIOSIM_PAGE_BACKED, &pfn), 0);
	IT_RC(w, vfiosim_phys_alloc(w, 9, VFIOSIM_PAGE_BACKED, &big), 0);
	/* [4M, 6M): one 2 MiB leaf; [6M, 6M + 16K): four 4 KiB leaves. */
	IT_RC(w,
	      vfiosim_iommu_map(r.dflt, iova, it_pfn_phys(w, big), 2 * MiB, RW),
	      0);
	for (int i = 0; i < 4; i++)
		IT_RC(w,
		      vfiosim_iommu_map(r.dflt, iova + 2 * MiB + i * 4 * KiB,
					it_pfn_phys(w, pfn), 4 * KiB, RW),
		      0);
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova + 2 * MiB + 4 * KiB, buf, 8,
				 VFIOSIM_DMA_WRITE),
	      0);
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova + 2 * MiB + 12 * KiB, buf, 8,
				 VFIOSIM_DMA_READ),
	      0);
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova + 5000, buf, 8, VFIOSIM_DMA_WRITE),
	      0);
	IT_RC(w, vfiosim_iommu_lookup(r.dflt, iova, &m), 0);
	IT_RC(w, m.dirty, 1);
	memset(bitmap, 0, sizeof(bitmap));
	/* 4 KiB granularity over [4M, 6M + 16K): 516 bits. */
	IT_RC(w,
	      vfiosim_iommu_read_and_clear_dirty(
		      r.dflt, iova, 2 * MiB + 16 * KiB, 4 * KiB, bitmap),
	      2);
	for (unsigned int b = 0; b < 512; b++)
		IT_RC(w, (bitmap[b / 64] >> (b % 64)) & 1, 1);
	IT_RC(w, (bitmap[8] >> 0) & 0xf, 0x2);
	/* Ground truth: the device wrote exactly two CPU pages. */
	IT_RC(w, vfiosim_device_written_count(r.dev), 2);
	VFIOSIM_ASSERT(w, vfiosim_device_written_test(r.dev, did_of(r.dflt),
						      iova + 4096));
	VFIOSIM_ASSERT(w,
		       vfiosim_device_written_test(r.dev, did_of(r.dflt),
						   iova + 2 * MiB + 4 * KiB));
	/* Cleared: a second read finds nothing. */
	memset(bitmap, 0, sizeof(bitmap));
	IT_RC(w,
	      vfiosim_iommu_read_and_clear_dirty(
		      r.dflt, iova, 2 * MiB + 16 * KiB, 4 * KiB, bitmap),
	      0);
	IT_RC(w, bitmap[0] | bitmap[8], 0);
	/* Through the IOTLB (a hit) the bit is set again. */
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova + 2 * MiB + 4 * KiB, buf, 8,
				 VFIOSIM_DMA_WRITE),
	      0);
	IT_RC(w,
	      vfiosim_iommu_read_and_clear_dirty(r.dflt, iova + 2 * MiB,
						 16 * KiB, 4 * KiB, bitmap),
	      1);
	IT_RC(w,
	      vfiosim_iommu_read_and_clear_dirty(r.dflt, iova, 4 * KiB, 2 * KiB,
						 bitmap),
	      -EINVAL);
	IT_RC(w, vfiosim_iommu_unmap(r.dflt, iova, 2 * MiB + 16 * KiB),
	      2 * MiB + 16 * KiB);
	IT_RC(w, vfiosim_page_put(w, pfn), 0);
	IT_RC(w, vfiosim_page_put(w, big), 0);
	rig_down(w, &r);
}

static void nodirty_scenario(struct vfiosim_world *w, void *arg)
{
	struct rig r;
	uint64_t bitmap[1];

	(void)arg;
	rig_up(w, &r, NULL, false);
	IT_RC(w,
	      vfiosim_iommu_read_and_clear_dirty(r.dflt, 0, 4 * KiB, 4 * KiB,
						 bitmap),
	      -EOPNOTSUPP);
	rig_down(w, &r);
}

START_TEST(hardware_dirty_bits_match_written_pages)
{
	it_run(NULL, dirty_scenario, NULL, IT_EXPECT(0), NULL);
	it_run(NULL, nodirty_scenario, NULL, IT_EXPECT(0), NULL);
}
END_TEST

/* CPU pages of 16 KiB, IO pages of 4 KiB: one frame, four IO pages. */
static void smallio_scenario(struct vfiosim_world *w, void *arg)
{
	struct vfiosim_iommu_domain_info info;
	struct rig r;
	uint64_t pfn, iova = 0x700000;
	char buf[8] = "4k-in16";
	uint8_t *bytes;

	(void)arg;
	rig_up(w, &r, NULL, false);
	IT_RC(w, vfiosim_page_size(w), 16 * KiB);
	IT_RC(w, vfiosim_phys_alloc(w, 0, VFIOSIM_PAGE_BACKED, &pfn), 0);
	/* Map only the third 4 KiB of the frame, at an IOVA that is not
	 * CPU-page aligned. */
	IT_RC(w,
	      vfiosim_iommu_map(r.dflt, iova + 4 * KiB,
				it_pfn_phys(w, pfn) + 8 * KiB, 4 * KiB, RW),
	      0);
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova + 4 * KiB + 16, buf, sizeof(buf),
				 VFIOSIM_DMA_WRITE),
	      0);
	bytes = vfiosim_page_bytes(w, pfn);
	VFIOSIM_ASSERT(w, bytes != NULL);
	IT_RC(w, memcmp(bytes + 8 * KiB + 16, buf, sizeof(buf)), 0);
	/* The neighbouring IO pages of the same frame are not mapped. */
	IT_RC(w, vfiosim_device_dma(r.dev, iova, buf, 4, VFIOSIM_DMA_READ),
	      -EFAULT);
	IT_RC(w,
	      vfiosim_device_dma(r.dev, iova + 8 * KiB, buf, 4,
				 VFIOSIM_DMA_READ),
	      -EFAULT);
	/* The written-page log is kept in CPU pages. */
	VFIOSIM_ASSERT(w, vfiosim_device_written_test(r.dev, did_of(r.dflt),
						      iova));
	IT_RC(w, vfiosim_iommu_domain_get_info(r.dflt, &info), 0);
	IT_RC(w, info.leaves, 1);
	IT_RC(w, vfiosim_iommu_unmap(r.dflt, iova + 4 * KiB, 4 * KiB), 4 * KiB);
	IT_RC(w, vfiosim_page_put(w, pfn), 0);
	rig_down(w, &r);
}

START_TEST(io_page_smaller_than_cpu_page)
{
	struct vfiosim_config cfg;

	vfiosim_config_init(&cfg);
	cfg.mm.page_shift = 14;
	it_run(&cfg, smallio_scenario, NULL, IT_EXPECT(0), NULL);
}
END_TEST

static Suite *dev_suite(void)
{
	Suite *s = suite_create("dev");
	TCase *tc = tcase_create("dma");

	tcase_add_test(tc, dma_moves_bytes_and_records_writes);
	tcase_add_test(tc, dma_faults_are_logged);
	tcase_add_test(tc, held_means_pinned_or_allocated_by_domain_type);
	tcase_add_test(tc, devices_follow_group_domain);
	tcase_add_test(tc, stale_iotlb_caught_in_deferred_mode);
	tcase_add_test(tc, stale_iotlb_impossible_in_strict_mode);
	tcase_add_test(tc, unpin_before_sync_caught_in_strict_mode);
	tcase_add_test(tc, stale_iotlb_over_every_schedule);
	tcase_add_test(tc, io_page_smaller_than_cpu_page);
	tcase_add_test(tc, iotlb_size_and_lru);
	tcase_add_test(tc, hardware_dirty_bits_match_written_pages);
	tcase_add_test(tc, dma_into_host_pages_changed_behind_the_model);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(dev_suite)
