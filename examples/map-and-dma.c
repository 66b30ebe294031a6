/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * map-and-dma.c - a complete VFIO user in ~150 lines: open the container and
 * the group, set up type1, map a buffer, have the edu device copy data
 * through the IOMMU into it, and read the result.
 *
 * Built twice by meson:
 *   example-map-and-dma          plain open/ioctl/pread/pwrite: run it on a
 *                                real machine with an edu device, or under
 *                                LD_PRELOAD=libvfiosim-preload.so;
 *   example-map-and-dma-linked   the same code against libvfiosim directly
 *                                (-DVFIOSIM_LINKED): it builds the oracle
 *                                VM's machine itself and calls vfiosim_uapi_*.
 *
 *   example-map-and-dma [/dev/vfio/1 [0000:00:01.0]]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfio.h>

#ifdef VFIOSIM_LINKED
#include <libvfiosim/libvfiosim.h>

static struct vfiosim_world *w;
#define OPEN(path) vfiosim_uapi_open(w, (path), O_RDWR)
#define IOCTL(fd, req, arg) \
	vfiosim_uapi_ioctl(w, (fd), (req), (unsigned long)(arg))
#define PREAD(fd, b, n, off) vfiosim_uapi_pread(w, (fd), (b), (n), (off))
#define PWRITE(fd, b, n, off) vfiosim_uapi_pwrite(w, (fd), (b), (n), (off))
#define CLOSE(fd) vfiosim_uapi_close(w, (fd))

/* The kernel oracle's VM: one edu at 0000:00:01.0 in IOMMU group 1. */
static struct vfiosim_iommu *iommu;
static struct vfiosim_iommu_group *group;
static struct vfiosim_edu *edu;

static int machine_up(void)
{
	struct vfiosim_config cfg;
	struct vfiosim_mm *mm;

	vfiosim_config_init(&cfg);
	return vfiosim_world_create(&cfg, &w) || vfiosim_mm_host(w, &mm) ||
	       vfiosim_task_set_mm(vfiosim_world_main_task(w), mm) ||
	       vfiosim_iommu_create(w, NULL, &iommu) ||
	       vfiosim_iommu_group_alloc(iommu, &group) ||
	       vfiosim_edu_create(w, group, "0000:00:01.0", &edu) ||
	       vfiosim_uapi_add_group(w, 1, group) ||
	       vfiosim_uapi_add_edu(w, 1, edu);
}

static int machine_down(void)
{
	vfiosim_uapi_close_all(w);
	vfiosim_edu_destroy(edu);
	vfiosim_iommu_group_free(group);
	vfiosim_iommu_destroy(iommu);
	return vfiosim_world_destroy(w);
}
#else
#define OPEN(path) open((path), O_RDWR)
#define IOCTL(fd, req, arg) ioctl((fd), (req), (arg))
#define PREAD(fd, b, n, off) pread((fd), (b), (n), (off))
#define PWRITE(fd, b, n, off) pwrite((fd), (b), (n), (off))
#define CLOSE(fd) close(fd)
static int machine_up(void)
{
	return 0;
}
static int machine_down(void)
{
	return 0;
}
#endif

#define IOVA_SRC 0x100000ull
#define IOVA_DST 0x200000ull
#define EDU_BUF 0x40000u

static int die(const char *what)
{
	fprintf(stderr, "map-and-dma: %s: %s\n", what, strerror(errno));
	return 1;
}

static void reg_write(int dev, uint64_t bar, uint32_t reg, uint32_t v)
{
	if (PWRITE(dev, &v, 4, (off_t)(bar + reg)) != 4)
		fprintf(stderr, "map-and-dma: register 0x%x: %s\n", reg,
			strerror(errno));
}

static uint32_t reg_read(int dev, uint64_t bar, uint32_t reg)
{
	uint32_t v = 0;

	return PREAD(dev, &v, 4, (off_t)(bar + reg)) == 4 ? v : 0xffffffffu;
}

/* One edu DMA: 64 bytes between memory at @iova and the device buffer. */
static void edu_dma(int dev, uint64_t bar, uint64_t iova, int to_memory)
{
	reg_write(dev, bar, 0x80, to_memory ? EDU_BUF : (uint32_t)iova);
	reg_write(dev, bar, 0x88, to_memory ? (uint32_t)iova : EDU_BUF);
	reg_write(dev, bar, 0x90, 64);
	reg_write(dev, bar, 0x98, 1 | (to_memory ? 2 : 0));
	for (int i = 0; i < 100 && (reg_read(dev, bar, 0x98) & 1); i++)
		usleep(10000); /* a real edu DMAs from a timer */
}

int main(int argc, char **argv)
{
	const char *group_path = argc > 1 ? argv[1] : "/dev/vfio/1";
	const char *bdf = argc > 2 ? argv[2] : "0000:00:01.0";
	struct vfio_region_info bar = { .argsz = sizeof(bar),
					.index = VFIO_PCI_BAR0_REGION_INDEX };
	struct vfio_region_info cfg = { .argsz = sizeof(cfg),
					.index = VFIO_PCI_CONFIG_REGION_INDEX };
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE
	};
	uint32_t *src, *dst;
	uint16_t cmd;
	int c, g, dev, ok = 1;

	if (machine_up())
		return die("simulated machine");
	c = OPEN("/dev/vfio/vfio");
	g = OPEN(group_path);
	if (c < 0 || g < 0)
		return die("open");
	if (IOCTL(g, VFIO_GROUP_SET_CONTAINER, &c) ||
	    IOCTL(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return die("container");
	dev = (int)IOCTL(g, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (dev < 0 || IOCTL(dev, VFIO_DEVICE_GET_REGION_INFO, &bar) ||
	    IOCTL(dev, VFIO_DEVICE_GET_REGION_INFO, &cfg))
		return die("device");
	/* Let the device master the bus. */
	if (PREAD(dev, &cmd, 2, (off_t)cfg.offset + 4) != 2)
		return die("config read");
	cmd |= 4;
	if (PWRITE(dev, &cmd, 2, (off_t)cfg.offset + 4) != 2)
		return die("config write");

	/* Two pages of our own memory, mapped for the device. */
	src = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED)
		return die("mmap");
	dst = src + 1024;
	for (int i = 0; i < 16; i++)
		src[i] = 0xc0ffee00u + (uint32_t)i;
	memset(dst, 0, 64);
	map.vaddr = (uint64_t)(uintptr_t)src;
	map.iova = IOVA_SRC;
	map.size = 4096;
	if (IOCTL(c, VFIO_IOMMU_MAP_DMA, &map))
		return die("map source");
	map.vaddr = (uint64_t)(uintptr_t)dst;
	map.iova = IOVA_DST;
	if (IOCTL(c, VFIO_IOMMU_MAP_DMA, &map))
		return die("map destination");

	/* memory -> device buffer -> memory, through the IOMMU */
	edu_dma(dev, bar.offset, IOVA_SRC, 0);
	edu_dma(dev, bar.offset, IOVA_DST, 1);
	for (int i = 0; i < 16; i++)
		ok &= dst[i] == src[i];
	printf("edu 0x%08x copied 64 bytes through the IOMMU: %s "
	       "(first word 0x%08x)\n",
	       reg_read(dev, bar.offset, 0), ok ? "match" : "MISMATCH", dst[0]);

	CLOSE(dev);
	CLOSE(g);
	CLOSE(c);
	if (machine_down())
		ok = 0;
	return ok ? 0 : 1;
}
