/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pgtable.c - the multi-level radix IO page table of a simulated domain.
 *
 * What it models: the second-level page table of Intel VT-d
 * (drivers/iommu/intel/iommu.c: __domain_mapping(), dma_pte_clear_level(),
 * dma_pte_free_level()) and, for other granules, the LPAE format of
 * drivers/iommu/io-pgtable-arm.c (__arm_lpae_map(), __arm_lpae_unmap()),
 * as of Linux 6.1.  Behaviour was learnt from those files; the code is
 * our own.
 *
 * Layout: a table page is one IO page (the granule: the lowest bit of the
 * pgsize_bitmap) of 8-byte entries, so a level resolves granule_shift - 3
 * bits (9 with 4 KiB, 11 with 16 KiB, 13 with 64 KiB).  Level 0 holds the
 * smallest pages; level L maps granule << (L * bits) bytes per entry and
 * may hold a leaf (a superpage) when that size is in the pgsize_bitmap.
 * The top level is only partly used when addr_width - granule_shift is not
 * a multiple of bits.  Table pages are backed frames of the mm layer
 * (phys_alloc()); the entries live in the frames' bytes, so the hardware
 * walk in iommu_translate() reads what a real IOMMU would read.  A software
 * shadow (struct pt_table) keeps the child pointers and the count of
 * present entries: the walk checks that the shadow and the entry agree,
 * and a table whose count drops to zero is freed at once (the root
 * excepted).  Table frames come from the mm layer zeroed, except a
 * last-level table that one map call covers whole: it is filled with
 * leaves at once, so zeroing its reused frame first would write it twice.
 * Conversely, an unmap that empties a table does not clear its entries:
 * the frame is freed, and zeroed when next allocated.
 *
 * Vocabulary: [iova, last] with @last inclusive everywhere in this file, so
 * a range may end at 2^addr_width - 1; loops stop on "entry's last >= last"
 * and never compute last + 1 beyond the range, so nothing overflows even
 * for addr_width 57 and a range that ends at the top.
 *
 * Locking: every function here runs with iommu->hw_lock held (free-running
 * mode) or inside one scheduling-point-free step (deterministic mode); see
 * iommu_internal.h.
 */
#include <errno.h>
#include <string.h>

#include "iommu/iommu_internal.h"
#include "mm/mm_internal.h"

static inline unsigned int pt_nent(const struct vfiosim_iommu *iommu)
{
	return 1u << iommu->bits;
}

static inline unsigned int pt_index(const struct vfiosim_iommu *iommu,
				    unsigned int level, uint64_t iova)
{
	return (unsigned int)(iova >>
			      (iommu->granule_shift + level * iommu->bits)) &
	       (pt_nent(iommu) - 1);
}

int pt_table_new(struct vfiosim_iommu_domain *d, unsigned int level,
		 bool filled, struct pt_table **out)
{
	struct vfiosim_iommu *iommu = d->iommu;
	struct vfiosim_world *w = iommu->w;
	struct mm_phys *p = mm_phys_get(w);
	struct pt_table *t;
	uint64_t pfn, psize = 1ull << iommu->page_shift;
	uint8_t *bytes;
	int rc;

	t = vfiosim_zalloc(w, sizeof(*t), "iommu.alloc");
	if (!t)
		return -ENOMEM;
	if (level > 0) {
		t->child = vfiosim_zalloc(w, sizeof(*t->child) * pt_nent(iommu),
					  "iommu.alloc");
		if (!t->child) {
			vfiosim_free(w, t);
			return -ENOMEM;
		}
	}
	rc = p ? phys_alloc(p, iommu->table_order,
			    VFIOSIM_PAGE_BACKED |
				    (filled ? PHYS_ALLOC_NOZERO : 0),
			    &pfn) :
		 -ENOMEM;
	if (rc) {
		vfiosim_free(w, t->child);
		vfiosim_free(w, t);
		return rc == -EINVAL ? -ENOMEM : rc;
	}
	bytes = vfiosim_page_bytes(w, pfn);
	/* A multi-frame table page must be contiguous host memory. */
	for (uint64_t i = 1; bytes && i < (1ull << iommu->table_order); i++)
		if (vfiosim_page_bytes(w, pfn + i) != bytes + i * psize)
			bytes = NULL;
	if (!bytes) {
		vfiosim_fail_at(w, VFIOSIM_FAIL_INVARIANT, __FILE__, __LINE__,
				"iommu: table frame 0x%llx (order %u) has no "
				"contiguous bytes",
				(unsigned long long)pfn, iommu->table_order);
		vfiosim_page_put(w, pfn);
		vfiosim_free(w, t->child);
		vfiosim_free(w, t);
		return -ENOMEM;
	}
	t->pfn = pfn;
	t->ent = (uint64_t *)bytes;
	t->level = (uint8_t)level;
	d->table_pages++;
	iommu->st.table_pages++;
	if (iommu->st.table_pages > iommu->st.table_pages_peak)
		iommu->st.table_pages_peak = iommu->st.table_pages;
	*out = t;
	return 0;
}

void pt_table_free(struct vfiosim_iommu_domain *d, struct pt_table *t)
{
	struct vfiosim_iommu *iommu = d->iommu;
	struct vfiosim_world *w = iommu->w;

	vfiosim_page_put(w, t->pfn);
	vfiosim_free(w, t->child);
	vfiosim_free(w, t);
	d->table_pages--;
	iommu->st.table_pages--;
}

static inline uint64_t table_entry(const struct vfiosim_iommu *iommu,
				   const struct pt_table *child)
{
	return ((child->pfn << iommu->page_shift) & PTE_ADDR_MASK) | PTE_TABLE |
	       PTE_R | PTE_W;
}

/* Index of the first non-zero entry of ent[0..n), or n. */
static inline uint64_t first_live(const uint64_t *ent, uint64_t n)
{
	uint64_t k = 0;

	for (; k + 4 <= n; k += 4)
		if (ent[k] | ent[k + 1] | ent[k + 2] | ent[k + 3])
			break;
	while (k < n && !ent[k])
		k++;
	return k;
}

/* ent[k] = first + k * step for k < n. */
static inline void fill_leaves(uint64_t *ent, uint64_t n, uint64_t first,
			       uint64_t step)
{
	uint64_t k = 0, v = first;

	for (; k + 4 <= n; k += 4, v += 4 * step) {
		ent[k] = v;
		ent[k + 1] = v + step;
		ent[k + 2] = v + 2 * step;
		ent[k + 3] = v + 3 * step;
	}
	for (; k < n; k++, v += step)
		ent[k] = v;
}

/* The number of leaf entries at the start of ent[0..max), at least 1. */
static inline uint64_t leaf_run(const uint64_t *ent, uint64_t max)
{
	uint64_t n = 1;

	for (; n + 4 <= max; n += 4)
		if (!(ent[n] & ent[n + 1] & ent[n + 2] & ent[n + 3] & PTE_LEAF))
			break;
	while (n < max && (ent[n] & PTE_LEAF))
		n++;
	return n;
}

/* Unhook and free the (emptied) child table at entry @idx of @t. */
static void drop_child(struct vfiosim_iommu_domain *d, struct pt_table *t,
		       unsigned int idx)
{
	struct pt_table *child = t->child[idx];

	t->ent[idx] = 0;
	t->child[idx] = NULL;
	t->nlive--;
	pt_table_free(d, child);
}

/*
 * Map [iova, iova + size) below @t.  The caller has checked alignment to
 * the granule and the aperture.  *mapped grows by each leaf written.
 */
static int map_range(struct vfiosim_iommu_domain *d, struct pt_table *t,
		     uint64_t iova, uint64_t paddr, uint64_t size,
		     uint64_t flags, uint64_t *mapped)
{
	struct vfiosim_iommu *iommu = d->iommu;
	unsigned int level = t->level;
	uint64_t lsize = level_size(iommu, level);
	bool leaf_ok = (iommu->leaf_ok >> level) & 1;
	int rc;

	while (size) {
		unsigned int idx = pt_index(iommu, level, iova);
		uint64_t e = t->ent[idx], chunk;
		struct pt_table *child;

		if (leaf_ok && size >= lsize &&
		    !((iova | paddr) & (lsize - 1))) {
			/* A run of leaves in this table, in one pass. */
			uint64_t n = size / lsize, k, bytes;
			uint64_t *ent = &t->ent[idx];
			uint64_t lflags = flags | PTE_LEAF;

			if (n > pt_nent(iommu) - idx)
				n = pt_nent(iommu) - idx;
			/* Up to the first live entry (none in an empty
			 * table); the caller checked that paddr + size - 1
			 * fits PTE_ADDR_MASK, so no entry needs masking. */
			k = t->nlive ? first_live(ent, n) : n;
			fill_leaves(ent, k, (paddr & PTE_ADDR_MASK) | lflags,
				    lsize);
			bytes = k * lsize;
			t->nlive += (uint32_t)k;
			d->leaves += k;
			d->mapped_bytes += bytes;
			*mapped += bytes;
			if (k < n)
				return -EEXIST;
			iova += bytes;
			paddr += bytes;
			size -= bytes;
			continue;
		}
		if (level == 0 || (e & PTE_LEAF))
			return -EEXIST;
		child = t->child[idx];
		chunk = lsize - (iova & (lsize - 1));
		if (chunk > size)
			chunk = size;
		if (!e) {
			/* A last-level table this call covers whole is filled
			 * with leaves at once: no need to zero it first. */
			rc = pt_table_new(d, level - 1,
					  level == 1 && chunk == lsize, &child);
			if (rc)
				return rc;
			t->child[idx] = child;
			t->ent[idx] = table_entry(iommu, child);
			t->nlive++;
		}
		rc = map_range(d, child, iova, paddr, chunk, flags, mapped);
		if (rc) {
			if (!child->nlive)
				drop_child(d, t, idx);
			return rc;
		}
		iova += chunk;
		paddr += chunk;
		size -= chunk;
	}
	return 0;
}

int pt_map(struct vfiosim_iommu_domain *d, struct iova iova, struct paddr paddr,
	   uint64_t size, uint64_t pte_flags, uint64_t *mapped)
{
	*mapped = 0;
	return map_range(d, d->root, iova.v, paddr.v, size, pte_flags, mapped);
}

static inline void gather_add(struct vfiosim_iotlb_gather *g, uint64_t start,
			      uint64_t last, uint64_t pgsize)
{
	if (!g)
		return;
	if (g->empty || start < g->start)
		g->start = start;
	if (g->empty || last > g->last)
		g->last = last;
	if (pgsize > g->pgsize)
		g->pgsize = pgsize;
	g->empty = false;
}

static uint64_t unmap_range(struct vfiosim_iommu_domain *d, struct pt_table *t,
			    uint64_t iova, uint64_t last, uint64_t *hole,
			    struct vfiosim_iotlb_gather *g,
			    uint64_t *whole_supers)
{
	struct vfiosim_iommu *iommu = d->iommu;
	unsigned int level = t->level;
	uint64_t lsize = level_size(iommu, level), removed = 0;

	for (;;) {
		unsigned int idx = pt_index(iommu, level, iova);
		uint64_t e = t->ent[idx];
		uint64_t estart = iova & ~(lsize - 1);
		uint64_t elast = estart + (lsize - 1);

		if (!e) {
			*hole = iova;
			return removed;
		}
		if (e & PTE_LEAF) {
			/* A run of present leaves: the first may stick out of
			 * [iova, last]; the others are taken only while they
			 * fit whole. */
			uint64_t n = 1, max = pt_nent(iommu) - idx, fit;
			uint64_t *ent = &t->ent[idx];

			if (estart < iova || elast > last) {
				(*whole_supers)++;
			} else {
				fit = (last - estart + 1) / lsize;
				if (max > fit)
					max = fit;
				/* A full last-level table holds only leaves. */
				if (level == 0 && t->nlive == pt_nent(iommu))
					n = max;
				else
					n = leaf_run(ent, max);
			}
			/* Removing every live entry of a table other than the
			 * root empties it: the caller frees it, and its frame
			 * is zeroed when next allocated, so the entries need
			 * not be cleared first (nothing reads them between:
			 * the rest of the table is already zero). */
			if (n != t->nlive || t == d->root)
				memset(ent, 0, n * sizeof(*ent));
			t->nlive -= (uint32_t)n;
			d->leaves -= n;
			d->mapped_bytes -= n * lsize;
			removed += n * lsize;
			elast = estart + (n * lsize - 1);
			gather_add(g, estart, elast, lsize);
		} else {
			struct pt_table *child = t->child[idx];
			uint64_t sub_last = elast < last ? elast : last;

			removed += unmap_range(d, child, iova, sub_last, hole,
					       g, whole_supers);
			if (!child->nlive)
				drop_child(d, t, idx);
			if (*hole != UINT64_MAX)
				return removed;
		}
		if (elast >= last)
			return removed;
		iova = elast + 1;
	}
}

uint64_t pt_unmap(struct vfiosim_iommu_domain *d, struct iova iova,
		  struct iova last, uint64_t *hole,
		  struct vfiosim_iotlb_gather *g, uint64_t *whole_supers)
{
	*hole = UINT64_MAX;
	return unmap_range(d, d->root, iova.v, last.v, hole, g, whole_supers);
}

uint64_t *pt_walk(struct vfiosim_iommu_domain *d, struct iova addr,
		  unsigned int *level)
{
	struct vfiosim_iommu *iommu = d->iommu;
	struct pt_table *t = d->root;
	uint64_t iova = addr.v;

	if (iova > iommu->iova_last)
		return NULL;
	for (;;) {
		unsigned int idx = pt_index(iommu, t->level, iova);
		uint64_t e = t->ent[idx];
		struct pt_table *child;

		if (!e)
			return NULL;
		if (e & PTE_LEAF) {
			*level = t->level;
			return &t->ent[idx];
		}
		child = t->level ? t->child[idx] : NULL;
		if (!child ||
		    (e & PTE_ADDR_MASK) != ((child->pfn << iommu->page_shift) &
					    PTE_ADDR_MASK)) {
			vfiosim_fail_at(iommu->w, VFIOSIM_FAIL_INVARIANT,
					__FILE__, __LINE__,
					"iommu: domain %u level %u entry %u "
					"0x%llx disagrees with its shadow",
					d->id, t->level, idx,
					(unsigned long long)e);
			return NULL;
		}
		t = child;
	}
}

/*
 * The answer of type1's page-by-page iova_to_phys() loop: the rest of a
 * table is read entry by entry from the previous leaf; a new table, or a
 * table entry where a leaf was, takes a walk from the root.
 */
int pt_lookup_run(struct vfiosim_iommu_domain *d, uint64_t iova, uint64_t len,
		  uint64_t *phys, uint64_t *run)
{
	struct vfiosim_iommu *iommu = d->iommu;
	unsigned int level;
	uint64_t *pte = pt_walk(d, mk_iova(iova), &level), size, p0, done;

	if (!pte)
		return -ENOENT;
	size = level_size(iommu, level);
	p0 = (*pte & PTE_ADDR_MASK) + (iova & (size - 1));
	done = size - (iova & (size - 1));
	/* From here on every step starts at a leaf boundary. */
	while (done < len && iova + done > iova) {
		uint64_t cur = iova + done;
		unsigned int idx = pt_index(iommu, level, cur);

		if (idx) {
			uint64_t left = pt_nent(iommu) - idx, i = 0;
			const uint64_t m = PTE_ADDR_MASK | PTE_LEAF;

			/* Four entries a step while all continue the run,
			 * then one at a time. */
			if (left > (len - done) / size)
				left = (len - done) / size;
			while (i + 4 <= left) {
				uint64_t x = (p0 + done) | PTE_LEAF;

				if (((pte[1 + i] & m) ^ x) |
				    ((pte[2 + i] & m) ^ (x + size)) |
				    ((pte[3 + i] & m) ^ (x + 2 * size)) |
				    ((pte[4 + i] & m) ^ (x + 3 * size)))
					break;
				done += 4 * size;
				i += 4;
			}
			while (i < pt_nent(iommu) - idx && done < len &&
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
		pte = pt_walk(d, mk_iova(cur), &level);
		if (!pte)
			break;
		size = level_size(iommu, level);
		if ((*pte & PTE_ADDR_MASK) + (cur & (size - 1)) != p0 + done)
			break;
		done += size - (cur & (size - 1));
	}
	*phys = p0;
	*run = done < len ? done : len;
	return 0;
}

static void each_leaf(struct vfiosim_iommu_domain *d, struct pt_table *t,
		      uint64_t iova, uint64_t last,
		      void (*fn)(void *arg, uint64_t leaf_iova, uint64_t size,
				 uint64_t *pte),
		      void *arg)
{
	struct vfiosim_iommu *iommu = d->iommu;
	uint64_t lsize = level_size(iommu, t->level);

	for (;;) {
		unsigned int idx = pt_index(iommu, t->level, iova);
		uint64_t e = t->ent[idx];
		uint64_t estart = iova & ~(lsize - 1);
		uint64_t elast = estart + (lsize - 1);

		if (e & PTE_LEAF)
			fn(arg, estart, lsize, &t->ent[idx]);
		else if (e)
			each_leaf(d, t->child[idx], iova,
				  elast < last ? elast : last, fn, arg);
		if (elast >= last)
			return;
		iova = elast + 1;
	}
}

void pt_for_each_leaf(struct vfiosim_iommu_domain *d, struct iova iova,
		      struct iova last,
		      void (*fn)(void *arg, uint64_t leaf_iova, uint64_t size,
				 uint64_t *pte),
		      void *arg)
{
	each_leaf(d, d->root, iova.v, last.v, fn, arg);
}

static void destroy_table(struct vfiosim_iommu_domain *d, struct pt_table *t)
{
	unsigned int n = pt_nent(d->iommu);

	if (t->child)
		for (unsigned int i = 0; i < n; i++)
			if (t->child[i])
				destroy_table(d, t->child[i]);
	pt_table_free(d, t);
}

void pt_destroy(struct vfiosim_iommu_domain *d)
{
	if (d->root)
		destroy_table(d, d->root);
	d->root = NULL;
	d->leaves = 0;
	d->mapped_bytes = 0;
}
