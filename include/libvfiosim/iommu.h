/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiosim/iommu.h - simulated IOMMU hardware and its driver API.
 *
 * The iommu layer models what drivers/iommu/iommu.c offers its users (the
 * VFIO type1 backend above all): domains with real multi-level IO page
 * tables, iommu_map()/iommu_unmap() with their contracts, an IOTLB that is
 * flushed strictly or through a flush queue, IOMMU groups with a default
 * (DMA API) domain, attach/detach of unmanaged domains and device
 * probe/release.  The hardware is suspicious of its caller, like the
 * iommufd selftest mock domain: mapping over a live entry, unmapping what
 * was never mapped and freeing a domain that still maps something are
 * reported as failures (WARN, LEAK), never silently accepted.
 *
 * Vocabulary: an IOVA range is [iova, iova + size) (end exclusive) or
 * [start, last] (last inclusive); a range may end at 2^addr_width - 1 and
 * no computation overflows there.  Physical addresses are bytes
 * (pfn << page_shift of the mm layer), because the IO page size may differ
 * from the CPU page size.  See docs/hardware.md for a guide.
 */
#ifndef LIBVFIOSIM_IOMMU_H
#define LIBVFIOSIM_IOMMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvfiosim/config.h>
#include <libvfiosim/sim.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vfiosim_iommu;
struct vfiosim_iommu_domain;
struct vfiosim_iommu_group;
struct vfiosim_iommu_device;

/* Mapping protections, the kernel's IOMMU_* values. */
#define VFIOSIM_IOMMU_READ (1u << 0)
#define VFIOSIM_IOMMU_WRITE (1u << 1)
#define VFIOSIM_IOMMU_CACHE (1u << 2)
#define VFIOSIM_IOMMU_NOEXEC (1u << 3)
#define VFIOSIM_IOMMU_MMIO (1u << 4)

/**
 * enum vfiosim_iommu_domain_type - what a domain is for.
 * @VFIOSIM_IOMMU_DOMAIN_UNMANAGED: owned by a user such as VFIO type1
 *	(IOMMU_DOMAIN_UNMANAGED); attached with vfiosim_iommu_attach_group().
 * @VFIOSIM_IOMMU_DOMAIN_DMA: a group's default domain, used by the host's
 *	DMA API (IOMMU_DOMAIN_DMA / DMA_FQ); one per group, made and freed
 *	with the group.
 */
enum vfiosim_iommu_domain_type {
	VFIOSIM_IOMMU_DOMAIN_UNMANAGED = 1,
	VFIOSIM_IOMMU_DOMAIN_DMA = 2,
};

/**
 * enum vfiosim_iommu_cap - capabilities, as iommu_capable() reports them.
 * @VFIOSIM_IOMMU_CAP_CACHE_COHERENCY: IOMMU_CAP_CACHE_COHERENCY.
 * @VFIOSIM_IOMMU_CAP_INTR_REMAP: IRQ_DOMAIN_FLAG_ISOLATED_MSI / interrupt
 *	remapping.
 * @VFIOSIM_IOMMU_CAP_DIRTY_TRACKING: hardware dirty bits in leaf entries.
 */
enum vfiosim_iommu_cap {
	VFIOSIM_IOMMU_CAP_CACHE_COHERENCY = 1,
	VFIOSIM_IOMMU_CAP_INTR_REMAP = 2,
	VFIOSIM_IOMMU_CAP_DIRTY_TRACKING = 3,
};

/**
 * struct vfiosim_iotlb_gather - invalidations collected by
 * vfiosim_iommu_unmap_fast() until vfiosim_iommu_iotlb_sync()
 * (struct iommu_iotlb_gather).
 * @start: first IOVA to invalidate.
 * @last: last IOVA to invalidate (inclusive).
 * @pgsize: largest leaf size unmapped.
 * @empty: nothing gathered yet.
 */
struct vfiosim_iotlb_gather {
	uint64_t start;
	uint64_t last;
	uint64_t pgsize;
	bool empty;
};

/**
 * vfiosim_iotlb_gather_init() - iommu_iotlb_gather_init(): make @g empty.
 * @g: the gather.
 */
static inline void vfiosim_iotlb_gather_init(struct vfiosim_iotlb_gather *g)
{
	g->start = UINT64_MAX;
	g->last = 0;
	g->pgsize = 0;
	g->empty = true;
}

/**
 * struct vfiosim_iommu_mapping - one leaf entry of an IO page table.
 * @iova: first IOVA the leaf maps (aligned to @size).
 * @size: bytes the leaf maps (an IO page size of the pgsize_bitmap).
 * @phys: physical address @iova maps to.
 * @prot: VFIOSIM_IOMMU_READ / _WRITE / _CACHE of the entry.
 * @level: table level of the leaf (0 = smallest pages).
 * @dirty: the hardware dirty bit (set by device writes when dirty
 *	tracking is configured).
 */
struct vfiosim_iommu_mapping {
	uint64_t iova;
	uint64_t size;
	uint64_t phys;
	unsigned int prot;
	unsigned int level;
	bool dirty;
};

/**
 * struct vfiosim_iommu_domain_info - a domain's geometry and contents.
 * @type: enum vfiosim_iommu_domain_type.
 * @id: domain id (DID), unique in the IOMMU, never reused.
 * @aperture_start: first usable IOVA (domain->geometry.aperture_start).
 * @aperture_end: last usable IOVA, inclusive (geometry.aperture_end, which
 *	the kernel also names "end" but treats as inclusive).
 * @pgsize_bitmap: supported IO page sizes.
 * @levels: levels of the IO page table.
 * @mapped_bytes: bytes mapped by live leaf entries.
 * @leaves: live leaf entries.
 * @table_pages: page-table pages in use, the root included.
 * @groups: groups attached (unmanaged) or using it (default domain).
 */
struct vfiosim_iommu_domain_info {
	unsigned int type;
	unsigned int id;
	uint64_t aperture_start;
	uint64_t aperture_end;
	uint64_t pgsize_bitmap;
	unsigned int levels;
	uint64_t mapped_bytes;
	uint64_t leaves;
	uint64_t table_pages;
	unsigned int groups;
};

/**
 * struct vfiosim_iommu_stats - counters of one IOMMU since its creation.
 * @maps: successful map calls.
 * @unmaps: unmap calls that removed something.
 * @table_pages: page-table pages in use now (all domains).
 * @table_pages_peak: the most ever in use at once.
 * @superpage_whole_unmaps: unmaps that removed a whole superpage although
 *	the request covered only part of it.
 * @iotlb_hits: translations served by the IOTLB.
 * @iotlb_misses: translations that walked the page table.
 * @iotlb_evictions: IOTLB entries replaced (LRU) to make room.
 * @iotlb_stale_hits: IOTLB hits whose translation the page table no longer
 *	holds (a use of a stale entry: unmapped, not yet invalidated).
 * @flushes: invalidation commands issued to the hardware.
 * @flush_ranges: ... of which range (page-selective) invalidations.
 * @flush_all: ... of which domain-wide invalidations.
 * @flush_cost_ns: virtual cost of those commands (@flushes times
 *	vfiosim_iommu_config.flush_cost_ns).
 * @fq_queued: invalidations queued in deferred mode.
 * @fq_flushes: flush-queue drains (each one domain-wide flush per domain).
 * @fq_full: ... of which because the queue was full.
 * @fq_timeouts: ... of which because the timeout expired.
 * @faults: DMA faults logged.
 * @dma_bytes: bytes moved by device DMA.
 */
struct vfiosim_iommu_stats {
	uint64_t maps;
	uint64_t unmaps;
	uint64_t table_pages;
	uint64_t table_pages_peak;
	uint64_t superpage_whole_unmaps;
	uint64_t iotlb_hits;
	uint64_t iotlb_misses;
	uint64_t iotlb_evictions;
	uint64_t iotlb_stale_hits;
	uint64_t flushes;
	uint64_t flush_ranges;
	uint64_t flush_all;
	uint64_t flush_cost_ns;
	uint64_t fq_queued;
	uint64_t fq_flushes;
	uint64_t fq_full;
	uint64_t fq_timeouts;
	uint64_t faults;
	uint64_t dma_bytes;
};

/**
 * enum vfiosim_dma_fault_reason - why a DMA translation failed, with the
 * VT-d fault reason code it is logged as.
 * @VFIOSIM_DMA_FAULT_NO_CONTEXT: 0x02, the device has no domain (released
 *	or never attached).
 * @VFIOSIM_DMA_FAULT_BEYOND_AW: 0x04, the address is beyond the address
 *	width.
 * @VFIOSIM_DMA_FAULT_NO_WRITE: 0x05, a write through a non-present or
 *	read-only entry.
 * @VFIOSIM_DMA_FAULT_NO_READ: 0x06, a read through a non-present or
 *	write-only entry.
 * @VFIOSIM_DMA_FAULT_INTR: 0x25 (interrupt-remapping class), a DMA into an
 *	MSI window of the reserved regions: an interrupt message, not memory.
 */
enum vfiosim_dma_fault_reason {
	VFIOSIM_DMA_FAULT_NO_CONTEXT = 0x02,
	VFIOSIM_DMA_FAULT_BEYOND_AW = 0x04,
	VFIOSIM_DMA_FAULT_NO_WRITE = 0x05,
	VFIOSIM_DMA_FAULT_NO_READ = 0x06,
	VFIOSIM_DMA_FAULT_INTR = 0x25,
};

/**
 * struct vfiosim_dma_fault - one entry of the IOMMU's fault log.
 * @device: name of the device (as given to vfiosim_iommu_probe_device()).
 * @requester: its requester id, "00:<n>.0".
 * @iova: the faulting address (the first byte of the access that faulted).
 * @write: the access was a write (a DMA from the device to memory).
 * @present: the entry existed (a permission fault, not a missing one).
 * @reason: enum vfiosim_dma_fault_reason.
 * @domain_id: DID of the domain the device used (0 if none).
 * @time: virtual time of the fault, ns.
 * @line: the fault as the kernel's DMAR driver prints it, one line.
 */
struct vfiosim_dma_fault {
	char device[32];
	char requester[16];
	uint64_t iova;
	bool write;
	bool present;
	unsigned int reason;
	unsigned int domain_id;
	uint64_t time;
	char line[192];
};

/* ------------------------------------------------------------- hardware */

/**
 * vfiosim_iommu_create() - create an IOMMU (one DMAR unit).
 * @w: the world.
 * @cfg: geometry and behaviour; NULL means the world's
 *	vfiosim_config.iommu.  Copied.
 * @out: the new IOMMU.
 *
 * @cfg->addr_width must be 39, 48 or 57.  The lowest bit of
 * @cfg->pgsize_bitmap is the IO page size (the table granule, 4 KiB to
 * 64 KiB, independent of the CPU page size); every other bit must be the
 * size a table level maps (granule << (level * (granule_shift - 3))).
 * Reserved regions must lie inside the address width.  Fault point
 * "iommu.alloc".
 *
 * Return: 0, -EINVAL (NULL argument or invalid configuration), -ENOMEM.
 */
int vfiosim_iommu_create(struct vfiosim_world *w,
			 const struct vfiosim_iommu_config *cfg,
			 struct vfiosim_iommu **out);

/**
 * vfiosim_iommu_destroy() - destroy an IOMMU that has no groups and no
 * domains left.
 * @iommu: the IOMMU (NULL does nothing).
 *
 * Return: 0, -EBUSY if groups or unmanaged domains remain (nothing is
 * freed then).
 */
int vfiosim_iommu_destroy(struct vfiosim_iommu *iommu);

/**
 * vfiosim_iommu_capable() - iommu_capable().
 * @iommu: the IOMMU.
 * @cap: the capability.
 *
 * Return: true if @iommu has @cap; false otherwise or for NULL.
 */
bool vfiosim_iommu_capable(const struct vfiosim_iommu *iommu,
			   enum vfiosim_iommu_cap cap);

/**
 * vfiosim_iommu_get_stats() - read the IOMMU's counters.
 * @iommu: the IOMMU.
 * @out: filled.
 *
 * Return: 0, -EINVAL for NULL arguments.
 */
int vfiosim_iommu_get_stats(struct vfiosim_iommu *iommu,
			    struct vfiosim_iommu_stats *out);

/**
 * vfiosim_iommu_flush_queue_flush() - drain the flush queue now (the
 * flush-queue timer firing, or fq_flush_iotlb() on demand).
 * @iommu: the IOMMU.
 *
 * In strict mode the queue is always empty.
 *
 * Return: the number of queued invalidations carried out, -EINVAL for NULL.
 */
int vfiosim_iommu_flush_queue_flush(struct vfiosim_iommu *iommu);

/**
 * vfiosim_iommu_flush_queue_pending() - invalidations waiting in the
 * flush queue.
 * @iommu: the IOMMU.
 *
 * Checks the queue's timeout first, as every operation does: a queue whose
 * timeout has passed is drained, and 0 is returned.
 *
 * Return: the count (0 for NULL or in strict mode).
 */
unsigned int vfiosim_iommu_flush_queue_pending(struct vfiosim_iommu *iommu);

/**
 * vfiosim_iommu_fault_count() - entries in the IOMMU's fault log.
 * @iommu: the IOMMU.
 *
 * Return: the count (0 for NULL).
 */
size_t vfiosim_iommu_fault_count(const struct vfiosim_iommu *iommu);

/**
 * vfiosim_iommu_fault_get() - read entry @i (0 = oldest) of the fault log.
 * @iommu: the IOMMU.
 * @i: index.
 * @out: filled.
 *
 * Return: 0, -EINVAL for NULL arguments, -ENOENT if @i is out of range.
 */
int vfiosim_iommu_fault_get(const struct vfiosim_iommu *iommu, size_t i,
			    struct vfiosim_dma_fault *out);

/* -------------------------------------------------------------- domains */

/**
 * vfiosim_iommu_domain_alloc() - iommu_domain_alloc() / iommu_paging_
 * domain_alloc(): a new, empty unmanaged domain.
 * @iommu: the IOMMU.
 * @out: the domain.
 *
 * The root table page is allocated at once (fault points "iommu.alloc" and
 * "mm.phys_alloc").
 *
 * Return: 0, -EINVAL for NULL arguments, -ENOMEM.
 */
int vfiosim_iommu_domain_alloc(struct vfiosim_iommu *iommu,
			       struct vfiosim_iommu_domain **out);

/**
 * vfiosim_iommu_domain_free() - iommu_domain_free() of an unmanaged domain.
 * @domain: the domain (NULL does nothing).
 *
 * A domain that still has live mappings is reported as a LEAK failure (the
 * iommufd mock's "destroy must find the tables empty") and its tables are
 * freed anyway, like the kernel frees them.  Invalidations of the domain
 * still in the flush queue are carried out first.
 *
 * Return: 0, -EINVAL for a default (DMA API) domain, which belongs to its
 * group, -EBUSY (and a WARN failure) if groups are still attached: then
 * nothing is freed.
 */
int vfiosim_iommu_domain_free(struct vfiosim_iommu_domain *domain);

/**
 * vfiosim_iommu_domain_get_info() - a domain's geometry and contents.
 * @domain: the domain.
 * @out: filled.
 *
 * Return: 0, -EINVAL for NULL arguments.
 */
int vfiosim_iommu_domain_get_info(const struct vfiosim_iommu_domain *domain,
				  struct vfiosim_iommu_domain_info *out);

/**
 * vfiosim_iommu_domain_iommu() - the IOMMU a domain belongs to.
 * @domain: the domain.
 *
 * Return: the IOMMU, or NULL for NULL.
 */
struct vfiosim_iommu *
vfiosim_iommu_domain_iommu(const struct vfiosim_iommu_domain *domain);

/**
 * vfiosim_iommu_map() - iommu_map(): map [@iova, @iova + @size) to
 * [@paddr, @paddr + @size).
 * @domain: the domain.
 * @iova: first IOVA; aligned to the IO page size.
 * @paddr: first physical byte; aligned to the IO page size.
 * @size: bytes; a non-zero multiple of the IO page size.
 * @prot: VFIOSIM_IOMMU_READ and/or _WRITE, optionally _CACHE, _NOEXEC,
 *	_MMIO.
 *
 * Each piece is mapped with the largest page size of the pgsize_bitmap that
 * the alignment of iova and paddr and the remaining size allow
 * (iommu_pgsize()).  The range must be free: mapping over a live entry is
 * a WARN failure and -EEXIST (io-pgtable's answer).  On any error nothing
 * stays mapped (what was mapped is unmapped again) and table pages made on
 * the way are freed.  Fault points "iommu.map" (checked first),
 * "iommu.alloc" and "mm.phys_alloc" (table pages).
 *
 * Return: 0; -EINVAL for a NULL domain, unaligned @iova, @paddr or @size,
 * @size 0, no READ/WRITE in @prot, unknown @prot bits, or a range that
 * overlaps a reserved region (also a WARN failure: the caller should have
 * excluded it); -EFAULT when the range leaves the aperture (address
 * width) or wraps; -EEXIST when part of it is already mapped; -ENOMEM.
 */
int vfiosim_iommu_map(struct vfiosim_iommu_domain *domain, uint64_t iova,
		      uint64_t paddr, uint64_t size, unsigned int prot);

/**
 * vfiosim_iommu_unmap() - iommu_unmap(): unmap [@iova, @iova + @size) and
 * invalidate the IOTLB (strict mode) or queue the invalidation (deferred
 * mode).
 * @domain: the domain.
 * @iova: first IOVA; aligned to the IO page size.
 * @size: bytes; a non-zero multiple of the IO page size.
 *
 * Every leaf the range touches is removed whole: unmapping part of a
 * superpage removes the whole superpage, and the return value says so (it
 * counts the superpage's full size, so it may exceed @size).  The walk stops
 * at the first IOVA that is not mapped (as the kernel's loop stops when a
 * driver unmaps nothing); reaching such a hole is a WARN failure ("unmap
 * of an IOVA that was never mapped").  Page-table pages left empty are
 * freed.
 *
  * Return: the bytes unmapped (0 if @iova itself was not mapped); -EINVAL
 * for a NULL domain, unaligned @iova or @size, or @size 0 (the kernel logs
 * "unaligned" and returns 0 there); -EFAULT when the range leaves the
 * aperture or wraps.
 */
int64_t vfiosim_iommu_unmap(struct vfiosim_iommu_domain *domain, uint64_t iova,
			    uint64_t size);

/**
 * vfiosim_iommu_unmap_fast() - iommu_unmap_fast(): like
 * vfiosim_iommu_unmap() but the IOTLB is not invalidated: the range is
 * added to @gather, and the caller must call vfiosim_iommu_iotlb_sync()
 * before it may reuse or release the pages.  Until then a device can still
 * reach them through the IOTLB.
 * @domain: the domain.
 * @iova: first IOVA; aligned to the IO page size.
 * @size: bytes; a non-zero multiple of the IO page size.
 * @gather: collects the invalidation.
 *
 * Return: as vfiosim_iommu_unmap(); -EINVAL also for a NULL @gather.
 */
int64_t vfiosim_iommu_unmap_fast(struct vfiosim_iommu_domain *domain,
				 uint64_t iova, uint64_t size,
				 struct vfiosim_iotlb_gather *gather);

/**
 * vfiosim_iommu_iotlb_sync() - iommu_iotlb_sync(): invalidate what @gather
 * collected (strict mode) or queue it in the flush queue (deferred mode),
 * then make @gather empty.
 * @domain: the domain the gather was filled for.
 * @gather: the gather (an empty one does nothing).
 *
 * Return: 0, -EINVAL for NULL arguments.
 */
int vfiosim_iommu_iotlb_sync(struct vfiosim_iommu_domain *domain,
			     struct vfiosim_iotlb_gather *gather);

/**
 * vfiosim_iommu_flush_iotlb_all() - iommu_flush_iotlb_all(): invalidate
 * every IOTLB entry of @domain now, in either mode (queued invalidations
 * of the domain are dropped: they are covered).
 * @domain: the domain.
 *
 * Return: 0, -EINVAL for NULL.
 */
int vfiosim_iommu_flush_iotlb_all(struct vfiosim_iommu_domain *domain);

/**
 * vfiosim_iommu_iova_to_phys() - iommu_iova_to_phys(), from the page
 * table (never from the IOTLB).
 * @domain: the domain.
 * @iova: the address.
 * @phys: the physical address @iova maps to.
 *
 * Return: 0, -EINVAL for NULL arguments, -ENOENT if @iova is not mapped
 * (including beyond the aperture).
 */
int vfiosim_iommu_iova_to_phys(struct vfiosim_iommu_domain *domain,
			       uint64_t iova, uint64_t *phys);

/**
 * vfiosim_iommu_lookup() - the leaf entry mapping @iova, as the iommufd
 * selftest's MD_CHECK_MAP would see it.
 * @domain: the domain.
 * @iova: the address.
 * @out: filled.
 *
 * Return: 0, -EINVAL for NULL arguments, -ENOENT if @iova is not mapped.
 */
int vfiosim_iommu_lookup(struct vfiosim_iommu_domain *domain, uint64_t iova,
			 struct vfiosim_iommu_mapping *out);

/**
 * vfiosim_iommu_lookup_run() - where @iova is mapped and for how long the
 * mapping stays physically contiguous: the answer of type1's loop that
 * calls iommu_iova_to_phys() page after page (across leaves of any size,
 * whatever their permissions), reading the page table once.
 * @domain: the domain.
 * @iova: the address.
 * @len: the most bytes to look at from @iova.
 * @phys: out, the physical address of @iova.
 * @run: out, bytes from @iova (at most @len) over which IOVA + k maps
 *	@phys + k.
 *
 * Return: 0, -EINVAL (NULL arguments, @len 0), -ENOENT if @iova is not
 * mapped or lies beyond the aperture (nothing written).
 */
int vfiosim_iommu_lookup_run(struct vfiosim_iommu_domain *domain, uint64_t iova,
			     uint64_t len, uint64_t *phys, uint64_t *run);

/**
 * vfiosim_iommu_read_and_clear_dirty() - hardware dirty tracking, as
 * iommufd's read_and_clear_dirty (Linux 6.7+; VFIO type1 never uses it):
 * report the leaves of [@iova, @iova + @size) whose dirty bit a device
 * write has set, and clear the bit.
 * @domain: the domain.
 * @iova: first IOVA; aligned to @pgsize.
 * @size: bytes; a non-zero multiple of @pgsize.
 * @pgsize: bitmap granularity: a power of two, at least the IO page size.
 * @bitmap: bit i stands for [@iova + i * @pgsize, + @pgsize); bits of every
 *	page a dirty leaf overlaps are set (OR-ed in: the caller clears the
 *	bitmap first).  A dirty superpage marks all its pages, as on real
 *	hardware.
 *
 * Return: the number of dirty leaves found (and cleared); -EINVAL for NULL
 * arguments, a bad @pgsize, unaligned @iova or @size, or @size 0; -EFAULT
 * when the range leaves the aperture; -EOPNOTSUPP when the IOMMU was
 * configured without dirty tracking.
 */
int64_t vfiosim_iommu_read_and_clear_dirty(struct vfiosim_iommu_domain *domain,
					   uint64_t iova, uint64_t size,
					   uint64_t pgsize, uint64_t *bitmap);

/* --------------------------------------------------------------- groups */

/**
 * vfiosim_iommu_group_alloc() - iommu_group_alloc() plus its default
 * (DMA API) domain, to which the group is attached.
 * @iommu: the IOMMU.
 * @out: the group.
 *
 * Fault points "iommu.alloc" and "mm.phys_alloc".
 *
 * Return: 0, -EINVAL for NULL arguments, -ENOMEM.
 */
int vfiosim_iommu_group_alloc(struct vfiosim_iommu *iommu,
			      struct vfiosim_iommu_group **out);

/**
 * vfiosim_iommu_group_free() - free a group that has no devices and is
 * back on its default domain; the default domain is freed with it (a LEAK
 * failure if it still maps something).
 * @group: the group (NULL does nothing).
 *
 * Takes the group mutex: call from a simulated thread.
 *
 * Return: 0, -EBUSY if devices remain or an unmanaged domain is attached.
 */
int vfiosim_iommu_group_free(struct vfiosim_iommu_group *group);

/**
 * vfiosim_iommu_group_id() - iommu_group_id(): small number, 0 first.
 * @group: the group.
 *
 * Return: the id, or -EINVAL for NULL.
 */
int vfiosim_iommu_group_id(const struct vfiosim_iommu_group *group);

/**
 * vfiosim_iommu_group_default_domain() - the group's DMA API domain.
 * @group: the group.
 *
 * Return: the domain, or NULL for NULL.
 */
struct vfiosim_iommu_domain *
vfiosim_iommu_group_default_domain(const struct vfiosim_iommu_group *group);

/**
 * vfiosim_iommu_group_domain() - the domain the group's devices use now
 * (iommu_get_domain_for_dev()).
 * @group: the group.
 *
 * Return: the domain, or NULL for NULL.
 */
struct vfiosim_iommu_domain *
vfiosim_iommu_group_domain(const struct vfiosim_iommu_group *group);

/**
 * vfiosim_iommu_group_device_count() - devices in the group.
 * @group: the group.
 *
 * Return: the count (0 for NULL).
 */
unsigned int
vfiosim_iommu_group_device_count(const struct vfiosim_iommu_group *group);

/**
 * vfiosim_iommu_group_resv_regions() - iommu_get_group_resv_regions().
 * @group: the group.
 * @out: receives up to @max regions, sorted by start.
 * @max: capacity of @out.
 *
 * Return: the number of regions the group has (may exceed @max: then only
 * @max were written), -EINVAL for a NULL group or a NULL @out with @max > 0.
 */
int vfiosim_iommu_group_resv_regions(const struct vfiosim_iommu_group *group,
				     struct vfiosim_iommu_range *out,
				     unsigned int max);

/**
 * vfiosim_iommu_attach_group() - iommu_attach_group(): switch every device
 * of @group from the default domain to the unmanaged @domain.
 * @domain: an unmanaged domain of the group's IOMMU.
 * @group: the group.
 *
 * Takes the group mutex: call from a simulated thread.  Fault point
 * "iommu.attach".  Failure changes nothing.
 *
 * Return: 0; -EINVAL for NULL arguments or a default domain; -EMEDIUMTYPE
 * (Linux 6.1's "incompatible domain") for a domain of another IOMMU;
 * -EBUSY if the group is attached to an unmanaged domain already (also
 * @domain itself); -ENOMEM (injected).
 */
int vfiosim_iommu_attach_group(struct vfiosim_iommu_domain *domain,
			       struct vfiosim_iommu_group *group);

/**
 * vfiosim_iommu_detach_group() - iommu_detach_group(): return @group's
 * devices to the default domain.
 * @domain: the domain the group is attached to.
 * @group: the group.
 *
 * Takes the group mutex: call from a simulated thread.
 *
 * Return: 0; -EINVAL for NULL arguments, or (with a WARN failure, as the
 * kernel WARNs) when @group is not attached to @domain.
 */
int vfiosim_iommu_detach_group(struct vfiosim_iommu_domain *domain,
			       struct vfiosim_iommu_group *group);

/* -------------------------------------------------------------- devices */

/**
 * vfiosim_iommu_probe_device() - iommu_probe_device(): add a device to
 * @group; it uses the group's current domain at once.
 * @group: the group.
 * @name: device name for logs (copied; at most 31 bytes kept).
 * @out: the device as the IOMMU sees it.
 *
 * Takes the group mutex: call from a simulated thread.  Fault point
 * "iommu.alloc".
 *
 * Return: 0, -EINVAL for NULL arguments, -ENOMEM.
 */
int vfiosim_iommu_probe_device(struct vfiosim_iommu_group *group,
			       const char *name,
			       struct vfiosim_iommu_device **out);

/**
 * vfiosim_iommu_release_device() - iommu_release_device(): remove the
 * device from its group and clear its context entry; a DMA it issues
 * afterwards is a NO_CONTEXT fault.  The handle stays valid (for logs)
 * until the world is destroyed.
 * @dev: the device.
 *
 * Takes the group mutex: call from a simulated thread.
 *
 * Return: 0, -EINVAL for NULL, -ENODEV if already released.
 */
int vfiosim_iommu_release_device(struct vfiosim_iommu_device *dev);

/**
 * vfiosim_iommu_device_group() - the group of a device.
 * @dev: the device.
 *
 * Return: the group, or NULL for NULL or a released device.
 */
struct vfiosim_iommu_group *
vfiosim_iommu_device_group(const struct vfiosim_iommu_device *dev);

/**
 * vfiosim_iommu_device_name() - the device's name.
 * @dev: the device.
 *
 * Return: the name ("-" for NULL).
 */
const char *vfiosim_iommu_device_name(const struct vfiosim_iommu_device *dev);

#ifdef __cplusplus
}
#endif

#endif /* LIBVFIOSIM_IOMMU_H */
