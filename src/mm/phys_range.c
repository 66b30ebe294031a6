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

/* The answer of vfiosim_pfn_invalid_or_reserved() for one frame, and how
 * many frames from @pfn share it for certain (the rest of a compound page,
 * an MMIO range, everything past the end of memory). */
static bool frame_answer(struct mm_phys *p, uint64_t pfn, uint64_t *same)
{
	struct phys_ref r;

	if (pfn >= p->npages) {
		*same = UINT64_MAX;
		return true;
	}
	*same = 1;
	if (phys_lookup(p, pfn, &r)) {
		*same = r.head_pfn + (1ull << r.order) - pfn;
		return r.head->flags & VFIOSIM_PAGE_RESERVED;
	}
	return phys_is_mmio(p, pfn);
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
	first = frame_answer(p, pfn, &same);
	for (;;) {
		n = same >= max - n ? max : n + same;
		if (n == max || pfn + n < pfn)
			break;
		if (frame_answer(p, pfn + n, &same) != first)
			break;
	}
	phys_unlock(p);
	*rsvd = first;
	return n;
}
