/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dma_after_munmap.c - the program unmaps memory that is still DMA-mapped
 * and maps a new page at the same address: the device's DMA must go to
 * the old (still pinned) page, not into the new one, and what it wrote
 * there can be read back by the device.
 *
 *   dma_after_munmap /dev/vfio/<group> <pci-bdf>
 */
#include "common.h"

#define IOVA 0x5000000ull

int main(int argc, char **argv)
{
	uint8_t *buf, *fresh;
	int d;

	if (argc < 3 || (d = setup_dma(argv[1], argv[2], &buf)) < 0)
		return 1;
	/* Pages: 0 source (0x55), 1 destination, 2 read-back landing. */
	memset(buf, 0x55, PG);
	memset(buf + PG, 0, 2 * PG);
	do_map("src", (uint64_t)(uintptr_t)buf, IOVA, PG, 3);
	do_map("dst", (uint64_t)(uintptr_t)(buf + PG), IOVA + PG, PG, 3);
	do_map("back", (uint64_t)(uintptr_t)(buf + 2 * PG), IOVA + 2 * PG, PG,
	       3);
	errno = 0;
	line("munmap", "dst", munmap(buf + PG, PG), NULL);
	fresh = mmap(buf + PG, PG, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	line("mmap", "same_address", fresh == buf + PG ? 0 : -1, NULL);
	if (fresh != buf + PG)
		return 1;
	memset(fresh, 0x77, PG);
	/* The device copies the source to the destination IOVA... */
	edu_dma(d, IOVA, 0x40000, 64, 1);
	edu_dma(d, 0x40000, IOVA + PG, 64, 3);
	printf("op=bytes case=new_page b0=0x%02x b63=0x%02x\n", fresh[0],
	       fresh[63]);
	/* ...and reads it back from there into the landing page. */
	memset(buf, 0x00, PG);
	edu_dma(d, IOVA + PG, 0x40000, 64, 1);
	edu_dma(d, 0x40000, IOVA + 2 * PG, 64, 3);
	printf("op=bytes case=read_back b0=0x%02x b63=0x%02x\n", buf[2 * PG],
	       buf[2 * PG + 63]);
	do_unmap("all", IOVA, 3 * PG, 0);
	close(d);
	printf("op=end\n");
	return 0;
}
