/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * common.h - the little the conformance probes share: the output line
 * format "op=<name> case=<label> ... rc=<rc> errno=<n>" and thin ioctl
 * wrappers that print what they did.
 */
#ifndef PROBE_COMMON_H
#define PROBE_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfio.h>

#define PG 4096ull

static int cfd = -1, gfd = -1;

static void line(const char *op, const char *label, long rc, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5), unused));
static void line(const char *op, const char *label, long rc, const char *fmt,
		 ...)
{
	int err = errno;
	va_list ap;

	printf("op=%s case=%s", op, label);
	if (fmt) {
		putchar(' ');
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf(" rc=%ld errno=%d\n", rc, rc < 0 ? err : 0);
	fflush(stdout);
}

static __attribute__((unused)) long do_map(const char *label, uint64_t va,
					   uint64_t iova, uint64_t size,
					   uint32_t flags)
{
	struct vfio_iommu_type1_dma_map m = { .argsz = sizeof(m),
					      .flags = flags,
					      .vaddr = va,
					      .iova = iova,
					      .size = size };
	long rc;

	errno = 0;
	rc = ioctl(cfd, VFIO_IOMMU_MAP_DMA, &m);
	line("map", label, rc, "iova=0x%llx size=0x%llx flags=0x%x",
	     (unsigned long long)iova, (unsigned long long)size, flags);
	return rc;
}

static __attribute__((unused)) long do_unmap(const char *label, uint64_t iova,
					     uint64_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .flags = flags, .iova = iova, .size = size
	};
	long rc;

	errno = 0;
	rc = ioctl(cfd, VFIO_IOMMU_UNMAP_DMA, &u);
	line("unmap", label, rc,
	     "iova=0x%llx size=0x%llx flags=0x%x out=0x%llx",
	     (unsigned long long)iova, (unsigned long long)size, flags,
	     (unsigned long long)u.size);
	return rc;
}

static __attribute__((unused)) void avail(const char *label)
{
	union {
		struct vfio_iommu_type1_info i;
		uint8_t raw[1024];
	} u;
	uint32_t off;
	long rc;

	memset(&u, 0, sizeof(u));
	u.i.argsz = sizeof(u);
	errno = 0;
	rc = ioctl(cfd, VFIO_IOMMU_GET_INFO, &u);
	for (off = u.i.cap_offset; rc == 0 && off && off < sizeof(u);) {
		struct vfio_info_cap_header *h = (void *)(u.raw + off);

		if (h->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL)
			printf("op=avail case=%s avail=%u\n", label,
			       ((struct vfio_iommu_type1_info_dma_avail *)h)
				       ->avail);
		off = h->next;
	}
	if (rc)
		line("info", label, rc, NULL);
}

/* Open container and group, put them together, set @type. */
static __attribute__((unused)) int setup(const char *group, int type)
{
	long rc;

	cfd = open("/dev/vfio/vfio", O_RDWR);
	gfd = open(group, O_RDWR);
	errno = 0;
	rc = ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &cfd);
	if (!rc)
		rc = ioctl(cfd, VFIO_SET_IOMMU, type);
	line("setup", "container", rc, "type=%d", type);
	return rc ? -1 : 0;
}

/*
 * setup() with a type1v2 backend, then the device file of @bdf; prints
 * both lines.  The device's descriptor, or -1.
 */
static __attribute__((unused)) int setup_device(const char *group,
						const char *bdf)
{
	int d;

	if (setup(group, VFIO_TYPE1v2_IOMMU))
		return -1;
	errno = 0;
	d = ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, bdf);
	line("device", "open", d < 0 ? -1 : 0, NULL);
	return d;
}

/* Where vfio-pci puts a PCI device's config space in its file. */
#define PROBE_CFG(off) ((7ull << 40) + (off))

/* The device's PCI command register: clear @clear, then set @set (memory
 * decoding 0x2, bus master 0x4). */
static __attribute__((unused)) void set_command(int d, uint16_t clear,
						uint16_t set)
{
	uint16_t cmd = 0;

	if (pread(d, &cmd, 2, PROBE_CFG(4)) == 2) {
		cmd = (uint16_t)((cmd & ~clear) | set);
		if (pwrite(d, &cmd, 2, PROBE_CFG(4)) != 2)
			printf("op=command_write_failed\n");
	}
}

/* A 4-byte read of the device's BAR0 at @off (all ones if it fails). */
static __attribute__((unused)) uint32_t bar_r32(int d, uint64_t off)
{
	uint32_t v = 0;

	return pread(d, &v, 4, (off_t)off) == 4 ? v : 0xffffffffu;
}

/* A 4-byte write to the device's BAR0 at @off; a failure is printed. */
static __attribute__((unused)) void bar_w32(int d, uint64_t off, uint32_t v)
{
	if (pwrite(d, &v, 4, (off_t)off) != 4)
		printf("op=pwrite_failed off=0x%llx\n",
		       (unsigned long long)off);
}

/* QEMU computes an edu factorial on a thread of its own: wait for the
 * status register's "computing" bit to clear. */
static __attribute__((unused)) void edu_wait_fact(int d)
{
	for (int i = 0; i < 200 && (bar_r32(d, 0x20) & 1); i++)
		usleep(5000);
}

/* One edu DMA of @cnt bytes (@cmd: 1 to the device, 3 to memory, | 4 for
 * an interrupt), then wait for the start bit to clear. */
static __attribute__((unused)) void edu_dma(int d, uint32_t src, uint32_t dst,
					    uint32_t cnt, uint32_t cmd)
{
	bar_w32(d, 0x80, src);
	bar_w32(d, 0x88, dst);
	bar_w32(d, 0x90, cnt);
	bar_w32(d, 0x98, cmd);
	for (int i = 0; i < 200 && (bar_r32(d, 0x98) & 1); i++)
		usleep(5000);
}

/* 1 MiB of touched anonymous memory for mappings; 0 on failure. */
static __attribute__((unused)) uint64_t probe_buffer(void)
{
	uint8_t *buf = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (buf == MAP_FAILED)
		return 0;
	memset(buf, 1, 1 << 20);
	return (uint64_t)(uintptr_t)buf;
}

/*
 * setup_device(), 1 MiB of buffer (*@buf) and the device's memory decoding
 * and bus mastering on: ready for edu DMAs.  The device's descriptor, or
 * -1.
 */
static __attribute__((unused)) int setup_dma(const char *group, const char *bdf,
					     uint8_t **buf)
{
	int d = setup_device(group, bdf);

	*buf = (uint8_t *)(uintptr_t)probe_buffer();
	if (d < 0 || !*buf)
		return -1;
	set_command(d, 0, 0x6);
	return d;
}

#endif
