/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * limits.c - dma_entry_limit and RLIMIT_MEMLOCK, with and without
 * CAP_IPC_LOCK.  Run on the kernel with dma_entry_limit=3 (the oracle's
 * ORACLE_TYPE1_OPTS, the preload's VFIOSIM_DMA_ENTRY_LIMIT).
 *
 *   limits /dev/vfio/<group> <pci-bdf>
 */
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "common.h"

static int set_ipc_lock(int on)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	if (on)
		d[0].effective |= 1u << CAP_IPC_LOCK;
	else
		d[0].effective &= ~(1u << CAP_IPC_LOCK);
	return (int)syscall(SYS_capset, &h, d);
}

int main(int argc, char **argv)
{
	struct rlimit rl = { 8 * PG, 8 * PG };
	uint64_t va;

	if (argc < 2 || setup(argv[1], VFIO_TYPE1v2_IOMMU))
		return 1;
	va = probe_buffer();
	if (!va)
		return 1;
	avail("start");
	do_map("one", va, 0x100000, PG, 3);
	do_map("two", va + PG, 0x101000, PG, 3);
	do_map("three", va + 2 * PG, 0x102000, PG, 3);
	do_map("four", va + 3 * PG, 0x103000, PG, 3);
	avail("full");
	do_unmap("all", 0, 0, VFIO_DMA_UNMAP_FLAG_ALL);
	avail("empty");
	line("setrlimit", "8_pages", setrlimit(RLIMIT_MEMLOCK, &rl), NULL);
	line("capset", "drop_ipc_lock", set_ipc_lock(0), NULL);
	do_map("16_pages_over_limit", va, 0x100000, 16 * PG, 3);
	do_map("8_pages_at_limit", va, 0x100000, 8 * PG, 3);
	do_map("1_more_page", va + 8 * PG, 0x108000, PG, 3);
	do_map("same_pages_again", va, 0x200000, PG, 3);
	line("capset", "restore_ipc_lock", set_ipc_lock(1), NULL);
	do_map("16_pages_with_cap", va + 16 * PG, 0x300000, 16 * PG, 3);
	do_unmap("all", 0, 0, VFIO_DMA_UNMAP_FLAG_ALL);
	printf("op=end\n");
	return 0;
}
