/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * edu_regs.c - the edu's registers beyond plain reads and writes: the
 * status register's writable bit, the factorial with and without its
 * interrupt, the DMA command register after a transfer, a DMA with its
 * interrupt bit, a DMA whose memory address has bits
 * above the 28-bit DMA mask, and a DMA with bus mastering off.
 *
 *   edu_regs /dev/vfio/<group> <pci-bdf>
 */
#include "common.h"

#define IOVA 0x3000000ull

static void regs(int d, const char *label)
{
	printf("op=regs case=%s fact=0x%08x status=0x%08x irq=0x%08x "
	       "dma_cmd=0x%08x\n",
	       label, bar_r32(d, 0x08), bar_r32(d, 0x20), bar_r32(d, 0x24),
	       bar_r32(d, 0x98));
}

int main(int argc, char **argv)
{
	uint8_t *buf;
	int d;

	if (argc < 3 || (d = setup_dma(argv[1], argv[2], &buf)) < 0)
		return 1;
	regs(d, "initial");
	bar_w32(d, 0x20, 0xffffffff);
	regs(d, "status_ones");
	bar_w32(d, 0x20, 0);
	bar_w32(d, 0x08, 6);
	edu_wait_fact(d);
	regs(d, "fact_6");
	bar_w32(d, 0x20, 0x80);
	bar_w32(d, 0x08, 4);
	edu_wait_fact(d);
	regs(d, "fact_4_irq");
	bar_w32(d, 0x64, 0xffffffff);
	bar_w32(d, 0x20, 0);
	regs(d, "acked");
	memset(buf, 0x44, PG);
	memset(buf + PG, 0, PG);
	do_map("src", (uint64_t)(uintptr_t)buf, IOVA, PG, 3);
	do_map("dst", (uint64_t)(uintptr_t)(buf + PG), IOVA + PG, PG, 3);
	edu_dma(d, IOVA, 0x40000, 16, 1);
	regs(d, "dma_to_dev");
	edu_dma(d, 0x40000, IOVA + PG, 16, 3 | 4);
	regs(d, "dma_to_ram_irq");
	printf("op=bytes case=to_ram b0=0x%02x b15=0x%02x b16=0x%02x\n",
	       buf[PG], buf[PG + 15], buf[PG + 16]);
	bar_w32(d, 0x64, 0xffffffff);
	memset(buf + PG, 0, PG);
	/* No zero-length DMA: QEMU's edu stops the VM with a hardware
	 * error ("DMA range ... out of bounds"). */
	edu_dma(d, 0x40000, 0xf0000000u | (uint32_t)(IOVA + PG), 8, 3);
	regs(d, "dma_above_mask");
	printf("op=bytes case=above_mask b0=0x%02x b7=0x%02x b8=0x%02x\n",
	       buf[PG], buf[PG + 7], buf[PG + 8]);
	memset(buf + PG, 0, PG);
	set_command(d, 0x6, 0x2);
	edu_dma(d, 0x40000, IOVA + PG, 8, 3);
	regs(d, "dma_no_master");
	printf("op=bytes case=no_master b0=0x%02x\n", buf[PG]);
	close(d);
	close(gfd);
	close(cfd);
	printf("op=end\n");
	return 0;
}
