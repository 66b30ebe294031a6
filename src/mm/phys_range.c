/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * phys_range.c - range forms of the per-frame predicates type1 asks in its
 * hot loops.
 *
 * What it models: nothing new.  The kernel asks is_invalid_reserved_pfn()
 * of every page it pins and unpins, which costs a few loads there; here
 * each question takes the memory lock and walks the metadata, so the pin
 * and unpin loops ask once per run of frames that answer alike.  The
 * answer for every frame of a run is exactly vfiosim_pfn_invalid_or_reserved()'s.
 *
 * Locking: phys_lock() (see phys.c) for the walk.
 */
#include <libvfiosim/mm.h>

#include "mm/mm_internal.h"

/*
 * The answer of vfiosim_pfn_invalid_or_reserved() for one frame, and how
 * many frames from @pfn share it for certain (the rest of a compound page,
 * order-0 neighbours in the same metadata chunk up to @limit, everything
 * past the end of memory).
 */
static bool frame_answer(struct mm_phys *p, uint64_t pfn, uint64_t limit,
			 uint64_t *same)
{
	struct phys_ref r;
	bool rsvd;

	if (pfn >= p->npages) {
		*same = UINT64_MAX;
		return true;
	}
	*same = 1;
	if (!phys_lookup(p, pfn, &r))
		return phys_is_mmio(p, pfn);
	rsvd = r.head->flags & VFIOSIM_PAGE_RESERVED;
	if (r.pg && !r.order) {
		const unsigned int idx = pfn & (PHYS_CHUNK_FRAMES - 1);
		const uint16_t mask = PHYS_INUSE | VFIOSIM_PAGE_RESERVED;
		const uint16_t want = r.pg->flags & mask;
		const struct phys_page *pg = r.pg + 1;
		uint64_t k = 1, stop = PHYS_CHUNK_FRAMES - idx;

		if (stop > limit)
			stop = limit;
		while (k < stop && (pg->flags & mask) == want && !pg->order) {
			pg++;
			k++;
		}
		*same = k;
	} else {
		*same = r.head_pfn + (1ull << r.order) - pfn;
	}
	return rsvd;
}

VFIOSIM_EXPORT uint64_t vfiosim_pfn_reserved_run(struct vfiosim_world *w,
						 uint64_t pfn, uint64_t max,
						 bool *rsvd)
{
	struct mm_phys *p;
	uint64_t n = 0, same;
	bool first;

	if (!rsvd || !max)
		return 0;
	p = w ? mm_phys_get(w) : NULL;
	if (!p) {
		*rsvd = true; /* as vfiosim_pfn_invalid_or_reserved() */
		return max;
	}
	phys_lock(p);
	first = frame_answer(p, pfn, max, &same);
	for (;;) {
		n = same >= max - n ? max : n + same;
		if (n == max || pfn + n < pfn)
			break;
		if (frame_answer(p, pfn + n, max - n, &same) != first)
			break;
	}
	phys_unlock(p);
	*rsvd = first;
	return n;
}
