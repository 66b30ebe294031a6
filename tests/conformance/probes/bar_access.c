/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bar_access.c - BAR0 of the edu through pread/pwrite with every access
 * size and some misaligned offsets: vfio-pci splits an access into
 * naturally aligned pieces of at most 4 bytes, and the edu answers each
 * piece by its size and offset (identification, liveness, factorial,
 * interrupt status, the DMA registers).
 *
 *   bar_access /dev/vfio/<group> <pci-bdf>
 */
#include "common.h"

/* One access: a read of @len bytes, or a write of @v when @write. */
struct step {
	const char *label;
	unsigned int off;
	size_t len;
	int write;
	uint64_t v;
};

static const struct step steps[] = {
	{ "ident_4", 0x00, 4, 0, 0 },
	{ "ident_1", 0x00, 1, 0, 0 },
	{ "ident_2", 0x00, 2, 0, 0 },
	{ "ident_1_at_3", 0x03, 1, 0, 0 },
	{ "ident_8", 0x00, 8, 0, 0 },
	{ "ident_4_at_2", 0x02, 4, 0, 0 },
	{ "live_4", 0x04, 4, 1, 0x12345678 },
	{ "live_4", 0x04, 4, 0, 0 },
	{ "live_2", 0x04, 2, 1, 0xabcd },
	{ "live_after_2", 0x04, 4, 0, 0 },
	{ "live_1", 0x04, 1, 1, 0xef },
	{ "live_after_1", 0x04, 4, 0, 0 },
	{ "fact_4", 0x08, 4, 1, 5 },
	{ "fact_4", 0x08, 4, 0, 0 },
	{ "status_4", 0x20, 4, 0, 0 },
	{ "raise_4", 0x60, 4, 1, 0x10 },
	{ "irq_status_4", 0x24, 4, 0, 0 },
	{ "ack_4", 0x64, 4, 1, 0x10 },
	{ "irq_status_after_ack", 0x24, 4, 0, 0 },
	{ "dma_src_8", 0x80, 8, 1, 0x1122334455667788ull },
	{ "dma_src_8", 0x80, 8, 0, 0 },
	{ "dma_src_4_hi", 0x84, 4, 0, 0 },
	{ "dma_src_4", 0x80, 4, 1, 0xaabbccdd },
	{ "dma_src_after_4", 0x80, 8, 0, 0 },
	{ "dma_cnt_2", 0x90, 2, 1, 0x1234 },
	{ "dma_cnt_8", 0x90, 8, 0, 0 },
	{ "unused_4", 0x100, 4, 0, 0 },
	{ "unused_8", 0x200, 8, 0, 0 },
};

static void run(int d, const struct step *st)
{
	uint8_t b[8];
	ssize_t n;

	errno = 0;
	if (st->write) {
		line("write", st->label, pwrite(d, &st->v, st->len, st->off),
		     NULL);
		if (st->off == 0x08)
			edu_wait_fact(d);
		return;
	}
	memset(b, 0x5a, sizeof(b));
	n = pread(d, b, st->len, st->off);
	line("read", st->label, n, "bytes=%02x%02x%02x%02x%02x%02x%02x%02x",
	     b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
}

int main(int argc, char **argv)
{
	int d;

	if (argc < 3 || (d = setup_device(argv[1], argv[2])) < 0)
		return 1;
	/* Memory decoding on (vfio-pci leaves it as the firmware set it). */
	set_command(d, 0, 0x2);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		run(d, &steps[i]);
	close(d);
	close(gfd);
	close(cfd);
	printf("op=end\n");
	return 0;
}
