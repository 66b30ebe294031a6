/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiosim/vfio.h - the VFIO type1 IOMMU backend model (Linux 6.1).
 *
 * struct vfiosim_type1 is one vfio_iommu: what a container's
 * VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU) creates.  The functions mirror the
 * kernel's vfio_iommu_type1_*() entry points and return what their ioctls
 * return (0, a count, or a negative errno), with the same validation order.
 * Every call takes the backend's lock, "iommu->lock", a vfiosim_mutex: call
 * from a simulated thread (or with the world not running, for set-up).
 *
 * Vocabulary as in the kernel: an IOVA range is [iova, iova + size); ranges
 * in the IOVA list are [start, end] with @end inclusive.
 */
#ifndef LIBVFIOSIM_VFIO_H
#define LIBVFIOSIM_VFIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvfiosim/iommu.h>
#include <libvfiosim/sim.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vfiosim_type1;

/* Backend types and extensions (VFIO_* values of <linux/vfio.h>). */
#define VFIOSIM_TYPE1_IOMMU 1
#define VFIOSIM_SPAPR_TCE_IOMMU 2
#define VFIOSIM_TYPE1v2_IOMMU 3
#define VFIOSIM_DMA_CC_IOMMU 4
#define VFIOSIM_EEH 5
#define VFIOSIM_TYPE1_NESTING_IOMMU 6
#define VFIOSIM_SPAPR_TCE_v2_IOMMU 7
#define VFIOSIM_NOIOMMU_IOMMU 8
#define VFIOSIM_UNMAP_ALL 9
#define VFIOSIM_UPDATE_VADDR 10

/* MAP_DMA flags. */
#define VFIOSIM_DMA_MAP_FLAG_READ (1u << 0)
#define VFIOSIM_DMA_MAP_FLAG_WRITE (1u << 1)
#define VFIOSIM_DMA_MAP_FLAG_VADDR (1u << 2)

/* UNMAP_DMA flags. */
#define VFIOSIM_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP (1u << 0)
#define VFIOSIM_DMA_UNMAP_FLAG_ALL (1u << 1)
#define VFIOSIM_DMA_UNMAP_FLAG_VADDR (1u << 2)

/** VFIOSIM_TYPE1_MAX_IOVA_RANGES - IOVA list entries reported by info. */
#define VFIOSIM_TYPE1_MAX_IOVA_RANGES 16

/**
 * struct vfiosim_type1_info - what VFIO_IOMMU_GET_INFO reports.
 * @iova_pgsizes: iommu->pgsize_bitmap.
 * @dma_avail: mappings that may still be created.
 * @nr_iovas: entries of the IOVA list (0: no constraint, no IOVA cap).
 * @iovas: the first VFIOSIM_TYPE1_MAX_IOVA_RANGES of them.
 * @migration_pgsize: the MIGRATION cap's pgsize_bitmap (smallest page).
 * @max_dirty_bitmap_size: the MIGRATION cap's limit (256 MiB).
 */
struct vfiosim_type1_info {
	uint64_t iova_pgsizes;
	uint32_t dma_avail;
	uint32_t nr_iovas;
	struct vfiosim_iommu_range iovas[VFIOSIM_TYPE1_MAX_IOVA_RANGES];
	uint64_t migration_pgsize;
	uint64_t max_dirty_bitmap_size;
};

/**
 * struct vfiosim_type1_stats - the model's bookkeeping, for tests.
 * @dmas: vfio_dma entries.
 * @domains: IOMMU domains.
 * @iommu_groups: IOMMU-backed groups attached.
 * @emulated_groups: emulated groups attached.
 * @mapped_bytes: bytes covered by vfio_dma entries.
 * @vaddr_invalid: entries whose vaddr is invalidated.
 * @num_non_pinned_groups: IOMMU groups without pinned-page scope.
 */
struct vfiosim_type1_stats {
	unsigned long dmas;
	unsigned int domains;
	unsigned int iommu_groups;
	unsigned int emulated_groups;
	uint64_t mapped_bytes;
	unsigned long vaddr_invalid;
	unsigned int num_non_pinned_groups;
};

/**
 * vfiosim_type1_check_extension() - what type1 answers to
 * VFIO_CHECK_EXTENSION, before (@t1 NULL) or after SET_IOMMU.
 * @t1: the backend, or NULL.
 * @ext: the extension.
 *
 * Return: 1 or 0.
 */
int vfiosim_type1_check_extension(struct vfiosim_type1 *t1, unsigned long ext);

/**
 * vfiosim_type1_open() - vfio_iommu_type1_open().
 * @w: the world.
 * @type: VFIOSIM_TYPE1_IOMMU (v1 unmap semantics), VFIOSIM_TYPE1v2_IOMMU or
 *	VFIOSIM_TYPE1_NESTING_IOMMU (v2).
 * @dma_entry_limit: the module parameter's value now (65535 by default).
 * @out: the backend.
 *
 * Fault point "vfio.type1_alloc".
 *
 * Return: 0, -EINVAL (other @type, NULL @out), -ENOMEM.
 */
int vfiosim_type1_open(struct vfiosim_world *w, unsigned long type,
		       unsigned int dma_entry_limit,
		       struct vfiosim_type1 **out);

/**
 * vfiosim_type1_release() - vfio_iommu_type1_release(): remove every
 * mapping (unmap, unpin, refund), detach and free every domain, free @t1.
 * @t1: the backend (NULL does nothing).
 */
void vfiosim_type1_release(struct vfiosim_type1 *t1);

/**
 * vfiosim_type1_attach_group() - vfio_iommu_type1_attach_group() for an
 * IOMMU-backed group: a new domain is allocated and attached; the IOVA list
 * is intersected with its aperture minus the group's reserved regions; an
 * existing compatible domain is reused, otherwise every existing mapping is
 * replayed into the new domain.
 * @t1: the backend.
 * @group: the group.
 *
 * Fault points: "vfio.group_alloc", "vfio.domain_alloc", the iommu layer's.
 *
 * Return: 0; -EINVAL (already attached, aperture or reserved-region
 * conflict with existing mappings, empty IOVA list); -EPERM (no interrupt
 * remapping); -EBUSY (a mapping's vaddr is invalid, 6.1.y); -ENOMEM;
 * -EIO (domain allocation failed); errors of attach and replay.  Failure
 * changes nothing.
 */
int vfiosim_type1_attach_group(struct vfiosim_type1 *t1,
			       struct vfiosim_iommu_group *group);

/**
 * vfiosim_type1_detach_group() - vfio_iommu_type1_detach_group(): when the
 * last IOMMU group leaves, every mapping is removed.
 * @t1: the backend.
 * @group: an attached group.
 *
 * Return: 0, -ENOENT if @group is not attached.
 */
int vfiosim_type1_detach_group(struct vfiosim_type1 *t1,
			       struct vfiosim_iommu_group *group);

/**
 * vfiosim_type1_attach_emulated_group() - attach a group with no IOMMU
 * (VFIO_EMULATED_IOMMU: a mediated device's): no domain; a container
 * that has only such groups maps without pinning.  While one is attached,
 * UPDATE_VADDR is not offered and VADDR invalidation is -EBUSY (6.1.y).
 * @t1: the backend.
 * @token: identifies the group (any unique pointer).
 *
 * Fault point "vfio.group_alloc".
 *
 * Return: 0, -EINVAL (NULL, already attached), -EBUSY (a vaddr is
 * invalid), -ENOMEM.
 */
int vfiosim_type1_attach_emulated_group(struct vfiosim_type1 *t1,
					const void *token);

/**
 * vfiosim_type1_detach_emulated_group() - detach an emulated group; when no
 * group of any kind is left every mapping is removed.
 * @t1: the backend.
 * @token: as attached.
 *
 * Return: 0, -EINVAL, -ENOENT.
 */
int vfiosim_type1_detach_emulated_group(struct vfiosim_type1 *t1,
					const void *token);

/**
 * vfiosim_type1_map_dma() - VFIO_IOMMU_MAP_DMA as vfio_dma_do_map() of 6.1:
 * pin [@vaddr, @vaddr + @size) from the current task's mm and map it at
 * @iova in every domain.
 * @t1: the backend.
 * @vaddr: user address.
 * @iova: IO virtual address.
 * @size: bytes.
 * @flags: VFIOSIM_DMA_MAP_FLAG_READ / _WRITE, or _VADDR alone.
 *
 * Return: 0, or in this order: -EINVAL (unknown flags; VADDR with READ or
 * WRITE, or neither; @size 0 or anything misaligned to the smallest page
 * size; a wrapping range), -ENOENT (VADDR: no mapping there), -EINVAL
 * (VADDR: not invalidated, or not the same iova and size), -EEXIST (an
 * overlapping mapping), -ENOSPC (dma_entry_limit reached), -EINVAL
 * (outside the IOVA list), -ENOMEM, then pin/map errors: -ENOMEM
 * (RLIMIT_MEMLOCK), -EFAULT (bad @vaddr), -ENODEV (no mm), IOMMU errors.
 * A failed map leaves no trace.
 */
int vfiosim_type1_map_dma(struct vfiosim_type1 *t1, uint64_t vaddr,
			  uint64_t iova, uint64_t size, uint32_t flags);

/**
 * struct vfiosim_type1_bitmap - a user's dirty bitmap (struct vfio_bitmap).
 * @pgsize: page size one bit stands for.
 * @size: bytes of @data.
 * @data: the user's buffer of u64 words, in this process's memory; it is
 *	accessed as copy_to_user() would, so a bad pointer is -EFAULT, never
 *	a crash.
 */
struct vfiosim_type1_bitmap {
	uint64_t pgsize;
	uint64_t size;
	void *data;
};

/**
 * vfiosim_type1_unmap_dma() - VFIO_IOMMU_UNMAP_DMA as vfio_dma_do_unmap()
 * of 6.1, with the v1 and v2 rules, VFIOSIM_DMA_UNMAP_FLAG_ALL, _VADDR and
 * _GET_DIRTY_BITMAP.
 * @t1: the backend.
 * @iova: first IOVA.
 * @size: bytes (0 with ALL).
 * @flags: VFIOSIM_DMA_UNMAP_FLAG_*.
 * @bitmap: with GET_DIRTY_BITMAP, where each removed mapping's dirty bits
 *	go, relative to @iova (NULL otherwise).
 * @unmapped: out (may be NULL): bytes unmapped (or invalidated), as the
 *	kernel sets unmap->size (the ioctl copies it back only on success).
 *
 * Return: 0; -EBUSY (VADDR while an emulated group is attached); -EINVAL
 * (unknown flags, misaligned or zero size, wrap, ALL
 * with iova or size, a v2 request that bisects a mapping, VADDR on an
 * already invalid mapping, GET_DIRTY_BITMAP with ALL or VADDR, with
 * tracking off or with another page size than the smallest); -EFAULT (the
 * bitmap could not be written: mappings before it are removed); -ENOMEM
 * (with fix_dirty_shift, the bitmap's working copy could not be allocated:
 * likewise).
 */
int vfiosim_type1_unmap_dma(struct vfiosim_type1 *t1, uint64_t iova,
			    uint64_t size, uint32_t flags,
			    const struct vfiosim_type1_bitmap *bitmap,
			    uint64_t *unmapped);

/**
 * vfiosim_type1_dirty_start() - VFIO_IOMMU_DIRTY_PAGES_FLAG_START: a bitmap
 * for every mapping; idempotent.
 * @t1: the backend.
 *
 * Fault point "vfio.bitmap_alloc".
 *
 * Return: 0, -EACCES (a v1 backend), -ENOMEM (nothing changes).
 */
int vfiosim_type1_dirty_start(struct vfiosim_type1 *t1);

/**
 * vfiosim_type1_dirty_stop() - VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP: free
 * every bitmap; always succeeds.
 * @t1: the backend.
 *
 * Return: 0, -EACCES (a v1 backend).
 */
int vfiosim_type1_dirty_stop(struct vfiosim_type1 *t1);

/**
 * vfiosim_type1_dirty_get() - VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP from
 * the lock on (the ioctl's argsz, wrap and bitmap-size checks come first,
 * in the uAPI layer): report [@iova, @iova + @size) into @bitmap, then
 * clear and re-populate each mapping's bitmap.  While an IOMMU-backed group
 * has not declared pinned-page scope every mapped page is dirty.  Linux
 * 6.1's "stale shifted bits" are reproduced: a report whose base puts a
 * mapping at a non-multiple-of-64 page offset leaves bits past the
 * mapping's end that later reports show.
 * @t1: the backend.
 * @iova: first IOVA.
 * @size: bytes.
 * @bitmap: the user's bitmap.
 *
 * Return: 0; -EACCES (v1); -EINVAL (page size not the smallest, misaligned
 * or zero range, tracking off, a range that bisects a mapping); -EFAULT.
 */
int vfiosim_type1_dirty_get(struct vfiosim_type1 *t1, uint64_t iova,
			    uint64_t size,
			    const struct vfiosim_type1_bitmap *bitmap);

/**
 * vfiosim_type1_is_v2() - whether @t1 has v2 semantics (TYPE1v2 or
 * NESTING), which dirty tracking requires.
 * @t1: the backend.
 *
 * Return: the predicate (false for NULL).
 */
bool vfiosim_type1_is_v2(const struct vfiosim_type1 *t1);

/**
 * vfiosim_type1_get_info() - the data of VFIO_IOMMU_GET_INFO.
 * @t1: the backend.
 * @info: filled.
 *
 * Return: 0, -EINVAL for NULL.
 */
int vfiosim_type1_get_info(struct vfiosim_type1 *t1,
			   struct vfiosim_type1_info *info);

/**
 * vfiosim_type1_get_stats() - the model's bookkeeping.
 * @t1: the backend.
 * @st: filled.
 *
 * Return: 0, -EINVAL for NULL.
 */
int vfiosim_type1_get_stats(struct vfiosim_type1 *t1,
			    struct vfiosim_type1_stats *st);

/**
 * vfiosim_type1_check_invariants() - check the model's invariants (spec
 * §6): no overlapping mappings, dma_avail + mappings == limit, every page
 * of an iommu_mapped mapping translated in every domain to a pinned (or
 * reserved) frame, vaddr_invalid_count, locked_vm of the mapping task's mm
 * at least the pages charged here.  Each broken one is an INVARIANT
 * failure.
 * @t1: the backend.
 *
 * Return: the number of invariants broken (0 = consistent).
 */
int vfiosim_type1_check_invariants(struct vfiosim_type1 *t1);

/* ------------------------------------------------ the VFIO core: containers */

struct vfiosim_container;
struct vfiosim_vfio_group;

/* VFIO_GROUP_GET_STATUS flags. */
#define VFIOSIM_GROUP_FLAGS_VIABLE (1u << 0)
#define VFIOSIM_GROUP_FLAGS_CONTAINER_SET (1u << 1)

/** VFIOSIM_API_VERSION - what VFIO_GET_API_VERSION answers. */
#define VFIOSIM_API_VERSION 0

/**
 * vfiosim_container_open() - open("/dev/vfio/vfio"): a container with no
 * backend.
 * @w: the world.
 * @dma_entry_limit: the type1 module parameter, read when a backend is set
 *	(65535 in Linux).
 * @out: the container.
 *
 * Fault point "vfio.container_alloc".
 *
 * Return: 0, -EINVAL, -ENOMEM.
 */
int vfiosim_container_open(struct vfiosim_world *w,
			   unsigned int dma_entry_limit,
			   struct vfiosim_container **out);

/**
 * vfiosim_container_close() - the last close of the container file: it is
 * freed once no group holds it any more.
 * @c: the container (NULL does nothing).
 */
void vfiosim_container_close(struct vfiosim_container *c);

/**
 * vfiosim_container_check_extension() - VFIO_CHECK_EXTENSION: asked of
 * type1 with no backend data before SET_IOMMU, of the backend after.
 * @c: the container.
 * @ext: the extension.
 *
 * Return: 1 or 0, -EINVAL for NULL.
 */
int vfiosim_container_check_extension(struct vfiosim_container *c,
				      unsigned long ext);

/**
 * vfiosim_container_set_iommu() - VFIO_SET_IOMMU: open the backend and
 * attach every group of the container to it.
 * @c: the container.
 * @type: the backend type (an extension type1 answers 1 to).
 *
 * Return: 0; -EINVAL (no group, or a backend already set); -ENODEV (no
 * backend supports @type); an attach error of the last backend tried.
 */
int vfiosim_container_set_iommu(struct vfiosim_container *c,
				unsigned long type);

/**
 * vfiosim_container_type1() - the container's type1 backend.
 * @c: the container.
 *
 * Return: the backend, or NULL before SET_IOMMU (the container's other
 * ioctls then answer -EINVAL).
 */
struct vfiosim_type1 *vfiosim_container_type1(struct vfiosim_container *c);

/**
 * vfiosim_vfio_group_create() - the VFIO core's vfio_group for an IOMMU
 * group whose devices are bound to VFIO drivers (what makes /dev/vfio/@id
 * appear).
 * @w: the world.
 * @group: the IOMMU group.
 * @id: its number.
 * @out: the vfio group.
 *
 * Return: 0, -EINVAL, -ENOMEM.
 */
int vfiosim_vfio_group_create(struct vfiosim_world *w,
			      struct vfiosim_iommu_group *group, int id,
			      struct vfiosim_vfio_group **out);

/**
 * vfiosim_vfio_group_open() - open("/dev/vfio/N").
 * @g: the group.
 *
 * Return: 0, -EBUSY if it is open already.
 */
int vfiosim_vfio_group_open(struct vfiosim_vfio_group *g);

/**
 * vfiosim_vfio_group_close() - the group file's release: leaves the
 * container (the backend is released with its last group).
 * @g: the group.
 */
void vfiosim_vfio_group_close(struct vfiosim_vfio_group *g);

/**
 * vfiosim_vfio_group_status() - VFIO_GROUP_GET_STATUS flags.
 * @g: the group.
 * @flags: out, VFIOSIM_GROUP_FLAGS_*.
 *
 * Return: 0, -EINVAL.
 */
int vfiosim_vfio_group_status(struct vfiosim_vfio_group *g, uint32_t *flags);

/**
 * vfiosim_vfio_group_set_container() - VFIO_GROUP_SET_CONTAINER.
 * @g: the group.
 * @c: the container.
 *
 * Return: 0; -EINVAL (the group is in a container already); an attach error
 * of the container's backend.
 */
int vfiosim_vfio_group_set_container(struct vfiosim_vfio_group *g,
				     struct vfiosim_container *c);

/**
 * vfiosim_vfio_group_unset_container() - VFIO_GROUP_UNSET_CONTAINER.
 * @g: the group.
 *
 * Return: 0; -EINVAL (not in a container); -EBUSY (a device fd is open).
 */
int vfiosim_vfio_group_unset_container(struct vfiosim_vfio_group *g);

/**
 * vfiosim_vfio_group_device_open() - a device file of the group is being
 * opened (vfio_device_assign_container()): it counts as a user of the
 * container until vfiosim_vfio_group_device_close().
 * @g: the group.
 *
 * Return: 0, -EINVAL (no container, or no backend set).
 */
int vfiosim_vfio_group_device_open(struct vfiosim_vfio_group *g);

/**
 * vfiosim_vfio_group_device_close() - a device file of the group closed.
 * If the group file was closed meanwhile, the group leaves its container
 * now (device files hold the group file).
 * @g: the group.
 */
void vfiosim_vfio_group_device_close(struct vfiosim_vfio_group *g);

/**
 * vfiosim_vfio_group_destroy() - the group goes away with its IOMMU group;
 * it must be closed.
 * @g: the group (NULL does nothing).
 */
void vfiosim_vfio_group_destroy(struct vfiosim_vfio_group *g);

#ifdef __cplusplus
}
#endif

#endif /* LIBVFIOSIM_VFIO_H */
