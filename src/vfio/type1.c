/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * type1.c - the VFIO type1 IOMMU backend, as Linux 6.1 (Debian 12) runs it.
 *
 * What it models: drivers/vfio/vfio_iommu_type1.c of 6.1.y with the stable
 * backports Debian ships (the 2023 "virtual address update" fixes: vaddr
 * changes answer -EBUSY instead of waiting, the mapping keeps its mm, and
 * UPDATE_VADDR is only offered once a backend exists).  Names follow the
 * kernel's so the two can be read side by side: vfio_dma_do_map(),
 * vfio_pin_map_dma(), vfio_pin_pages_remote(), vfio_iommu_map(),
 * vfio_dma_do_unmap(), vfio_remove_dma(), vfio_unmap_unpin(),
 * vfio_iommu_replay(), vfio_iommu_type1_attach_group()/_detach_group().
 * The page primitives come from the mm layer (long-term GUP, PFNMAP lookup,
 * locked_vm accounting) and the domains from the iommu layer, so pins,
 * refcounts, IO page tables and IOTLB invalidations are real.
 *
 * Dirty tracking keeps each vfio_dma's bitmap as the kernel does, in u64
 * words with one spare word, and reports with the same shift-and-copy, so
 * its "stale shifted bits" are reproduced.
 *
 * Emulated groups (mediated devices' groups, no IOMMU) attach without a
 * domain: a container that has only them maps without pinning.
 *
 * Not yet modelled (they come with the mediated-device work): external
 * pinning (vfio_pin_pages, pfn_list), the unmap notification to devices,
 * vfio_dma_rw.
 *
 * Vocabulary: a vfio_dma covers [iova, iova + size); IOVA list ranges are
 * [start, end] with end inclusive.  Arithmetic wraps exactly as the
 * kernel's does (u64), including its 6.1 behaviour for a mapping that ends
 * at the top of the 64-bit space.
 *
 * Locking: iommu->lock (t1->lock) protects every field of struct
 * vfiosim_type1 and of every vfio_dma, vfio_domain and vfio_iommu_group.
 * Lock order: iommu->lock -> mm->mmap_lock (read for GUP, write for
 * accounting), never the reverse.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/tree.h>
#include <unistd.h>

#include <libvfiosim/iommu.h>
#include <libvfiosim/mm.h>
#include <libvfiosim/vfio.h>

#include "mm/mm_internal.h"
#include "sync/sync_internal.h"
#include "vfio/vfio_internal.h"

#define VFIO_BATCH_MAX_CAPACITY 512
#define VFIO_IOMMU_TLB_SYNC_MAX 512

struct vfio_dma {
	RB_ENTRY(vfio_dma) node;
	uint64_t iova;
	uint64_t vaddr;
	uint64_t size;
	unsigned int prot;
	bool iommu_mapped;
	bool lock_cap;
	bool vaddr_invalid;
	/*
	 * Model only, a one-way hint: set once a reserved or PFNMAP page of
	 * this mapping is pinned, so unpinning a mapping without any skips
	 * the per-run reserved check.  Never cleared (harmless if stale).
	 */
	bool has_rsvd;
	struct vfiosim_task *task;
	struct vfiosim_mm *mm; /* grabbed (mmgrab) */
	long locked_vm;	       /* pages this dma charged to mm */
	uint64_t *bitmap;      /* dirty bits while tracking, + 1 spare word */
};

static int dma_cmp(const struct vfio_dma *a, const struct vfio_dma *b)
{
	return a->iova < b->iova ? -1 : a->iova > b->iova;
}

RB_HEAD(dma_tree, vfio_dma);
RB_GENERATE_INTERNAL(dma_tree, vfio_dma, node, dma_cmp,
		     static __attribute__((unused)))

struct vfio_iommu_group {
	struct vfiosim_iommu_group *iommu_group;
	bool pinned_page_dirty_scope;
	struct vfio_iommu_group *next;
};

struct vfio_domain {
	struct vfiosim_iommu_domain *domain;
	struct vfiosim_iommu *ops; /* "same iommu_ops" means same IOMMU */
	struct vfio_iommu_group *group_list;
	bool enforce_cache_coherency;
	struct vfio_domain *next;
};

struct vfio_emulated_group {
	const void *token;
	struct vfio_emulated_group *next;
};

struct iova_list {
	struct vfiosim_iommu_range *r; /* start, last (inclusive) */
	unsigned int n, cap;
};

struct vfiosim_type1 {
	struct vfiosim_world *w;
	struct vfiosim_mutex lock;	 /* "iommu->lock" */
	struct vfio_domain *domain_list; /* newest first */
	struct vfio_emulated_group *emulated_groups;
	struct iova_list iova_list;
	struct dma_tree dma_list;
	unsigned long ndma;
	unsigned int dma_limit;
	unsigned int dma_avail;
	unsigned int vaddr_invalid_count;
	uint64_t pgsize_bitmap;
	unsigned int num_non_pinned_groups;
	bool v2;
	bool nesting;
	bool dirty_page_tracking;
	bool allow_unsafe_interrupts;
	bool fix_dirty_shift;
	uint64_t page_size;
	unsigned int page_shift;
};

/* ------------------------------------------------------------ helpers */

static void *t1_alloc(struct vfiosim_type1 *t1, size_t size, const char *point)
{
	return vfiosim_zalloc(t1->w, size, point);
}

/* vfio_find_dma(): any mapping overlapping [start, start + size). */
static struct vfio_dma *vfio_find_dma(struct vfiosim_type1 *t1, uint64_t start,
				      uint64_t size)
{
	struct vfio_dma *dma = RB_ROOT(&t1->dma_list);

	while (dma) {
		if (start + size <= dma->iova)
			dma = RB_LEFT(dma, node);
		else if (start >= dma->iova + dma->size)
			dma = RB_RIGHT(dma, node);
		else
			return dma;
	}
	return NULL;
}

/* vfio_find_dma_first_node(): the lowest mapping ending above @start. */
static struct vfio_dma *vfio_find_dma_first_node(struct vfiosim_type1 *t1,
						 uint64_t start, uint64_t size)
{
	struct vfio_dma *dma = RB_ROOT(&t1->dma_list), *res = NULL;

	while (dma) {
		if (start < dma->iova + dma->size) {
			res = dma;
			if (start >= dma->iova)
				break;
			dma = RB_LEFT(dma, node);
		} else {
			dma = RB_RIGHT(dma, node);
		}
	}
	if (res && size && res->iova >= start + size)
		res = NULL;
	return res;
}

static bool is_invalid_reserved_pfn(struct vfiosim_type1 *t1, uint64_t pfn)
{
	return vfiosim_pfn_invalid_or_reserved(t1->w, pfn);
}

/* The shared zero page's frame (VFIOSIM_PFN_INVALID until it exists). */
static uint64_t zero_pfn(struct vfiosim_type1 *t1)
{
	struct mm_phys *p = mm_phys_get(t1->w);

	return p ? p->zero_pfn : VFIOSIM_PFN_INVALID;
}

/* put_pfn(): drop the pin of a normal page; returns 1 if it did. */
static int put_pfn(struct vfiosim_type1 *t1, uint64_t pfn, unsigned int prot)
{
	if (is_invalid_reserved_pfn(t1, pfn))
		return 0;
	vfiosim_unpin_user_pages_dirty_lock(t1->w, &pfn, 1,
					    prot & VFIOSIM_IOMMU_WRITE);
	return 1;
}

/* mm_lock_acct() of 6.1.y: charge or refund @npage pages to @mm. */
static int mm_lock_acct(struct vfiosim_task *task, struct vfiosim_mm *mm,
			bool lock_cap, long npage)
{
	int ret = vfiosim_mmap_write_lock_killable(mm);

	if (ret)
		return ret;
	ret = vfiosim_account_locked_vm_locked(
		mm, (unsigned long)(npage < 0 ? -npage : npage), npage > 0,
		task, lock_cap);
	vfiosim_mmap_write_unlock(mm);
	return ret;
}

/* vfio_lock_acct() of 6.1.y (with dma->mm). */
static int vfio_lock_acct(struct vfio_dma *dma, long npage, bool async)
{
	struct vfiosim_mm *mm = dma->mm;
	int ret;

	if (!npage)
		return 0;
	if (!mm || (async && !vfiosim_mmget_not_zero(mm)))
		return -ESRCH; /* process exited */
	ret = mm_lock_acct(dma->task, mm, dma->lock_cap, npage);
	if (!ret)
		dma->locked_vm += npage;
	if (async)
		vfiosim_mmput(mm);
	return ret;
}

/*
 * vfio_change_dma_owner() of 6.1.y: a vaddr restored by another process
 * (QEMU's live update execs or hands over to a new process) moves the
 * mapping's locked_vm to it.  The new owner is charged first, under its
 * own RLIMIT_MEMLOCK and CAP_IPC_LOCK sampled now; only then is the old mm
 * refunded (if it still exists) and the mapping's task, mm and lock_cap
 * swapped.  A failure changes nothing.
 */
static int vfio_change_dma_owner(struct vfiosim_type1 *t1, struct vfio_dma *dma)
{
	struct vfiosim_task *task = vfiosim_current_task(t1->w);
	struct vfiosim_mm *mm = vfiosim_current_mm(t1->w);
	long npage = dma->locked_vm;
	bool lock_cap;
	int ret;

	if (mm == dma->mm)
		return 0;
	if (!mm)
		return -ENODEV;
	lock_cap = vfiosim_capable(t1->w, VFIOSIM_CAP_IPC_LOCK);
	ret = mm_lock_acct(task, mm, lock_cap, npage);
	if (ret)
		return ret;
	if (dma->mm && vfiosim_mmget_not_zero(dma->mm)) {
		mm_lock_acct(dma->task, dma->mm, dma->lock_cap, -npage);
		vfiosim_mmput(dma->mm);
	}
	dma->task = task;
	if (dma->mm)
		vfiosim_mmdrop(dma->mm);
	dma->mm = mm;
	vfiosim_mmgrab(mm);
	dma->lock_cap = lock_cap;
	return 0;
}

/* --------------------------------------------------------------- batch */

struct vfio_batch {
	uint64_t pages[VFIO_BATCH_MAX_CAPACITY];
	unsigned int capacity;
	unsigned int size;   /* pinned pages not yet consumed */
	unsigned int offset; /* next unconsumed page */
};

/*
 * vfio_batch_init(): the kernel allocates one page for the batch and falls
 * back to a single entry when that fails; fault point "vfio.batch_alloc".
 */
static void vfio_batch_init(struct vfiosim_type1 *t1, struct vfio_batch *b)
{
	b->capacity = vfiosim_fault(t1->w, "vfio.batch_alloc") ?
			      1 :
			      VFIO_BATCH_MAX_CAPACITY;
	b->size = 0;
	b->offset = 0;
}

static void vfio_batch_unpin(struct vfiosim_type1 *t1, struct vfio_dma *dma,
			     struct vfio_batch *b)
{
	while (b->size) {
		put_pfn(t1, b->pages[b->offset], dma->prot);
		b->offset++;
		b->size--;
	}
}

/*
 * vaddr_get_pfns(): long-term pin from @mm, or the PFNMAP lookup.  Returns
 * pages pinned into @pages (the first is also *@pfn), 1 for a PFNMAP pfn
 * (not in @pages), or a negative errno.
 */
static long vaddr_get_pfns(struct vfiosim_type1 *t1, struct vfiosim_mm *mm,
			   uint64_t vaddr, unsigned long npages,
			   unsigned int prot, uint64_t *pfn, uint64_t *pages)
{
	unsigned int flags = VFIOSIM_FOLL_LONGTERM;
	struct vfiosim_rwsem *mmap_lock = vfiosim_mm_mmap_lock(mm);
	long ret;
	int rc;

	if (prot & VFIOSIM_IOMMU_WRITE)
		flags |= VFIOSIM_FOLL_WRITE;
	vfiosim_down_read(mmap_lock);
	ret = vfiosim_pin_user_pages(mm, vaddr, npages, flags, pages);
	if (ret > 0) {
		uint64_t zero = zero_pfn(t1);

		/*
		 * The zero page is always resident: 6.1.y drops its pin at
		 * once and put_pfn() never unpins it (it is reserved).  A
		 * write pin never returns it (GUP breaks COW first).
		 */
		if (flags & VFIOSIM_FOLL_WRITE)
			zero = VFIOSIM_PFN_INVALID;
		for (long i = 0; zero != VFIOSIM_PFN_INVALID && i < ret; i++)
			if (unlikely(pages[i] == zero))
				vfiosim_unpin_user_pages(t1->w, &pages[i], 1);
		*pfn = pages[0];
		goto done;
	}
	rc = vfiosim_mm_follow_pfn(mm, vaddr, prot & VFIOSIM_IOMMU_WRITE, pfn,
				   NULL);
	if (rc == 0)
		ret = is_invalid_reserved_pfn(t1, *pfn) ? 1 : -EFAULT;
	else if (rc != -EINVAL)
		ret = rc; /* a PFNMAP vma refused the access */
done:
	vfiosim_up_read(mmap_lock);
	return ret;
}

/*
 * How many of @pages[0..@n) continue @pfn (pages[0] is @pfn or stands for
 * it): eight entries at a time while they all do, which the compiler can
 * vectorise, then one at a time.
 */
static uint64_t contig_len(const uint64_t *pages, uint64_t n, uint64_t pfn)
{
	uint64_t k = 1;

	while (k + 8 <= n) {
		uint64_t diff = 0;

		for (unsigned int j = 0; j < 8; j++)
			diff |= pages[k + j] ^ (pfn + k + j);
		if (diff)
			break;
		k += 8;
	}
	while (k < n && pages[k] == pfn + k)
		k++;
	return k;
}

/*
 * vfio_pin_pages_remote(): pin a physically contiguous run starting at
 * @vaddr, charging locked_vm for its normal pages.  Returns the run length
 * in pages, or a negative errno with nothing of this call left pinned.
 */
static long vfio_pin_pages_remote(struct vfiosim_type1 *t1,
				  struct vfio_dma *dma, uint64_t vaddr,
				  unsigned long npage, uint64_t *pfn_base,
				  uint64_t limit, struct vfio_batch *batch)
{
	struct vfiosim_mm *mm = vfiosim_current_mm(t1->w);
	long ret = 0, pinned = 0, lock_acct = 0;
	uint64_t pfn = 0, rsvd_left = 0;
	bool rsvd = false;

	if (!mm)
		return -ENODEV;
	if (batch->size) {
		*pfn_base = batch->pages[batch->offset];
		pfn = *pfn_base;
	} else {
		*pfn_base = VFIOSIM_PFN_INVALID;
	}
	while (npage) {
		if (!batch->size) {
			unsigned long req = npage < batch->capacity ?
						    npage :
						    batch->capacity;

			ret = vaddr_get_pfns(t1, mm, vaddr, req, dma->prot,
					     &pfn, batch->pages);
			if (ret < 0)
				goto unpin_out;
			batch->size = (unsigned int)ret;
			batch->offset = 0;
			if (*pfn_base == VFIOSIM_PFN_INVALID)
				*pfn_base = pfn;
		}
		/*
		 * pfn is preset for the first page: it may be a PFNMAP pfn.
		 * The kernel walks the batch a page at a time; here a
		 * contiguous stretch of pages that are all reserved or all
		 * normal is taken at once, with the same outcome (the limit
		 * is checked as if page by page).
		 */
		for (;;) {
			uint64_t contig, take, locked;

			if (pfn != *pfn_base + (uint64_t)pinned)
				goto out;
			contig = contig_len(batch->pages + batch->offset,
					    batch->size, pfn);
			/* is_invalid_reserved_pfn(), once per run; the
			 * first run says what pfn_base is. */
			if (!rsvd_left) {
				bool r;

				rsvd_left = vfiosim_pfn_reserved_run(
					t1->w, pfn, contig, &r);
				if (!pinned)
					rsvd = r;
				else if (r != rsvd)
					goto out;
			}
			take = contig < rsvd_left ? contig : rsvd_left;
			/* Reserved pages are never charged. */
			if (!rsvd && !dma->lock_cap) {
				locked = vfiosim_mm_locked_vm(mm) +
					 (uint64_t)lock_acct;
				if (locked + take > limit)
					take = limit > locked ? limit - locked :
								0;
				if (!take) {
					ret = -ENOMEM;
					goto unpin_out;
				}
			}
			if (!rsvd)
				lock_acct += (long)take;
			else
				dma->has_rsvd = true;
			rsvd_left -= take;
			pinned += (long)take;
			npage -= take;
			vaddr += take << t1->page_shift;
			batch->offset += (unsigned int)take;
			batch->size -= (unsigned int)take;
			if (!batch->size)
				break;
			pfn = batch->pages[batch->offset];
		}
	}
out:
	ret = vfio_lock_acct(dma, lock_acct, false);
unpin_out:
	if (batch->size == 1 && !batch->offset) {
		/* May be a PFNMAP pfn, which the batch cannot remember. */
		put_pfn(t1, pfn, dma->prot);
		batch->size = 0;
	}
	if (ret < 0) {
		if (pinned && !rsvd)
			for (pfn = *pfn_base; pinned; pfn++, pinned--)
				put_pfn(t1, pfn, dma->prot);
		vfio_batch_unpin(t1, dma, batch);
		return ret;
	}
	return pinned;
}

/*
 * vfio_unpin_pages_remote(): unpin @npage pages from @pfn; with
 * @do_accounting refund them.  Returns the pages really unpinned.
 */
static long vfio_unpin_pages_remote(struct vfiosim_type1 *t1,
				    struct vfio_dma *dma, uint64_t pfn,
				    long npage, bool do_accounting)
{
	long unlocked = 0, locked = 0; /* no external pins yet */
	bool dirty = dma->prot & VFIOSIM_IOMMU_WRITE;

	/*
	 * put_pfn() on each page, as the kernel does, but the normal pages
	 * of a run are released in one call -- all of them at once when
	 * this mapping never pinned a reserved page.
	 */
	if (!dma->has_rsvd && npage > 0) {
		vfiosim_unpin_user_page_range_dirty_lock(
			t1->w, pfn, (unsigned long)npage, dirty);
		unlocked = npage;
		npage = 0;
	}
	for (long i = 0; i < npage;) {
		bool rsvd;
		long n = (long)vfiosim_pfn_reserved_run(
			t1->w, pfn + (uint64_t)i, (uint64_t)(npage - i), &rsvd);

		if (!rsvd) { /* reserved pages are never unpinned */
			vfiosim_unpin_user_page_range_dirty_lock(
				t1->w, pfn + (uint64_t)i, (unsigned long)n,
				dirty);
			unlocked += n;
		}
		i += n;
	}
	if (do_accounting)
		vfio_lock_acct(dma, locked - unlocked, true);
	return unlocked;
}

/* ------------------------------------------------------- map and unmap */

/* vfio_iommu_map(): map into every domain, all or nothing. */
static int vfio_iommu_map(struct vfiosim_type1 *t1, uint64_t iova, uint64_t pfn,
			  long npage, unsigned int prot)
{
	uint64_t len = (uint64_t)npage << t1->page_shift;
	struct vfio_domain *d, *u;
	int ret = 0;

	for (d = t1->domain_list; d; d = d->next) {
		ret = vfiosim_iommu_map(d->domain, iova, pfn << t1->page_shift,
					len, prot | VFIOSIM_IOMMU_CACHE);
		if (ret)
			break;
	}
	if (!ret)
		return 0;
	for (u = t1->domain_list; u != d; u = u->next)
		vfiosim_iommu_unmap(u->domain, iova, len);
	return ret;
}

struct vfio_regions {
	uint64_t iova;
	uint64_t phys;
	uint64_t len;
};

static long vfio_sync_unpin(struct vfiosim_type1 *t1, struct vfio_dma *dma,
			    struct vfio_domain *domain,
			    struct vfio_regions *regions, unsigned int *cnt,
			    struct vfiosim_iotlb_gather *gather)
{
	long unlocked = 0;

	/* Unpin only after the IOTLB no longer reaches the pages. */
	vfiosim_iommu_iotlb_sync(domain->domain, gather);
	for (unsigned int i = 0; i < *cnt; i++)
		unlocked += vfio_unpin_pages_remote(
			t1, dma, regions[i].phys >> t1->page_shift,
			(long)(regions[i].len >> t1->page_shift), false);
	*cnt = 0;
	return unlocked;
}

/* vfio_unmap_unpin(): unmap @dma from every domain and unpin its pages. */
static long vfio_unmap_unpin(struct vfiosim_type1 *t1, struct vfio_dma *dma,
			     bool do_accounting)
{
	uint64_t iova = dma->iova, end = dma->iova + dma->size;
	struct vfio_regions *regions;
	struct vfiosim_iotlb_gather gather;
	struct vfio_domain *domain, *d;
	unsigned int cnt = 0;
	long unlocked = 0;

	if (!dma->size || !t1->domain_list)
		return 0;
	/*
	 * The first domain tells which pages to unpin; the others are
	 * unmapped first so no translation is left when pages are unpinned.
	 */
	domain = t1->domain_list;
	for (d = domain->next; d; d = d->next)
		vfiosim_iommu_unmap(d->domain, dma->iova, dma->size);
	regions = t1_alloc(t1, VFIO_IOMMU_TLB_SYNC_MAX * sizeof(*regions),
			   "vfio.unmap_regions");
	vfiosim_iotlb_gather_init(&gather);
	while (iova < end) {
		uint64_t phys, len;
		int64_t unmapped = 0;

		/* The kernel WARNs on phys 0 ("not mapped"); here frame 0
		 * is a frame like any other and the lookup says not-mapped. */
		/* Where iova maps and the longest physically contiguous run
		 * from there: the kernel's page-by-page iova_to_phys() loop,
		 * in one walk. */
		if (vfiosim_iommu_lookup_run(domain->domain, iova, end - iova,
					     &phys, &len)) {
			VFIOSIM_WARN_ON(t1->w, 1);
			iova += t1->page_size;
			continue;
		}
		if (regions) { /* unmap_unpin_fast() */
			unmapped = vfiosim_iommu_unmap_fast(domain->domain,
							    iova, len, &gather);
			if (unmapped > 0) {
				regions[cnt++] = (struct vfio_regions){
					iova, phys, (uint64_t)unmapped
				};
				iova += (uint64_t)unmapped;
			}
			if (cnt >= VFIO_IOMMU_TLB_SYNC_MAX || unmapped <= 0)
				unlocked += vfio_sync_unpin(t1, dma, domain,
							    regions, &cnt,
							    &gather);
		}
		if (unmapped <= 0) { /* unmap_unpin_slow() */
			unmapped =
				vfiosim_iommu_unmap(domain->domain, iova, len);
			if (unmapped > 0) {
				unlocked += vfio_unpin_pages_remote(
					t1, dma, phys >> t1->page_shift,
					(long)((uint64_t)unmapped >>
					       t1->page_shift),
					false);
				iova += (uint64_t)unmapped;
			}
			if (VFIOSIM_WARN_ON(t1->w, unmapped <= 0))
				break;
		}
	}
	dma->iommu_mapped = false;
	if (cnt)
		unlocked += vfio_sync_unpin(t1, dma, domain, regions, &cnt,
					    &gather);
	vfiosim_free(t1->w, regions);
	if (do_accounting) {
		vfio_lock_acct(dma, -unlocked, true);
		return 0;
	}
	return unlocked;
}

static void vfio_dma_bitmap_free(struct vfiosim_type1 *t1,
				 struct vfio_dma *dma);
static int vfio_dma_bitmap_alloc(struct vfiosim_type1 *t1, struct vfio_dma *dma,
				 uint64_t pgsize);
static int update_user_bitmap(struct vfiosim_type1 *t1, uint64_t *user,
			      struct vfio_dma *dma, uint64_t base_iova,
			      uint64_t pgsize);

/* vfio_remove_dma(). */
static void vfio_remove_dma(struct vfiosim_type1 *t1, struct vfio_dma *dma)
{
	vfio_unmap_unpin(t1, dma, true);
	RB_REMOVE(dma_tree, &t1->dma_list, dma);
	t1->ndma--;
	if (dma->mm)
		vfiosim_mmdrop(dma->mm);
	vfio_dma_bitmap_free(t1, dma);
	if (dma->vaddr_invalid)
		t1->vaddr_invalid_count--;
	vfiosim_free(t1->w, dma);
	t1->dma_avail++;
}

/* vfio_pin_map_dma(). */
static int vfio_pin_map_dma(struct vfiosim_type1 *t1, struct vfio_dma *dma,
			    uint64_t map_size)
{
	uint64_t iova = dma->iova, vaddr = dma->vaddr, size = map_size;
	struct vfio_batch batch_store, *batch = &batch_store;
	uint64_t limit, pfn;
	long npage;
	int ret = 0;

	limit = vfiosim_task_rlimit(vfiosim_current_task(t1->w),
				    VFIOSIM_RLIMIT_MEMLOCK) >>
		t1->page_shift;
	vfio_batch_init(t1, batch);
	while (size) {
		npage = vfio_pin_pages_remote(t1, dma, vaddr + dma->size,
					      size >> t1->page_shift, &pfn,
					      limit, batch);
		if (npage <= 0) {
			VFIOSIM_WARN_ON(t1->w, !npage);
			ret = npage ? (int)npage : -EFAULT;
			break;
		}
		ret = vfio_iommu_map(t1, iova + dma->size, pfn, npage,
				     dma->prot);
		if (ret) {
			vfio_unpin_pages_remote(t1, dma, pfn, npage, true);
			vfio_batch_unpin(t1, dma, batch);
			break;
		}
		size -= (uint64_t)npage << t1->page_shift;
		dma->size += (uint64_t)npage << t1->page_shift;
	}
	dma->iommu_mapped = true;
	if (ret)
		vfio_remove_dma(t1, dma);
	return ret;
}

static bool vfio_iommu_iova_dma_valid(struct vfiosim_type1 *t1, uint64_t start,
				      uint64_t end)
{
	if (!t1->iova_list.n)
		return true;
	for (unsigned int i = 0; i < t1->iova_list.n; i++)
		if (start >= t1->iova_list.r[i].start &&
		    end <= t1->iova_list.r[i].last)
			return true;
	return false;
}

static int type1_map_dma(struct vfiosim_type1 *t1, uint64_t vaddr,
			 uint64_t iova, uint64_t size, uint32_t flags)
{
	bool set_vaddr = flags & VFIOSIM_DMA_MAP_FLAG_VADDR;
	struct vfiosim_task *task;
	unsigned int prot = 0;
	struct vfio_dma *dma;
	uint64_t pgsize;
	int ret;

	if (!t1 ||
	    flags & ~(VFIOSIM_DMA_MAP_FLAG_READ | VFIOSIM_DMA_MAP_FLAG_WRITE |
		      VFIOSIM_DMA_MAP_FLAG_VADDR))
		return -EINVAL;
	if (flags & VFIOSIM_DMA_MAP_FLAG_WRITE)
		prot |= VFIOSIM_IOMMU_WRITE;
	if (flags & VFIOSIM_DMA_MAP_FLAG_READ)
		prot |= VFIOSIM_IOMMU_READ;
	if ((prot && set_vaddr) || (!prot && !set_vaddr))
		return -EINVAL;

	vfiosim_mutex_lock(&t1->lock);
	pgsize = 1ull << sim_ffs64(t1->pgsize_bitmap);
	if (!size || (size | iova | vaddr) & (pgsize - 1)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	/* Don't allow IOVA or virtual address wrap */
	if (iova + size - 1 < iova || vaddr + size - 1 < vaddr) {
		ret = -EINVAL;
		goto out_unlock;
	}
	dma = vfio_find_dma(t1, iova, size);
	if (set_vaddr) {
		if (!dma) {
			ret = -ENOENT;
		} else if (!dma->vaddr_invalid || dma->iova != iova ||
			   dma->size != size) {
			ret = -EINVAL;
		} else {
			ret = vfio_change_dma_owner(t1, dma);
			if (ret)
				goto out_unlock;
			dma->vaddr = vaddr;
			dma->vaddr_invalid = false;
			t1->vaddr_invalid_count--;
			ret = 0;
		}
		goto out_unlock;
	} else if (dma) {
		ret = -EEXIST;
		goto out_unlock;
	}
	if (!t1->dma_avail) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	if (!vfio_iommu_iova_dma_valid(t1, iova, iova + size - 1)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	task = vfiosim_current_task(t1->w);
	dma = t1_alloc(t1, sizeof(*dma), "vfio.dma_alloc");
	if (!dma) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	t1->dma_avail--;
	dma->iova = iova;
	dma->vaddr = vaddr;
	dma->prot = prot;
	dma->task = task;
	dma->mm = vfiosim_current_mm(t1->w);
	if (dma->mm)
		vfiosim_mmgrab(dma->mm);
	dma->lock_cap = vfiosim_capable(t1->w, VFIOSIM_CAP_IPC_LOCK);
	RB_INSERT(dma_tree, &t1->dma_list, dma);
	t1->ndma++;
	/* Don't pin and map without an IOMMU domain. */
	if (!t1->domain_list) {
		dma->size = size;
		ret = 0;
	} else {
		ret = vfio_pin_map_dma(t1, dma, size);
	}
	if (!ret && t1->dirty_page_tracking) {
		ret = vfio_dma_bitmap_alloc(t1, dma, pgsize);
		if (ret)
			vfio_remove_dma(t1, dma);
	}
out_unlock:
	vfiosim_mutex_unlock(&t1->lock);
	return ret;
}

static int type1_unmap_dma(struct vfiosim_type1 *t1, uint64_t iova,
			   uint64_t size, uint32_t flags,
			   const struct vfiosim_type1_bitmap *bm,
			   uint64_t *unmapped_out)
{
	bool get_dirty = flags & VFIOSIM_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
	bool unmap_all = flags & VFIOSIM_DMA_UNMAP_FLAG_ALL;
	bool invalidate_vaddr = flags & VFIOSIM_DMA_UNMAP_FLAG_VADDR;
	struct vfio_dma *dma, *first, *n;
	uint64_t unmapped = 0, pgsize;
	int ret = -EINVAL;

	if (unmapped_out)
		*unmapped_out = 0;
	if (!t1 || flags & ~(VFIOSIM_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP |
			     VFIOSIM_DMA_UNMAP_FLAG_ALL |
			     VFIOSIM_DMA_UNMAP_FLAG_VADDR))
		return -EINVAL;
	/* The ioctl wrapper's check. */
	if ((flags & VFIOSIM_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) &&
	    (flags &
	     (VFIOSIM_DMA_UNMAP_FLAG_ALL | VFIOSIM_DMA_UNMAP_FLAG_VADDR)))
		return -EINVAL;

	vfiosim_mutex_lock(&t1->lock);
	/* 6.1.y: no vaddr changes while mediated devices could pin. */
	if (invalidate_vaddr && t1->emulated_groups) {
		ret = -EBUSY;
		goto unlock;
	}
	pgsize = 1ull << sim_ffs64(t1->pgsize_bitmap);
	if (iova & (pgsize - 1))
		goto unlock;
	if (unmap_all) {
		if (iova || size)
			goto unlock;
		size = UINT64_MAX;
	} else if (!size || size & (pgsize - 1) || iova + size - 1 < iova) {
		goto unlock;
	}
	/* With a dirty bitmap, only while tracking, at the smallest size. */
	if (get_dirty &&
	    (!bm || !t1->dirty_page_tracking || bm->pgsize != pgsize))
		goto unlock;

	/* v2: a request may not bisect a mapping. */
	if (t1->v2 && !unmap_all) {
		dma = vfio_find_dma(t1, iova, 1);
		if (dma && dma->iova != iova)
			goto unlock;
		dma = vfio_find_dma(t1, iova + size - 1, 0);
		if (dma && dma->iova + dma->size != iova + size)
			goto unlock;
	}
	ret = 0;
	n = first = vfio_find_dma_first_node(t1, iova, size);
	while (n) {
		dma = n;
		if (dma->iova >= iova + size)
			break;
		/* v1: stop at a mapping that starts before the request. */
		if (!t1->v2 && iova > dma->iova)
			break;
		if (invalidate_vaddr) {
			if (dma->vaddr_invalid) {
				/* Roll back what this call invalidated. */
				for (n = first; n != dma;
				     n = RB_NEXT(dma_tree, &t1->dma_list, n)) {
					n->vaddr_invalid = false;
					t1->vaddr_invalid_count--;
				}
				ret = -EINVAL;
				unmapped = 0;
				break;
			}
			dma->vaddr_invalid = true;
			t1->vaddr_invalid_count++;
			unmapped += dma->size;
			n = RB_NEXT(dma_tree, &t1->dma_list, n);
			continue;
		}
		if (get_dirty) {
			ret = update_user_bitmap(t1, bm->data, dma, iova,
						 pgsize);
			if (ret)
				break;
		}
		unmapped += dma->size;
		n = RB_NEXT(dma_tree, &t1->dma_list, n);
		vfio_remove_dma(t1, dma);
	}
unlock:
	vfiosim_mutex_unlock(&t1->lock);
	if (unmapped_out)
		*unmapped_out = unmapped;
	return ret;
}

/* ----------------------------------------------------- the IOVA list */

static int iova_insert(struct vfiosim_type1 *t1, struct iova_list *l,
		       unsigned int at, uint64_t start, uint64_t last)
{
	if (l->n == l->cap) {
		unsigned int cap = l->cap ? l->cap * 2 : 8;
		struct vfiosim_iommu_range *r =
			t1_alloc(t1, cap * sizeof(*r), "vfio.iova_alloc");

		if (!r)
			return -ENOMEM;
		if (l->n)
			memcpy(r, l->r, l->n * sizeof(*r));
		vfiosim_free(t1->w, l->r);
		l->r = r;
		l->cap = cap;
	}
	memmove(&l->r[at + 1], &l->r[at], (l->n - at) * sizeof(*l->r));
	l->r[at] = (struct vfiosim_iommu_range){ start, last, 0 };
	l->n++;
	return 0;
}

static void iova_del(struct iova_list *l, unsigned int at)
{
	memmove(&l->r[at], &l->r[at + 1], (l->n - at - 1) * sizeof(*l->r));
	l->n--;
}

static void iova_free(struct vfiosim_type1 *t1, struct iova_list *l)
{
	vfiosim_free(t1->w, l->r);
	memset(l, 0, sizeof(*l));
}

static int iova_copy(struct vfiosim_type1 *t1, const struct iova_list *from,
		     struct iova_list *to)
{
	memset(to, 0, sizeof(*to));
	for (unsigned int i = 0; i < from->n; i++)
		if (iova_insert(t1, to, i, from->r[i].start, from->r[i].last)) {
			iova_free(t1, to);
			return -ENOMEM;
		}
	return 0;
}

/* vfio_iommu_aper_conflict(). */
static bool vfio_iommu_aper_conflict(struct vfiosim_type1 *t1, uint64_t start,
				     uint64_t end)
{
	const struct iova_list *l = &t1->iova_list;

	if (!l->n)
		return false;
	if (start > l->r[l->n - 1].last || end < l->r[0].start)
		return true;
	if (start > l->r[0].start &&
	    vfio_find_dma(t1, l->r[0].start, start - l->r[0].start))
		return true;
	if (end < l->r[l->n - 1].last &&
	    vfio_find_dma(t1, end + 1, l->r[l->n - 1].last - end))
		return true;
	return false;
}

/* vfio_iommu_aper_resize(). */
static int vfio_iommu_aper_resize(struct vfiosim_type1 *t1, struct iova_list *l,
				  uint64_t start, uint64_t end)
{
	unsigned int i;

	if (!l->n)
		return iova_insert(t1, l, 0, start, end);
	for (i = 0; i < l->n;) {
		if (start < l->r[i].start)
			break;
		if (start >= l->r[i].start && start < l->r[i].last) {
			l->r[i].start = start;
			break;
		}
		iova_del(l, i); /* a range before the new start */
	}
	for (i = 0; i < l->n;) {
		if (end > l->r[i].last) {
			i++;
			continue;
		}
		if (end > l->r[i].start && end <= l->r[i].last) {
			l->r[i].last = end;
			i++;
			continue;
		}
		iova_del(l, i); /* a range after the new end */
	}
	return 0;
}

/* vfio_iommu_resv_exclude(). */
static int vfio_iommu_resv_exclude(struct vfiosim_type1 *t1,
				   struct iova_list *l,
				   const struct vfiosim_iommu_range *resv,
				   int nresv)
{
	for (int k = 0; k < nresv; k++) {
		uint64_t start = resv[k].start, end = resv[k].last;

		for (unsigned int i = 0; i < l->n;) {
			struct vfiosim_iommu_range n = l->r[i];
			unsigned int at = i;
			int ret = 0;

			if (start > n.last || end < n.start) {
				i++;
				continue;
			}
			if (start > n.start)
				ret = iova_insert(t1, l, at++, n.start,
						  start - 1);
			if (!ret && end < n.last)
				ret = iova_insert(t1, l, at++, end + 1, n.last);
			if (ret)
				return ret;
			iova_del(l, at);
			i = at;
		}
	}
	return l->n ? 0 : -EINVAL;
}

static bool vfio_iommu_resv_conflict(struct vfiosim_type1 *t1,
				     const struct vfiosim_iommu_range *resv,
				     int nresv)
{
	for (int k = 0; k < nresv; k++)
		if (vfio_find_dma(t1, resv[k].start,
				  resv[k].last - resv[k].start + 1))
			return true;
	return false;
}

static void vfio_update_pgsize_bitmap(struct vfiosim_type1 *t1)
{
	uint64_t bitmap = ~(t1->page_size - 1);

	for (struct vfio_domain *d = t1->domain_list; d; d = d->next) {
		struct vfiosim_iommu_domain_info info;

		if (!vfiosim_iommu_domain_get_info(d->domain, &info))
			bitmap &= info.pgsize_bitmap;
	}
	/* Sub-page sizes count as PAGE_SIZE. */
	if (bitmap & (t1->page_size - 1)) {
		bitmap &= ~(t1->page_size - 1);
		bitmap |= t1->page_size;
	}
	t1->pgsize_bitmap = bitmap;
}

/* ---------------------------------------------------------------- replay */

/*
 * vfio_iommu_replay(): map every existing mapping into @domain.  The
 * unwind, unlike the kernel's, unmaps only what this call mapped of the
 * failing mapping (the iommu model reports unmapping a hole).
 */
static int vfio_iommu_replay(struct vfiosim_type1 *t1,
			     struct vfio_domain *domain)
{
	struct vfio_domain *d = t1->domain_list;
	struct vfio_batch batch_store, *batch = &batch_store;
	struct vfio_dma *dma, *failed = NULL;
	uint64_t limit;
	int ret = 0;

	vfio_batch_init(t1, batch);
	limit = vfiosim_task_rlimit(vfiosim_current_task(t1->w),
				    VFIOSIM_RLIMIT_MEMLOCK) >>
		t1->page_shift;
	RB_FOREACH(dma, dma_tree, &t1->dma_list) {
		uint64_t iova = dma->iova, end = dma->iova + dma->size;

		while (iova < end) {
			uint64_t phys, size;

			if (dma->iommu_mapped) {
				if (VFIOSIM_WARN_ON(t1->w, !d)) {
					ret = -EINVAL;
					goto unwind;
				}
				if (vfiosim_iommu_lookup_run(d->domain, iova,
							     end - iova, &phys,
							     &size)) {
					VFIOSIM_WARN_ON(t1->w, 1);
					iova += t1->page_size;
					continue;
				}
			} else {
				uint64_t pfn;
				long npage = vfio_pin_pages_remote(
					t1, dma,
					dma->vaddr + (iova - dma->iova),
					(end - iova) >> t1->page_shift, &pfn,
					limit, batch);

				if (npage <= 0) {
					VFIOSIM_WARN_ON(t1->w, !npage);
					ret = npage ? (int)npage : -EFAULT;
					goto unwind;
				}
				phys = pfn << t1->page_shift;
				size = (uint64_t)npage << t1->page_shift;
			}
			ret = vfiosim_iommu_map(
				domain->domain, iova, phys, size,
				dma->prot | VFIOSIM_IOMMU_CACHE);
			if (ret) {
				if (!dma->iommu_mapped) {
					vfio_unpin_pages_remote(
						t1, dma, phys >> t1->page_shift,
						(long)(size >> t1->page_shift),
						true);
					vfio_batch_unpin(t1, dma, batch);
				}
				goto unwind;
			}
			iova += size;
		}
	}
	/* All mapped: only now mark them (the 5.9 fix). */
	RB_FOREACH(dma, dma_tree, &t1->dma_list)
		dma->iommu_mapped = true;
	return 0;

unwind:
	failed = dma;
	for (dma = failed; dma; dma = RB_PREV(dma_tree, &t1->dma_list, dma)) {
		uint64_t iova = dma->iova, end = dma->iova + dma->size;

		if (dma == failed) {
			/* What this call mapped of the failing mapping. */
			end = dma->iova;
			while (end < dma->iova + dma->size) {
				uint64_t p;

				if (vfiosim_iommu_iova_to_phys(domain->domain,
							       end, &p))
					break;
				end += t1->page_size;
			}
		}
		if (dma->iommu_mapped) {
			if (end > iova)
				vfiosim_iommu_unmap(domain->domain, iova,
						    end - iova);
			continue;
		}
		while (iova < end) {
			uint64_t phys, size;

			if (vfiosim_iommu_lookup_run(domain->domain, iova,
						     end - iova, &phys,
						     &size)) {
				iova += t1->page_size;
				continue;
			}
			vfiosim_iommu_unmap(domain->domain, iova, size);
			vfio_unpin_pages_remote(t1, dma, phys >> t1->page_shift,
						(long)(size >> t1->page_shift),
						true);
			iova += size;
		}
	}
	return ret;
}

/* ------------------------------------------------------- attach, detach */

static struct vfio_iommu_group *find_group(struct vfio_domain *d,
					   struct vfiosim_iommu_group *ig)
{
	for (struct vfio_iommu_group *g = d->group_list; g; g = g->next)
		if (g->iommu_group == ig)
			return g;
	return NULL;
}

/*
 * iommu_get_group_resv_regions(): the reserved regions of @ig, all of
 * them, in a world allocation the caller frees (*out is NULL when there
 * are none).  Returns the count or a negative errno.
 */
static int group_resv_regions(struct vfiosim_type1 *t1,
			      struct vfiosim_iommu_group *ig,
			      struct vfiosim_iommu_range **out)
{
	int n = vfiosim_iommu_group_resv_regions(ig, NULL, 0);

	*out = NULL;
	if (n <= 0)
		return n;
	*out = t1_alloc(t1, (size_t)n * sizeof(**out), "vfio.resv_alloc");
	if (!*out)
		return -ENOMEM;
	/* The list does not change while the caller holds t1->lock. */
	return vfiosim_iommu_group_resv_regions(ig, *out, n);
}

static int type1_attach_group(struct vfiosim_type1 *t1,
			      struct vfiosim_iommu_group *ig)
{
	struct vfiosim_iommu_range *resv = NULL;
	struct vfiosim_iommu_domain_info info;
	struct vfio_iommu_group *group;
	struct vfio_domain *domain, *d;
	struct iova_list copy = { 0 };
	struct vfiosim_iommu *iommu;
	int ret, nresv;

	if (!t1 || !ig)
		return -EINVAL;
	vfiosim_mutex_lock(&t1->lock);
	ret = -EBUSY;
	if (t1->vaddr_invalid_count)
		goto out_unlock;
	ret = -EINVAL;
	for (d = t1->domain_list; d; d = d->next)
		if (find_group(d, ig))
			goto out_unlock;
	ret = -ENOMEM;
	group = t1_alloc(t1, sizeof(*group), "vfio.group_alloc");
	if (!group)
		goto out_unlock;
	group->iommu_group = ig;
	domain = t1_alloc(t1, sizeof(*domain), "vfio.domain_alloc");
	if (!domain)
		goto out_free_group;
	iommu = vfiosim_iommu_domain_iommu(
		vfiosim_iommu_group_default_domain(ig));
	ret = -EIO;
	if (!iommu || vfiosim_iommu_domain_alloc(iommu, &domain->domain))
		goto out_free_domain;
	domain->ops = iommu;
	ret = vfiosim_iommu_attach_group(domain->domain, ig);
	if (ret)
		goto out_domain;
	vfiosim_iommu_domain_get_info(domain->domain, &info);
	if (vfio_iommu_aper_conflict(t1, info.aperture_start,
				     info.aperture_end)) {
		ret = -EINVAL;
		goto out_detach;
	}
	nresv = group_resv_regions(t1, ig, &resv);
	if (nresv < 0) {
		ret = nresv;
		goto out_detach;
	}
	if (vfio_iommu_resv_conflict(t1, resv, nresv)) {
		ret = -EINVAL;
		goto out_detach;
	}
	ret = iova_copy(t1, &t1->iova_list, &copy);
	if (ret)
		goto out_detach;
	ret = vfio_iommu_aper_resize(t1, &copy, info.aperture_start,
				     info.aperture_end);
	if (ret)
		goto out_detach;
	ret = vfio_iommu_resv_exclude(t1, &copy, resv, nresv);
	if (ret)
		goto out_detach;
	domain->group_list = group;
	if (!t1->allow_unsafe_interrupts &&
	    !vfiosim_iommu_capable(iommu, VFIOSIM_IOMMU_CAP_INTR_REMAP)) {
		ret = -EPERM;
		goto out_detach;
	}
	domain->enforce_cache_coherency =
		vfiosim_iommu_capable(iommu, VFIOSIM_IOMMU_CAP_CACHE_COHERENCY);

	/* Reuse a compatible domain: no replay needed. */
	for (d = t1->domain_list; d; d = d->next) {
		if (d->ops != domain->ops ||
		    d->enforce_cache_coherency !=
			    domain->enforce_cache_coherency)
			continue;
		vfiosim_iommu_detach_group(domain->domain, ig);
		if (!vfiosim_iommu_attach_group(d->domain, ig)) {
			group->next = d->group_list;
			d->group_list = group;
			vfiosim_iommu_domain_free(domain->domain);
			vfiosim_free(t1->w, domain);
			goto done;
		}
		ret = vfiosim_iommu_attach_group(domain->domain, ig);
		if (ret)
			goto out_domain;
	}
	ret = vfio_iommu_replay(t1, domain);
	if (ret)
		goto out_detach;
	domain->next = t1->domain_list;
	t1->domain_list = domain;
	vfio_update_pgsize_bitmap(t1);
done:
	iova_free(t1, &t1->iova_list);
	t1->iova_list = copy;
	/* An IOMMU-backed group can dirty memory directly. */
	t1->num_non_pinned_groups++;
	vfiosim_mutex_unlock(&t1->lock);
	vfiosim_free(t1->w, resv);
	return 0;

out_detach:
	vfiosim_iommu_detach_group(domain->domain, ig);
out_domain:
	vfiosim_iommu_domain_free(domain->domain);
	iova_free(t1, &copy);
out_free_domain:
	vfiosim_free(t1->w, domain);
out_free_group:
	vfiosim_free(t1->w, group);
out_unlock:
	vfiosim_mutex_unlock(&t1->lock);
	vfiosim_free(t1->w, resv);
	return ret;
}

static void vfio_iommu_unmap_unpin_all(struct vfiosim_type1 *t1)
{
	struct vfio_dma *dma;

	while ((dma = RB_MIN(dma_tree, &t1->dma_list)))
		vfio_remove_dma(t1, dma);
}

/*
 * vfio_iommu_unmap_unpin_reaccount(): the last IOMMU domain goes while
 * emulated groups stay: every mapping is unmapped and unpinned, its charge
 * left only for externally pinned pages (none are modelled yet).
 */
static void vfio_iommu_unmap_unpin_reaccount(struct vfiosim_type1 *t1)
{
	struct vfio_dma *dma;

	RB_FOREACH(dma, dma_tree, &t1->dma_list) {
		long locked = 0, unlocked = vfio_unmap_unpin(t1, dma, false);

		vfio_lock_acct(dma, locked - unlocked, true);
	}
}

/* Rebuild the IOVA list from the remaining domains (detach). */
static void iova_refresh(struct vfiosim_type1 *t1)
{
	uint64_t start = 0, end = UINT64_MAX;
	struct iova_list l = { 0 };

	for (struct vfio_domain *d = t1->domain_list; d; d = d->next) {
		struct vfiosim_iommu_domain_info info;

		vfiosim_iommu_domain_get_info(d->domain, &info);
		if (info.aperture_start > start)
			start = info.aperture_start;
		if (info.aperture_end < end)
			end = info.aperture_end;
	}
	if (vfio_iommu_aper_resize(t1, &l, start, end))
		return; /* keep the old list */
	for (struct vfio_domain *d = t1->domain_list; d; d = d->next) {
		for (struct vfio_iommu_group *g = d->group_list; g;
		     g = g->next) {
			struct vfiosim_iommu_range *resv;
			int n = group_resv_regions(t1, g->iommu_group, &resv);

			if (n < 0 || vfio_iommu_resv_exclude(t1, &l, resv, n)) {
				vfiosim_free(t1->w, resv);
				iova_free(t1, &l);
				return;
			}
			vfiosim_free(t1->w, resv);
		}
	}
	iova_free(t1, &t1->iova_list);
	t1->iova_list = l;
}

static int type1_detach_group(struct vfiosim_type1 *t1,
			      struct vfiosim_iommu_group *ig)
{
	struct vfio_domain **dp, *domain;
	struct vfio_iommu_group **gp, *group = NULL;
	bool update_dirty_scope;

	if (!t1 || !ig)
		return -EINVAL;
	vfiosim_mutex_lock(&t1->lock);
	for (dp = &t1->domain_list; *dp; dp = &(*dp)->next) {
		domain = *dp;
		for (gp = &domain->group_list; *gp; gp = &(*gp)->next)
			if ((*gp)->iommu_group == ig)
				break;
		if (*gp) {
			group = *gp;
			break;
		}
	}
	if (!group) {
		vfiosim_mutex_unlock(&t1->lock);
		return -ENOENT;
	}
	vfiosim_iommu_detach_group(domain->domain, ig);
	update_dirty_scope = !group->pinned_page_dirty_scope;
	*gp = group->next;
	vfiosim_free(t1->w, group);
	if (!domain->group_list) {
		/* The last domain takes every mapping with it ... */
		if (t1->domain_list == domain && !domain->next &&
		    !t1->emulated_groups) {
			vfio_iommu_unmap_unpin_all(t1);
		} else if (t1->domain_list == domain && !domain->next) {
			/* ... unless emulated groups keep them: unpin. */
			vfio_iommu_unmap_unpin_reaccount(t1);
		} else {
			struct vfio_dma *dma;

			/*
			 * The kernel frees this domain with its mappings in
			 * place (the pages stay pinned for the other
			 * domains); the hardware model wants empty tables,
			 * so unmap first -- nothing else can see the
			 * difference, no device uses the domain any more.
			 */
			RB_FOREACH(dma, dma_tree, &t1->dma_list)
				if (dma->iommu_mapped && dma->size)
					vfiosim_iommu_unmap(domain->domain,
							    dma->iova,
							    dma->size);
		}
		*dp = domain->next;
		vfiosim_iommu_domain_free(domain->domain);
		vfiosim_free(t1->w, domain);
		vfio_update_pgsize_bitmap(t1);
	}
	iova_refresh(t1);
	if (update_dirty_scope)
		t1->num_non_pinned_groups--;
	vfiosim_mutex_unlock(&t1->lock);
	return 0;
}

/* ----------------------------------------------------- dirty tracking */

static void bitmap_set_bits(uint64_t *b, uint64_t start, uint64_t n)
{
	for (uint64_t i = start; i < start + n; i++)
		b[i / 64] |= 1ull << (i % 64);
}

static void bitmap_clear_bits(uint64_t *b, uint64_t start, uint64_t n)
{
	for (uint64_t i = start; i < start + n; i++)
		b[i / 64] &= ~(1ull << (i % 64));
}

/* __bitmap_shift_left(): whole words, the last one not masked. */
static void bitmap_shift_left(uint64_t *dst, const uint64_t *src,
			      unsigned int shift, uint64_t nbits)
{
	uint64_t lim = (nbits + 63) / 64, off = shift / 64, rem = shift % 64;

	for (int64_t k = (int64_t)(lim - off) - 1; k >= 0; --k) {
		uint64_t lower = (rem && k > 0) ? src[k - 1] >> (64 - rem) : 0;

		dst[k + (int64_t)off] = lower | (src[k] << rem);
	}
	if (off)
		memset(dst, 0, off * sizeof(*dst));
}

static int vfio_dma_bitmap_alloc(struct vfiosim_type1 *t1, struct vfio_dma *dma,
				 uint64_t pgsize)
{
	uint64_t npages = dma->size / pgsize;

	if (npages > INT32_MAX)
		return -EINVAL;
	dma->bitmap = t1_alloc(t1,
			       DIRTY_BITMAP_BYTES(npages) + sizeof(uint64_t),
			       "vfio.bitmap_alloc");
	return dma->bitmap ? 0 : -ENOMEM;
}

static void vfio_dma_bitmap_free(struct vfiosim_type1 *t1, struct vfio_dma *dma)
{
	vfiosim_free(t1->w, dma->bitmap);
	dma->bitmap = NULL;
}

/* vfio_dma_populate_bitmap(): the pinned pages (none without mdevs). */
static void vfio_dma_populate_bitmap(struct vfio_dma *dma, uint64_t pgsize)
{
	(void)dma;
	(void)pgsize;
}

static int vfio_dma_bitmap_alloc_all(struct vfiosim_type1 *t1, uint64_t pgsize)
{
	struct vfio_dma *dma, *d;

	RB_FOREACH(dma, dma_tree, &t1->dma_list) {
		int ret = vfio_dma_bitmap_alloc(t1, dma, pgsize);

		if (ret) {
			RB_FOREACH(d, dma_tree, &t1->dma_list) {
				if (d == dma)
					break;
				vfio_dma_bitmap_free(t1, d);
			}
			return ret;
		}
		vfio_dma_populate_bitmap(dma, pgsize);
	}
	return 0;
}

static void vfio_dma_bitmap_free_all(struct vfiosim_type1 *t1)
{
	struct vfio_dma *dma;

	RB_FOREACH(dma, dma_tree, &t1->dma_list)
		vfio_dma_bitmap_free(t1, dma);
}

/* update_user_bitmap(): report @dma relative to @base_iova. */
static int update_user_bitmap(struct vfiosim_type1 *t1, uint64_t *user,
			      struct vfio_dma *dma, uint64_t base_iova,
			      uint64_t pgsize)
{
	unsigned int pgshift = sim_ffs64(pgsize);
	uint64_t nbits = dma->size >> pgshift;
	uint64_t bit_offset = (dma->iova - base_iova) >> pgshift;
	uint64_t copy_offset = bit_offset / 64;
	unsigned int shift = (unsigned int)(bit_offset % 64);
	uint64_t leftover;

	/* Every page is dirty while a group cannot report its pages. */
	if (t1->num_non_pinned_groups && dma->iommu_mapped)
		bitmap_set_bits(dma->bitmap, 0, nbits);
	if (shift && t1->fix_dirty_shift) {
		/*
		 * Corrected: shift a copy, keep the mapping's own bitmap as
		 * it was, and take only the previous mappings' low bits of
		 * the user's word.
		 */
		size_t words = DIRTY_BITMAP_BYTES(nbits + shift) / 8;
		uint64_t *copy =
			t1_alloc(t1, words * 8 + 8, "vfio.bitmap_copy");
		int ret;

		if (!copy)
			return -ENOMEM;
		memcpy(copy, dma->bitmap, DIRTY_BITMAP_BYTES(nbits) + 8);
		bitmap_shift_left(copy, copy, shift, nbits + shift);
		ret = sim_copy_from_user(&leftover,
					 (uintptr_t)(user + copy_offset),
					 sizeof(leftover));
		if (!ret) {
			copy[0] |= leftover & ((1ull << shift) - 1);
			ret = sim_copy_to_user((uintptr_t)(user + copy_offset),
					       copy, words * 8);
		}
		vfiosim_free(t1->w, copy);
		return ret;
	}
	if (shift) {
		/* 6.1: shift in place; clearing later misses the high bits. */
		bitmap_shift_left(dma->bitmap, dma->bitmap, shift,
				  nbits + shift);
		if (sim_copy_from_user(&leftover,
				       (uintptr_t)(user + copy_offset),
				       sizeof(leftover)))
			return -EFAULT;
		/* bitmap_or() over `shift` bits ORs the whole first word. */
		dma->bitmap[0] |= leftover;
	}
	return sim_copy_to_user((uintptr_t)(user + copy_offset), dma->bitmap,
				DIRTY_BITMAP_BYTES(nbits + shift));
}

/* vfio_iova_dirty_bitmap(). */
static int vfio_iova_dirty_bitmap(struct vfiosim_type1 *t1, uint64_t *user,
				  uint64_t iova, uint64_t size, uint64_t pgsize)
{
	unsigned int pgshift = sim_ffs64(pgsize);
	struct vfio_dma *dma;
	int ret;

	/* The range must not bisect a mapping. */
	dma = vfio_find_dma(t1, iova, 1);
	if (dma && dma->iova != iova)
		return -EINVAL;
	dma = vfio_find_dma(t1, iova + size - 1, 0);
	if (dma && dma->iova + dma->size != iova + size)
		return -EINVAL;
	RB_FOREACH(dma, dma_tree, &t1->dma_list) {
		if (dma->iova < iova)
			continue;
		if (dma->iova > iova + size - 1)
			break;
		ret = update_user_bitmap(t1, user, dma, iova, pgsize);
		if (ret)
			return ret;
		/* Only the dma's own bits are cleared: the stale bits. */
		bitmap_clear_bits(dma->bitmap, 0, dma->size >> pgshift);
		vfio_dma_populate_bitmap(dma, pgsize);
	}
	return 0;
}

static int type1_dirty_start(struct vfiosim_type1 *t1)
{
	int ret = 0;

	if (!t1)
		return -EINVAL;
	if (!t1->v2)
		return -EACCES;
	vfiosim_mutex_lock(&t1->lock);
	if (!t1->dirty_page_tracking) {
		ret = vfio_dma_bitmap_alloc_all(
			t1, 1ull << sim_ffs64(t1->pgsize_bitmap));
		if (!ret)
			t1->dirty_page_tracking = true;
	}
	vfiosim_mutex_unlock(&t1->lock);
	return ret;
}

static int type1_dirty_stop(struct vfiosim_type1 *t1)
{
	if (!t1)
		return -EINVAL;
	if (!t1->v2)
		return -EACCES;
	vfiosim_mutex_lock(&t1->lock);
	if (t1->dirty_page_tracking) {
		t1->dirty_page_tracking = false;
		vfio_dma_bitmap_free_all(t1);
	}
	vfiosim_mutex_unlock(&t1->lock);
	return 0;
}

static int type1_dirty_get(struct vfiosim_type1 *t1, uint64_t iova,
			   uint64_t size, const struct vfiosim_type1_bitmap *bm)
{
	uint64_t pgsize;
	int ret;

	if (!t1 || !bm)
		return -EINVAL;
	if (!t1->v2)
		return -EACCES;
	vfiosim_mutex_lock(&t1->lock);
	pgsize = 1ull << sim_ffs64(t1->pgsize_bitmap);
	if (bm->pgsize != pgsize || iova & (pgsize - 1) || !size ||
	    size & (pgsize - 1) || !t1->dirty_page_tracking)
		ret = -EINVAL;
	else
		ret = vfio_iova_dirty_bitmap(t1, bm->data, iova, size, pgsize);
	vfiosim_mutex_unlock(&t1->lock);
	return ret;
}

/* --------------------------------------------------- open, release, info */

VFIOSIM_EXPORT int vfiosim_type1_check_extension(struct vfiosim_type1 *t1,
						 unsigned long ext)
{
	bool coherent = true;

	switch (ext) {
	case VFIOSIM_TYPE1_IOMMU:
	case VFIOSIM_TYPE1v2_IOMMU:
	case VFIOSIM_TYPE1_NESTING_IOMMU:
	case VFIOSIM_UNMAP_ALL:
		return 1;
	case VFIOSIM_UPDATE_VADDR:
		/* 6.1.y: only with a backend and no emulated group. */
		return t1 && !t1->emulated_groups;
	case VFIOSIM_DMA_CC_IOMMU:
		if (!t1)
			return 0;
		vfiosim_mutex_lock(&t1->lock);
		for (struct vfio_domain *d = t1->domain_list; d; d = d->next)
			coherent &= d->enforce_cache_coherency;
		vfiosim_mutex_unlock(&t1->lock);
		return coherent;
	default:
		return 0;
	}
}

VFIOSIM_EXPORT int vfiosim_type1_open(struct vfiosim_world *w,
				      unsigned long type,
				      unsigned int dma_entry_limit,
				      struct vfiosim_type1 **out)
{
	struct vfiosim_type1 *t1;

	if (!w || !out)
		return -EINVAL;
	*out = NULL;
	if (type != VFIOSIM_TYPE1_IOMMU && type != VFIOSIM_TYPE1v2_IOMMU &&
	    type != VFIOSIM_TYPE1_NESTING_IOMMU)
		return -EINVAL;
	t1 = vfiosim_zalloc(w, sizeof(*t1), "vfio.type1_alloc");
	if (!t1)
		return -ENOMEM;
	t1->w = w;
	if (sync_mutex_init(w, &t1->lock, "iommu->lock", __FILE__, __LINE__)) {
		vfiosim_free(w, t1);
		return -ENOMEM;
	}
	RB_INIT(&t1->dma_list);
	t1->v2 = type != VFIOSIM_TYPE1_IOMMU;
	t1->nesting = type == VFIOSIM_TYPE1_NESTING_IOMMU;
	t1->dma_limit = t1->dma_avail = dma_entry_limit;
	t1->allow_unsafe_interrupts =
		vfiosim_world_config(w)->vfio.allow_unsafe_interrupts;
	t1->fix_dirty_shift = vfiosim_world_config(w)->vfio.fix_dirty_shift;
	t1->page_size = vfiosim_page_size(w);
	t1->page_shift = (unsigned int)sim_ffs64(t1->page_size);
	t1->pgsize_bitmap = ~(t1->page_size - 1);
	*out = t1;
	return 0;
}

VFIOSIM_EXPORT void vfiosim_type1_release(struct vfiosim_type1 *t1)
{
	struct vfio_domain *d;

	if (!t1)
		return;
	vfiosim_mutex_lock(&t1->lock);
	while (t1->emulated_groups) {
		struct vfio_emulated_group *g = t1->emulated_groups;

		t1->emulated_groups = g->next;
		vfiosim_free(t1->w, g);
	}
	vfio_iommu_unmap_unpin_all(t1);
	while ((d = t1->domain_list)) {
		struct vfio_iommu_group *g;

		while ((g = d->group_list)) {
			vfiosim_iommu_detach_group(d->domain, g->iommu_group);
			d->group_list = g->next;
			vfiosim_free(t1->w, g);
		}
		vfiosim_iommu_domain_free(d->domain);
		t1->domain_list = d->next;
		vfiosim_free(t1->w, d);
	}
	iova_free(t1, &t1->iova_list);
	vfiosim_mutex_unlock(&t1->lock);
	sync_mutex_destroy(&t1->lock);
	vfiosim_free(t1->w, t1);
}

VFIOSIM_EXPORT bool vfiosim_type1_is_v2(const struct vfiosim_type1 *t1)
{
	return t1 && t1->v2;
}

VFIOSIM_EXPORT int vfiosim_type1_get_info(struct vfiosim_type1 *t1,
					  struct vfiosim_type1_info *info)
{
	if (!t1 || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	vfiosim_mutex_lock(&t1->lock);
	info->iova_pgsizes = t1->pgsize_bitmap;
	info->dma_avail = t1->dma_avail;
	info->nr_iovas = t1->iova_list.n;
	for (unsigned int i = 0;
	     i < t1->iova_list.n && i < VFIOSIM_TYPE1_MAX_IOVA_RANGES; i++)
		info->iovas[i] = t1->iova_list.r[i];
	info->migration_pgsize = 1ull << sim_ffs64(t1->pgsize_bitmap);
	info->max_dirty_bitmap_size = DIRTY_BITMAP_SIZE_MAX;
	vfiosim_mutex_unlock(&t1->lock);
	return 0;
}

VFIOSIM_EXPORT int vfiosim_type1_get_stats(struct vfiosim_type1 *t1,
					   struct vfiosim_type1_stats *st)
{
	struct vfio_dma *dma;

	if (!t1 || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	vfiosim_mutex_lock(&t1->lock);
	st->dmas = t1->ndma;
	for (struct vfio_domain *d = t1->domain_list; d; d = d->next) {
		st->domains++;
		for (struct vfio_iommu_group *g = d->group_list; g; g = g->next)
			st->iommu_groups++;
	}
	RB_FOREACH(dma, dma_tree, &t1->dma_list) {
		st->mapped_bytes += dma->size;
		st->vaddr_invalid += dma->vaddr_invalid;
	}
	st->num_non_pinned_groups = t1->num_non_pinned_groups;
	for (struct vfio_emulated_group *g = t1->emulated_groups; g;
	     g = g->next)
		st->emulated_groups++;
	vfiosim_mutex_unlock(&t1->lock);
	return 0;
}

static int invariant(struct vfiosim_type1 *t1, bool ok, const char *what)
{
	if (ok)
		return 0;
	vfiosim_fail_at(t1->w, VFIOSIM_FAIL_INVARIANT, __FILE__, __LINE__,
			"type1: %s", what);
	return 1;
}

VFIOSIM_EXPORT int vfiosim_type1_check_invariants(struct vfiosim_type1 *t1)
{
	struct vfio_dma *dma, *prev = NULL;
	unsigned long n = 0, invalid = 0;
	int bad = 0;

	if (!t1)
		return 0;
	vfiosim_mutex_lock(&t1->lock);
	RB_FOREACH(dma, dma_tree, &t1->dma_list) {
		n++;
		invalid += dma->vaddr_invalid;
		if (prev)
			bad += invariant(t1,
					 prev->iova + prev->size <= dma->iova,
					 "overlapping vfio_dma entries");
		prev = dma;
		if (!dma->iommu_mapped)
			continue;
		for (struct vfio_domain *d = t1->domain_list; d; d = d->next) {
			for (uint64_t off = 0; off < dma->size;
			     off += t1->page_size) {
				struct vfiosim_page_info pi;
				uint64_t phys;

				if (vfiosim_iommu_iova_to_phys(d->domain,
							       dma->iova + off,
							       &phys)) {
					bad += invariant(t1, false,
							 "a page of a mapped "
							 "vfio_dma has no "
							 "translation");
					break;
				}
				if (vfiosim_page_query(
					    t1->w, phys >> t1->page_shift, &pi))
					continue;
				if (!is_invalid_reserved_pfn(
					    t1, phys >> t1->page_shift) &&
				    !pi.pincount) {
					bad += invariant(
						t1, false,
						"an IOMMU translation "
						"points at an unpinned "
						"frame");
					break;
				}
			}
		}
	}
	bad += invariant(t1, n == t1->ndma, "vfio_dma count");
	bad += invariant(t1, t1->dma_avail + n == t1->dma_limit,
			 "dma_avail + mappings != dma_entry_limit");
	bad += invariant(t1, invalid == t1->vaddr_invalid_count,
			 "vaddr_invalid_count");
	vfiosim_mutex_unlock(&t1->lock);
	return bad;
}

/* vfio_iommu_type1_attach_group() for VFIO_EMULATED_IOMMU groups. */
static int type1_attach_emulated(struct vfiosim_type1 *t1, const void *token)
{
	struct vfio_emulated_group *g;
	int ret = 0;

	if (!t1 || !token)
		return -EINVAL;
	vfiosim_mutex_lock(&t1->lock);
	if (t1->vaddr_invalid_count) {
		ret = -EBUSY;
		goto out;
	}
	for (g = t1->emulated_groups; g; g = g->next)
		if (g->token == token) {
			ret = -EINVAL;
			goto out;
		}
	g = t1_alloc(t1, sizeof(*g), "vfio.group_alloc");
	if (!g) {
		ret = -ENOMEM;
		goto out;
	}
	/* Emulated groups have pinned-page dirty scope from the start. */
	g->token = token;
	g->next = t1->emulated_groups;
	t1->emulated_groups = g;
out:
	vfiosim_mutex_unlock(&t1->lock);
	return ret;
}

static int type1_detach_emulated(struct vfiosim_type1 *t1, const void *token)
{
	struct vfio_emulated_group **p, *g;

	if (!t1 || !token)
		return -EINVAL;
	vfiosim_mutex_lock(&t1->lock);
	for (p = &t1->emulated_groups; *p && (*p)->token != token;
	     p = &(*p)->next)
		;
	g = *p;
	if (!g) {
		vfiosim_mutex_unlock(&t1->lock);
		return -ENOENT;
	}
	*p = g->next;
	vfiosim_free(t1->w, g);
	/* No group left at all: the mappings go. */
	if (!t1->emulated_groups && !t1->domain_list)
		vfio_iommu_unmap_unpin_all(t1);
	vfiosim_mutex_unlock(&t1->lock);
	return 0;
}

/*
 * The entry points.  Built with -Dinvariants=true (CI's sanitizer build),
 * every operation ends with vfiosim_type1_check_invariants().
 */
#ifdef VFIOSIM_INVARIANTS
#define CHECKED(t1, call)                           \
	({                                          \
		int _rc = (call);                   \
		vfiosim_type1_check_invariants(t1); \
		_rc;                                \
	})
#else
#define CHECKED(t1, call) (call)
#endif

VFIOSIM_EXPORT int vfiosim_type1_map_dma(struct vfiosim_type1 *t1,
					 uint64_t vaddr, uint64_t iova,
					 uint64_t size, uint32_t flags)
{
	return CHECKED(t1, type1_map_dma(t1, vaddr, iova, size, flags));
}

VFIOSIM_EXPORT int
vfiosim_type1_unmap_dma(struct vfiosim_type1 *t1, uint64_t iova, uint64_t size,
			uint32_t flags, const struct vfiosim_type1_bitmap *bm,
			uint64_t *unmapped)
{
	return CHECKED(t1,
		       type1_unmap_dma(t1, iova, size, flags, bm, unmapped));
}

VFIOSIM_EXPORT int vfiosim_type1_attach_group(struct vfiosim_type1 *t1,
					      struct vfiosim_iommu_group *ig)
{
	return CHECKED(t1, type1_attach_group(t1, ig));
}

VFIOSIM_EXPORT int vfiosim_type1_detach_group(struct vfiosim_type1 *t1,
					      struct vfiosim_iommu_group *ig)
{
	return CHECKED(t1, type1_detach_group(t1, ig));
}

VFIOSIM_EXPORT int vfiosim_type1_dirty_start(struct vfiosim_type1 *t1)
{
	return CHECKED(t1, type1_dirty_start(t1));
}

VFIOSIM_EXPORT int vfiosim_type1_dirty_stop(struct vfiosim_type1 *t1)
{
	return CHECKED(t1, type1_dirty_stop(t1));
}

VFIOSIM_EXPORT int
vfiosim_type1_dirty_get(struct vfiosim_type1 *t1, uint64_t iova, uint64_t size,
			const struct vfiosim_type1_bitmap *bm)
{
	return CHECKED(t1, type1_dirty_get(t1, iova, size, bm));
}

VFIOSIM_EXPORT int vfiosim_type1_attach_emulated_group(struct vfiosim_type1 *t1,
						       const void *token)
{
	return CHECKED(t1, type1_attach_emulated(t1, token));
}

VFIOSIM_EXPORT int vfiosim_type1_detach_emulated_group(struct vfiosim_type1 *t1,
						       const void *token)
{
	return CHECKED(t1, type1_detach_emulated(t1, token));
}
