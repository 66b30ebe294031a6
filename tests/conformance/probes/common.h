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

#endif
