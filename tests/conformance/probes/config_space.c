/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config_space.c - the device's config space as vfio-pci shows it: every
 * dword of the 256 bytes (vfio-pci virtualizes the header and the
 * capabilities), then BAR0 sized (all ones written, read back, restored),
 * a write to the read-only vendor ID, and the command register's writable
 * bits.
 *
 *   config_space /dev/vfio/<group> <pci-bdf>
 */
#include "common.h"

static uint32_t rd32(int d, unsigned int off)
{
	uint32_t v = 0;

	if (pread(d, &v, 4, PROBE_CFG(off)) != 4)
		return 0xdeadbeef;
	return v;
}

/* Write @len bytes of @v at @off, print the dword there afterwards. */
static void wr(int d, const char *op, const char *label, unsigned int off,
	       uint32_t v, size_t len)
{
	long rc;

	errno = 0;
	rc = pwrite(d, &v, len, PROBE_CFG(off));
	line(op, label, rc, "value=0x%08x", rd32(d, off & ~3u));
}

int main(int argc, char **argv)
{
	uint32_t v, bar0;
	char label[32];
	int d;

	if (argc < 3 || (d = setup_device(argv[1], argv[2])) < 0)
		return 1;
	for (unsigned int off = 0; off < 256; off += 4) {
		v = rd32(d, off);
		snprintf(label, sizeof(label), "0x%02x", off);
		line("cfg", label, 0, "value=0x%08x", v);
	}
	bar0 = rd32(d, 0x10);
	wr(d, "bar0", "write_ones", 0x10, 0xffffffff, 4);
	wr(d, "bar0", "restore", 0x10, bar0, 4);
	wr(d, "vendor", "write", 0x00, 0x12341234, 4);
	wr(d, "command", "write_ones", 0x04, 0xffff, 2);
	wr(d, "command", "write_zero", 0x04, 0, 2);
	close(d);
	close(gfd);
	close(cfd);
	printf("op=end\n");
	return 0;
}
