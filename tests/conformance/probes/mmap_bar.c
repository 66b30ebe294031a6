/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mmap_bar.c - which mmap() calls on VFIO descriptors the kernel refuses
 * and with which errno: container and group files have no mmap; a device
 * file maps only its BARs that allow it, only MAP_SHARED, only within the
 * BAR.  The successful mapping itself is not compared (under the preload
 * shim a BAR cannot be mapped into the real process; see docs/uapi.md).
 *
 *   mmap_bar /dev/vfio/<group> <pci-bdf>
 */
#include "common.h"

#define IDX(i) ((off_t)(i) << 40)

static void try_map(int fd, const char *label, size_t len, int prot, int flags,
		    off_t off)
{
	void *p;

	errno = 0;
	p = mmap(NULL, len, prot, flags, fd, off);
	line("mmap", label, p == MAP_FAILED ? -1 : 0,
	     "len=0x%zx flags=0x%x off=0x%llx", len, flags,
	     (unsigned long long)off);
	if (p != MAP_FAILED)
		munmap(p, len);
}

int main(int argc, char **argv)
{
	const int rw = PROT_READ | PROT_WRITE;
	int dfd;

	if (argc < 3)
		return 2;
	if ((dfd = setup_device(argv[1], argv[2])) < 0)
		return 1;

	try_map(cfd, "container", PG, rw, MAP_SHARED, 0);
	try_map(gfd, "group", PG, rw, MAP_SHARED, 0);
	try_map(dfd, "zero_len", 0, rw, MAP_SHARED, IDX(0));
	try_map(dfd, "unaligned_off", PG, rw, MAP_SHARED, IDX(0) + 100);
	try_map(dfd, "private", PG, rw, MAP_PRIVATE, IDX(0));
	try_map(dfd, "bar1", PG, rw, MAP_SHARED, IDX(1));
	try_map(dfd, "bar5", PG, rw, MAP_SHARED, IDX(5));
	try_map(dfd, "rom", PG, PROT_READ, MAP_SHARED, IDX(6));
	try_map(dfd, "config", PG, rw, MAP_SHARED, IDX(7));
	try_map(dfd, "vga", PG, rw, MAP_SHARED, IDX(8));
	try_map(dfd, "index9", PG, rw, MAP_SHARED, IDX(9));
	try_map(dfd, "index200", PG, rw, MAP_SHARED, IDX(200));
	try_map(dfd, "too_long", 2 << 20, rw, MAP_SHARED, IDX(0));
	try_map(dfd, "past_end", 2 * PG, rw, MAP_SHARED,
		IDX(0) + (1 << 20) - PG);
	try_map(dfd, "beyond", PG, rw, MAP_SHARED, IDX(0) + (1 << 20));
	try_map(dfd, "validate_bad_flag", PG, rw,
		MAP_SHARED_VALIDATE | MAP_SYNC, IDX(0));
	try_map(dfd, "hugetlb", 2 << 20, rw, MAP_SHARED | MAP_HUGETLB, IDX(0));
	try_map(dfd, "growsdown", PG, rw, MAP_SHARED | MAP_GROWSDOWN, IDX(0));
	try_map(dfd, "private_bar1", PG, rw, MAP_PRIVATE, IDX(1));
	close(dfd);
	close(gfd);
	close(cfd);
	printf("op=end\n");
	return 0;
}
