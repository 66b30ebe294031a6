/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * v1_unmap.c - VFIO_TYPE1_IOMMU (v1) unmap semantics: no bisect check; a
 * request stops at a mapping that starts before it, and otherwise removes
 * whole mappings even past its end.  Also: dirty tracking needs v2.
 *
 *   v1_unmap /dev/vfio/<group> <pci-bdf>
 */
#include "common.h"

int main(int argc, char **argv)
{
	struct vfio_iommu_type1_dirty_bitmap d = { .argsz = sizeof(d),
						   .flags = 1 };
	uint64_t va;
	long rc;

	if (argc < 2 || setup(argv[1], VFIO_TYPE1_IOMMU))
		return 1;
	va = probe_buffer();
	if (!va)
		return 1;
	do_map("a", va, 0x100000, 16 * PG, 3);
	do_map("b", va + 16 * PG, 0x110000, 4 * PG, 3);
	do_map("c", va + 20 * PG, 0x200000, 8 * PG, 3);
	do_unmap("inside_a_over_b", 0x101000, 0x10000, 0);
	do_unmap("head_of_a", 0x100000, PG, 0);
	do_unmap("b_tail_over_hole", 0x111000, 0x100000, 0);
	do_unmap("from_hole_into_c", 0x1f0000, 0x11000, 0);
	do_map("d", va, 0x300000, 4 * PG, 3);
	do_map("e", va + 4 * PG, 0x304000, 4 * PG, 3);
	do_unmap("d_and_e_by_one_page_each", 0x300000, 0x5000, 0);
	do_unmap("all", 0, 0, VFIO_DMA_UNMAP_FLAG_ALL);
	errno = 0;
	rc = ioctl(cfd, VFIO_IOMMU_DIRTY_PAGES, &d);
	line("dirty", "start_v1", rc, NULL);
	printf("op=end\n");
	return 0;
}
