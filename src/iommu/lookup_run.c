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

VFIOSIM_EXPORT int vfiosim_iommu_lookup_run(struct vfiosim_iommu_domain *d,
					    uint64_t iova, uint64_t len,
					    uint64_t *phys, uint64_t *run)
{
	struct vfiosim_iommu *iommu;
	const uint64_t nent = 1ull << (d ? d->iommu->bits : 0);
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
	/* From here on every step starts at a leaf boundary. */
	while (done < len && iova + done > iova) {
		uint64_t cur = iova + done;
		uint64_t idx =
			(cur >> (iommu->granule_shift + level * iommu->bits)) &
			(nent - 1);

		if (idx) {
			/* The rest of this table, entry by entry. */
			uint64_t left = nent - idx, i = 0;

			while (i < left && done < len &&
			       (pte[1 + i] & PTE_LEAF) &&
			       (pte[1 + i] & PTE_ADDR_MASK) == p0 + done) {
				done += size;
				i++;
			}
			if (i) {
				pte += i;
				continue;
			}
			if (pte[1] & PTE_LEAF)
				break; /* mapped elsewhere */
		}
		/* A new table, or a table entry below a leaf: walk. */
		pte = pt_walk(d, mk_iova(cur), &level);
		if (!pte)
			break;
		size = level_size(iommu, level);
		if ((*pte & PTE_ADDR_MASK) + (cur & (size - 1)) != p0 + done)
			break;
		done += size - (cur & (size - 1));
	}
	hw_unlock(iommu);
	*phys = p0;
	*run = done < len ? done : len;
	return 0;
}
