/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lifecycle.c - closing the files in the orders programs do: the group
 * file closed while a device file is open (the device keeps working; can
 * the group be opened again meanwhile?), the container file closed while
 * the group still holds it, a second open of the container node, and the
 * group opened again after everything is closed (the old container and
 * its mappings are gone).
 *
 *   lifecycle /dev/vfio/<group> <pci-bdf>
 */
#include "common.h"

static void status(int g, const char *label)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	long rc;

	errno = 0;
	rc = ioctl(g, VFIO_GROUP_GET_STATUS, &st);
	line("status", label, rc, "flags=0x%x", st.flags);
}

static long open_path(const char *label, const char *path)
{
	long fd;

	errno = 0;
	fd = open(path, O_RDWR);
	line("open", label, fd < 0 ? -1 : 0, NULL);
	return fd;
}

int main(int argc, char **argv)
{
	uint64_t buf;
	uint32_t v = 0;
	long g2, c2, rc;
	int d;

	if (argc < 3 || (d = setup_device(argv[1], argv[2])) < 0)
		return 1;
	buf = probe_buffer();
	do_map("before_closes", buf, 0x4000000, 4 * PG, 3);
	/* The group file goes first: the device file keeps working. */
	errno = 0;
	line("close", "group", close(gfd), NULL);
	errno = 0;
	rc = pread(d, &v, 4, 0);
	line("device_read", "group_closed", rc, "ident=0x%08x", v);
	g2 = open_path("group_again_device_open", argv[1]);
	if (g2 >= 0) {
		status((int)g2, "reopened");
		close((int)g2);
	}
	/* The container file next: the group still holds the container. */
	errno = 0;
	line("close", "container", close(cfd), NULL);
	c2 = open_path("container_again", "/dev/vfio/vfio");
	if (c2 >= 0) {
		errno = 0;
		rc = ioctl((int)c2, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU);
		line("check_extension", "new_container", rc, NULL);
	}
	errno = 0;
	line("close", "device", close(d), NULL);
	g2 = open_path("group_after_all", argv[1]);
	if (g2 >= 0) {
		status((int)g2, "after_all");
		if (c2 >= 0) {
			errno = 0;
			rc = ioctl((int)g2, VFIO_GROUP_SET_CONTAINER, &c2);
			line("set_container", "new", rc, NULL);
			errno = 0;
			rc = ioctl((int)c2, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
			line("set_iommu", "new", rc, NULL);
			cfd = (int)c2;
			/* The old mapping went with the old container. */
			do_unmap("old_mapping", 0x4000000, 4 * PG, 0);
			do_map("again", buf, 0x4000000, 4 * PG, 3);
		}
		close((int)g2);
	}
	if (c2 >= 0)
		close((int)c2);
	printf("op=end\n");
	return 0;
}
