/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * basic.c - a conformance probe of libvfiosim's own: one line per
 * operation, "op=<name> case=<label> ... rc=<rc> errno=<n>", run on the
 * real kernel (recorded in ../recorded/) and under libvfiosim-preload.so,
 * whose output must be the same.
 *
 *   basic /dev/vfio/<group> <pci-bdf>
 *
 * Covers what a VFIO user meets first: the container and group state
 * machine, SET_IOMMU, GET_INFO with its capability chain, MAP_DMA and
 * UNMAP_DMA validation and v2 rules, dirty tracking with the shifted-bits
 * behaviour, VADDR invalidation, and an edu DMA through the IOMMU.
 */
#include "common.h"

static void dirty(const char *label, uint32_t flags)
{
	struct vfio_iommu_type1_dirty_bitmap d = { .argsz = sizeof(d),
						   .flags = flags };
	long rc;

	errno = 0;
	rc = ioctl(cfd, VFIO_IOMMU_DIRTY_PAGES, &d);
	line("dirty", label, rc, "flags=0x%x", flags);
}

static void bitmap(const char *label, uint64_t iova, uint64_t size,
		   uint64_t bmsize)
{
	struct {
		struct vfio_iommu_type1_dirty_bitmap d;
		struct vfio_iommu_type1_dirty_bitmap_get g;
	} __attribute__((packed)) r;
	uint64_t bm[4] = { 0 };
	long rc;

	memset(&r, 0, sizeof(r));
	r.d.argsz = sizeof(r);
	r.d.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	r.g.iova = iova;
	r.g.size = size;
	r.g.bitmap.pgsize = PG;
	r.g.bitmap.size = bmsize;
	r.g.bitmap.data = (__u64 *)bm;
	errno = 0;
	rc = ioctl(cfd, VFIO_IOMMU_DIRTY_PAGES, &r);
	line("bitmap", label, rc,
	     "iova=0x%llx size=0x%llx bits=%016llx,%016llx",
	     (unsigned long long)iova, (unsigned long long)size,
	     (unsigned long long)bm[0], (unsigned long long)bm[1]);
}

static void info(const char *label, uint32_t argsz)
{
	union {
		struct vfio_iommu_type1_info i;
		uint8_t raw[1024];
	} u;
	uint32_t off;
	long rc;

	memset(&u, 0, sizeof(u));
	u.i.argsz = argsz;
	errno = 0;
	rc = ioctl(cfd, VFIO_IOMMU_GET_INFO, &u);
	line("info", label, rc, "argsz=%u flags=0x%x pgsizes=0x%llx cap=%u",
	     u.i.argsz, u.i.flags, (unsigned long long)u.i.iova_pgsizes,
	     u.i.cap_offset);
	/* 6.1 leaves the capabilities misaligned: read them as bytes. */
	for (off = u.i.cap_offset; rc == 0 && off && off < argsz;) {
		const uint8_t *p = u.raw + off;
		struct vfio_info_cap_header h;
		uint32_t v;

		memcpy(&h, p, sizeof(h));
		printf("op=cap case=%s at=%u id=%u next=%u", label, off, h.id,
		       h.next);
		if (h.id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
			memcpy(&v, p + 8, 4);
			printf(" avail=%u", v);
		}
		if (h.id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			memcpy(&v, p + 8, 4);
			for (uint32_t k = 0; k < v; k++) {
				uint64_t start, end;

				memcpy(&start, p + 16 + 16 * k, 8);
				memcpy(&end, p + 24 + 16 * k, 8);
				printf(" range=0x%llx-0x%llx",
				       (unsigned long long)start,
				       (unsigned long long)end);
			}
		}
		putchar('\n');
		off = h.next;
	}
}

static void exts(const char *label)
{
	for (int e = 1; e <= 10; e++) {
		long rc;

		errno = 0;
		rc = ioctl(cfd, VFIO_CHECK_EXTENSION, e);
		line("ext", label, rc, "ext=%d", e);
	}
}

static void status(const char *label)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	long rc;

	errno = 0;
	rc = ioctl(gfd, VFIO_GROUP_GET_STATUS, &st);
	line("status", label, rc, "flags=0x%x", st.flags);
}

/* The device copies 64 bytes from @src into its buffer and back to @dst. */
static void edu_copy(int d, uint64_t src, uint64_t dst)
{
	edu_dma(d, (uint32_t)src, 0x40000, 64, 1);
	edu_dma(d, 0x40000, (uint32_t)dst, 64, 3);
}

int main(int argc, char **argv)
{
	uint8_t *buf, *hole;
	uint64_t va;
	long rc;
	int bad = -1, d;

	if (argc < 3) {
		fprintf(stderr, "usage: basic /dev/vfio/N BDF\n");
		return 2;
	}
	cfd = open("/dev/vfio/vfio", O_RDWR);
	line("open", "container", cfd < 0 ? -1 : 0, NULL);
	errno = 0;
	rc = ioctl(cfd, VFIO_GET_API_VERSION);
	line("api", "version", rc, NULL);
	exts("empty");
	info("no_backend", sizeof(struct vfio_iommu_type1_info));
	gfd = open(argv[1], O_RDWR);
	line("open", "group", gfd < 0 ? -1 : 0, NULL);
	status("fresh");
	errno = 0;
	rc = ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &bad);
	line("set_container", "minus_one", rc, NULL);
	errno = 0;
	rc = ioctl(gfd, VFIO_GROUP_UNSET_CONTAINER);
	line("unset_container", "not_set", rc, NULL);
	errno = 0;
	rc = ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &cfd);
	line("set_container", "ok", rc, NULL);
	errno = 0;
	rc = ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, argv[2]);
	line("device_fd", "no_backend", rc < 0 ? rc : 0, NULL);
	errno = 0;
	rc = ioctl(cfd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU + 100);
	line("set_iommu", "bogus", rc, NULL);
	errno = 0;
	rc = ioctl(cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
	line("set_iommu", "v2", rc, NULL);
	exts("v2");
	status("with_backend");
	info("sizeof", sizeof(struct vfio_iommu_type1_info));
	info("big", 1024);

	buf = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	hole = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(hole, 4 * PG);
	if (buf == MAP_FAILED)
		return 1;
	memset(buf, 0x5a, 1 << 20);
	va = (uint64_t)(uintptr_t)buf;

	do_map("p", va, 0x200000, 8 * PG, 3);
	do_map("q", va + 8 * PG, 0x210000, 4 * PG, 3);
	do_map("overlap_p", va, 0x201000, PG, 3);
	do_map("hole_vaddr", (uint64_t)(uintptr_t)hole, 0x300000, PG, 3);
	do_map("write_only", va + 16 * PG, 0x400000, PG, 2);
	do_map("zero_flags", va, 0x500000, PG, 0);
	do_map("odd_size", va, 0x500000, PG + 512, 3);
	do_map("msi", va, 0xfee01000, PG, 3);
	do_map("top_of_39", va, (1ull << 39) - PG, PG, 3);
	do_map("past_39", va, 1ull << 39, PG, 3);
	info("after_maps", 1024);
	do_unmap("inside_p", 0x201000, PG, 0);
	do_unmap("p_and_hole", 0x200000, 0x10000, 0);
	do_unmap("q_exact", 0x210000, 4 * PG, 0);
	do_unmap("nothing_there", 0x800000, 0x10000, 0);
	do_unmap("top", (1ull << 39) - PG, PG, 0);
	do_unmap("odd_iova", 0x400800, PG, 0);

	dirty("stop_unstarted", VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	bitmap("unstarted", 0x400000, PG, 8);
	dirty("start", VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
	do_map("r", va + 32 * PG, 0x100000, 16 * PG, 3);
	bitmap("r", 0x100000, 16 * PG, 16);
	bitmap("r_from_minus_8", 0x0f8000, 24 * PG, 16);
	bitmap("r_again", 0x100000, 16 * PG, 16);
	bitmap("r_bisected", 0x101000, 15 * PG, 16);
	bitmap("write_only", 0x400000, PG, 8);
	dirty("both_flags", VFIO_IOMMU_DIRTY_PAGES_FLAG_START |
				    VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
	dirty("stop", VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);

	do_unmap("vaddr_r", 0x100000, 16 * PG, VFIO_DMA_UNMAP_FLAG_VADDR);
	do_map("vaddr_r_rw", va + 48 * PG, 0x100000, 16 * PG,
	       3 | VFIO_DMA_MAP_FLAG_VADDR);
	do_map("vaddr_r_short", va + 48 * PG, 0x100000, 8 * PG,
	       VFIO_DMA_MAP_FLAG_VADDR);
	do_map("vaddr_r", va + 48 * PG, 0x100000, 16 * PG,
	       VFIO_DMA_MAP_FLAG_VADDR);
	do_unmap("all", 0, 0, VFIO_DMA_UNMAP_FLAG_ALL);
	info("after_unmap_all", 1024);

	errno = 0;
	d = ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, argv[2]);
	line("device_fd", "ok", d < 0 ? d : 0, NULL);
	if (d >= 0) {
		struct vfio_region_info ri = {
			.argsz = sizeof(ri),
			.index = VFIO_PCI_CONFIG_REGION_INDEX,
		};
		uint16_t cmd = 0;
		uint32_t *src = (uint32_t *)(buf + 64 * PG);
		uint32_t *dst = (uint32_t *)(buf + 65 * PG);

		errno = 0;
		rc = ioctl(d, VFIO_DEVICE_GET_REGION_INFO, &ri);
		line("region", "config", rc, "size=0x%llx",
		     (unsigned long long)ri.size);
		if (pread(d, &cmd, 2, (off_t)ri.offset + 4) == 2) {
			cmd |= 4;
			rc = pwrite(d, &cmd, 2, (off_t)ri.offset + 4);
			line("busmaster", "on", rc == 2 ? 0 : -1, NULL);
		}
		printf("op=edu case=ident value=0x%08x\n", bar_r32(d, 0));
		for (int i = 0; i < 16; i++)
			src[i] = 0xfeed0000u + (uint32_t)i;
		memset(dst, 0, 64);
		do_map("edu_src", (uint64_t)(uintptr_t)src, 0x1000000, PG, 1);
		do_map("edu_dst", (uint64_t)(uintptr_t)dst, 0x1001000, PG, 3);
		edu_copy(d, 0x1000000, 0x1001000);
		printf("op=edu case=copied first=0x%08x last=0x%08x\n", dst[0],
		       dst[15]);
		memset(dst, 0, 64);
		do_unmap("edu_dst", 0x1001000, PG, 0);
		do_map("edu_dst_ro", (uint64_t)(uintptr_t)dst, 0x1001000, PG,
		       1);
		edu_copy(d, 0x1000000, 0x1001000);
		printf("op=edu case=readonly first=0x%08x\n", dst[0]);
		errno = 0;
		rc = ioctl(gfd, VFIO_GROUP_UNSET_CONTAINER);
		line("unset_container", "device_open", rc, NULL);
		close(d);
	}
	errno = 0;
	rc = ioctl(gfd, VFIO_GROUP_UNSET_CONTAINER);
	line("unset_container", "ok", rc, NULL);
	info("after_unset", 1024);
	close(gfd);
	close(cfd);
	printf("op=end\n");
	return 0;
}
