/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiosim/mm.h - simulated physical memory and address spaces.
 *
 * Vocabulary: a pfn is a page frame number of the CPU page size
 * (vfiosim_config.mm.page_shift); "order" n means 2^n contiguous frames
 * (order 9 is a 2 MiB huge page with 4 KiB pages, order 18 a 1 GiB one).
 * Ranges are [start, last] with @last inclusive, or [start, end) with @end
 * exclusive, and the names say which.
 */
#ifndef LIBVFIOSIM_MM_H
#define LIBVFIOSIM_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvfiosim/sim.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------ physical frames */

#define VFIOSIM_PFN_INVALID UINT64_MAX

/**
 * enum vfiosim_page_flags - what a frame is.
 * @VFIOSIM_PAGE_BACKED: the frame owns bytes (vfiosim_page_bytes() works);
 *	DMA data through it is real.
 * @VFIOSIM_PAGE_RESERVED: PageReserved(): never freed, never accounted.
 * @VFIOSIM_PAGE_MMIO: device memory without a struct page (pfn_valid() is
 *	false in the kernel); refcounts do not apply.
 * @VFIOSIM_PAGE_ZERO: the shared zero page.
 * @VFIOSIM_PAGE_HEAD: first frame of a compound (huge) page.
 * @VFIOSIM_PAGE_TAIL: a later frame of a compound page; refcounts live on
 *	the head.
 */
enum vfiosim_page_flags {
	VFIOSIM_PAGE_BACKED = 1u << 0,
	VFIOSIM_PAGE_RESERVED = 1u << 1,
	VFIOSIM_PAGE_MMIO = 1u << 2,
	VFIOSIM_PAGE_ZERO = 1u << 3,
	VFIOSIM_PAGE_HEAD = 1u << 4,
	VFIOSIM_PAGE_TAIL = 1u << 5,
};

/**
 * struct vfiosim_page_info - a frame's metadata, as vfiosim_page_query()
 * reports it.
 * @refcount: page_ref_count() of the (head) page; 0 = free.
 * @pincount: pins taken by vfiosim_pin_user_pages() and not yet released.
 * @flags: enum vfiosim_page_flags.
 * @order: order of the compound page the frame belongs to (0 if none).
 * @head_pfn: pfn of that compound page's head (the frame itself if none).
 */
struct vfiosim_page_info {
	unsigned long refcount;
	unsigned long pincount;
	unsigned int flags;
	unsigned int order;
	uint64_t head_pfn;
};

/**
 * vfiosim_phys_alloc() - allocate 2^@order contiguous frames as one
 * (compound, if @order > 0) page with refcount 1.
 * @w: the world.
 * @order: 0 .. 18 (with 4 KiB pages); the block is naturally aligned.
 * @flags: VFIOSIM_PAGE_BACKED for frames with bytes (zeroed), 0 for
 *	metadata-only frames.
 * @pfn: the first frame.
 *
 * Fault point "mm.phys_alloc".
 *
 * Return: 0, -EINVAL (bad order or flags), -ENOMEM (no free block or
 * injected failure).
 */
int vfiosim_phys_alloc(struct vfiosim_world *w, unsigned int order,
		       unsigned int flags, uint64_t *pfn);

/**
 * vfiosim_page_get() - get_page(): take a reference on the page of @pfn.
 *
 * Return: 0, -EINVAL for a pfn outside memory, -ENOENT for a free frame.
 */
int vfiosim_page_get(struct vfiosim_world *w, uint64_t pfn);

/**
 * vfiosim_page_put() - put_page(): drop a reference; the page is freed
 * when the count reaches zero.  A put below zero is a BUG failure.
 *
 * Return: 0, -EINVAL for a pfn outside memory, -ENOENT for a free frame.
 */
int vfiosim_page_put(struct vfiosim_world *w, uint64_t pfn);

/**
 * vfiosim_page_query() - read a frame's metadata without touching it.
 *
 * Return: 0, -EINVAL for a pfn outside memory.
 */
int vfiosim_page_query(struct vfiosim_world *w, uint64_t pfn,
		       struct vfiosim_page_info *info);

/**
 * vfiosim_page_bytes() - the bytes of a backed frame (page size long).
 *
 * Return: a pointer valid until the frame is freed, or NULL for an unbacked,
 * free or MMIO frame or a pfn outside memory.
 */
void *vfiosim_page_bytes(struct vfiosim_world *w, uint64_t pfn);

/**
 * vfiosim_phys_add_mmio() - declare [@pfn, @pfn + @npages) device memory
 * (no struct page), for PFNMAP mappings and BARs.
 *
 * Return: 0, -EINVAL (outside memory or overlapping allocated frames),
 * -ENOMEM.
 */
int vfiosim_phys_add_mmio(struct vfiosim_world *w, uint64_t pfn,
			  uint64_t npages);

/** vfiosim_phys_npages() - frames of simulated physical memory. */
uint64_t vfiosim_phys_npages(const struct vfiosim_world *w);

/** vfiosim_page_size() - the CPU page size of @w, in bytes. */
uint64_t vfiosim_page_size(const struct vfiosim_world *w);

#ifdef __cplusplus
}
#endif

#endif /* LIBVFIOSIM_MM_H */
