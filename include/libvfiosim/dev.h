/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiosim/dev.h - mock devices that DMA through the simulated IOMMU.
 *
 * A vfiosim_device is a DMA engine behind one IOMMU device (requester id).
 * vfiosim_device_dma() translates every byte through the IOTLB and then
 * the IO page table, exactly as the hardware would, and moves the bytes of
 * backed frames.  A translation or permission fault is logged in the
 * IOMMU's fault log (a DMAR line) and returned as an error.  A DMA that
 * reaches a frame its domain's owner no longer holds is a DMA failure (use
 * after unmap / unpin / free): the model never lets it pass silently.
 *
 * What "held" means depends on the domain (see docs/hardware.md):
 *   - unmanaged domain (VFIO type1): the frame is pinned (page pincount
 *     > 0), or it has no refcount to hold: VFIOSIM_PAGE_RESERVED,
 *     VFIOSIM_PAGE_MMIO or the zero page (never written);
 *   - default DMA API domain: the frame is allocated (refcount > 0), or
 *     reserved / MMIO as above.
 */
#ifndef LIBVFIOSIM_DEV_H
#define LIBVFIOSIM_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvfiosim/iommu.h>
#include <libvfiosim/sim.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vfiosim_device;

/**
 * enum vfiosim_dma_dir - direction of a device DMA.
 * @VFIOSIM_DMA_READ: the device reads memory into @buf (DMA_TO_DEVICE).
 * @VFIOSIM_DMA_WRITE: the device writes @buf to memory (DMA_FROM_DEVICE).
 */
enum vfiosim_dma_dir {
	VFIOSIM_DMA_READ = 1,
	VFIOSIM_DMA_WRITE = 2,
};

/**
 * enum vfiosim_device_flags - behaviour switches of a device.
 * @VFIOSIM_DEVICE_FAULT_FAILS: besides logging a translation fault and
 *	returning its error, record a DMA failure ("unexpected fault"): for
 *	scenarios in which the device must never fault.
 */
enum vfiosim_device_flags {
	VFIOSIM_DEVICE_FAULT_FAILS = 1u << 0,
};

/**
 * struct vfiosim_dma_written - one CPU page written by device DMA.
 * @domain_id: DID of the domain the write went through.
 * @iova: IOVA of the page (aligned down to the CPU page size).
 * @pfn: the frame the page translated to (last write).
 * @writes: DMA writes that touched the page.
 */
struct vfiosim_dma_written {
	unsigned int domain_id;
	uint64_t iova;
	uint64_t pfn;
	uint64_t writes;
};

/**
 * vfiosim_device_create() - a mock device probed into @group.
 * @group: its IOMMU group.
 * @name: name for logs (copied; at most 31 bytes kept).
 * @out: the device.
 *
 * Takes the group mutex: call from a simulated thread.  Fault point
 * "dev.alloc" (and those of vfiosim_iommu_probe_device()).
 *
 * Return: 0, -EINVAL for NULL arguments, -ENOMEM.
 */
int vfiosim_device_create(struct vfiosim_iommu_group *group, const char *name,
			  struct vfiosim_device **out);

/**
 * vfiosim_device_destroy() - release the device from its group (if not done
 * yet) and free it.
 * @dev: the device (NULL does nothing).
 *
 * Takes the group mutex: call from a simulated thread.
 *
 * Return: 0.
 */
int vfiosim_device_destroy(struct vfiosim_device *dev);

/**
 * vfiosim_device_release() - iommu_release_device() for this device: it
 * stays allocated (its logs stay readable) but can no longer DMA.
 * @dev: the device.
 *
 * Return: 0, -EINVAL for NULL, -ENODEV if already released.
 */
int vfiosim_device_release(struct vfiosim_device *dev);

/**
 * vfiosim_device_iommu_device() - the device as the IOMMU sees it.
 * @dev: the device.
 *
 * Return: the IOMMU device, or NULL for NULL.
 */
struct vfiosim_iommu_device *
vfiosim_device_iommu_device(const struct vfiosim_device *dev);

/**
 * vfiosim_device_set_flags() - set enum vfiosim_device_flags.
 * @dev: the device.
 * @flags: the new flags.
 *
 * Return: 0, -EINVAL for NULL or unknown flags.
 */
int vfiosim_device_set_flags(struct vfiosim_device *dev, unsigned int flags);

/**
 * vfiosim_device_dma() - let the device DMA @len bytes at @iova.
 * @dev: the device.
 * @iova: first IOVA.
 * @buf: the device-side buffer: filled by a READ, the source of a WRITE.
 * @len: bytes (0 does nothing).
 * @dir: VFIOSIM_DMA_READ or VFIOSIM_DMA_WRITE.
 *
 * A scheduling point ("dma") comes first.  Then, leaf by leaf, each address
 * is translated through the IOTLB (a hit may be stale: an unmapped range
 * whose invalidation has not happened yet) or, on a miss, the page table
 * (filling the IOTLB).  A missing translation or permission is logged as
 * a fault and ends the DMA with an error; the bytes before the faulting
 * leaf have been transferred, like real hardware, and a READ fills the
 * rest of @buf with zeros (what QEMU's edu gets reading across into an
 * unmapped page on the oracle VM; QEMU's bus would go on past the hole,
 * which the edu's 4 KiB transfers cannot show).  Each CPU frame reached
 * is checked: one its domain's owner does not hold (see the file comment),
 * a freed one, or memory that does not exist is a DMA failure
 * (vfiosim_fail_at(VFIOSIM_FAIL_DMA)), at most one per call; the bytes of
 * backed frames move anyway, as they would on real hardware.  Every CPU
 * page written is recorded (vfiosim_device_written_get()).
 *
 * Return: 0 (also when a DMA failure was recorded: the hardware did the
 * transfer); -EINVAL for a NULL @dev, a NULL @buf with @len > 0, a bad
 * @dir or a range that wraps past 2^64; -ENODEV for a released device;
 * -EFAULT for a translation fault (no context, beyond the address width,
 * not mapped, MSI window); -EACCES for a permission fault (write to a
 * read-only mapping, read of a write-only one).
 */
int vfiosim_device_dma(struct vfiosim_device *dev, uint64_t iova, void *buf,
		       size_t len, enum vfiosim_dma_dir dir);

/**
 * vfiosim_device_fault_count() - faults this device has caused.
 * @dev: the device.
 *
 * Return: the count (0 for NULL).
 */
uint64_t vfiosim_device_fault_count(const struct vfiosim_device *dev);

/**
 * vfiosim_device_dma_failures() - DMA failures this device has caused.
 * @dev: the device.
 *
 * Return: the count (0 for NULL).
 */
uint64_t vfiosim_device_dma_failures(const struct vfiosim_device *dev);

/**
 * vfiosim_device_written_count() - distinct (domain, CPU page) pairs the
 * device has written since creation or the last clear.
 * @dev: the device.
 *
 * Return: the count (0 for NULL).
 */
size_t vfiosim_device_written_count(const struct vfiosim_device *dev);

/**
 * vfiosim_device_written_get() - the @i-th written page, in order of
 * (domain id, iova): the ground truth for dirty tracking.
 * @dev: the device.
 * @i: index, 0 = lowest.
 * @out: filled.
 *
 * Takes time linear in @i; use vfiosim_device_written_test() for a point
 * query.
 *
 * Return: 0, -EINVAL for NULL arguments, -ENOENT if @i is out of range.
 */
int vfiosim_device_written_get(const struct vfiosim_device *dev, size_t i,
			       struct vfiosim_dma_written *out);

/**
 * vfiosim_device_written_test() - did the device write the CPU page of
 * @iova through domain @domain_id?
 * @dev: the device.
 * @domain_id: the DID (vfiosim_iommu_domain_info.id).
 * @iova: any address in the page.
 *
 * Return: true if it did; false otherwise or for NULL.
 */
bool vfiosim_device_written_test(const struct vfiosim_device *dev,
				 unsigned int domain_id, uint64_t iova);

/**
 * vfiosim_device_written_clear() - forget the written pages.
 * @dev: the device.
 *
 * Return: 0, -EINVAL for NULL.
 */
int vfiosim_device_written_clear(struct vfiosim_device *dev);

#ifdef __cplusplus
}
#endif

#endif /* LIBVFIOSIM_DEV_H */
