/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shifted_bits.c - a dirty-bitmap read whose base is not 64 pages below a
 * mapping leaves shifted bits that later reads report past the mapping's
 * end (Linux 6.1 and 6.12); an unmap with a bitmap shows them too.
 *
 *   shifted_bits /dev/vfio/<group> <pci-bdf>
 */
#include "common.h"

static void get(const char *label, uint64_t iova, uint64_t size)
{
	struct {
		struct vfio_iommu_type1_dirty_bitmap d;
		struct vfio_iommu_type1_dirty_bitmap_get g;
	} __attribute__((packed)) r;
	uint64_t bm[2] = { 0, 0 };
	long rc;

	memset(&r, 0, sizeof(r));
	r.d.argsz = sizeof(r);
	r.d.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	r.g.iova = iova;
	r.g.size = size;
	r.g.bitmap.pgsize = PG;
	r.g.bitmap.size = sizeof(bm);
	r.g.bitmap.data = (__u64 *)bm;
	errno = 0;
	rc = ioctl(cfd, VFIO_IOMMU_DIRTY_PAGES, &r);
	line("bitmap", label, rc, "bits=%016llx,%016llx",
	     (unsigned long long)bm[0], (unsigned long long)bm[1]);
}

static void unmap_bits(const char *label, uint64_t iova, uint64_t size)
{
	struct {
		struct vfio_iommu_type1_dma_unmap u;
		struct vfio_bitmap b;
	} __attribute__((packed)) r;
	uint64_t bm[2] = { 0, 0 };
	long rc;

	memset(&r, 0, sizeof(r));
	r.u.argsz = sizeof(r);
	r.u.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
	r.u.iova = iova;
	r.u.size = size;
	r.b.pgsize = PG;
	r.b.size = sizeof(bm);
	r.b.data = (__u64 *)bm;
	errno = 0;
	rc = ioctl(cfd, VFIO_IOMMU_UNMAP_DMA, &r);
	line("unmap_bits", label, rc, "out=0x%llx bits=%016llx,%016llx",
	     (unsigned long long)r.u.size, (unsigned long long)bm[0],
	     (unsigned long long)bm[1]);
}

int main(int argc, char **argv)
{
	struct vfio_iommu_type1_dirty_bitmap d = { .argsz = sizeof(d),
						   .flags = 1 };
	uint64_t va;
	long rc;

	if (argc < 2 || setup(argv[1], VFIO_TYPE1v2_IOMMU))
		return 1;
	va = probe_buffer();
	if (!va)
		return 1;
	do_map("m", va, 0x400000, 8 * PG, 3);
	do_map("n", va + 8 * PG, 0x420000, 4 * PG, 3);
	errno = 0;
	rc = ioctl(cfd, VFIO_IOMMU_DIRTY_PAGES, &d);
	line("dirty", "start", rc, NULL);
	get("m", 0x400000, 8 * PG);
	get("m_from_minus_3", 0x3fd000, 11 * PG);
	get("m", 0x400000, 8 * PG);
	get("m_from_minus_40", 0x3d8000, 48 * PG);
	get("m", 0x400000, 8 * PG);
	get("m_and_n", 0x400000, 0x24000);
	get("n_from_m", 0x400000, 0x24000);
	unmap_bits("n_from_minus_5", 0x41b000, 9 * PG);
	unmap_bits("m_from_minus_1", 0x3ff000, 9 * PG);
	printf("op=end\n");
	return 0;
}
