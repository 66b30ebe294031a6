/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lookup_run.c - the physically contiguous run behind an IOVA range, read
 * from the IO page table in one pass.
 *
 * What it models: the loop of type1's vfio_unmap_unpin() that calls
 * iommu_iova_to_phys() page after page until the physical address stops
 * following the IOVA.  The answer is the same; the walk visits each leaf
 * once and each table once, instead of walking from the root per page.
 *
 * Locking: iommu->hw_lock (see iommu_internal.h) for the walk.
 */
#include <errno.h>

#include "iommu/iommu_internal.h"

/* The leaf for @iova: from @pte's table when @iova is not the first entry
 * of a table and @pte's neighbour is a leaf, else from the root. */
static uint64_t *next_leaf(struct vfiosim_iommu_domain *d, uint64_t *pte,
			   unsigned int *level, uint64_t iova)
{
	struct vfiosim_iommu *iommu = d->iommu;
	unsigned int shift = iommu->granule_shift + *level * iommu->bits;
	uint64_t idx = (iova >> shift) & ((1ull << iommu->bits) - 1);

	if (idx && (pte[1] & PTE_LEAF))
		return pte + 1;
	return pt_walk(d, mk_iova(iova), level);
}

VFIOSIM_EXPORT int vfiosim_iommu_lookup_run(struct vfiosim_iommu_domain *d,
					    uint64_t iova, uint64_t len,
					    uint64_t *phys, uint64_t *run)
{
	struct vfiosim_iommu *iommu;
	unsigned int level;
	uint64_t *pte, size, p0, done;

	if (!d || !phys || !run || !len)
		return -EINVAL;
	iommu = d->iommu;
	hw_lock(iommu);
	pte = pt_walk(d, mk_iova(iova), &level);
	if (!pte) {
		hw_unlock(iommu);
		return -ENOENT;
	}
	size = level_size(iommu, level);
	p0 = (*pte & PTE_ADDR_MASK) + (iova & (size - 1));
	done = size - (iova & (size - 1));
	while (done < len && iova + done > iova) {
		uint64_t cur = iova + done, *next;

		next = next_leaf(d, pte, &level, cur);
		if (!next)
			break;
		size = level_size(iommu, level);
		if ((*next & PTE_ADDR_MASK) + (cur & (size - 1)) != p0 + done)
			break;
		pte = next;
		done += size - (cur & (size - 1));
	}
	hw_unlock(iommu);
	*phys = p0;
	*run = done < len ? done : len;
	return 0;
}
