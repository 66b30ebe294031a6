/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * region_rw.c - pread/pwrite of a device's regions at their edges: config
 * space past or across its end (vfio-pci answers EFAULT), BAR0 past or
 * across its end (EINVAL; a short count), and BAR0 while the command
 * register's memory bit is clear (EIO).
 *
 *   region_rw /dev/vfio/<group> <pci-bdf>
 */
#include "common.h"

#define BAR0(off) (0ull + (off))

int main(int argc, char **argv)
{
	uint8_t b[16] = { 0 };
	uint16_t cmd = 0;
	ssize_t n;
	int d;

	if (argc < 3 || (d = setup_device(argv[1], argv[2])) < 0)
		return 1;
	errno = 0;
	n = pread(d, b, 4, PROBE_CFG(0x100));
	line("cfg_read", "at_end", n, NULL);
	errno = 0;
	n = pread(d, b, 8, PROBE_CFG(0xfc));
	line("cfg_read", "across_end", n, NULL);
	errno = 0;
	n = pwrite(d, b, 8, PROBE_CFG(0xfc));
	line("cfg_write", "across_end", n, NULL);
	errno = 0;
	n = pread(d, b, 4, BAR0(0x100000));
	line("bar_read", "at_end", n, NULL);
	errno = 0;
	n = pread(d, b, 8, BAR0(0xffffc));
	line("bar_read", "across_end", n, NULL);
	errno = 0;
	n = pread(d, &cmd, 2, PROBE_CFG(4));
	line("cfg_read", "command", n, "cmd=0x%x", cmd);
	cmd &= (uint16_t)~0x2; /* PCI_COMMAND_MEMORY */
	errno = 0;
	n = pwrite(d, &cmd, 2, PROBE_CFG(4));
	line("cfg_write", "memory_off", n, NULL);
	errno = 0;
	n = pread(d, b, 4, BAR0(0));
	line("bar_read", "memory_off", n, NULL);
	close(d);
	close(gfd);
	close(cfd);
	printf("op=end\n");
	return 0;
}
