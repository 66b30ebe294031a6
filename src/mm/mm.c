/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mm.c - address spaces: struct vfiosim_mm (mm_struct), VMAs, a page table,
 * mmap/munmap/mprotect, mm lifetime (mmget/mmput, mmgrab/mmdrop, exec,
 * exit), per-task credentials and limits, and locked_vm accounting.
 *
 * What it models (Linux 6.1): mm_alloc()/mmput()/mmdrop(), get_task_mm(),
 * exec_mmap() (the task switches to a new mm; the old one lives while
 * referenced), do_mmap()/do_vmi_munmap()/do_mprotect_pkey() for anonymous,
 * shmem-like shared, hugetlb and VM_PFNMAP mappings with their errno, the
 * anonymous page fault (do_anonymous_page(): a read maps the shared zero
 * page, a write allocates; do_wp_page() copies the zero page on a later
 * write), hugetlb faults of whole 2M/1G pages, and mm/util.c's
 * account_locked_vm()/__account_locked_vm() with task_rlimit() and
 * capable(CAP_IPC_LOCK).
 *
 * The page table is a radix tree of 512-entry tables over the virtual page
 * number (four levels for 4 KiB pages and 47-bit addresses), like x86-64's.
 * A leaf at level 1 or 2 maps a whole huge page; an entry is 0 (none), a
 * pointer to the next table, or (pfn << 1) | 1.  Every present entry except
 * the zero page's holds one reference on its page.
 *
 * Locking: mmap_lock (a vfiosim_rwsem, class "mm->mmap_lock") protects the
 * VMA tree and locked_vm (write to change) and the page table (read to
 * walk; faulting in under the read lock is serialised by mm->ptl in
 * free-running mode; in deterministic mode no scheduling point falls inside
 * a fault).  mm_users/mm_count and the world's mm list: phys_lock().  Code
 * that runs outside the world's simulated threads (test set-up while the
 * world is not running) takes no lock: nothing else can run then.
 *
 * Vocabulary: byte ranges [start, end) have @end exclusive; vpn is a
 * virtual page number, pfn a physical one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm/mm_internal.h"

static int vma_cmp(const struct mm_vma *a, const struct mm_vma *b)
{
	return a->start < b->start ? -1 : a->start > b->start;
}

RB_GENERATE_INTERNAL(mm_vma_tree, mm_vma, rb, vma_cmp,
		     static __attribute__((unused)))

/* ------------------------------------------------------------- locking */

static inline bool in_thread(struct vfiosim_mm *mm)
{
	return sim_current(mm->w) != NULL;
}

void mm_assert_locked(struct vfiosim_mm *mm, bool write, const char *file,
		      int line)
{
	struct vfiosim_thread *t = sim_current(mm->w);
	struct vfiosim_rwsem *s = &mm->mmap_lock;
	bool held = false;

	if (!t)
		return;
	if (!write) {
		/* readers[] is guarded by host_meta in free-running mode. */
		if (!sim_deterministic(mm->w))
			pthread_mutex_lock(&s->host_meta);
		for (unsigned int i = 0; i < s->nreaders; i++)
			if (s->readers[i].t == t)
				held = true;
		if (!sim_deterministic(mm->w))
			pthread_mutex_unlock(&s->host_meta);
	}
	/* A reader or writer of the host lock is ordered against writers. */
	if (!held)
		held = s->writer == t;
	if (!held)
		vfiosim_fail_at(mm->w, VFIOSIM_FAIL_WARN, file, line,
				"mmap_lock of mm %u not held%s by the caller",
				mm->id, write ? " for writing" : "");
}

void mm_lock_ptl(struct vfiosim_mm *mm)
{
	if (!sim_deterministic(mm->w))
		pthread_mutex_lock(&mm->ptl);
}

void mm_unlock_ptl(struct vfiosim_mm *mm)
{
	if (!sim_deterministic(mm->w))
		pthread_mutex_unlock(&mm->ptl);
}

VFIOSIM_EXPORT struct vfiosim_rwsem *vfiosim_mm_mmap_lock(struct vfiosim_mm *mm)
{
	return mm ? &mm->mmap_lock : NULL;
}

/* ---------------------------------------------------------- credentials */

struct vfiosim_task *mm_current_task(struct vfiosim_world *w)
{
	struct vfiosim_task *t = vfiosim_current_task(w);

	return t ? t : w->init_task;
}

#define current_task mm_current_task

VFIOSIM_EXPORT int vfiosim_task_set_rlimit(struct vfiosim_task *task,
					   int resource, uint64_t bytes)
{
	struct mm_task *d;

	if (!task || resource != VFIOSIM_RLIMIT_MEMLOCK)
		return -EINVAL;
	d = mm_task_data(task, true);
	if (!d)
		return -ENOMEM;
	d->rlimit_memlock = bytes;
	return 0;
}

VFIOSIM_EXPORT uint64_t vfiosim_task_rlimit(struct vfiosim_task *task,
					    int resource)
{
	struct mm_task *d;

	if (!task || resource != VFIOSIM_RLIMIT_MEMLOCK)
		return 0;
	d = mm_task_data(task, false);
	return d ? d->rlimit_memlock : task->w->cfg.mm.memlock_limit;
}

VFIOSIM_EXPORT int vfiosim_task_set_cap(struct vfiosim_task *task, int cap,
					bool on)
{
	struct mm_task *d;

	if (!task || cap != VFIOSIM_CAP_IPC_LOCK)
		return -EINVAL;
	d = mm_task_data(task, true);
	if (!d)
		return -ENOMEM;
	d->cap_ipc_lock = on;
	return 0;
}

VFIOSIM_EXPORT bool vfiosim_task_capable(struct vfiosim_task *task, int cap)
{
	struct mm_task *d;

	if (!task || cap != VFIOSIM_CAP_IPC_LOCK)
		return false;
	d = mm_task_data(task, false);
	return d ? d->cap_ipc_lock : task->w->cfg.mm.cap_ipc_lock;
}

VFIOSIM_EXPORT bool vfiosim_capable(struct vfiosim_world *w, int cap)
{
	return w && vfiosim_task_capable(current_task(w), cap);
}

VFIOSIM_EXPORT int vfiosim_task_kill(struct vfiosim_task *task)
{
	struct mm_task *d;

	if (!task)
		return -EINVAL;
	d = mm_task_data(task, true);
	if (!d)
		return -ENOMEM;
	d->fatal_signal = true;
	return 0;
}

VFIOSIM_EXPORT bool vfiosim_fatal_signal_pending(struct vfiosim_task *task)
{
	struct mm_task *d = task ? mm_task_data(task, false) : NULL;

	return d && d->fatal_signal;
}

VFIOSIM_EXPORT void vfiosim_mmap_lock_at(struct vfiosim_mm *mm, bool write,
					 bool lock, const char *file, int line)
{
	if (!mm || !in_thread(mm))
		return;
	if (write && lock)
		vfiosim_down_write_at(&mm->mmap_lock, 0, file, line);
	else if (write)
		vfiosim_up_write_at(&mm->mmap_lock, file, line);
	else if (lock)
		vfiosim_down_read_at(&mm->mmap_lock, file, line);
	else
		vfiosim_up_read_at(&mm->mmap_lock, file, line);
}

VFIOSIM_EXPORT int vfiosim_mmap_write_lock_killable_at(struct vfiosim_mm *mm,
						       const char *file,
						       int line)
{
	struct vfiosim_task *t;

	if (!mm)
		return -EINVAL;
	t = current_task(mm->w);
	if (!in_thread(mm))
		return 0; /* no lock outside threads: never contended */
	if (vfiosim_down_write_trylock_at(&mm->mmap_lock, file, line))
		return 0;
	if (vfiosim_fatal_signal_pending(t))
		return -EINTR;
	vfiosim_down_write_at(&mm->mmap_lock, 0, file, line);
	if (vfiosim_fatal_signal_pending(t)) {
		vfiosim_up_write_at(&mm->mmap_lock, file, line);
		return -EINTR;
	}
	return 0;
}

/* ------------------------------------------------------------ locked_vm */

VFIOSIM_EXPORT uint64_t vfiosim_mm_locked_vm(const struct vfiosim_mm *mm)
{
	return mm ? mm->locked_vm : 0;
}

VFIOSIM_EXPORT int vfiosim_account_locked_vm_locked(struct vfiosim_mm *mm,
						    unsigned long pages,
						    bool inc,
						    struct vfiosim_task *task,
						    bool bypass_rlim)
{
	uint64_t locked, limit;

	if (!mm || (inc && !bypass_rlim && !task))
		return -EINVAL;
	mm_assert_locked(mm, true, __FILE__, __LINE__);
	locked = mm->locked_vm;
	if (inc) {
		if (!bypass_rlim) {
			limit = vfiosim_task_rlimit(task,
						    VFIOSIM_RLIMIT_MEMLOCK) >>
				mm->phys->page_shift;
			if (pages > limit || locked > limit - pages)
				return -ENOMEM;
		}
		mm->locked_vm = locked + pages;
		return 0;
	}
	if (pages > locked) {
		vfiosim_fail_at(
			mm->w, VFIOSIM_FAIL_INVARIANT, __FILE__, __LINE__,
			"locked_vm underflow: mm %u refunds %lu page(s) "
			"but only %llu are accounted",
			mm->id, pages, (unsigned long long)locked);
		mm->locked_vm = 0;
		return 0;
	}
	mm->locked_vm = locked - pages;
	return 0;
}

VFIOSIM_EXPORT int vfiosim_account_locked_vm(struct vfiosim_mm *mm,
					     unsigned long pages, bool inc)
{
	struct vfiosim_task *t;
	int rc;

	if (!mm || !pages)
		return 0;
	t = current_task(mm->w);
	vfiosim_mmap_write_lock(mm);
	rc = vfiosim_account_locked_vm_locked(
		mm, pages, inc, t,
		vfiosim_task_capable(t, VFIOSIM_CAP_IPC_LOCK));
	vfiosim_mmap_write_unlock(mm);
	return rc;
}

/* ----------------------------------------------------------- page table */

static uint64_t *pt_table_new(struct vfiosim_mm *mm)
{
	uint64_t *t;

	if (vfiosim_fault(mm->w, "mm.pte_alloc"))
		return NULL;
	t = calloc(PT_ENTRIES, sizeof(*t));
	if (t)
		__atomic_fetch_add(&mm->phys->table_bytes,
				   PT_ENTRIES * sizeof(*t), __ATOMIC_RELAXED);
	return t;
}

static void pt_table_free(struct vfiosim_mm *mm, uint64_t *t)
{
	free(t);
	__atomic_fetch_sub(&mm->phys->table_bytes, PT_ENTRIES * sizeof(*t),
			   __ATOMIC_RELAXED);
}

uint64_t mm_pt_lookup(struct vfiosim_mm *mm, uint64_t vpn, unsigned int *order)
{
	uint64_t *t = mm->pgd;

	for (int lvl = (int)pt_levels(mm->phys) - 1; t && lvl >= 0; lvl--) {
		uint64_t e = t[(vpn >> (PT_SHIFT * lvl)) & (PT_ENTRIES - 1)];

		if (!e)
			return 0;
		if (e & PTE_PRESENT) {
			*order = PT_SHIFT * (unsigned int)lvl;
			return e;
		}
		t = (uint64_t *)(uintptr_t)e;
	}
	return 0;
}

static void pt_clear_level(struct vfiosim_mm *mm, uint64_t *t, unsigned int lvl,
			   uint64_t base, uint64_t s, uint64_t e);

int mm_pt_set(struct vfiosim_mm *mm, uint64_t vpn, unsigned int order,
	      uint64_t pfn)
{
	unsigned int leaf = order / PT_SHIFT;
	uint64_t *t, *e;

	if (!mm->pgd) {
		mm->pgd = pt_table_new(mm);
		if (!mm->pgd)
			return -ENOMEM;
	}
	t = mm->pgd;
	for (unsigned int lvl = pt_levels(mm->phys) - 1; lvl > leaf; lvl--) {
		uint64_t *slot =
			&t[(vpn >> (PT_SHIFT * lvl)) & (PT_ENTRIES - 1)];

		if (!*slot) {
			uint64_t *n = pt_table_new(mm);

			if (!n)
				return -ENOMEM;
			*slot = (uint64_t)(uintptr_t)n;
		}
		t = (uint64_t *)(uintptr_t)*slot;
	}
	e = &t[(vpn >> (PT_SHIFT * leaf)) & (PT_ENTRIES - 1)];
	if (*e && !(*e & PTE_PRESENT)) {
		/* A huge leaf where an (empty) lower table was: drop it. */
		uint64_t span = 1ull << (PT_SHIFT * leaf);
		uint64_t base = vpn & ~(span - 1);

		pt_clear_level(mm, (uint64_t *)(uintptr_t)*e, leaf - 1, base,
			       base, base + span);
		pt_table_free(mm, (uint64_t *)(uintptr_t)*e);
	}
	*e = pte_mk(pfn);
	mm->nr_ptes += 1ull << order;
	return 0;
}

static void put_mapped_page(struct vfiosim_mm *mm, uint64_t pfn)
{
	struct mm_phys *p = mm->phys;
	struct phys_ref r;

	phys_lock(p);
	if (pfn != p->zero_pfn && phys_lookup(p, pfn, &r)) {
		/* A host page still held (pinned) outlives its mapping. */
		if (mm->host && r.head->ref > 1)
			phys_host_keep(p, &r, pfn);
		phys_put_locked(p, &r);
	}
	phys_unlock(p);
}

static bool pt_table_empty(const uint64_t *t)
{
	for (unsigned int i = 0; i < PT_ENTRIES; i++)
		if (t[i])
			return false;
	return true;
}

/* Clear [s, e) of the table @t at level @lvl covering vpns from @base. */
static void pt_clear_level(struct vfiosim_mm *mm, uint64_t *t, unsigned int lvl,
			   uint64_t base, uint64_t s, uint64_t e)
{
	uint64_t span = 1ull << (PT_SHIFT * lvl);

	for (unsigned int i = 0; i < PT_ENTRIES; i++) {
		uint64_t lo = base + i * span, hi = lo + span;
		uint64_t ent = t[i];

		if (hi <= s || lo >= e || !ent)
			continue;
		if (ent & PTE_PRESENT) {
			/* munmap() only cuts huge pages at their edges. */
			put_mapped_page(mm, pte_pfn(ent));
			mm->nr_ptes -= span;
			t[i] = 0;
			continue;
		}
		pt_clear_level(mm, (uint64_t *)(uintptr_t)ent, lvl - 1, lo, s,
			       e);
		if ((lo >= s && hi <= e) ||
		    pt_table_empty((uint64_t *)(uintptr_t)ent)) {
			pt_table_free(mm, (uint64_t *)(uintptr_t)ent);
			t[i] = 0;
		}
	}
}

void mm_pt_clear(struct vfiosim_mm *mm, uint64_t vpn, uint64_t vpn_end)
{
	unsigned int top = pt_levels(mm->phys) - 1;

	if (!mm->pgd)
		return;
	pt_clear_level(mm, mm->pgd, top, 0, vpn, vpn_end);
	if (vpn == 0 && vpn_end >= (1ull << (PT_SHIFT * (top + 1)))) {
		pt_table_free(mm, mm->pgd);
		mm->pgd = NULL;
	}
}

/* --------------------------------------------------------------- faults */

static int alloc_mapped(struct vfiosim_mm *mm, struct mm_vma *vma,
			unsigned int order, uint64_t *pfn)
{
	return phys_alloc(mm->phys, order,
			  vma->unbacked ? 0 : VFIOSIM_PAGE_BACKED, pfn);
}

static void mark_dirty(struct mm_phys *p, uint64_t pfn)
{
	struct phys_ref r;

	phys_lock(p);
	if (phys_lookup(p, pfn, &r))
		r.head->flags |= VFIOSIM_PAGE_DIRTY;
	phys_unlock(p);
}

int mm_fault(struct vfiosim_mm *mm, struct mm_vma *vma, uint64_t addr,
	     bool write, uint64_t *pfn)
{
	struct mm_phys *p = mm->phys;
	uint64_t vpn = addr >> p->page_shift, e, npfn;
	unsigned int order = 0;
	int rc;

	if (mm->host)
		return mm_host_fault(mm, addr, pfn);
	mm_lock_ptl(mm);
	e = mm_pt_lookup(mm, vpn, &order);
	if (e) {
		npfn = pte_pfn(e) + (vpn & ((1ull << order) - 1));
		if (!(write && npfn == p->zero_pfn)) {
			mm_unlock_ptl(mm);
			if (write)
				mark_dirty(p, npfn);
			*pfn = npfn;
			return 0;
		}
		/* do_wp_page(): copy the zero page into a page of our own;
		 * the zero page mapping held no reference. */
		rc = alloc_mapped(mm, vma, 0, &npfn);
		if (!rc) {
			mm_pt_set(mm, vpn, 0, npfn); /* table exists */
			mm->nr_ptes--;
		}
		mm_unlock_ptl(mm);
		if (!rc)
			mark_dirty(p, npfn);
		*pfn = npfn;
		return rc;
	}
	if (vma->kind == VMA_ANON && !write) {
		rc = phys_zero_pfn(p, &npfn);
		if (!rc)
			rc = mm_pt_set(mm, vpn, 0, npfn);
		mm_unlock_ptl(mm);
		*pfn = npfn;
		return rc;
	}
	order = vma->kind == VMA_HUGE ? vma->order : 0;
	vpn &= ~((1ull << order) - 1);
	rc = alloc_mapped(mm, vma, order, &npfn);
	if (!rc) {
		rc = mm_pt_set(mm, vpn, order, npfn);
		if (rc)
			vfiosim_page_put(mm->w, npfn);
	}
	mm_unlock_ptl(mm);
	if (rc)
		return rc;
	if (write)
		mark_dirty(p, npfn);
	*pfn = npfn + ((addr >> p->page_shift) & ((1ull << order) - 1));
	return 0;
}

/* ----------------------------------------------------------------- VMAs */

struct mm_vma *mm_find_vma(struct vfiosim_mm *mm, uint64_t addr)
{
	struct mm_vma key = { .start = addr }, *v, *prev;

	v = RB_NFIND(mm_vma_tree, &mm->vmas, &key);
	if (v && v->start == addr)
		return v;
	prev = v ? RB_PREV(mm_vma_tree, &mm->vmas, v) :
		   RB_MAX(mm_vma_tree, &mm->vmas);
	if (prev && prev->end > addr)
		return prev;
	return v;
}

static void vma_info(struct vfiosim_mm *mm, const struct mm_vma *v,
		     struct vfiosim_vma_info *info)
{
	static const unsigned int kinds[] = {
		[VMA_ANON] = VFIOSIM_VMA_ANON,
		[VMA_SHARED] = VFIOSIM_VMA_SHARED,
		[VMA_HUGE] = VFIOSIM_VMA_HUGETLB,
		[VMA_PFNMAP] = VFIOSIM_VMA_PFNMAP,
	};

	(void)mm;
	memset(info, 0, sizeof(*info));
	info->start = v->start;
	info->end = v->end;
	info->prot = v->prot;
	info->kind = kinds[v->kind];
	info->order = v->order;
	info->pfn = v->pfn;
	info->unbacked = v->unbacked;
}

VFIOSIM_EXPORT int vfiosim_mm_find_vma(struct vfiosim_mm *mm, uint64_t addr,
				       struct vfiosim_vma_info *info)
{
	struct mm_vma *v;

	if (!mm || !info)
		return -EINVAL;
	mm_assert_locked(mm, false, __FILE__, __LINE__);
	if (mm->host) {
		uint64_t start, end;
		unsigned int prot;
		int rc = mm_host_region(mm, addr, &start, &end, &prot);

		if (rc)
			return rc;
		memset(info, 0, sizeof(*info));
		info->start = start;
		info->end = end;
		info->prot = prot;
		info->kind = VFIOSIM_VMA_HOST;
		return 0;
	}
	v = mm_find_vma(mm, addr);
	if (!v)
		return -ENOENT;
	vma_info(mm, v, info);
	return 0;
}

static struct mm_vma *vma_alloc(struct vfiosim_mm *mm)
{
	return vfiosim_zalloc(mm->w, sizeof(struct mm_vma), "mm.vma_alloc");
}

static void vma_free(struct vfiosim_mm *mm, struct mm_vma *v)
{
	vfiosim_free(mm->w, v);
}

static uint64_t vma_huge_size(struct vfiosim_mm *mm, const struct mm_vma *v)
{
	return v->kind == VMA_HUGE ? mm->phys->page_size << v->order :
				     mm->phys->page_size;
}

/* Would cutting @v at @addr split a huge page? */
static bool bad_cut(struct vfiosim_mm *mm, const struct mm_vma *v,
		    uint64_t addr)
{
	return addr > v->start && addr < v->end &&
	       (addr & (vma_huge_size(mm, v) - 1));
}

/* Cut @v in two at @addr (inside it); @n becomes the upper part. */
static void vma_split(struct vfiosim_mm *mm, struct mm_vma *v, struct mm_vma *n,
		      uint64_t addr)
{
	*n = *v;
	memset(&n->rb, 0, sizeof(n->rb));
	n->start = addr;
	if (v->kind == VMA_PFNMAP)
		n->pfn = v->pfn + ((addr - v->start) >> mm->phys->page_shift);
	v->end = addr;
	mm_vma_tree_RB_INSERT(&mm->vmas, n);
}

static uint64_t vpn_of(struct vfiosim_mm *mm, uint64_t addr)
{
	return addr >> mm->phys->page_shift;
}

/*
 * Unmap [start, end) (aligned, validated), caller holds mmap_lock for
 * writing.  Either everything or nothing changes.
 */
static int do_munmap_locked(struct vfiosim_mm *mm, uint64_t start, uint64_t end)
{
	struct mm_vma *v, *next, *spare = NULL;

	for (v = mm_find_vma(mm, start); v && v->start < end;
	     v = RB_NEXT(mm_vma_tree, &mm->vmas, v)) {
		if (bad_cut(mm, v, start) || bad_cut(mm, v, end))
			return -EINVAL;
		if (v->start < start && v->end > end) {
			spare = vma_alloc(mm);
			if (!spare)
				return -ENOMEM;
		}
	}
	if (mm->host) {
		mm_lock_ptl(mm);
		mm_pt_clear(mm, vpn_of(mm, start), vpn_of(mm, end));
		mm_unlock_ptl(mm);
		return 0;
	}
	for (v = mm_find_vma(mm, start); v && v->start < end; v = next) {
		uint64_t s = v->start > start ? v->start : start;
		uint64_t e = v->end < end ? v->end : end;

		next = RB_NEXT(mm_vma_tree, &mm->vmas, v);
		if (v->kind != VMA_PFNMAP) {
			mm_lock_ptl(mm);
			mm_pt_clear(mm, vpn_of(mm, s), vpn_of(mm, e));
			mm_unlock_ptl(mm);
		}
		if (v->start >= start && v->end <= end) {
			mm_vma_tree_RB_REMOVE(&mm->vmas, v);
			vma_free(mm, v);
		} else if (v->start < start && v->end > end) {
			vma_split(mm, v, spare, end);
			spare = NULL;
			v->end = start;
			break;
		} else if (v->start < start) {
			v->end = start;
		} else {
			if (v->kind == VMA_PFNMAP)
				v->pfn += (end - v->start) >>
					  mm->phys->page_shift;
			v->start = end; /* order in the tree is unchanged */
		}
	}
	if (spare)
		vma_free(mm, spare);
	return 0;
}

VFIOSIM_EXPORT int vfiosim_munmap(struct vfiosim_mm *mm, uint64_t addr,
				  uint64_t len)
{
	uint64_t psz;
	int rc;

	if (!mm || mm->dead)
		return -EINVAL;
	psz = mm->phys->page_size;
	if ((addr & (psz - 1)) || addr > VFIOSIM_TASK_SIZE ||
	    len > VFIOSIM_TASK_SIZE - addr)
		return -EINVAL;
	len = (len + psz - 1) & ~(psz - 1);
	if (!len)
		return -EINVAL;
	vfiosim_mmap_write_lock(mm);
	rc = do_munmap_locked(mm, addr, addr + len);
	vfiosim_mmap_write_unlock(mm);
	return rc;
}

/* The highest free gap of @len bytes below @below, aligned to @align. */
static int find_gap(struct vfiosim_mm *mm, uint64_t len, uint64_t align,
		    uint64_t *out)
{
	uint64_t top = VFIOSIM_MMAP_BASE, cand;
	struct mm_vma key = { .start = top }, *v;

	v = RB_NFIND(mm_vma_tree, &mm->vmas, &key);
	v = v ? RB_PREV(mm_vma_tree, &mm->vmas, v) :
		RB_MAX(mm_vma_tree, &mm->vmas);
	for (;; v = RB_PREV(mm_vma_tree, &mm->vmas, v)) {
		uint64_t floor = v ? v->end : VFIOSIM_MMAP_MIN_ADDR;

		if (v && v->start >= top)
			continue;
		if (top > floor && top - floor >= len) {
			cand = (top - len) & ~(align - 1);
			if (cand >= floor) {
				*out = cand;
				return 0;
			}
		}
		if (!v)
			return -ENOMEM;
		if (v->start < top)
			top = v->start;
	}
}

static bool range_free(struct vfiosim_mm *mm, uint64_t start, uint64_t end)
{
	struct mm_vma *v = mm_find_vma(mm, start);

	return !v || v->start >= end;
}

static int huge_order(struct vfiosim_mm *mm, unsigned int flags,
		      unsigned int *order)
{
	unsigned int log = (flags >> VFIOSIM_MAP_HUGE_SHIFT) & 0x3f;
	unsigned int shift = mm->phys->page_shift;

	if (!log)
		log = 21;
	if (log == shift + 9 || (log == 21 && shift == 12))
		*order = 9;
	else if (log == shift + 18 || (log == 30 && shift == 12))
		*order = 18;
	else
		return -EINVAL;
	return 0;
}

#define MAP_KNOWN                                                             \
	(VFIOSIM_MAP_SHARED | VFIOSIM_MAP_PRIVATE | VFIOSIM_MAP_FIXED |       \
	 VFIOSIM_MAP_ANONYMOUS | VFIOSIM_MAP_POPULATE | VFIOSIM_MAP_HUGETLB | \
	 VFIOSIM_MAP_FIXED_NOREPLACE | VFIOSIM_MAP_UNBACKED |                 \
	 (0x3fu << VFIOSIM_MAP_HUGE_SHIFT))
#define PROT_KNOWN (VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE | VFIOSIM_PROT_EXEC)

static int do_mmap(struct vfiosim_mm *mm, uint64_t addr, uint64_t len,
		   unsigned int prot, unsigned int flags, bool pfnmap,
		   uint64_t pfn, uint64_t *out)
{
	unsigned int type = flags & (VFIOSIM_MAP_SHARED | VFIOSIM_MAP_PRIVATE);
	bool fixed = flags & (VFIOSIM_MAP_FIXED | VFIOSIM_MAP_FIXED_NOREPLACE);
	uint64_t psz, align, start = 0, hint;
	unsigned int order = 0;
	struct mm_vma *v;
	int rc;

	if (!mm || !out || mm->dead)
		return -EINVAL;
	if (mm->host)
		return -EINVAL;
	psz = mm->phys->page_size;
	if (!len || (prot & ~PROT_KNOWN) || (flags & ~MAP_KNOWN))
		return -EINVAL;
	if (pfnmap) {
		if (type == VFIOSIM_MAP_PRIVATE ||
		    (flags & (VFIOSIM_MAP_HUGETLB | VFIOSIM_MAP_POPULATE |
			      VFIOSIM_MAP_UNBACKED)))
			return -EINVAL;
		type = VFIOSIM_MAP_SHARED;
		if (flags & (0x3fu << VFIOSIM_MAP_HUGE_SHIFT)) {
			rc = huge_order(mm, flags, &order);
			if (rc)
				return rc;
		}
	} else if (type != VFIOSIM_MAP_SHARED && type != VFIOSIM_MAP_PRIVATE) {
		return -EINVAL;
	} else if (flags & VFIOSIM_MAP_HUGETLB) {
		rc = huge_order(mm, flags, &order);
		if (rc)
			return rc;
	} else if (flags & (0x3fu << VFIOSIM_MAP_HUGE_SHIFT)) {
		return -EINVAL;
	}
	align = (flags & VFIOSIM_MAP_HUGETLB) ? psz << order : psz;
	if (len > VFIOSIM_TASK_SIZE)
		return -ENOMEM;
	len = (len + align - 1) & ~(align - 1);
	if (pfnmap &&
	    (pfn + (len / psz) < pfn || pfn + (len / psz) > (UINT64_MAX >> 1)))
		return -EINVAL;
	if (fixed) {
		if (addr & (align - 1))
			return -EINVAL;
		if (addr > VFIOSIM_TASK_SIZE || len > VFIOSIM_TASK_SIZE - addr)
			return -ENOMEM;
		if (addr < VFIOSIM_MMAP_MIN_ADDR)
			return -EPERM;
	}
	v = vma_alloc(mm);
	if (!v)
		return -ENOMEM;
	v->prot = prot;
	v->unbacked = flags & VFIOSIM_MAP_UNBACKED;
	if (pfnmap) {
		v->kind = VMA_PFNMAP;
		v->pfn = pfn;
		v->order = order;
	} else if (flags & VFIOSIM_MAP_HUGETLB) {
		v->kind = VMA_HUGE;
		v->order = order;
	} else {
		v->kind = type == VFIOSIM_MAP_SHARED ? VMA_SHARED : VMA_ANON;
	}
	vfiosim_mmap_write_lock(mm);
	if (fixed) {
		start = addr;
		if (!range_free(mm, start, start + len)) {
			if (flags & VFIOSIM_MAP_FIXED_NOREPLACE)
				rc = -EEXIST;
			else
				rc = do_munmap_locked(mm, start, start + len);
			if (rc)
				goto err;
		}
	} else {
		hint = (addr + align - 1) & ~(align - 1);
		if (hint >= VFIOSIM_MMAP_MIN_ADDR && hint >= addr &&
		    hint <= VFIOSIM_TASK_SIZE - len &&
		    range_free(mm, hint, hint + len)) {
			start = hint;
		} else {
			rc = find_gap(mm, len, align, &start);
			if (rc)
				goto err;
		}
	}
	v->start = start;
	v->end = start + len;
	mm_vma_tree_RB_INSERT(&mm->vmas, v);
	if (flags & VFIOSIM_MAP_POPULATE) {
		/* mm_populate() ignores errors: the mapping stays. */
		bool write = (prot & VFIOSIM_PROT_WRITE) && v->kind == VMA_ANON;
		uint64_t step = psz << (v->kind == VMA_HUGE ? order : 0);

		for (uint64_t a = start; a < start + len; a += step) {
			uint64_t got;

			if (mm_fault(mm, v, a, write, &got))
				break;
		}
	}
	vfiosim_mmap_write_unlock(mm);
	*out = start;
	return 0;
err:
	vfiosim_mmap_write_unlock(mm);
	vma_free(mm, v);
	return rc;
}

VFIOSIM_EXPORT int vfiosim_mmap(struct vfiosim_mm *mm, uint64_t addr,
				uint64_t len, unsigned int prot,
				unsigned int flags, uint64_t *out)
{
	return do_mmap(mm, addr, len, prot, flags, false, 0, out);
}

VFIOSIM_EXPORT int vfiosim_mmap_pfn(struct vfiosim_mm *mm, uint64_t addr,
				    uint64_t len, unsigned int prot,
				    unsigned int flags, uint64_t pfn,
				    uint64_t *out)
{
	return do_mmap(mm, addr, len, prot, flags, true, pfn, out);
}

VFIOSIM_EXPORT int vfiosim_mprotect(struct vfiosim_mm *mm, uint64_t addr,
				    uint64_t len, unsigned int prot)
{
	struct mm_vma *v, *spare[2] = { NULL, NULL };
	uint64_t psz, end, pos;
	unsigned int nsplit = 0;
	int rc = 0;

	if (!mm || mm->dead || mm->host)
		return -EINVAL;
	psz = mm->phys->page_size;
	if (addr & (psz - 1))
		return -EINVAL;
	if (!len)
		return 0;
	len = (len + psz - 1) & ~(psz - 1);
	end = addr + len;
	if (!len || end <= addr)
		return -ENOMEM;
	if (prot & ~PROT_KNOWN)
		return -EINVAL;
	vfiosim_mmap_write_lock(mm);
	/* Check everything first: a failure changes nothing. */
	pos = addr;
	for (v = mm_find_vma(mm, addr); v && v->start < end;
	     v = RB_NEXT(mm_vma_tree, &mm->vmas, v)) {
		if (v->start > pos) {
			rc = -ENOMEM;
			goto out;
		}
		if (bad_cut(mm, v, addr) || bad_cut(mm, v, end)) {
			rc = -EINVAL;
			goto out;
		}
		if (v->prot != prot) {
			nsplit += v->start < addr && v->end > addr;
			nsplit += v->start < end && v->end > end;
		}
		pos = v->end;
	}
	if (pos < end) {
		rc = -ENOMEM;
		goto out;
	}
	for (unsigned int i = 0; i < nsplit; i++) {
		spare[i] = vma_alloc(mm);
		if (!spare[i]) {
			rc = -ENOMEM;
			goto out;
		}
	}
	nsplit = 0;
	for (v = mm_find_vma(mm, addr); v && v->start < end;
	     v = RB_NEXT(mm_vma_tree, &mm->vmas, v)) {
		if (v->prot == prot)
			continue;
		if (v->start < addr) {
			vma_split(mm, v, spare[nsplit], addr);
			v = spare[nsplit];
			spare[nsplit++] = NULL;
		}
		if (v->end > end) {
			vma_split(mm, v, spare[nsplit], end);
			spare[nsplit++] = NULL;
		}
		v->prot = prot;
	}
out:
	vfiosim_mmap_write_unlock(mm);
	for (unsigned int i = 0; i < 2; i++)
		if (spare[i])
			vma_free(mm, spare[i]);
	return rc;
}

/* --------------------------------------------------------- mm lifetime */

static int mm_new(struct vfiosim_world *w, bool host, struct vfiosim_task *t,
		  struct vfiosim_mm **out)
{
	struct mm_phys *p = mm_phys_get(w);
	struct vfiosim_mm *mm;

	if (!p)
		return -EINVAL;
	mm = vfiosim_zalloc(w, sizeof(*mm), "mm.mm_alloc");
	if (!mm)
		return -ENOMEM;
	if (sync_rwsem_init(w, &mm->mmap_lock, "mm->mmap_lock", __FILE__,
			    __LINE__)) {
		vfiosim_free(w, mm);
		return -ENOMEM;
	}
	pthread_mutex_init(&mm->ptl, NULL);
	mm->w = w;
	mm->phys = p;
	mm->users = 1;
	mm->count = 1;
	mm->host = host;
	snprintf(mm->owner_name, sizeof(mm->owner_name), "%s",
		 t ? t->name : (host ? "host" : "-"));
	RB_INIT(&mm->vmas);
	phys_lock(p);
	mm->id = p->next_mm_id++;
	mm->prev = p->mm_last;
	if (p->mm_last)
		p->mm_last->next = mm;
	else
		p->mm_first = mm;
	p->mm_last = mm;
	phys_unlock(p);
	*out = mm;
	return 0;
}

VFIOSIM_EXPORT int vfiosim_mm_create(struct vfiosim_world *w,
				     struct vfiosim_mm **out)
{
	if (!w || !out)
		return -EINVAL;
	return mm_new(w, false, NULL, out);
}

VFIOSIM_EXPORT int vfiosim_mm_host(struct vfiosim_world *w,
				   struct vfiosim_mm **out)
{
	int rc;

	if (!w || !out)
		return -EINVAL;
	rc = mm_host_check(w);
	if (rc)
		return rc;
	return mm_new(w, true, NULL, out);
}

void mm_exit_mmap(struct vfiosim_mm *mm)
{
	struct mm_vma *v;

	mm_lock_ptl(mm);
	mm_pt_clear(mm, 0, UINT64_MAX >> 1);
	mm_unlock_ptl(mm);
	while ((v = RB_MIN(mm_vma_tree, &mm->vmas))) {
		mm_vma_tree_RB_REMOVE(&mm->vmas, v);
		vma_free(mm, v);
	}
	mm->dead = true;
}

static void mm_free(struct vfiosim_mm *mm)
{
	struct mm_phys *p = mm->phys;

	phys_lock(p);
	if (mm->prev)
		mm->prev->next = mm->next;
	else
		p->mm_first = mm->next;
	if (mm->next)
		mm->next->prev = mm->prev;
	else
		p->mm_last = mm->prev;
	phys_unlock(p);
	sync_rwsem_destroy(&mm->mmap_lock);
	pthread_mutex_destroy(&mm->ptl);
	vfiosim_free(mm->w, mm);
}

VFIOSIM_EXPORT void vfiosim_mmget(struct vfiosim_mm *mm)
{
	if (!mm)
		return;
	phys_lock(mm->phys);
	if (!mm->users) {
		phys_unlock(mm->phys);
		vfiosim_fail_at(mm->w, VFIOSIM_FAIL_BUG, __FILE__, __LINE__,
				"mmget() on mm %u whose address space is gone "
				"(use mmget_not_zero())",
				mm->id);
		return;
	}
	mm->users++;
	phys_unlock(mm->phys);
}

VFIOSIM_EXPORT bool vfiosim_mmget_not_zero(struct vfiosim_mm *mm)
{
	bool ok;

	if (!mm)
		return false;
	phys_lock(mm->phys);
	ok = mm->users > 0;
	if (ok)
		mm->users++;
	phys_unlock(mm->phys);
	return ok;
}

VFIOSIM_EXPORT void vfiosim_mmgrab(struct vfiosim_mm *mm)
{
	if (!mm)
		return;
	phys_lock(mm->phys);
	mm->count++;
	phys_unlock(mm->phys);
}

/*
 * Drop one of @mm's counts (mm_count or mm_users, named @what for the BUG
 * report of a drop below zero); true if it was the last.
 */
static bool mm_count_drop(struct vfiosim_mm *mm, unsigned long *count,
			  const char *what)
{
	bool last;

	phys_lock(mm->phys);
	if (!*count) {
		phys_unlock(mm->phys);
		vfiosim_fail_at(mm->w, VFIOSIM_FAIL_BUG, __FILE__, __LINE__,
				"%s of mm %u with %s 0", what, mm->id,
				count == &mm->count ? "mm_count" : "mm_users");
		return false;
	}
	last = --*count == 0;
	phys_unlock(mm->phys);
	return last;
}

VFIOSIM_EXPORT void vfiosim_mmdrop(struct vfiosim_mm *mm)
{
	if (mm && mm_count_drop(mm, &mm->count, "mmdrop()"))
		mm_free(mm);
}

VFIOSIM_EXPORT void vfiosim_mmput(struct vfiosim_mm *mm)
{
	if (!mm || !mm_count_drop(mm, &mm->users, "mmput()"))
		return;
	mm_exit_mmap(mm);
	vfiosim_mmdrop(mm);
}

VFIOSIM_EXPORT unsigned long vfiosim_mm_users(const struct vfiosim_mm *mm)
{
	return mm ? mm->users : 0;
}

VFIOSIM_EXPORT unsigned int vfiosim_mm_id(const struct vfiosim_mm *mm)
{
	return mm ? mm->id : 0;
}

VFIOSIM_EXPORT int vfiosim_mm_stats(const struct vfiosim_mm *mm,
				    struct vfiosim_mm_stats *st)
{
	struct mm_vma *v;

	if (!mm || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->users = mm->users;
	st->nr_pages = mm->nr_ptes;
	st->locked_vm = mm->locked_vm;
	RB_FOREACH(v, mm_vma_tree, (struct mm_vma_tree *)&mm->vmas)
		st->nr_vmas++;
	return 0;
}

VFIOSIM_EXPORT struct vfiosim_mm *vfiosim_task_mm(struct vfiosim_task *task)
{
	struct mm_task *d;
	struct vfiosim_mm *mm;
	struct mm_phys *p;

	if (!task)
		return NULL;
	if (task->mm)
		return task->mm;
	d = mm_task_data(task, false);
	if (d && d->exited)
		return NULL;
	if (mm_new(task->w, false, task, &mm))
		return NULL;
	/* Free-running: another thread of the task may have won. */
	p = mm->phys;
	phys_lock(p);
	if (!task->mm) {
		task->mm = mm;
		mm = NULL;
	}
	phys_unlock(p);
	if (mm)
		vfiosim_mmput(mm);
	return task->mm;
}

VFIOSIM_EXPORT struct vfiosim_mm *vfiosim_current_mm(struct vfiosim_world *w)
{
	return w ? vfiosim_task_mm(current_task(w)) : NULL;
}

VFIOSIM_EXPORT struct vfiosim_mm *vfiosim_get_task_mm(struct vfiosim_task *task)
{
	/* Every task that has not exited its mm has one (made on demand). */
	struct vfiosim_mm *mm = vfiosim_task_mm(task);

	if (mm && !vfiosim_mmget_not_zero(mm))
		mm = NULL;
	return mm;
}

VFIOSIM_EXPORT int vfiosim_task_set_mm(struct vfiosim_task *task,
				       struct vfiosim_mm *mm)
{
	struct vfiosim_mm *old;
	struct mm_task *d;

	if (!task || !mm || mm->w != task->w)
		return -EINVAL;
	d = mm_task_data(task, true);
	if (!d)
		return -ENOMEM;
	old = task->mm;
	task->mm = mm;
	d->exited = false;
	if (old)
		vfiosim_mmput(old);
	return 0;
}

VFIOSIM_EXPORT int vfiosim_task_exec(struct vfiosim_task *task)
{
	struct vfiosim_mm *mm, *old;
	struct mm_task *d;
	int rc;

	if (!task)
		return -EINVAL;
	d = mm_task_data(task, true);
	if (!d)
		return -ENOMEM;
	rc = mm_new(task->w, false, task, &mm);
	if (rc)
		return rc;
	old = task->mm;
	task->mm = mm;
	d->exited = false;
	vfiosim_mmput(old);
	return 0;
}

VFIOSIM_EXPORT int vfiosim_task_exit_mm(struct vfiosim_task *task)
{
	struct vfiosim_mm *mm;
	struct mm_task *d;

	if (!task)
		return -EINVAL;
	d = mm_task_data(task, true);
	if (!d)
		return -ENOMEM;
	if (d->exited)
		return -ESRCH;
	mm = task->mm;
	task->mm = NULL;
	d->exited = true;
	vfiosim_mmput(mm);
	return 0;
}

/* World teardown: tasks exit, then whatever mm is left was leaked. */
void mm_teardown_all(struct mm_phys *p)
{
	struct vfiosim_world *w = p->w;
	struct vfiosim_mm *mm, *next;

	for (struct vfiosim_task *t = w->tasks; t; t = t->next) {
		mm = t->mm;
		t->mm = NULL;
		if (mm)
			vfiosim_mmput(mm);
	}
	for (mm = p->mm_first; mm; mm = next) {
		next = mm->next;
		if (mm->users) {
			vfiosim_fail_at(w, VFIOSIM_FAIL_LEAK, __FILE__,
					__LINE__,
					"mm %u (of %s) still has %lu user(s) "
					"at world teardown: mmget()/"
					"get_task_mm() without mmput()",
					mm->id, mm->owner_name, mm->users);
			mm_exit_mmap(mm);
		} else {
			vfiosim_fail_at(w, VFIOSIM_FAIL_LEAK, __FILE__,
					__LINE__,
					"mm %u (of %s) still has mm_count %lu "
					"at world teardown: mmgrab() without "
					"mmdrop()",
					mm->id, mm->owner_name, mm->count);
		}
		mm_free(mm);
	}
}
