/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dma_edges.c - edu DMAs that cross from a mapped IOVA page into an
 * unmapped one: does the part before the hole move?  The device's buffer
 * is first filled with 0x11 from a mapped page; then it reads 64 bytes
 * starting 32 bytes before a hole and writes its buffer back to a fresh
 * page; then, its buffer refilled with 0x11, it writes 64 bytes starting
 * 32 bytes before the hole (the page before the hole marked 0x33 there).
 *
 *   dma_edges /dev/vfio/<group> <pci-bdf>
 */
#include "common.h"

#define IOVA 0x2000000ull

/* Bytes 0, 31, 32 and 63 of @p. */
static void show(const char *label, const uint8_t *p)
{
	printf("op=bytes case=%s b0=0x%02x b31=0x%02x b32=0x%02x b63=0x%02x\n",
	       label, p[0], p[31], p[32], p[63]);
}

int main(int argc, char **argv)
{
	uint8_t *buf;
	int d;

	if (argc < 3 || (d = setup_dma(argv[1], argv[2], &buf)) < 0)
		return 1;
	/* Pages: 0 fill source (0x11), 1 tail source (0x22), 2 landing. */
	memset(buf, 0x11, PG);
	memset(buf + PG, 0x22, PG);
	memset(buf + 2 * PG, 0, PG);
	do_map("fill", (uint64_t)(uintptr_t)buf, IOVA, PG, 3);
	do_map("tail", (uint64_t)(uintptr_t)(buf + PG), IOVA + PG, PG, 3);
	do_map("landing", (uint64_t)(uintptr_t)(buf + 2 * PG), IOVA + 4 * PG,
	       PG, 3);
	/* IOVA + 2 * PG is the hole. */
	edu_dma(d, IOVA, 0x40000, 64, 1);
	edu_dma(d, 0x40000, IOVA + 4 * PG, 64, 3);
	show("buffer_filled", buf + 2 * PG);
	memset(buf + 2 * PG, 0, PG);
	edu_dma(d, IOVA + 2 * PG - 32, 0x40000, 64, 1);
	edu_dma(d, 0x40000, IOVA + 4 * PG, 64, 3);
	show("read_into_hole", buf + 2 * PG);
	/* Refill the buffer with 0x11, mark the tail's last 32 bytes 0x33,
	 * clear the landing page: the write shows 0x11 where it landed. */
	edu_dma(d, IOVA, 0x40000, 64, 1);
	memset(buf + 2 * PG - 32, 0x33, 32);
	memset(buf + 2 * PG, 0, PG);
	edu_dma(d, 0x40000, IOVA + 2 * PG - 32, 64, 3);
	show("write_into_hole", buf + 2 * PG - 32);
	printf("op=status case=after value=0x%08x\n", bar_r32(d, 0x20));
	close(d);
	close(gfd);
	close(cfd);
	printf("op=end\n");
	return 0;
}
