/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * two_groups.c - a second group joins a container that already has
 * mappings: they must reach its device (the kernel reuses a compatible
 * domain or replays the mappings into a new one), and it leaves again.
 *
 *   two_groups /dev/vfio/<group> <pci-bdf>
 *
 * The second device is the next edu (1234:11e8) found in sysfs, bound to
 * vfio-pci by the probe itself (it runs as root in the oracle VM: start the
 * VM with ORACLE_QEMU_EXTRA="-device edu"); where there is none (under the
 * simulator) it is /dev/vfio/2 with 0000:00:02.0.
 */
#include <dirent.h>
#include <stdlib.h>

#include "common.h"

static int gfd2 = -1;

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n < 0 ? -1 : 0;
}

/* The second edu and its group, bound to vfio-pci; 0 when found. */
static int second_device(const char *first, char *bdf, char *group)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *de;
	char path[512], link[512];
	int found = -1;

	if (!d) {
		strcpy(bdf, "0000:00:02.0");
		strcpy(group, "/dev/vfio/2");
		return 0;
	}
	while (found && (de = readdir(d))) {
		char ven[16] = "", dev[16] = "";
		FILE *f;

		if (de->d_name[0] == '.' || !strcmp(de->d_name, first))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor",
			 de->d_name);
		if ((f = fopen(path, "r"))) {
			if (!fgets(ven, sizeof(ven), f))
				ven[0] = 0;
			fclose(f);
		}
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device",
			 de->d_name);
		if ((f = fopen(path, "r"))) {
			if (!fgets(dev, sizeof(dev), f))
				dev[0] = 0;
			fclose(f);
		}
		if (strncmp(ven, "0x1234", 6) || strncmp(dev, "0x11e8", 6))
			continue;
		snprintf(bdf, 300, "%s", de->d_name);
		found = 0;
	}
	closedir(d);
	if (found) { /* no second edu on this machine's PCI bus */
		strcpy(bdf, "0000:00:02.0");
		strcpy(group, "/dev/vfio/2");
		return 0;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind",
		 bdf);
	write_file(path, bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override",
		 bdf);
	write_file(path, "vfio-pci");
	write_file("/sys/bus/pci/drivers_probe", bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
		 bdf);
	memset(link, 0, sizeof(link));
	if (readlink(path, link, sizeof(link) - 1) < 0)
		return -1;
	snprintf(group, 300, "/dev/vfio/%s", strrchr(link, '/') + 1);
	for (int i = 0; i < 50 && access(group, F_OK); i++)
		usleep(100000);
	return 0;
}

/* Device @d copies 64 bytes from @src to its buffer and on to @dst. */
static void copy(int d, uint64_t src, uint64_t dst)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri),
				       .index = VFIO_PCI_CONFIG_REGION_INDEX };
	uint16_t cmd = 0;

	if (!ioctl(d, VFIO_DEVICE_GET_REGION_INFO, &ri) &&
	    pread(d, &cmd, 2, (off_t)ri.offset + 4) == 2) {
		cmd |= 4;
		if (pwrite(d, &cmd, 2, (off_t)ri.offset + 4) != 2)
			printf("op=busmaster_failed\n");
	}
	edu_dma(d, (uint32_t)src, 0x40000, 64, 1);
	edu_dma(d, 0x40000, (uint32_t)dst, 64, 3);
}

int main(int argc, char **argv)
{
	char bdf2[300], group2[300];
	uint32_t *src, *dst;
	uint64_t va;
	long rc;
	int d1, d2;

	if (argc < 3 || setup(argv[1], VFIO_TYPE1v2_IOMMU))
		return 1;
	va = probe_buffer();
	if (!va)
		return 1;
	src = (uint32_t *)(uintptr_t)va;
	dst = src + 1024;
	for (int i = 0; i < 16; i++)
		src[i] = 0xab000000u + (uint32_t)i;
	do_map("src", va, 0x100000, PG, 3);
	do_map("dst", va + PG, 0x101000, PG, 3);
	avail("one_group");
	if (second_device(argv[2], bdf2, group2)) {
		printf("op=fatal reason=no_second_edu\n");
		return 1;
	}
	gfd2 = open(group2, O_RDWR);
	line("open", "group2", gfd2 < 0 ? -1 : 0, NULL);
	errno = 0;
	rc = ioctl(gfd2, VFIO_GROUP_SET_CONTAINER, &cfd);
	line("set_container", "group2_joins", rc, NULL);
	avail("two_groups");
	d2 = ioctl(gfd2, VFIO_GROUP_GET_DEVICE_FD, bdf2);
	line("device_fd", "second", d2 < 0 ? -1 : 0, NULL);
	memset(dst, 0, 64);
	copy(d2, 0x100000, 0x101000);
	printf("op=copy case=second_device first=0x%08x last=0x%08x\n", dst[0],
	       dst[15]);
	do_map("after_join", va + 2 * PG, 0x102000, PG, 3);
	memset(dst, 0, 64);
	d1 = ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, argv[2]);
	line("device_fd", "first", d1 < 0 ? -1 : 0, NULL);
	copy(d1, 0x100000, 0x102000);
	printf("op=copy case=first_device_new_map first=0x%08x\n", src[2048]);
	close(d2);
	errno = 0;
	rc = ioctl(gfd2, VFIO_GROUP_UNSET_CONTAINER);
	line("unset_container", "group2_leaves", rc, NULL);
	memset(dst, 0, 64);
	copy(d1, 0x100000, 0x101000);
	printf("op=copy case=first_device_after_leave first=0x%08x\n", dst[0]);
	do_unmap("all", 0, 0, VFIO_DMA_UNMAP_FLAG_ALL);
	close(d1);
	close(gfd2);
	printf("op=end\n");
	return 0;
}
