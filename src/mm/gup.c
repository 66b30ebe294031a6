/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gup.c - get_user_pages: pinning user memory, releasing pins, following
 * PFNMAP mappings, and the task's own loads and stores.
 *
 * What it models (Linux 6.1, mm/gup.c): pin_user_pages_remote() /
 * __get_user_pages() -- walk the VMAs from @start, refuse VM_IO|VM_PFNMAP
 * and missing permissions (check_vma_flags(): -EFAULT), fault pages in
 * (faultin_page()), take one pin per page (try_grab_folio() with FOLL_PIN),
 * return the number pinned or, if none, the error; unpin_user_pages*() and
 * unpin_user_page_range_dirty_lock(); and follow_pte()/follow_pfn() used by
 * type1's follow_fault_pfn() for PFNMAP VMAs.  FOLL_LONGTERM's migration of
 * movable pages out of ZONE_MOVABLE/CMA is not modelled (there are no
 * zones).  Read-only long-term pins of untouched private anonymous memory
 * pin the shared zero page, as 6.1 does.
 *
 * Cost.  Pinning walks the page table once per 512-entry table and
 * touches each page's metadata once; runs inside a huge page charge the
 * head in one step.  No allocation happens unless a page must be faulted in.
 *
 * Locking: caller holds mmap_lock for reading (asserted for simulated
 * threads); page metadata under phys_lock() (free-running mode only).
 *
 * Vocabulary: byte ranges [start, end) have @end exclusive.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "mm/mm_internal.h"

#define FOLL_KNOWN                                                        \
	(VFIOSIM_FOLL_WRITE | VFIOSIM_FOLL_FORCE | VFIOSIM_FOLL_NOFAULT | \
	 VFIOSIM_FOLL_REMOTE | VFIOSIM_FOLL_LONGTERM | VFIOSIM_FOLL_PIN)

/* A one-chunk cache of frame metadata lookups. */
struct meta_cache {
	uint64_t cidx; /* pfn >> PHYS_CHUNK_SHIFT, or UINT64_MAX */
	struct phys_chunk *ch;
};

static inline struct phys_page *cached_head(struct mm_phys *p,
					    struct meta_cache *c, uint64_t pfn,
					    struct phys_ref *r)
{
	if ((pfn >> PHYS_CHUNK_SHIFT) == c->cidx) {
		struct phys_page *pg =
			&c->ch->pg[pfn & (PHYS_CHUNK_FRAMES - 1)];

		if (!(pg->flags & PHYS_INUSE))
			return NULL;
		if (pg->order)
			pg = &c->ch->pg[(pfn & ~((1ull << pg->order) - 1)) &
					(PHYS_CHUNK_FRAMES - 1)];
		return pg;
	}
	if (!phys_lookup(p, pfn, r))
		return NULL;
	if (r->chunk) {
		c->cidx = pfn >> PHYS_CHUNK_SHIFT;
		c->ch = r->chunk;
	}
	return r->head;
}

/* Pin @count frames of one page starting at @pfn; lock held. */
static int pin_frames(struct mm_phys *p, struct meta_cache *c, uint64_t pfn,
		      uint32_t count, uint16_t who)
{
	struct phys_ref r;
	struct phys_page *h = cached_head(p, c, pfn, &r);

	if (!h)
		return -EFAULT;
	if (h->ref > UINT32_MAX - count || h->pin > UINT32_MAX - count)
		return -ENOMEM;
	h->ref += count;
	h->pin += count;
	h->who = who;
	return 0;
}

/*
 * The fast paths of pin and unpin work on blocks of up to FAST_BLOCK pages
 * whose frames lie in one metadata chunk.  They are optimistic: every page
 * of the block is updated, and the checks are folded into a few words that
 * are tested once at the end of the block; if any page needed the careful
 * path, the block is undone (the updates are additions, so undoing them is
 * exact) and the caller redoes it page by page.  A block never crosses the
 * chunk boundary that a run of ascending pfns would cross, so the common
 * case -- runs of consecutive frames -- never fails.
 */
#define FAST_BLOCK 128u
/* How far ahead of the metadata being updated the fast paths prefetch. */
#define PF_DIST 512
/*
 * The sign bits of the two counts in refpin.  A fast pin accumulates
 * refpin - 1 over the block: a sign bit there means ref == 0 (the borrow),
 * ref > 2^31 or pin >= 2^31; clear, the counts are far from overflow.  A
 * fast unpin accumulates refpin - PHYS_REFPIN_ONE - 1: a sign bit means
 * ref < 2 (the page would be freed), pin == 0, or (harmlessly) a count
 * above 2^31.
 */
#define REFPIN_SIGN ((1ull << 63) | (1ull << 31))

/* Make @x opaque to the optimiser, so that a 64-bit constant stays in a
 * register across a loop instead of being rematerialised every iteration
 * (or folded back into an expression the loop wanted to avoid). */
#define keep_in_register(x) __asm__("" : "+r"(x))

/*
 * The metadata of a frame of chunk @ch, from @bytes = (its pfn * 16) plus
 * anything below bit 4: the offset is masked to the chunk, so a frame of
 * another chunk gives a frame of this one (which the fast paths detect and
 * undo), never an address outside it.
 */
_Static_assert(sizeof(struct phys_page) == 16 && PTE_PRESENT == 1,
	       "chunk_pg_at() assumes 16-byte metadata, pte = pfn << 1 | 1");
static inline struct phys_page *chunk_pg_at(struct phys_chunk *ch,
					    uint64_t bytes)
{
	return (struct phys_page *)((char *)ch->pg +
				    (bytes & ((PHYS_CHUNK_FRAMES - 1) *
					      sizeof(struct phys_page))));
}

/*
 * Pin the frames of the @m leaf entries at @t into @out, if every entry is
 * present and maps a frame of chunk @ch (index @cidx) whose refcount is at
 * least 1 and whose counts are far from overflow.  A refcount of 0 is a
 * free frame or a tail of a compound page, so a frame that passes is a
 * small page or a head, and its metadata holds its counts.  Lock held.
 * False (nothing changed but @out) if a page needs the careful path.
 */
static inline bool pin_block_scalar(const uint64_t *t, unsigned int m,
				    struct phys_chunk *ch, uint64_t cidx,
				    uint32_t who, uint64_t *out)
{
	/* e ^ key has no bit outside the pfn's chunk offset set iff the
	 * entry is present and its frame is in chunk @cidx; the offset
	 * bits are masked once, after the loop. */
	const uint64_t key = (cidx << (PHYS_CHUNK_SHIFT + 1)) | PTE_PRESENT;
	const uint64_t off = (uint64_t)(PHYS_CHUNK_FRAMES - 1) << 1;
	uint64_t diff = 0, acc = 0, one = PHYS_REFPIN_ONE;
	uint32_t whod = 0;
	unsigned int k;

	keep_in_register(one);
	keep_in_register(who);
#pragma GCC unroll 2
	for (k = 0; k < m; k++) {
		uint64_t e = t[k];
		/* e << 3 is pfn * sizeof(struct phys_page) (plus bit 3). */
		struct phys_page *pg = chunk_pg_at(ch, e << 3);
		uint64_t old = pg->refpin;

		__builtin_prefetch((const char *)pg + PF_DIST, 1);
		diff |= e ^ key;
		acc |= old - 1;
		whod |= pg->who ^ who;
		pg->refpin = old + one;
		out[k] = pte_pfn(e);
	}
	if (unlikely((diff & ~off) | (acc & REFPIN_SIGN))) {
		for (k = 0; k < m; k++)
			ch->pg[pte_pfn(t[k]) & (PHYS_CHUNK_FRAMES - 1)].refpin -=
				PHYS_REFPIN_ONE;
		return false;
	}
	if (unlikely(whod))
		for (k = 0; k < m; k++)
			ch->pg[out[k] & (PHYS_CHUNK_FRAMES - 1)].who =
				(uint16_t)who;
	return true;
}

/*
 * Runs of consecutive frames -- what faulting in a range in order gives,
 * and what type1 maps as one IOMMU run -- have consecutive metadata, so
 * their blocks are done two 64-bit lanes at a time: a frame's 16 bytes of
 * metadata are one vector (lane 0 refpin, lane 1 flags/who/order), and
 * two page-table entries or pfns are one vector.  GCC/clang vector
 * extensions: SSE2 on x86-64, NEON on arm64, plain code elsewhere.
 */
typedef uint64_t v2u64 __attribute__((vector_size(16)));

/* @out[i] = @base + i for i < @n, two entries a store (a huge page's run:
 * up to 262144 entries, so the stores are the cost). */
static void fill_run(uint64_t *out, uint64_t base, uint64_t n)
{
	v2u64 cur = { base, base + 1 };
	const v2u64 two = { 2, 2 };
	uint64_t i = 0;

	for (; i + 2 <= n; i += 2) {
		memcpy(out + i, &cur, sizeof(cur));
		cur += two;
	}
	if (i < n)
		out[i] = base + i;
}

static inline v2u64 v2_load(const void *p)
{
	v2u64 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void v2_store(void *p, v2u64 v)
{
	memcpy(p, &v, sizeof(v));
}

/*
 * Copy the @m values at @in to @out, shifted right by @shift, and say
 * whether in[k] == in[0] + k * @inc for every k.
 */
static inline bool copy_if_run(const uint64_t *in, unsigned int m, uint64_t inc,
			       unsigned int shift, uint64_t *out)
{
	v2u64 exp = { in[0], in[0] + inc }, step = { 2 * inc, 2 * inc };
	v2u64 diff = { 0, 0 };
	uint64_t last = 0;
	unsigned int k;

#pragma GCC unroll 2
	for (k = 0; k + 2 <= m; k += 2) {
		v2u64 v = v2_load(&in[k]);

		diff |= v ^ exp;
		exp += step;
		v2_store(&out[k], v >> shift);
	}
	if (k < m) {
		last = in[k] ^ exp[0];
		out[k] = in[k] >> shift;
	}
	return !(diff[0] | diff[1] | last);
}

/*
 * pin_block_fast() for entries mapping @m consecutive frames of @ch from
 * metadata @pg on.  One vector per frame: lane 0 gets refpin - 1 (the
 * check of REFPIN_SIGN), lane 1 flags/who/order ^ @who in the who bits.
 */
static inline bool pin_run_fast(struct phys_page *pg, unsigned int m,
				uint32_t who)
{
	const v2u64 one = { PHYS_REFPIN_ONE, 0 }, dec = { 1, 0 };
	const v2u64 wkey = { 0, (uint64_t)who << 16 };
	const uint64_t wmask = 0xffffull << 16;
	v2u64 acc = { 0, 0 };
	unsigned int k;

	_Static_assert(offsetof(struct phys_page, who) == 10,
		       "pin_run_fast() assumes who in bits 16..31 of lane 1");
#pragma GCC unroll 4
	for (k = 0; k < m; k++) {
		v2u64 v = v2_load(&pg[k]);

		acc |= (v - dec) ^ wkey;
		v2_store(&pg[k], v + one);
	}
	if (unlikely(acc[0] & REFPIN_SIGN)) {
		for (k = 0; k < m; k++)
			pg[k].refpin -= PHYS_REFPIN_ONE;
		return false;
	}
	if (unlikely(acc[1] & wmask))
		for (k = 0; k < m; k++)
			pg[k].who = (uint16_t)who;
	return true;
}

/* Pin @m leaf entries at @t into @out; see pin_block_scalar(). */
static inline bool pin_block_fast(const uint64_t *t, unsigned int m,
				  struct phys_chunk *ch, uint64_t cidx,
				  uint32_t who, uint64_t *out)
{
	/* The caller checked that t[0] is present and in chunk @cidx and
	 * that @m frames from it stay in the chunk. */
	if (copy_if_run(t, m, 2, 1, out))
		return pin_run_fast(&ch->pg[out[0] & (PHYS_CHUNK_FRAMES - 1)],
				    m, who);
	return pin_block_scalar(t, m, ch, cidx, who, out);
}

/*
 * A fast block at leaf entries t[idx..end) if the first maps a frame of
 * the cached chunk (and that chunk does not hold the zero page @zchunk a
 * write pin must not take): returns the pages pinned, or 0 with *careful
 * set to the number of pages the careful path must take first.
 */
static inline unsigned int pin_try_fast(const uint64_t *t, unsigned int idx,
					unsigned int end,
					const struct meta_cache *c,
					uint64_t zchunk, uint32_t who,
					uint64_t *out, unsigned int *careful)
{
	uint64_t e0 = t[idx], p0 = pte_pfn(e0);
	unsigned int m = end - idx, room;

	*careful = 1;
	if (!(e0 & PTE_PRESENT) || (p0 >> PHYS_CHUNK_SHIFT) != c->cidx ||
	    c->cidx == zchunk)
		return 0;
	room = PHYS_CHUNK_FRAMES - (unsigned int)(p0 & (PHYS_CHUNK_FRAMES - 1));
	if (m > FAST_BLOCK)
		m = FAST_BLOCK;
	if (m > room)
		m = room;
	if (likely(pin_block_fast(&t[idx], m, c->ch, c->cidx, who, out))) {
		*careful = 0;
		return m;
	}
	*careful = m;
	return 0;
}

/*
 * Pin up to @n pages of @v from @addr whose page-table entries are present
 * and usable; stops at the first that needs a fault.  Returns pages pinned
 * or a negative errno if the very first failed for a reason other than
 * "needs a fault".
 */
static long pin_present(struct vfiosim_mm *mm, uint64_t addr, unsigned long n,
			bool write, uint64_t *out)
{
	struct mm_phys *p = mm->phys;
	struct meta_cache c = { .cidx = UINT64_MAX };
	uint64_t vpn = addr >> p->page_shift;
	uint16_t who = phys_who(mm->w);
	unsigned long done = 0;
	unsigned int levels = pt_levels(p);
	/* A write pin must fault (COW) a zero-page entry. */
	uint64_t zero = write ? p->zero_pfn : UINT64_MAX;
	uint64_t zchunk = zero == VFIOSIM_PFN_INVALID ?
				  UINT64_MAX :
				  zero >> PHYS_CHUNK_SHIFT;
	int rc = 0;

	mm_lock_ptl(mm);
	phys_lock(p);
	while (done < n) {
		uint64_t *t = mm->pgd, e = 0;
		int lvl;

		for (lvl = (int)levels - 1; t && lvl >= 0; lvl--) {
			e = t[(vpn >> (PT_SHIFT * lvl)) & (PT_ENTRIES - 1)];
			if (!e || (e & PTE_PRESENT))
				break;
			t = (uint64_t *)(uintptr_t)e;
		}
		if (!t || !e)
			break;
		if (lvl > 0) {
			/* A huge leaf: the rest of this huge page at once. */
			uint64_t span = 1ull << (PT_SHIFT * lvl);
			uint64_t off = vpn & (span - 1);
			uint64_t k = span - off, base = pte_pfn(e) + off;

			if (k > n - done)
				k = n - done;
			rc = pin_frames(p, &c, base, (uint32_t)k, who);
			if (rc)
				break;
			fill_run(out + done, base, k);
			done += k;
			vpn += k;
			continue;
		}
		/* A page table: run along it, in fast blocks where the
		 * frames are in the cached metadata chunk, else page by
		 * page. */
		unsigned int idx = vpn & (PT_ENTRIES - 1), end = PT_ENTRIES,
			     careful = 0;

		if (end - idx > n - done)
			end = idx + (unsigned int)(n - done);
		while (idx < end) {
			uint64_t pfn;

			if (!careful) {
				unsigned int m =
					pin_try_fast(t, idx, end, &c, zchunk,
						     who, out + done, &careful);

				idx += m;
				done += m;
				vpn += m;
				if (m)
					continue;
			}
			/* The careful path, one page. */
			e = t[idx];
			pfn = pte_pfn(e);
			if (unlikely(!e || pfn == zero))
				goto out;
			rc = pin_frames(p, &c, pfn, 1, who);
			if (rc)
				goto out;
			out[done++] = pfn;
			vpn++;
			idx++;
			careful--;
		}
	}
out:
	phys_unlock(p);
	mm_unlock_ptl(mm);
	if (!done && rc)
		return rc;
	return (long)done;
}

static int pin_one(struct mm_phys *p, uint64_t pfn, uint16_t who)
{
	struct meta_cache c = { .cidx = UINT64_MAX };
	int rc;

	phys_lock(p);
	rc = pin_frames(p, &c, pfn, 1, who);
	phys_unlock(p);
	return rc;
}

/* Check a VMA against the GUP flags (check_vma_flags()). */
static int check_vma(const struct mm_vma *v, unsigned int flags)
{
	if (v->kind == VMA_PFNMAP)
		return -EFAULT;
	if (flags & VFIOSIM_FOLL_WRITE) {
		if (!(v->prot & VFIOSIM_PROT_WRITE)) {
			/* FOLL_FORCE writes COW private mappings. */
			if (!(flags & VFIOSIM_FOLL_FORCE) ||
			    v->kind != VMA_ANON)
				return -EFAULT;
		}
	} else if (!(v->prot & VFIOSIM_PROT_READ) &&
		   !(flags & VFIOSIM_FOLL_FORCE)) {
		/* FOLL_FORCE reads what VM_MAYREAD allows: anything here. */
		return -EFAULT;
	}
	return 0;
}

static long pin_host(struct vfiosim_mm *mm, uint64_t addr, unsigned long npages,
		     unsigned int flags, uint64_t *pfns)
{
	struct mm_phys *p = mm->phys;
	bool write = flags & VFIOSIM_FOLL_WRITE;
	uint16_t who = phys_who(mm->w);
	unsigned long done = 0;
	int rc = 0;

	while (done < npages) {
		uint64_t end, pfn;
		unsigned int prot;

		rc = mm_host_resolve(mm, addr, write, &end, &prot);
		if (rc)
			break;
		while (done < npages && addr < end) {
			rc = mm_host_fault(mm, addr, &pfn);
			if (!rc)
				rc = pin_one(p, pfn, who);
			if (rc)
				goto out;
			pfns[done++] = pfn;
			addr += p->page_size;
		}
	}
out:
	return done ? (long)done : rc;
}

VFIOSIM_EXPORT long vfiosim_pin_user_pages(struct vfiosim_mm *mm,
					   uint64_t vaddr, unsigned long npages,
					   unsigned int gup_flags,
					   uint64_t *pfns)
{
	struct mm_phys *p;
	unsigned long done = 0;
	uint64_t addr;
	bool write;
	int rc = 0;

	if (!mm || (npages && !pfns) || (gup_flags & ~FOLL_KNOWN))
		return -EINVAL;
	if (!npages)
		return 0;
	if (mm->dead)
		return -EFAULT;
	mm_assert_locked(mm, false, __FILE__, __LINE__);
	p = mm->phys;
	write = gup_flags & VFIOSIM_FOLL_WRITE;
	addr = vaddr & ~(p->page_size - 1);
	if (mm->host)
		return pin_host(mm, addr, npages, gup_flags, pfns);
	while (done < npages) {
		struct mm_vma *v = mm_find_vma(mm, addr);
		unsigned long n;

		if (!v || v->start > addr || addr >= VFIOSIM_TASK_SIZE) {
			rc = -EFAULT;
			break;
		}
		rc = check_vma(v, gup_flags);
		if (rc)
			break;
		n = (v->end - addr) >> p->page_shift;
		if (n > npages - done)
			n = npages - done;
		while (n) {
			long got = pin_present(mm, addr, n, write, pfns + done);
			uint64_t pfn;

			if (got < 0) {
				rc = (int)got;
				goto out;
			}
			done += (unsigned long)got;
			n -= (unsigned long)got;
			addr += (uint64_t)got << p->page_shift;
			if (!n)
				break;
			/* The next page needs a fault (or a COW). */
			if (gup_flags & VFIOSIM_FOLL_NOFAULT) {
				rc = -EFAULT;
				goto out;
			}
			/* No faulting with SIGKILL pending. */
			if (vfiosim_fatal_signal_pending(
				    mm_current_task(mm->w))) {
				rc = -EINTR;
				goto out;
			}
			rc = mm_fault(mm, v, addr, write, &pfn);
			if (!rc)
				rc = pin_one(p, pfn, phys_who(mm->w));
			if (rc)
				goto out;
			pfns[done++] = pfn;
			n--;
			addr += p->page_size;
		}
	}
out:
	return done ? (long)done : rc;
}

VFIOSIM_EXPORT long vfiosim_pin_user_pages_unlocked(struct vfiosim_mm *mm,
						    uint64_t vaddr,
						    unsigned long npages,
						    unsigned int gup_flags,
						    uint64_t *pfns)
{
	long rc;

	if (!mm)
		return -EINVAL;
	vfiosim_mmap_read_lock(mm);
	rc = vfiosim_pin_user_pages(mm, vaddr, npages, gup_flags, pfns);
	vfiosim_mmap_read_unlock(mm);
	return rc;
}

/* ---------------------------------------------------------------- unpin */

struct unpin_bad {
	uint64_t pfn;
	unsigned long count;
};

static void unpin_frame(struct mm_phys *p, struct meta_cache *c, uint64_t pfn,
			bool dirty, struct unpin_bad *bad)
{
	struct phys_ref r;
	struct phys_page *h = cached_head(p, c, pfn, &r);

	if (!h || !h->pin) {
		if (!bad->count++)
			bad->pfn = pfn;
		return;
	}
	h->pin--;
	if (dirty)
		h->flags |= VFIOSIM_PAGE_DIRTY;
	if (--h->ref == 0) {
		phys_lookup(p, pfn, &r);
		/* The chunk goes away with its last frame. */
		if (!r.chunk || r.chunk->nlive == 1u << r.order)
			c->cidx = UINT64_MAX;
		phys_free_page_locked(p, &r);
	}
}

/*
 * Unpin the @m frames @pfns, if all are in chunk @ch (index @cidx), pinned,
 * and keep a reference after the unpin (so that none is freed): the fast
 * block of unpin (see FAST_BLOCK).  Lock held.  False, with nothing
 * changed, if a page needs the careful path.
 */
static inline bool unpin_block_scalar(const uint64_t *pfns, unsigned int m,
				      struct phys_chunk *ch, uint64_t cidx,
				      bool make_dirty)
{
	const uint64_t base = cidx << PHYS_CHUNK_SHIFT;
	uint64_t diff = 0, acc = 0, minus = -(PHYS_REFPIN_ONE + 1);
	unsigned int k;

	keep_in_register(minus);
#pragma GCC unroll 2
	for (k = 0; k < m; k++) {
		uint64_t pfn = pfns[k];
		struct phys_page *pg = chunk_pg_at(ch, pfn << 4);
		uint64_t v = pg->refpin + minus;

		__builtin_prefetch((const char *)pg + PF_DIST, 1);
		/* Offset bits are masked after the loop. */
		diff |= pfn ^ base;
		acc |= v;
		pg->refpin = v + 1;
	}
	if (unlikely((diff & ~(uint64_t)(PHYS_CHUNK_FRAMES - 1)) |
		     (acc & REFPIN_SIGN))) {
		for (k = 0; k < m; k++)
			ch->pg[pfns[k] & (PHYS_CHUNK_FRAMES - 1)].refpin +=
				PHYS_REFPIN_ONE;
		return false;
	}
	if (make_dirty)
		for (k = 0; k < m; k++)
			ch->pg[pfns[k] & (PHYS_CHUNK_FRAMES - 1)].flags |=
				VFIOSIM_PAGE_DIRTY;
	return true;
}

/* unpin_block_scalar() for @m consecutive frames from metadata @pg on. */
static inline bool unpin_run_fast(struct phys_page *pg, unsigned int m,
				  bool make_dirty)
{
	const v2u64 minus = { -(PHYS_REFPIN_ONE + 1), 0 }, inc = { 1, 0 };
	v2u64 acc = { 0, 0 };
	unsigned int k;

#pragma GCC unroll 4
	for (k = 0; k < m; k++) {
		v2u64 v = v2_load(&pg[k]) + minus;

		acc |= v;
		v2_store(&pg[k], v + inc);
	}
	if (unlikely(acc[0] & REFPIN_SIGN)) {
		for (k = 0; k < m; k++)
			pg[k].refpin += PHYS_REFPIN_ONE;
		return false;
	}
	if (make_dirty)
		for (k = 0; k < m; k++)
			pg[k].flags |= VFIOSIM_PAGE_DIRTY;
	return true;
}

/*
 * Unpin the @m frames @pfns (the first in chunk @ch, index @cidx, and @m
 * frames from it in the chunk): the fast block of unpin.  Lock held.
 * False, with nothing changed, if a page needs the careful path.
 */
static inline bool unpin_block_fast(const uint64_t *pfns, unsigned int m,
				    struct phys_chunk *ch, uint64_t cidx,
				    bool make_dirty)
{
	v2u64 exp = { pfns[0], pfns[0] + 1 }, step = { 2, 2 };
	v2u64 diff = { 0, 0 };
	uint64_t last = 0;
	unsigned int k;

#pragma GCC unroll 2
	for (k = 0; k + 2 <= m; k += 2) {
		diff |= v2_load(&pfns[k]) ^ exp;
		exp += step;
	}
	if (k < m)
		last = pfns[k] ^ exp[0];
	if (!(diff[0] | diff[1] | last))
		return unpin_run_fast(
			&ch->pg[pfns[0] & (PHYS_CHUNK_FRAMES - 1)], m,
			make_dirty);
	return unpin_block_scalar(pfns, m, ch, cidx, make_dirty);
}

static int unpin_report(struct vfiosim_world *w, const struct unpin_bad *bad)
{
	if (!bad->count)
		return 0;
	vfiosim_fail_at(w, VFIOSIM_FAIL_WARN, __FILE__, __LINE__,
			"unpin_user_pages: %lu frame(s) not pinned, first pfn "
			"0x%llx (free, MMIO or pin count 0)",
			bad->count, (unsigned long long)bad->pfn);
	return -EINVAL;
}

VFIOSIM_EXPORT int vfiosim_unpin_user_pages_dirty_lock(struct vfiosim_world *w,
						       const uint64_t *pfns,
						       unsigned long npages,
						       bool make_dirty)
{
	struct meta_cache c = { .cidx = UINT64_MAX };
	struct unpin_bad bad = { 0 };
	struct mm_phys *p;

	if (!w || (npages && !pfns))
		return -EINVAL;
	if (!npages)
		return 0;
	p = mm_phys_get(w);
	if (!p)
		return -EINVAL;
	phys_lock(p);
	for (unsigned long i = 0; i < npages;) {
		uint64_t pfn = pfns[i];
		unsigned long m = 1;

		if ((pfn >> PHYS_CHUNK_SHIFT) == c.cidx) {
			unsigned long room =
				PHYS_CHUNK_FRAMES -
				(unsigned long)(pfn & (PHYS_CHUNK_FRAMES - 1));

			m = npages - i;
			if (m > FAST_BLOCK)
				m = FAST_BLOCK;
			if (m > room)
				m = room;
			if (likely(unpin_block_fast(pfns + i, (unsigned int)m,
						    c.ch, c.cidx,
						    make_dirty))) {
				i += m;
				continue;
			}
		}
		/* The careful path for the @m pages. */
		for (; m; m--, i++)
			unpin_frame(p, &c, pfns[i], make_dirty, &bad);
	}
	phys_unlock(p);
	return unpin_report(w, &bad);
}

VFIOSIM_EXPORT int vfiosim_unpin_user_pages(struct vfiosim_world *w,
					    const uint64_t *pfns,
					    unsigned long npages)
{
	return vfiosim_unpin_user_pages_dirty_lock(w, pfns, npages, false);
}

VFIOSIM_EXPORT int
vfiosim_unpin_user_page_range_dirty_lock(struct vfiosim_world *w, uint64_t pfn,
					 unsigned long npages, bool make_dirty)
{
	struct meta_cache c = { .cidx = UINT64_MAX };
	struct unpin_bad bad = { 0 };
	struct mm_phys *p;

	if (!w || pfn + npages < pfn)
		return -EINVAL;
	if (!npages)
		return 0;
	p = mm_phys_get(w);
	if (!p)
		return -EINVAL;
	phys_lock(p);
	for (unsigned long i = 0, careful = 0; i < npages;) {
		struct phys_ref r;

		/* A run inside one huge page is released in one step. */
		if ((c.cidx != (pfn + i) >> PHYS_CHUNK_SHIFT) &&
		    phys_lookup(p, pfn + i, &r) && r.huge) {
			uint64_t k = r.head_pfn + (1ull << r.order) - (pfn + i);
			struct phys_page *h = r.head;

			if (k > npages - i)
				k = npages - i;
			if (h->pin >= k) {
				h->pin -= (uint32_t)k;
				if (make_dirty)
					h->flags |= VFIOSIM_PAGE_DIRTY;
				h->ref -= (uint32_t)k;
				if (!h->ref)
					phys_free_page_locked(p, &r);
				i += k;
				continue;
			}
		}
		if (!careful && ((pfn + i) >> PHYS_CHUNK_SHIFT) == c.cidx) {
			/* The rest of the run in this chunk, a fast block at
			 * a time (consecutive frames: consecutive metadata);
			 * a block that fails is redone page by page. */
			unsigned int off = (pfn + i) & (PHYS_CHUNK_FRAMES - 1);
			unsigned long m = PHYS_CHUNK_FRAMES - off;

			if (m > npages - i)
				m = npages - i;
			if (m > FAST_BLOCK)
				m = FAST_BLOCK;
			if (likely(unpin_run_fast(&c.ch->pg[off],
						  (unsigned int)m,
						  make_dirty))) {
				i += m;
				continue;
			}
			careful = m;
		}
		unpin_frame(p, &c, pfn + i, make_dirty, &bad);
		i++;
		if (careful)
			careful--;
	}
	phys_unlock(p);
	return unpin_report(w, &bad);
}

/* --------------------------------------------------------- follow, r/w */

VFIOSIM_EXPORT int vfiosim_mm_follow_pfn(struct vfiosim_mm *mm, uint64_t vaddr,
					 bool write, uint64_t *pfn,
					 uint64_t *run)
{
	struct mm_phys *p;
	struct mm_vma *v;
	uint64_t off, block, left;

	if (!mm || !pfn)
		return -EINVAL;
	if (mm->dead)
		return -EFAULT;
	mm_assert_locked(mm, false, __FILE__, __LINE__);
	if (mm->host)
		return -EINVAL; /* host mappings are never PFNMAP here */
	p = mm->phys;
	v = mm_find_vma(mm, vaddr);
	if (!v || v->start > vaddr)
		return -EFAULT;
	if (v->kind != VMA_PFNMAP)
		return -EINVAL;
	if (write && !(v->prot & VFIOSIM_PROT_WRITE))
		return -EFAULT;
	off = (vaddr - v->start) >> p->page_shift;
	*pfn = v->pfn + off;
	if (run) {
		/* To the end of vaddr's block, clipped to the VMA's end
		 * (counted in whole pages from vaddr's page: at least 1). */
		uint64_t vpn = vaddr >> p->page_shift;
		uint64_t rem = (v->end >> p->page_shift) - vpn;

		block = 1ull << v->order;
		left = block - (vpn & (block - 1));
		*run = left < rem ? left : rem;
	}
	return 0;
}

VFIOSIM_EXPORT int vfiosim_mm_lookup_pfn(struct vfiosim_mm *mm, uint64_t vaddr,
					 uint64_t *pfn)
{
	struct mm_phys *p;
	struct mm_vma *v;
	unsigned int order;
	uint64_t e, vpn;

	if (!mm || !pfn || vaddr >= VFIOSIM_TASK_SIZE)
		return -EINVAL;
	if (mm->dead)
		return -EFAULT;
	mm_assert_locked(mm, false, __FILE__, __LINE__);
	p = mm->phys;
	vpn = vaddr >> p->page_shift;
	if (!mm->host) {
		v = mm_find_vma(mm, vaddr);
		if (!v || v->start > vaddr)
			return -EFAULT;
		if (v->kind == VMA_PFNMAP) {
			*pfn = v->pfn + ((vaddr - v->start) >> p->page_shift);
			return 0;
		}
	}
	e = mm_pt_lookup(mm, vpn, &order);
	if (!e)
		return -ENOENT;
	*pfn = pte_pfn(e) + (vpn & ((1ull << order) - 1));
	return 0;
}

/* Validate [vaddr, vaddr + len) for a user access before touching it. */
static int access_check(struct vfiosim_mm *mm, uint64_t vaddr, size_t len,
			bool write)
{
	uint64_t addr = vaddr, end = vaddr + len;

	if (end < vaddr || end > VFIOSIM_TASK_SIZE)
		return -EFAULT;
	while (addr < end) {
		struct mm_vma *v;

		if (mm->host) {
			uint64_t rend;
			unsigned int prot;
			int rc = mm_host_resolve(mm, addr, write, &rend, &prot);

			if (rc)
				return -EFAULT;
			addr = rend;
			continue;
		}
		v = mm_find_vma(mm, addr);
		if (!v || v->start > addr || v->kind == VMA_PFNMAP ||
		    v->unbacked ||
		    !(v->prot &
		      (write ? VFIOSIM_PROT_WRITE : VFIOSIM_PROT_READ)))
			return -EFAULT;
		addr = v->end;
	}
	return 0;
}

static long mm_access(struct vfiosim_mm *mm, uint64_t vaddr, void *buf,
		      size_t len, bool write)
{
	struct mm_phys *p;
	size_t done = 0;
	long rc;

	if (!mm || (len && !buf))
		return -EINVAL;
	if (mm->dead)
		return -EFAULT;
	if (!len)
		return 0;
	p = mm->phys;
	vfiosim_mmap_read_lock(mm);
	rc = access_check(mm, vaddr, len, write);
	if (rc)
		goto out;
	if (mm->host) {
		/* The real memory: the kernel under us checked it. */
		if (write)
			memcpy((void *)(uintptr_t)vaddr, buf, len);
		else
			memcpy(buf, (const void *)(uintptr_t)vaddr, len);
		done = len;
		goto out;
	}
	while (done < len) {
		uint64_t addr = vaddr + done, pfn;
		uint64_t off = addr & (p->page_size - 1);
		size_t n = p->page_size - off;
		struct mm_vma *v = mm_find_vma(mm, addr);
		uint8_t *bytes;

		if (n > len - done)
			n = len - done;
		rc = mm_fault(mm, v, addr, write, &pfn);
		if (rc)
			goto out;
		bytes = vfiosim_page_bytes(mm->w, pfn);
		if (!bytes) {
			rc = -EFAULT;
			goto out;
		}
		if (write)
			memcpy(bytes + off, (const uint8_t *)buf + done, n);
		else
			memcpy((uint8_t *)buf + done, bytes + off, n);
		done += n;
	}
out:
	vfiosim_mmap_read_unlock(mm);
	return rc ? rc : (long)done;
}

VFIOSIM_EXPORT long vfiosim_mm_write(struct vfiosim_mm *mm, uint64_t vaddr,
				     const void *buf, size_t len)
{
	return mm_access(mm, vaddr, (void *)buf, len, true);
}

VFIOSIM_EXPORT long vfiosim_mm_read(struct vfiosim_mm *mm, uint64_t vaddr,
				    void *buf, size_t len)
{
	return mm_access(mm, vaddr, buf, len, false);
}
