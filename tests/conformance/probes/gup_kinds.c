/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gup_kinds.c - MAP_DMA of the kinds of user memory a program has, as
 * type1 pins them: read-only anonymous memory (never touched, and
 * touched) mapped for reading and for writing, PROT_NONE, a hole in the
 * middle of the range, a shared memfd mapping, a private read-only file
 * mapping mapped for writing, and memory unmapped by the program while
 * its DMA mapping stays.
 *
 *   gup_kinds /dev/vfio/<group> <pci-bdf>
 */
#include <sys/syscall.h>

#include "common.h"

#define IOVA 0x8000000ull

static uint64_t area(size_t len, int prot, int flags, int fd)
{
	void *p = mmap(NULL, len, prot, flags, fd, 0);

	return p == MAP_FAILED ? 0 : (uint64_t)(uintptr_t)p;
}

int main(int argc, char **argv)
{
	const int anon = MAP_PRIVATE | MAP_ANONYMOUS;
	uint64_t ro, rw, hole, shm, file, gone;
	volatile uint8_t sink = 0;
	int mfd;

	if (argc < 3 || setup(argv[1], VFIO_TYPE1v2_IOMMU))
		return 1;
	/* Read-only anonymous memory, never touched. */
	ro = area(4 * PG, PROT_READ, anon, -1);
	do_map("ro_untouched_w", ro, IOVA, 4 * PG, 3);
	do_map("ro_untouched_r", ro, IOVA, 4 * PG, 1);
	do_unmap("ro_untouched_r", IOVA, 4 * PG, 0);
	/* Read-only, after a read fault. */
	for (int i = 0; i < 4; i++)
		sink = (uint8_t)(sink +
				 ((volatile uint8_t *)(uintptr_t)ro)[i * PG]);
	do_map("ro_touched_w", ro, IOVA, 4 * PG, 3);
	do_map("ro_touched_r", ro, IOVA, 4 * PG, 1);
	do_unmap("ro_touched_r", IOVA, 4 * PG, 0);
	/* PROT_NONE. */
	rw = area(4 * PG, PROT_NONE, anon, -1);
	do_map("prot_none_r", rw, IOVA, 4 * PG, 1);
	/* A hole in the middle. */
	hole = area(4 * PG, PROT_READ | PROT_WRITE, anon, -1);
	munmap((void *)(uintptr_t)(hole + 2 * PG), PG);
	do_map("hole", hole, IOVA, 4 * PG, 3);
	do_map("before_hole", hole, IOVA, 2 * PG, 3);
	do_unmap("before_hole", IOVA, 2 * PG, 0);
	/* A shared memfd mapping. */
	mfd = (int)syscall(SYS_memfd_create, "probe", 0);
	if (mfd >= 0 && !ftruncate(mfd, 4 * PG)) {
		shm = area(4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, mfd);
		do_map("memfd_shared", shm, IOVA, 4 * PG, 3);
		do_unmap("memfd_shared", IOVA, 4 * PG, 0);
		file = area(4 * PG, PROT_READ, MAP_PRIVATE, mfd);
		do_map("file_private_ro_w", file, IOVA, 4 * PG, 3);
		do_map("file_private_ro_r", file, IOVA, 4 * PG, 1);
		do_unmap("file_private_ro_r", IOVA, 4 * PG, 0);
	}
	/* The program unmaps memory that is still DMA-mapped. */
	gone = area(4 * PG, PROT_READ | PROT_WRITE, anon | MAP_POPULATE, -1);
	do_map("to_be_unmapped", gone, IOVA, 4 * PG, 3);
	errno = 0;
	line("munmap", "dma_mapped", munmap((void *)(uintptr_t)gone, 4 * PG),
	     NULL);
	do_unmap("after_munmap", IOVA, 4 * PG, 0);
	(void)sink;
	printf("op=end\n");
	return 0;
}
