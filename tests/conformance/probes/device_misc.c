/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * device_misc.c - the device ioctls a program meets besides info, regions
 * and interrupts: PCI hot-reset info, ioeventfd's checks,
 * VFIO_DEVICE_FEATURE (its checks, migration, low-power entry and exit,
 * the wake-up and VF-token features), and an
 * unknown request; and the group and container answering a device
 * request.
 *
 *   device_misc /dev/vfio/<group> <pci-bdf>
 */
#include "common.h"

static void ioeventfd(int d, const char *label, uint32_t flags, uint64_t offset,
		      int32_t fd)
{
	struct vfio_device_ioeventfd io;

	memset(&io, 0, sizeof(io));
	io.argsz = sizeof(io);
	io.flags = flags;
	io.offset = offset;
	io.data = 1;
	io.fd = fd;
	errno = 0;
	line("ioeventfd", label, ioctl(d, VFIO_DEVICE_IOEVENTFD, &io), NULL);
}

static void feature(int d, const char *label, uint32_t flags)
{
	union {
		struct vfio_device_feature f;
		uint8_t raw[64];
	} u;

	memset(&u, 0, sizeof(u));
	u.f.argsz = sizeof(u);
	u.f.flags = flags;
	errno = 0;
	line("feature", label, ioctl(d, VFIO_DEVICE_FEATURE, &u), NULL);
}

int main(int argc, char **argv)
{
	struct vfio_pci_hot_reset_info hr;
	int d;

	if (argc < 3 || (d = setup_device(argv[1], argv[2])) < 0)
		return 1;
	memset(&hr, 0, sizeof(hr));
	hr.argsz = sizeof(hr);
	errno = 0;
	line("hot_reset_info", "small",
	     ioctl(d, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hr),
	     "argsz=%u count=%u", hr.argsz, hr.count);
	hr.argsz = 8;
	errno = 0;
	line("hot_reset_info", "short",
	     ioctl(d, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hr), NULL);
	{
		struct vfio_pci_hot_reset r = { .argsz = sizeof(r) };

		errno = 0;
		line("hot_reset", "no_groups",
		     ioctl(d, VFIO_DEVICE_PCI_HOT_RESET, &r), NULL);
		r.flags = 1;
		errno = 0;
		line("hot_reset", "flags",
		     ioctl(d, VFIO_DEVICE_PCI_HOT_RESET, &r), NULL);
	}
	ioeventfd(d, "bar0_disable_none", VFIO_DEVICE_IOEVENTFD_32, 0x60, -1);
	ioeventfd(d, "bad_flags", 0x10 | VFIO_DEVICE_IOEVENTFD_32, 0x60, -1);
	ioeventfd(d, "two_sizes", 0x3, 0x60, -1);
	ioeventfd(d, "no_size", 0, 0x60, -1);
	ioeventfd(d, "fd_minus_2", VFIO_DEVICE_IOEVENTFD_32, 0x60, -2);
	ioeventfd(d, "past_bar0", VFIO_DEVICE_IOEVENTFD_32, 0xffffe, -1);
	ioeventfd(d, "empty_bar1", VFIO_DEVICE_IOEVENTFD_32, 1ull << 40, -1);
	ioeventfd(d, "rom", VFIO_DEVICE_IOEVENTFD_32, 6ull << 40, -1);
	feature(d, "probe_migration",
		VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
			VFIO_DEVICE_FEATURE_MIGRATION);
	feature(d, "probe_low_power",
		VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
			VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY);
	feature(d, "probe_unknown",
		VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET | 0x7fff);
	feature(d, "bad_flags", VFIO_DEVICE_FEATURE_GET | 0x10000000);
	feature(d, "get_and_set",
		VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET |
			VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY);
	feature(d, "low_power_get",
		VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY);
	feature(d, "low_power_no_op", VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY);
	feature(d, "low_power_exit_idle",
		VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_EXIT);
	feature(d, "low_power_entry",
		VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY);
	feature(d, "low_power_entry_again",
		VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY);
	feature(d, "low_power_exit",
		VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_EXIT);
	feature(d, "probe_wakeup",
		VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
			VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP);
	feature(d, "probe_vf_token",
		VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
			VFIO_DEVICE_FEATURE_PCI_VF_TOKEN);
	errno = 0;
	line("ioctl", "unknown", ioctl(d, _IO(VFIO_TYPE, VFIO_BASE + 60)),
	     NULL);
	errno = 0;
	line("ioctl", "group_gets_device_info",
	     ioctl(gfd, VFIO_DEVICE_GET_INFO, NULL), NULL);
	errno = 0;
	line("ioctl", "container_gets_device_info",
	     ioctl(cfd, VFIO_DEVICE_GET_INFO, NULL), NULL);
	close(d);
	printf("op=end\n");
	return 0;
}
