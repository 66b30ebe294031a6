/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiosim/uapi.h - the user-visible surface: /dev/vfio/vfio, /dev/vfio/N
 * and their ioctls with the structs of <linux/vfio.h>, following the
 * syscalls' conventions: -1 and errno on failure.
 *
 * File descriptors are real descriptors of this process (each one reserves
 * a descriptor of /dev/null), so they never collide with the program's own
 * files and an fd that is not ours is told apart from one that is not open
 * at all, as the kernel does (-EINVAL versus -EBADF).  Pointers in ioctl
 * arguments are this process's memory and are accessed as copy_from_user()
 * and copy_to_user() would: a bad pointer is EFAULT, never a crash.
 *
 * Device files: vfio-pci's view of a mock edu device (VFIO_GROUP_GET_DEVICE_FD
 * by PCI address, GET_INFO, GET_REGION_INFO, GET_IRQ_INFO, SET_IRQS,
 * FEATURE, IOEVENTFD, GET_PCI_HOT_RESET_INFO, PCI_HOT_RESET, RESET, and
 * pread/pwrite of the config space and BAR0 at the regions' offsets; what
 * is not modelled is listed in docs/uapi.md).
 */
#ifndef LIBVFIOSIM_UAPI_H
#define LIBVFIOSIM_UAPI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libvfiosim/edu.h>
#include <libvfiosim/iommu.h>
#include <libvfiosim/sim.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * vfiosim_uapi_add_group() - make /dev/vfio/@id appear for @group (its
 * devices are bound to VFIO drivers).
 * @w: the world.
 * @id: the group number.
 * @group: the IOMMU group.
 *
 * Return: 0, -EINVAL (NULL, negative @id), -EEXIST (@id taken), -ENOMEM.
 */
int vfiosim_uapi_add_group(struct vfiosim_world *w, int id,
			   struct vfiosim_iommu_group *group);

/**
 * vfiosim_uapi_add_edu() - let VFIO_GROUP_GET_DEVICE_FD of /dev/vfio/@id
 * open @edu by its name (its PCI address).
 * @w: the world.
 * @id: the group number (vfiosim_uapi_add_group() first).
 * @edu: the device, which must be in that group.
 *
 * Return: 0, -EINVAL, -ENOENT (no such group), -EEXIST (name taken),
 * -ENOMEM.
 */
int vfiosim_uapi_add_edu(struct vfiosim_world *w, int id,
			 struct vfiosim_edu *edu);

/**
 * vfiosim_uapi_set_dma_entry_limit() - vfio_iommu_type1's dma_entry_limit
 * module parameter (65535 by default), read when a backend is set.
 * @w: the world.
 * @limit: the value.
 *
 * Return: 0, -EINVAL, -ENOMEM.
 */
int vfiosim_uapi_set_dma_entry_limit(struct vfiosim_world *w,
				     unsigned int limit);

/**
 * vfiosim_uapi_open() - open(2) of "/dev/vfio/vfio" or "/dev/vfio/N".
 * @w: the world.
 * @path: the path.
 * @flags: O_RDWR and friends (not checked, as VFIO does not).
 *
 * Return: a file descriptor, or -1 with errno ENOENT (no such node), EBUSY
 * (the group is open already), EMFILE/ENFILE (no descriptor), ENOMEM,
 * EINVAL.
 */
int vfiosim_uapi_open(struct vfiosim_world *w, const char *path, int flags);

/**
 * vfiosim_uapi_close() - close(2): the container is released with its
 * last user, the group leaves its container.
 * @w: the world.
 * @fd: a descriptor from vfiosim_uapi_open().
 *
 * Return: 0, or -1 with errno EBADF.
 */
int vfiosim_uapi_close(struct vfiosim_world *w, int fd);

/**
 * vfiosim_uapi_close_all() - close every VFIO descriptor still open, newest
 * first, as process exit does (the world's teardown does it too).
 * @w: the world.
 */
void vfiosim_uapi_close_all(struct vfiosim_world *w);

/**
 * vfiosim_uapi_ioctl() - ioctl(2) on a VFIO descriptor.
 * @w: the world.
 * @fd: the descriptor.
 * @request: VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU,
 *	VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA,
 *	VFIO_IOMMU_DIRTY_PAGES (container); VFIO_GROUP_GET_STATUS,
 *	VFIO_GROUP_SET_CONTAINER, VFIO_GROUP_UNSET_CONTAINER,
 *	VFIO_GROUP_GET_DEVICE_FD (group); VFIO_DEVICE_GET_INFO,
 *	VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_GET_IRQ_INFO,
 *	VFIO_DEVICE_SET_IRQS, VFIO_DEVICE_FEATURE, VFIO_DEVICE_IOEVENTFD,
 *	VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, VFIO_DEVICE_PCI_HOT_RESET,
 *	VFIO_DEVICE_RESET (device).
 * @arg: the argument: an integer or a pointer, as the request says.
 *
 * Return: what the kernel's ioctl returns (0, a value), or -1 with the
 * kernel's errno: EBADF (not an open descriptor), ENOTTY (an open
 * descriptor that is not a VFIO file, or an unknown request), EFAULT,
 * EINVAL, and each request's own.
 */
long vfiosim_uapi_ioctl(struct vfiosim_world *w, int fd, unsigned long request,
			unsigned long arg);

/**
 * vfiosim_uapi_pread() - pread(2): on a device file, from the region
 * @offset >> 40 at @offset & (2^40 - 1); container and group files have no
 * read operation.
 *
 * Return: bytes read, or -1 with errno EBADF (not ours), EINVAL (no such
 * region, beyond it, not a device file), EFAULT.
 */
ssize_t vfiosim_uapi_pread(struct vfiosim_world *w, int fd, void *buf,
			   size_t count, off_t offset);

/**
 * vfiosim_uapi_pwrite() - pwrite(2): on a device file, to a region, as
 * vfiosim_uapi_pread() reads.
 *
 * Return: bytes written, or -1 with errno EBADF, EINVAL, EFAULT.
 */
ssize_t vfiosim_uapi_pwrite(struct vfiosim_world *w, int fd, const void *buf,
			    size_t count, off_t offset);

/**
 * vfiosim_uapi_mmap() - mmap(2) of a VFIO descriptor: a device's BAR into
 * the calling task's simulated mm, as vfio-pci maps it (a VM_IO |
 * VM_PFNMAP mapping of the BAR's frames, which lie past the end of the
 * world's memory and have no struct page).  Such a mapping can be given to
 * VFIO_IOMMU_MAP_DMA (peer-to-peer DMA): type1 maps the frames without
 * pinning or charging locked_vm, as Linux does.
 * @w: the world.
 * @addr: hint, or the address with MAP_FIXED / MAP_FIXED_NOREPLACE.
 * @len: bytes (rounded up to the page size).
 * @prot: PROT_READ, PROT_WRITE, PROT_EXEC.
 * @flags: MAP_SHARED or MAP_SHARED_VALIDATE, optionally MAP_FIXED or
 *	MAP_FIXED_NOREPLACE.
 * @fd: a device descriptor.
 * @offset: region index << 40 plus the page-aligned offset in the region.
 *
 * The descriptor and flag checks are Linux 6.1's, in its order (mmap's
 * own, then vfio_pci_core_mmap()'s); the placement checks of a MAP_FIXED
 * address (alignment, range, the lowest address, an existing mapping) come
 * after them here, before them in Linux.  The task's mm must be a
 * simulated one: with a host mm (the preload shim) the descriptor and flag
 * checks are made, no placement check, and a mapping that passes them is
 * refused with ENODEV, since the simulator cannot put device registers
 * into the real process.  Use vfiosim_uapi_munmap() or
 * vfiosim_munmap() to unmap.
 *
 * Return: the address, or MAP_FAILED with errno EBADF (not a VFIO
 * descriptor), EINVAL (unaligned @offset, zero @len, MAP_ANONYMOUS,
 * MAP_HUGETLB, MAP_GROWSDOWN, not
 * MAP_SHARED, not an mmap-able BAR, beyond the BAR, a bad MAP_FIXED
 * address), ENOMEM, EOVERFLOW, EOPNOTSUPP (MAP_SHARED_VALIDATE with an
 * unknown flag), ENODEV (container or group descriptor; a host mm), EEXIST
 * (MAP_FIXED_NOREPLACE over a mapping), EPERM (MAP_FIXED below
 * VFIOSIM_MMAP_MIN_ADDR).
 */
void *vfiosim_uapi_mmap(struct vfiosim_world *w, void *addr, size_t len,
			int prot, int flags, int fd, off_t offset);

/**
 * vfiosim_uapi_munmap() - munmap(2) in the calling task's simulated mm.
 * @w: the world.
 * @addr: page-aligned start.
 * @len: bytes.
 *
 * Return: 0, or -1 with errno EINVAL (as vfiosim_munmap(); also a host
 * mm).
 */
int vfiosim_uapi_munmap(struct vfiosim_world *w, void *addr, size_t len);

/**
 * vfiosim_uapi_is_vfio_fd() - whether @fd is one of the world's VFIO files.
 *
 * Return: the predicate.
 */
int vfiosim_uapi_is_vfio_fd(struct vfiosim_world *w, int fd);

#ifdef __cplusplus
}
#endif

#endif /* LIBVFIOSIM_UAPI_H */
