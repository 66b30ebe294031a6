/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * info_bytes.c - which bytes of the caller's struct the info ioctls write:
 * VFIO_IOMMU_GET_INFO with argsz 16, 18, 20 and 24 (too small for the
 * capability chain) and with room for the chain, the struct pre-filled
 * with 0xaa, printing bytes 16..23 (cap_offset and pad); and
 * VFIO_DEVICE_GET_REGION_INFO of BAR0 and of config space with cap_offset
 * pre-set, printing what comes back; VFIO_DEVICE_GET_INFO with argsz 16
 * and 24, pre-filled, printing bytes 16..23 (cap_offset and pad); and
 * VFIO_DEVICE_RESET of a device without a reset method (edu); the other
 * regions (ROM, VGA, an index past the last) and every IRQ index.
 *
 *   info_bytes /dev/vfio/<group> <pci-bdf>
 */
#include "common.h"

/*
 * Call @req on @fd with a struct pre-filled with 0xaa and its argsz set to
 * @argsz; *@b16_23 gets bytes 16..23 afterwards, in hex.
 */
static long info_call(int fd, unsigned long req, uint32_t argsz, void *raw,
		      size_t size, char b16_23[17])
{
	uint8_t *b = raw;
	long rc;

	memset(raw, 0xaa, size);
	memcpy(raw, &argsz, sizeof(argsz));
	errno = 0;
	rc = ioctl(fd, req, raw);
	for (int i = 0; i < 8; i++)
		snprintf(b16_23 + 2 * i, 3, "%02x", b[16 + i]);
	return rc;
}

static void get_info(const char *label, uint32_t argsz)
{
	struct vfio_iommu_type1_info
		i[4096 / sizeof(struct vfio_iommu_type1_info)];
	char b[17];
	long rc = info_call(cfd, VFIO_IOMMU_GET_INFO, argsz, i, sizeof(i), b);

	line("get_info", label, rc, "argsz=%u flags=0x%x b16_23=%s", i[0].argsz,
	     i[0].flags, b);
}

static void device_info(int d, const char *label, uint32_t argsz)
{
	struct vfio_device_info i[2];
	char b[17];
	long rc = info_call(d, VFIO_DEVICE_GET_INFO, argsz, i, sizeof(i), b);

	line("device_info", label, rc,
	     "argsz=%u flags=0x%x regions=%u irqs=%u b16_23=%s", i[0].argsz,
	     i[0].flags, i[0].num_regions, i[0].num_irqs, b);
}

static void irq_info(int d, const char *label, uint32_t index)
{
	struct vfio_irq_info ii;
	long rc;

	memset(&ii, 0xaa, sizeof(ii));
	ii.argsz = sizeof(ii);
	ii.index = index;
	errno = 0;
	rc = ioctl(d, VFIO_DEVICE_GET_IRQ_INFO, &ii);
	line("irq_info", label, rc, "flags=0x%x count=0x%x", ii.flags,
	     ii.count);
}

static void region(int d, const char *label, uint32_t index)
{
	struct vfio_region_info ri;
	long rc;

	memset(&ri, 0, sizeof(ri));
	ri.argsz = sizeof(ri);
	ri.index = index;
	ri.cap_offset = 0x12345678;
	errno = 0;
	rc = ioctl(d, VFIO_DEVICE_GET_REGION_INFO, &ri);
	line("region_info", label, rc,
	     "argsz=%u flags=0x%x cap_offset=0x%x size=0x%llx", ri.argsz,
	     ri.flags, ri.cap_offset, (unsigned long long)ri.size);
}

int main(int argc, char **argv)
{
	int d;

	if (argc < 3 || setup(argv[1], VFIO_TYPE1v2_IOMMU))
		return 1;
	get_info("argsz_16", 16);
	get_info("argsz_18", 18);
	get_info("argsz_20", 20);
	get_info("argsz_24", 24);
	get_info("argsz_4096", 4096);
	errno = 0;
	d = ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, argv[2]);
	line("device", "open", d < 0 ? -1 : 0, NULL);
	if (d < 0)
		return 1;
	device_info(d, "argsz_16", 16);
	device_info(d, "argsz_24", 24);
	errno = 0;
	line("device", "reset", ioctl(d, VFIO_DEVICE_RESET), NULL);
	region(d, "bar0", VFIO_PCI_BAR0_REGION_INDEX);
	region(d, "config", VFIO_PCI_CONFIG_REGION_INDEX);
	region(d, "bar1", VFIO_PCI_BAR1_REGION_INDEX);
	region(d, "rom", VFIO_PCI_ROM_REGION_INDEX);
	region(d, "vga", VFIO_PCI_VGA_REGION_INDEX);
	region(d, "index_9", 9);
	device_info(d, "argsz_15", 15);
	irq_info(d, "intx", VFIO_PCI_INTX_IRQ_INDEX);
	irq_info(d, "msi", VFIO_PCI_MSI_IRQ_INDEX);
	irq_info(d, "msix", VFIO_PCI_MSIX_IRQ_INDEX);
	irq_info(d, "err", VFIO_PCI_ERR_IRQ_INDEX);
	irq_info(d, "req", VFIO_PCI_REQ_IRQ_INDEX);
	irq_info(d, "index_5", 5);
	close(d);
	close(gfd);
	close(cfd);
	printf("op=end\n");
	return 0;
}
