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

#define CFG(off) ((7ull << 40) + (off))
#define IOVA 0x2000000ull

static uint32_t r32(int d, uint64_t off)
{
	uint32_t v = 0;

	return pread(d, &v, 4, (off_t)off) == 4 ? v : 0xffffffffu;
}

static void w32(int d, uint64_t off, uint32_t v)
{
	if (pwrite(d, &v, 4, (off_t)off) != 4)
		printf("op=pwrite_failed off=0x%llx\n",
		       (unsigned long long)off);
}

/* One DMA of @cnt bytes; @to_ram: from the device's buffer to memory. */
static void dma(int d, uint64_t src, uint64_t dst, uint32_t cnt, int to_ram)
{
	w32(d, 0x80, (uint32_t)src);
	w32(d, 0x88, (uint32_t)dst);
	w32(d, 0x90, cnt);
	w32(d, 0x98, to_ram ? 3 : 1);
	for (int i = 0; i < 200 && (r32(d, 0x98) & 1); i++)
		usleep(5000);
}

/* Bytes 0, 31, 32 and 63 of @p. */
static void show(const char *label, const uint8_t *p)
{
	printf("op=bytes case=%s b0=0x%02x b31=0x%02x b32=0x%02x b63=0x%02x\n",
	       label, p[0], p[31], p[32], p[63]);
}

int main(int argc, char **argv)
{
	uint8_t *buf;
	uint16_t cmd;
	int d;

	if (argc < 3 || (d = setup_device(argv[1], argv[2])) < 0)
		return 1;
	buf = (uint8_t *)(uintptr_t)probe_buffer();
	if (!buf)
		return 1;
	if (pread(d, &cmd, 2, CFG(4)) == 2) {
		cmd |= 0x6; /* memory, bus master */
		pwrite(d, &cmd, 2, CFG(4));
	}
	/* Pages: 0 fill source (0x11), 1 tail source (0x22), 2 landing. */
	memset(buf, 0x11, PG);
	memset(buf + PG, 0x22, PG);
	memset(buf + 2 * PG, 0, PG);
	do_map("fill", (uint64_t)(uintptr_t)buf, IOVA, PG, 3);
	do_map("tail", (uint64_t)(uintptr_t)(buf + PG), IOVA + PG, PG, 3);
	do_map("landing", (uint64_t)(uintptr_t)(buf + 2 * PG), IOVA + 4 * PG,
	       PG, 3);
	/* IOVA + 2 * PG is the hole. */
	dma(d, IOVA, 0x40000, 64, 0);
	dma(d, 0x40000, IOVA + 4 * PG, 64, 1);
	show("buffer_filled", buf + 2 * PG);
	memset(buf + 2 * PG, 0, PG);
	dma(d, IOVA + 2 * PG - 32, 0x40000, 64, 0);
	dma(d, 0x40000, IOVA + 4 * PG, 64, 1);
	show("read_into_hole", buf + 2 * PG);
	/* Refill the buffer with 0x11, mark the tail's last 32 bytes 0x33,
	 * clear the landing page: the write shows 0x11 where it landed. */
	dma(d, IOVA, 0x40000, 64, 0);
	memset(buf + 2 * PG - 32, 0x33, 32);
	memset(buf + 2 * PG, 0, PG);
	dma(d, 0x40000, IOVA + 2 * PG - 32, 64, 1);
	show("write_into_hole", buf + 2 * PG - 32);
	printf("op=status case=after value=0x%08x\n", r32(d, 0x20));
	close(d);
	close(gfd);
	close(cfd);
	printf("op=end\n");
	return 0;
}
