/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * phys.c - simulated physical memory: page frames, their metadata, and a
 * buddy allocator.
 *
 * What it models.  The part of Linux 6.1's memory management that VFIO
 * type1 relies on: struct page with page_ref_count() and a pin count
 * (FOLL_PIN; the kernel folds pins into the refcount with
 * GUP_PIN_COUNTING_BIAS for small folios and keeps a separate
 * compound_pincount for large ones -- here every page keeps both, and a pin
 * also holds one reference), PageReserved(), pfn_valid() (false for MMIO and
 * for pfns past the end of memory), the shared zero page, and compound pages
 * of order 9 (2 MiB) and 18 (1 GiB) as folios whose counts live on the head.
 * The allocator mirrors __alloc_pages()/__free_pages() of the buddy
 * allocator (split the smallest larger free block; merge a freed block with
 * its free buddy), without zones, migrate types or watermarks.
 *
 * Storage tiers.  Memory nobody touched costs nothing: frames above the
 * allocator's high-water mark @wm were never handed out and have no
 * metadata, and a freed block below it is one node in a per-order tree.
 * Metadata of in-use frames lives in 512-frame chunks (struct phys_chunk,
 * 16 bytes a frame) under 512-chunk sections, both created on first use and
 * freed when their last frame is; a page of order >= 9 is one struct
 * phys_huge that every slot it covers points to (tagged pointer), so
 * allocating or freeing a 1 GiB page does 512 slot stores, never 262144
 * frame initialisations.  Backed frames get their bytes from an anonymous
 * host mapping per chunk (or per huge page), which the host kernel fills
 * lazily; a reused frame is zeroed (PHYS_USED tells which need it).  The
 * backing of a chunk that empties is kept (up to PHYS_SPARES of them, with
 * a bitmap of the frames written) for the next chunk that needs one: a
 * table page freed and allocated again on every map/unmap cycle would
 * otherwise cost a host munmap, mmap and page fault each time.  Host
 * frames (host.c) keep a pointer to the real page in the chunk's host[].
 *
 * Teardown (vfiosim_world_destroy()): the tasks exit their mms, mms still
 * referenced are reported and torn down (mm.c), then every in-use page not
 * at its baseline (refcount 0 -- or 1 for reserved pages and the zero page
 * -- and pin count 0) is a LEAK naming the last thread that took it.
 *
 * Locking.  All of struct mm_phys is protected by phys_lock(): a pthread
 * mutex in free-running mode, nothing in deterministic mode (one simulated
 * thread runs at a time and no function here is a scheduling point).
 *
 * Vocabulary: pfn ranges are [start, end) with @end exclusive.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mm/mm_internal.h"

static int free_cmp(const struct phys_free *a, const struct phys_free *b)
{
	return a->pfn < b->pfn ? -1 : a->pfn > b->pfn;
}

RB_GENERATE_INTERNAL(phys_free_tree, phys_free, rb, free_cmp,
		     static __attribute__((unused)))

static int mmio_cmp(const struct phys_mmio *a, const struct phys_mmio *b)
{
	return a->start < b->start ? -1 : a->start > b->start;
}

RB_GENERATE_INTERNAL(phys_mmio_tree, phys_mmio, rb, mmio_cmp,
		     static __attribute__((unused)))

/* ------------------------------------------------------------ task data */

struct mm_task *mm_task_data(struct vfiosim_task *t, bool create)
{
	struct vfiosim_world *w = t->w;
	struct mm_task *d = t->layer_data[0], *n;

	if (d || !create)
		return d;
	/* Allocate outside the world lock (the allocator takes it). */
	n = sim_alloc_nofault(w, sizeof(*n));
	if (!n)
		return NULL;
	n->rlimit_memlock = w->cfg.mm.memlock_limit;
	n->cap_ipc_lock = w->cfg.mm.cap_ipc_lock;
	sim_lock(w);
	d = t->layer_data[0];
	if (!d) {
		t->layer_data[0] = n;
		d = n;
		n = NULL;
	}
	sim_unlock(w);
	vfiosim_free(w, n);
	return d;
}

uint16_t phys_who(struct vfiosim_world *w)
{
	struct vfiosim_thread *t = sim_current(w);

	return t ? (uint16_t)(t->id + 1) : 0;
}

static const char *who_name(struct vfiosim_world *w, uint16_t who)
{
	if (!who)
		return "the test (outside simulated threads)";
	if (who - 1u < w->nthreads && w->threads[who - 1])
		return w->threads[who - 1]->name;
	return "an exited thread";
}

/* ------------------------------------------------------------ the world */

static void phys_teardown(struct vfiosim_world *w, void *arg);

static void phys_free_all(struct mm_phys *p);

static int phys_create(struct vfiosim_world *w, struct mm_phys **out)
{
	const struct vfiosim_mm_config *c = &w->cfg.mm;
	struct mm_phys *p;

	if (c->page_shift < 12 || c->page_shift > 16)
		return -EINVAL;
	if ((c->phys_size >> c->page_shift) == 0 ||
	    (c->phys_size >> c->page_shift) > (1ull << 36))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->w = w;
	p->page_shift = c->page_shift;
	p->page_size = 1ull << c->page_shift;
	p->npages = c->phys_size >> c->page_shift;
	p->nsect = (p->npages + (1ull << PHYS_SECT_SHIFT) - 1) >>
		   PHYS_SECT_SHIFT;
	p->sect = calloc(p->nsect, sizeof(*p->sect));
	if (!p->sect) {
		free(p);
		return -ENOMEM;
	}
	for (unsigned int o = 0; o <= PHYS_MAX_ORDER; o++)
		RB_INIT(&p->free[o]);
	RB_INIT(&p->mmio);
	p->zero_pfn = VFIOSIM_PFN_INVALID;
	p->next_mm_id = 1;
	pthread_mutex_init(&p->lock, NULL);
	*out = p;
	return 0;
}

/*
 * Created on first use: sim offers no per-world slot for a layer, so the
 * memory hangs off the init task's mm data.  Built outside the world lock
 * (its allocator takes that lock), published under it; a loser of a
 * free-running race frees its copy.
 */
static int phys_get_err(struct vfiosim_world *w, struct mm_phys **out)
{
	struct mm_phys *p = NULL;
	struct mm_task *it;
	int rc;

	*out = NULL;
	if (!w || !w->init_task)
		return -EINVAL;
	it = mm_task_data(w->init_task, true);
	if (!it)
		return -ENOMEM;
	if (it->phys) {
		*out = it->phys;
		return 0;
	}
	if (it->phys_gone)
		return -ESRCH; /* torn down */
	rc = phys_create(w, &p);
	if (rc)
		return rc;
	sim_lock(w);
	if (!it->phys) {
		it->phys = p;
		p = NULL;
	}
	*out = it->phys;
	sim_unlock(w);
	if (p) {
		phys_free_all(p);
		return 0;
	}
	/* On failure (host malloc) the world runs without the leak check. */
	sim_add_teardown(w, phys_teardown, *out);
	return 0;
}

struct mm_phys *mm_phys_get(struct vfiosim_world *w)
{
	struct mm_phys *p;

	phys_get_err(w, &p);
	return p;
}

/* --------------------------------------------------- the buddy allocator */

static struct phys_free *node_new(struct mm_phys *p, uint64_t pfn)
{
	struct phys_free *n = p->node_cache;

	if (n)
		p->node_cache = RB_LEFT(n, rb);
	else
		n = malloc(sizeof(*n));
	if (n) {
		n->pfn = pfn;
		p->free_nodes++;
	}
	return n;
}

static void node_free(struct mm_phys *p, struct phys_free *n)
{
	RB_LEFT(n, rb) = p->node_cache;
	p->node_cache = n;
	p->free_nodes--;
}

static int free_insert(struct mm_phys *p, uint64_t pfn, unsigned int order)
{
	struct phys_free *n = node_new(p, pfn);

	if (!n)
		return -ENOMEM;
	phys_free_tree_RB_INSERT(&p->free[order], n);
	return 0;
}

static unsigned int block_order(uint64_t start, uint64_t end)
{
	unsigned int o = 0;

	while (o < PHYS_MAX_ORDER && !(start & (1ull << o)) &&
	       start + (2ull << o) <= end)
		o++;
	return o;
}

/* Put [start, end) on the free lists as maximal aligned blocks. */
static int free_range(struct mm_phys *p, uint64_t start, uint64_t end)
{
	while (start < end) {
		unsigned int o = block_order(start, end);
		int rc = free_insert(p, start, o);

		if (rc)
			return rc;
		start += 1ull << o;
	}
	return 0;
}

static int buddy_alloc(struct mm_phys *p, unsigned int order, uint64_t *out)
{
	uint64_t size = 1ull << order, base;

	for (unsigned int o = order; o <= PHYS_MAX_ORDER; o++) {
		struct phys_free *n = RB_MIN(phys_free_tree, &p->free[o]);
		uint64_t pfn;

		if (!n)
			continue;
		pfn = n->pfn;
		phys_free_tree_RB_REMOVE(&p->free[o], n);
		node_free(p, n);
		while (o > order) {
			o--;
			if (free_insert(p, pfn + (1ull << o), o)) {
				/* Keep what we could not record: merge back. */
				o++;
				break;
			}
		}
		if (o != order) {
			free_insert(p, pfn, o);
			return -ENOMEM;
		}
		*out = pfn;
		return 0;
	}
	base = (p->wm + size - 1) & ~(size - 1);
	if (base < p->wm || base > p->npages || p->npages - base < size)
		return -ENOMEM;
	if (free_range(p, p->wm, base))
		return -ENOMEM;
	p->wm = base + size;
	*out = base;
	return 0;
}

static void buddy_free(struct mm_phys *p, uint64_t pfn, unsigned int order)
{
	bool lowered;

	while (order < PHYS_MAX_ORDER) {
		struct phys_free key = { .pfn = pfn ^ (1ull << order) };
		struct phys_free *n =
			phys_free_tree_RB_FIND(&p->free[order], &key);

		if (!n)
			break;
		phys_free_tree_RB_REMOVE(&p->free[order], n);
		node_free(p, n);
		pfn &= ~(1ull << order);
		order++;
	}
	if (pfn + (1ull << order) != p->wm) {
		/* On failure the block is lost to the allocator (its
		 * metadata is already gone): nothing more to do either way. */
		(void)free_insert(p, pfn, order);
		return;
	}
	/* The block ends at the high-water mark: lower it, and swallow
	 * free blocks that now end there too. */
	p->wm = pfn;
	do {
		lowered = false;
		for (unsigned int o = 0; o <= PHYS_MAX_ORDER; o++) {
			struct phys_free *n =
				RB_MAX(phys_free_tree, &p->free[o]);

			if (n && n->pfn + (1ull << o) == p->wm) {
				p->wm = n->pfn;
				phys_free_tree_RB_REMOVE(&p->free[o], n);
				node_free(p, n);
				lowered = true;
			}
		}
	} while (lowered);
}

/* The free block of any order that contains @pfn, or NULL. */
static struct phys_free *free_block_of(struct mm_phys *p, uint64_t pfn,
				       unsigned int *order)
{
	for (unsigned int o = 0; o <= PHYS_MAX_ORDER; o++) {
		struct phys_free key = { .pfn = pfn & ~((1ull << o) - 1) };
		struct phys_free *n = phys_free_tree_RB_FIND(&p->free[o], &key);

		if (n) {
			*order = o;
			return n;
		}
	}
	return NULL;
}

/* Take [start, end) out of the free memory; -EINVAL if any is in use. */
static int buddy_carve(struct mm_phys *p, uint64_t start, uint64_t end)
{
	uint64_t low_end = end < p->wm ? end : p->wm, pos;
	unsigned int o;
	int rc = 0;

	for (pos = start; pos < low_end;) {
		struct phys_free *n = free_block_of(p, pos, &o);

		if (!n)
			return -EINVAL;
		pos = n->pfn + (1ull << o);
	}
	for (pos = start; pos < low_end;) {
		struct phys_free *n = free_block_of(p, pos, &o);
		uint64_t b = n->pfn, e = b + (1ull << o);

		phys_free_tree_RB_REMOVE(&p->free[o], n);
		node_free(p, n);
		if (b < start)
			rc |= free_range(p, b, start);
		if (e > end)
			rc |= free_range(p, end, e);
		pos = e;
	}
	if (end > p->wm) {
		if (start > p->wm)
			rc |= free_range(p, p->wm, start);
		p->wm = end;
	}
	return rc ? -ENOMEM : 0;
}

/* ------------------------------------------------------------- metadata */

static inline bool slot_huge(uintptr_t s)
{
	return s & 1;
}

static inline struct phys_huge *slot_to_huge(uintptr_t s)
{
	return (struct phys_huge *)(s & ~(uintptr_t)1);
}

bool phys_lookup(struct mm_phys *p, uint64_t pfn, struct phys_ref *r)
{
	uintptr_t s, c;
	struct phys_section *sec;
	struct phys_chunk *ch;
	struct phys_page *pg;

	if (pfn >= p->npages)
		return false;
	s = p->sect[pfn >> PHYS_SECT_SHIFT];
	if (!s)
		return false;
	if (!slot_huge(s)) {
		sec = (struct phys_section *)s;
		c = sec->chunk[(pfn >> PHYS_CHUNK_SHIFT) &
			       (PHYS_SECT_CHUNKS - 1)];
		if (!c)
			return false;
		if (!slot_huge(c)) {
			ch = (struct phys_chunk *)c;
			pg = &ch->pg[pfn & (PHYS_CHUNK_FRAMES - 1)];
			if (!(pg->flags & PHYS_INUSE))
				return false;
			r->chunk = ch;
			r->pg = pg;
			r->huge = NULL;
			r->order = pg->order;
			r->head_pfn = pfn & ~((1ull << pg->order) - 1);
			r->head =
				&ch->pg[r->head_pfn & (PHYS_CHUNK_FRAMES - 1)];
			return true;
		}
		s = c;
	}
	r->huge = slot_to_huge(s);
	r->chunk = NULL;
	r->pg = NULL;
	r->head = &r->huge->head;
	r->head_pfn = r->huge->head_pfn;
	r->order = r->huge->head.order;
	return true;
}

void *phys_frame_bytes(struct mm_phys *p, const struct phys_ref *r,
		       uint64_t pfn)
{
	unsigned int idx = pfn & (PHYS_CHUNK_FRAMES - 1);

	if (r->pg) {
		if (r->pg->flags & PHYS_HOST)
			return r->chunk->host ? r->chunk->host[idx] : NULL;
		if (!(r->pg->flags & VFIOSIM_PAGE_BACKED) || !r->chunk->bytes)
			return NULL;
		return r->chunk->bytes + ((uint64_t)idx << p->page_shift);
	}
	if (!r->huge->bytes)
		return NULL;
	return r->huge->bytes + ((pfn - r->head_pfn) << p->page_shift);
}

int phys_set_host_bytes(struct mm_phys *p, uint64_t pfn, void *bytes)
{
	struct phys_ref r;

	if (!phys_lookup(p, pfn, &r) || !r.pg)
		return -EINVAL;
	if (!r.chunk->host) {
		r.chunk->host = calloc(PHYS_CHUNK_FRAMES, sizeof(void *));
		if (!r.chunk->host)
			return -ENOMEM;
		p->meta_bytes += PHYS_CHUNK_FRAMES * sizeof(void *);
	}
	r.chunk->host[pfn & (PHYS_CHUNK_FRAMES - 1)] = bytes;
	r.pg->flags |= VFIOSIM_PAGE_BACKED | PHYS_HOST;
	return 0;
}

void phys_host_keep(struct mm_phys *p, struct phys_ref *r, uint64_t pfn)
{
	unsigned int idx = pfn & (PHYS_CHUNK_FRAMES - 1);
	uint8_t *copy;

	if (!r->pg || !(r->pg->flags & PHYS_HOST) ||
	    (r->pg->flags & PHYS_HOST_KEPT) || !r->chunk->host)
		return;
	copy = malloc(p->page_size);
	if (!copy)
		return; /* the frame keeps pointing at the real page */
	/* Read without faulting: the page may already be gone. */
	if (sim_copy_from_user(copy, (uint64_t)(uintptr_t)r->chunk->host[idx],
			       p->page_size))
		memset(copy, 0, p->page_size);
	r->chunk->host[idx] = copy;
	r->pg->flags |= PHYS_HOST_KEPT;
	p->backed_bytes += p->page_size;
}

/* Free the kept copies of the host frames [idx, idx + n) of @ch. */
static void host_kept_free(struct mm_phys *p, struct phys_chunk *ch,
			   unsigned int idx, unsigned int n)
{
	for (unsigned int i = idx; ch->host && i < idx + n; i++)
		if (ch->pg[i].flags & PHYS_HOST_KEPT) {
			free(ch->host[i]);
			ch->host[i] = NULL;
			ch->pg[i].flags &= (uint16_t)~PHYS_HOST_KEPT;
			p->backed_bytes -= p->page_size;
		}
}

static void *map_bytes(struct mm_phys *p, size_t len)
{
	void *b = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (b == MAP_FAILED)
		return NULL;
	p->backed_bytes += len;
	return b;
}

static void unmap_bytes(struct mm_phys *p, void *b, size_t len)
{
	if (!b)
		return;
	munmap(b, len);
	p->backed_bytes -= len;
}

/*
 * Keep the backing of chunk @ch, which just emptied, for the next chunk
 * that needs one (unmap it if PHYS_SPARES are kept already).  Its frames'
 * PHYS_USED flags say which bytes were written.
 */
static void spare_put(struct mm_phys *p, struct phys_chunk *ch)
{
	struct phys_spare *s;

	if (!ch->bytes)
		return;
	if (p->nspare == PHYS_SPARES) {
		unmap_bytes(p, ch->bytes, PHYS_CHUNK_FRAMES * p->page_size);
		return;
	}
	s = &p->spare[p->nspare++];
	s->bytes = ch->bytes;
	memset(s->used, 0, sizeof(s->used));
	for (unsigned int i = 0; i < PHYS_CHUNK_FRAMES; i++)
		if (ch->pg[i].flags & PHYS_USED)
			s->used[i / 64] |= 1ull << (i % 64);
	p->backed_bytes -= PHYS_CHUNK_FRAMES * p->page_size;
}

/* Give chunk @ch a backing: a spare one if kept, else a new mapping. */
static int chunk_map_bytes(struct mm_phys *p, struct phys_chunk *ch)
{
	if (p->nspare) {
		struct phys_spare *s = &p->spare[--p->nspare];

		ch->bytes = s->bytes;
		s->bytes = NULL;
		for (unsigned int i = 0; i < PHYS_CHUNK_FRAMES; i++) {
			ch->pg[i].flags &= (uint16_t)~PHYS_USED;
			if (s->used[i / 64] & (1ull << (i % 64)))
				ch->pg[i].flags |= PHYS_USED;
		}
		p->backed_bytes += PHYS_CHUNK_FRAMES * p->page_size;
		return 0;
	}
	ch->bytes = map_bytes(p, PHYS_CHUNK_FRAMES * p->page_size);
	if (!ch->bytes)
		return -ENOMEM;
	for (unsigned int i = 0; i < PHYS_CHUNK_FRAMES; i++)
		ch->pg[i].flags &= (uint16_t)~PHYS_USED;
	return 0;
}

static struct phys_section *section_get(struct mm_phys *p, uint64_t pfn)
{
	uintptr_t *slot = &p->sect[pfn >> PHYS_SECT_SHIFT];
	struct phys_section *sec;

	if (*slot)
		return slot_huge(*slot) ? NULL : (struct phys_section *)*slot;
	sec = calloc(1, sizeof(*sec));
	if (!sec)
		return NULL;
	p->meta_bytes += sizeof(*sec);
	*slot = (uintptr_t)sec;
	return sec;
}

static void section_put(struct mm_phys *p, uint64_t pfn)
{
	uintptr_t *slot = &p->sect[pfn >> PHYS_SECT_SHIFT];
	struct phys_section *sec = (struct phys_section *)*slot;

	if (sec && !sec->nused) {
		free(sec);
		p->meta_bytes -= sizeof(*sec);
		*slot = 0;
	}
}

static int meta_install_small(struct mm_phys *p, uint64_t pfn,
			      unsigned int order, unsigned int flags,
			      uint16_t who, bool nozero)
{
	struct phys_section *sec = section_get(p, pfn);
	uintptr_t *cslot;
	struct phys_chunk *ch;
	unsigned int idx = pfn & (PHYS_CHUNK_FRAMES - 1), n = 1u << order;

	if (!sec)
		return -ENOMEM;
	cslot = &sec->chunk[(pfn >> PHYS_CHUNK_SHIFT) & (PHYS_SECT_CHUNKS - 1)];
	ch = (struct phys_chunk *)*cslot;
	if (!ch) {
		ch = calloc(1, sizeof(*ch));
		if (!ch) {
			section_put(p, pfn);
			return -ENOMEM;
		}
		p->meta_bytes += sizeof(*ch);
		*cslot = (uintptr_t)ch;
		sec->nused++;
	}
	if ((flags & VFIOSIM_PAGE_BACKED) && !ch->bytes) {
		if (chunk_map_bytes(p, ch)) {
			if (!ch->nlive) {
				free(ch);
				p->meta_bytes -= sizeof(*ch);
				*cslot = 0;
				sec->nused--;
				section_put(p, pfn);
			}
			return -ENOMEM;
		}
	}
	for (unsigned int i = 0; i < n; i++) {
		struct phys_page *pg = &ch->pg[idx + i];
		uint16_t used = pg->flags & PHYS_USED;

		memset(pg, 0, sizeof(*pg));
		pg->flags = (uint16_t)(flags | PHYS_INUSE | used);
		if (order)
			pg->flags |= i ? VFIOSIM_PAGE_TAIL : VFIOSIM_PAGE_HEAD;
		pg->order = (uint8_t)order;
		if (flags & VFIOSIM_PAGE_BACKED) {
			if (used && !nozero)
				memset(ch->bytes + ((uint64_t)(idx + i)
						    << p->page_shift),
				       0, p->page_size);
			pg->flags |= PHYS_USED;
		}
		if (ch->host)
			ch->host[idx + i] = NULL;
	}
	ch->pg[idx].ref = 1;
	ch->pg[idx].who = who;
	ch->nlive += n;
	return 0;
}

static int meta_install_huge(struct mm_phys *p, uint64_t pfn,
			     unsigned int order, unsigned int flags,
			     uint16_t who)
{
	struct phys_huge *h = calloc(1, sizeof(*h));
	struct phys_section *sec = NULL;

	if (!h)
		return -ENOMEM;
	h->head_pfn = pfn;
	h->head.flags = (uint16_t)(flags | PHYS_INUSE | VFIOSIM_PAGE_HEAD);
	h->head.order = (uint8_t)order;
	h->head.ref = 1;
	h->head.who = who;
	if (flags & VFIOSIM_PAGE_BACKED) {
		h->bytes_len = (size_t)p->page_size << order;
		h->bytes = map_bytes(p, h->bytes_len);
		if (!h->bytes) {
			free(h);
			return -ENOMEM;
		}
	}
	if (order == PHYS_SECT_SHIFT) {
		p->sect[pfn >> PHYS_SECT_SHIFT] = (uintptr_t)h | 1;
	} else {
		unsigned int ci = (pfn >> PHYS_CHUNK_SHIFT) &
				  (PHYS_SECT_CHUNKS - 1);
		unsigned int k = 1u << (order - PHYS_CHUNK_SHIFT);

		sec = section_get(p, pfn);
		if (!sec) {
			unmap_bytes(p, h->bytes, h->bytes_len);
			free(h);
			return -ENOMEM;
		}
		for (unsigned int j = 0; j < k; j++)
			sec->chunk[ci + j] = (uintptr_t)h | 1;
		sec->nused += k;
	}
	p->meta_bytes += sizeof(*h);
	return 0;
}

static void meta_remove(struct mm_phys *p, struct phys_ref *r)
{
	uint64_t pfn = r->head_pfn;
	unsigned int order = r->order;

	if (r->huge) {
		struct phys_huge *h = r->huge;

		if (order == PHYS_SECT_SHIFT) {
			p->sect[pfn >> PHYS_SECT_SHIFT] = 0;
		} else {
			struct phys_section *sec =
				(struct phys_section *)
					p->sect[pfn >> PHYS_SECT_SHIFT];
			unsigned int ci = (pfn >> PHYS_CHUNK_SHIFT) &
					  (PHYS_SECT_CHUNKS - 1);
			unsigned int k = 1u << (order - PHYS_CHUNK_SHIFT);

			for (unsigned int j = 0; j < k; j++)
				sec->chunk[ci + j] = 0;
			sec->nused -= k;
			section_put(p, pfn);
		}
		unmap_bytes(p, h->bytes, h->bytes_len);
		free(h);
		p->meta_bytes -= sizeof(*h);
	} else {
		struct phys_chunk *ch = r->chunk;
		unsigned int idx = pfn & (PHYS_CHUNK_FRAMES - 1);
		unsigned int n = 1u << order;

		host_kept_free(p, ch, idx, n);
		for (unsigned int i = 0; i < n; i++) {
			struct phys_page *pg = &ch->pg[idx + i];

			pg->flags &= PHYS_USED;
			pg->ref = pg->pin = 0;
		}
		ch->nlive -= n;
		if (!ch->nlive) {
			struct phys_section *sec =
				(struct phys_section *)
					p->sect[pfn >> PHYS_SECT_SHIFT];

			spare_put(p, ch);
			if (ch->host) {
				free(ch->host);
				p->meta_bytes -=
					PHYS_CHUNK_FRAMES * sizeof(void *);
			}
			free(ch);
			p->meta_bytes -= sizeof(*ch);
			sec->chunk[(pfn >> PHYS_CHUNK_SHIFT) &
				   (PHYS_SECT_CHUNKS - 1)] = 0;
			sec->nused--;
			section_put(p, pfn);
		}
	}
	p->frames_inuse -= 1ull << order;
}

/* ----------------------------------------------------------- allocation */

static int phys_alloc_locked(struct mm_phys *p, unsigned int order,
			     unsigned int flags, uint64_t *pfn)
{
	bool nozero = flags & PHYS_ALLOC_NOZERO;
	uint64_t base;
	int rc;

	flags &= ~PHYS_ALLOC_NOZERO;
	rc = buddy_alloc(p, order, &base);
	if (rc)
		return rc;
	if (order < PHYS_CHUNK_SHIFT)
		rc = meta_install_small(p, base, order, flags, phys_who(p->w),
					nozero);
	else
		rc = meta_install_huge(p, base, order, flags, phys_who(p->w));
	if (rc) {
		buddy_free(p, base, order);
		return rc;
	}
	p->frames_inuse += 1ull << order;
	*pfn = base;
	return 0;
}

int phys_alloc(struct mm_phys *p, unsigned int order, unsigned int flags,
	       uint64_t *pfn)
{
	int rc;

	if (vfiosim_fault(p->w, "mm.phys_alloc"))
		return -ENOMEM;
	phys_lock(p);
	rc = phys_alloc_locked(p, order, flags, pfn);
	phys_unlock(p);
	return rc;
}

VFIOSIM_EXPORT int vfiosim_phys_alloc(struct vfiosim_world *w,
				      unsigned int order, unsigned int flags,
				      uint64_t *pfn)
{
	struct mm_phys *p;
	int rc;

	if (!pfn || order > PHYS_MAX_ORDER ||
	    (flags &
	     ~(unsigned int)(VFIOSIM_PAGE_BACKED | VFIOSIM_PAGE_RESERVED)))
		return -EINVAL;
	rc = phys_get_err(w, &p);
	if (rc)
		return rc;
	return phys_alloc(p, order, flags, pfn);
}

int phys_zero_pfn(struct mm_phys *p, uint64_t *pfn)
{
	int rc = 0;

	phys_lock(p);
	if (p->zero_pfn == VFIOSIM_PFN_INVALID) {
		uint64_t z;

		rc = phys_alloc_locked(p, 0,
				       VFIOSIM_PAGE_BACKED |
					       VFIOSIM_PAGE_RESERVED |
					       VFIOSIM_PAGE_ZERO,
				       &z);
		if (!rc)
			p->zero_pfn = z;
	}
	*pfn = p->zero_pfn;
	phys_unlock(p);
	return rc;
}

bool phys_is_mmio(struct mm_phys *p, uint64_t pfn)
{
	struct phys_mmio key = { .start = pfn }, *m;

	m = RB_NFIND(phys_mmio_tree, &p->mmio, &key);
	if (m && m->start == pfn)
		return true;
	m = m ? RB_PREV(phys_mmio_tree, &p->mmio, m) :
		RB_MAX(phys_mmio_tree, &p->mmio);
	return m && pfn >= m->start && pfn < m->end;
}

void phys_free_page_locked(struct mm_phys *p, struct phys_ref *r)
{
	uint64_t pfn = r->head_pfn;
	unsigned int order = r->order;

	meta_remove(p, r);
	buddy_free(p, pfn, order);
}

void phys_put_locked(struct mm_phys *p, struct phys_ref *r)
{
	struct phys_page *h = r->head;

	if (h->ref <= h->pin || h->ref == 0) {
		uint32_t ref = h->ref, pin = h->pin;

		phys_unlock(p);
		vfiosim_fail_at(p->w, VFIOSIM_FAIL_BUG, __FILE__, __LINE__,
				"put_page(pfn 0x%llx): refcount %u would drop "
				"below the %u reference(s) held by pins",
				(unsigned long long)r->head_pfn, ref, pin);
		phys_lock(p);
		return;
	}
	if (h->ref == 1 && (h->flags & VFIOSIM_PAGE_RESERVED)) {
		phys_unlock(p);
		vfiosim_fail_at(p->w, VFIOSIM_FAIL_BUG, __FILE__, __LINE__,
				"put_page(pfn 0x%llx): freeing a reserved page",
				(unsigned long long)r->head_pfn);
		phys_lock(p);
		return;
	}
	if (--h->ref == 0)
		phys_free_page_locked(p, r);
}

/*
 * The world's memory and the page of @pfn, with phys_lock held on success
 * (0); -EINVAL for a frame beyond memory or an MMIO frame (no struct
 * page), -ENOENT for a free one, or phys_get_err()'s error, unlocked.
 */
static int page_lookup_lock(struct vfiosim_world *w, uint64_t pfn,
			    struct mm_phys **pp, struct phys_ref *r)
{
	struct mm_phys *p;
	int rc = phys_get_err(w, &p);

	if (rc)
		return rc;
	if (pfn >= p->npages)
		return -EINVAL;
	phys_lock(p);
	if (!phys_lookup(p, pfn, r)) {
		rc = phys_is_mmio(p, pfn) ? -EINVAL : -ENOENT;
		phys_unlock(p);
		return rc;
	}
	*pp = p;
	return 0;
}

VFIOSIM_EXPORT int vfiosim_page_get(struct vfiosim_world *w, uint64_t pfn)
{
	struct mm_phys *p;
	struct phys_ref r;
	int rc = page_lookup_lock(w, pfn, &p, &r);

	if (rc)
		return rc;
	if (r.head->ref == UINT32_MAX) {
		rc = -EOVERFLOW;
	} else {
		r.head->ref++;
		r.head->who = phys_who(w);
	}
	phys_unlock(p);
	return rc;
}

VFIOSIM_EXPORT int vfiosim_page_put(struct vfiosim_world *w, uint64_t pfn)
{
	struct mm_phys *p;
	struct phys_ref r;
	int rc = page_lookup_lock(w, pfn, &p, &r);

	if (rc)
		return rc;
	phys_put_locked(p, &r);
	phys_unlock(p);
	return 0;
}

#define PAGE_PUBLIC_FLAGS 0xffu

VFIOSIM_EXPORT int vfiosim_page_query(struct vfiosim_world *w, uint64_t pfn,
				      struct vfiosim_page_info *info)
{
	struct mm_phys *p;
	struct phys_ref r;
	int rc;

	if (!info)
		return -EINVAL;
	rc = phys_get_err(w, &p);
	if (rc)
		return rc;
	if (pfn >= p->npages)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->head_pfn = pfn;
	phys_lock(p);
	if (phys_lookup(p, pfn, &r)) {
		info->refcount = r.head->ref;
		info->pincount = r.head->pin;
		info->order = r.order;
		info->head_pfn = r.head_pfn;
		if (r.pg) {
			info->flags = r.pg->flags & PAGE_PUBLIC_FLAGS;
			if (r.pg != r.head)
				info->flags |= r.head->flags &
					       VFIOSIM_PAGE_DIRTY;
		} else {
			info->flags = r.head->flags & PAGE_PUBLIC_FLAGS;
			if (pfn != r.head_pfn)
				info->flags =
					(info->flags &
					 ~(unsigned int)VFIOSIM_PAGE_HEAD) |
					VFIOSIM_PAGE_TAIL;
		}
		if (r.head->flags & PHYS_HOST)
			info->flags |= VFIOSIM_PAGE_HOST;
	} else if (phys_is_mmio(p, pfn)) {
		info->flags = VFIOSIM_PAGE_MMIO;
	}
	phys_unlock(p);
	return 0;
}

VFIOSIM_EXPORT void *vfiosim_page_bytes(struct vfiosim_world *w, uint64_t pfn)
{
	struct mm_phys *p = mm_phys_get(w);
	struct phys_ref r;
	void *b = NULL;

	if (!p || pfn >= p->npages)
		return NULL;
	phys_lock(p);
	if (phys_lookup(p, pfn, &r) && (r.head->flags & VFIOSIM_PAGE_BACKED))
		b = phys_frame_bytes(p, &r, pfn);
	phys_unlock(p);
	return b;
}

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
	p = mm_phys_get(w);
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

VFIOSIM_EXPORT bool vfiosim_pfn_invalid_or_reserved(struct vfiosim_world *w,
						    uint64_t pfn)
{
	bool rsvd;

	vfiosim_pfn_reserved_run(w, pfn, 1, &rsvd);
	return rsvd;
}

VFIOSIM_EXPORT int vfiosim_phys_add_mmio(struct vfiosim_world *w, uint64_t pfn,
					 uint64_t npages)
{
	struct phys_mmio *m;
	struct mm_phys *p;
	int rc;

	rc = phys_get_err(w, &p);
	if (rc)
		return rc;
	if (!npages || pfn >= p->npages || npages > p->npages - pfn)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->start = pfn;
	m->end = pfn + npages;
	phys_lock(p);
	rc = buddy_carve(p, pfn, pfn + npages);
	if (!rc) {
		phys_mmio_tree_RB_INSERT(&p->mmio, m);
		m = NULL;
	}
	phys_unlock(p);
	free(m);
	return rc;
}

VFIOSIM_EXPORT uint64_t vfiosim_phys_npages(const struct vfiosim_world *w)
{
	struct mm_phys *p = mm_phys_get((struct vfiosim_world *)w);

	return p ? p->npages : 0;
}

VFIOSIM_EXPORT uint64_t vfiosim_page_size(const struct vfiosim_world *w)
{
	return w ? 1ull << w->cfg.mm.page_shift : 0;
}

VFIOSIM_EXPORT int vfiosim_phys_stats(struct vfiosim_world *w,
				      struct vfiosim_phys_stats *st)
{
	struct mm_phys *p;
	int rc;

	if (!st)
		return -EINVAL;
	rc = phys_get_err(w, &p);
	if (rc)
		return rc;
	phys_lock(p);
	st->frames_inuse = p->frames_inuse;
	st->meta_bytes = p->meta_bytes;
	st->fixed_bytes = sizeof(*p) + p->nsect * sizeof(*p->sect);
	st->table_bytes = p->table_bytes;
	st->backed_bytes = p->backed_bytes;
	st->free_blocks = p->free_nodes;
	st->high_water_pfn = p->wm;
	phys_unlock(p);
	return 0;
}

/* ------------------------------------------------------------- teardown */

struct leak_run {
	uint64_t start, end; /* pfns */
	uint32_t ref, pin;
	uint16_t who;
	unsigned int pages;
	bool active;
};

#define LEAK_REPORT_MAX 16

static void leak_flush(struct mm_phys *p, struct leak_run *run,
		       unsigned int *reports, uint64_t *unreported)
{
	if (!run->active)
		return;
	run->active = false;
	if (*reports >= LEAK_REPORT_MAX) {
		*unreported += run->end - run->start;
		return;
	}
	(*reports)++;
	vfiosim_fail_at(p->w, VFIOSIM_FAIL_LEAK, __FILE__, __LINE__,
			"%u page(s) at pfn 0x%llx-0x%llx (%llu frame(s)) not "
			"back at baseline: refcount %u, pin count %u%s; last "
			"taken by %s",
			run->pages, (unsigned long long)run->start,
			(unsigned long long)(run->end - 1),
			(unsigned long long)(run->end - run->start), run->ref,
			run->pin, run->pin ? " (pinned)" : "",
			who_name(p->w, run->who));
}

static void leak_page(struct mm_phys *p, struct leak_run *run,
		      unsigned int *reports, uint64_t *unreported,
		      uint64_t head_pfn, unsigned int order,
		      const struct phys_page *h)
{
	uint64_t end = head_pfn + (1ull << order);

	if (h->ref == 1 && h->pin == 0 &&
	    (h->flags & (VFIOSIM_PAGE_RESERVED | VFIOSIM_PAGE_ZERO)))
		return; /* baseline of reserved pages and the zero page */
	if (run->active && run->end == head_pfn && run->ref == h->ref &&
	    run->pin == h->pin && run->who == h->who) {
		run->end = end;
		run->pages++;
		return;
	}
	leak_flush(p, run, reports, unreported);
	*run = (struct leak_run){ .start = head_pfn,
				  .end = end,
				  .ref = h->ref,
				  .pin = h->pin,
				  .who = h->who,
				  .pages = 1,
				  .active = true };
}

static void phys_check_leaks(struct mm_phys *p)
{
	struct leak_run run = { 0 };
	unsigned int reports = 0;
	uint64_t unreported = 0;

	for (uint64_t s = 0; s < p->nsect; s++) {
		uintptr_t slot = p->sect[s];
		struct phys_section *sec;

		if (!slot)
			continue;
		if (slot_huge(slot)) {
			struct phys_huge *h = slot_to_huge(slot);

			leak_page(p, &run, &reports, &unreported, h->head_pfn,
				  h->head.order, &h->head);
			continue;
		}
		sec = (struct phys_section *)slot;
		for (unsigned int c = 0; c < PHYS_SECT_CHUNKS; c++) {
			uintptr_t cs = sec->chunk[c];
			struct phys_chunk *ch;

			if (!cs)
				continue;
			if (slot_huge(cs)) {
				struct phys_huge *h = slot_to_huge(cs);

				/* Visit a multi-chunk page once. */
				if (((h->head_pfn >> PHYS_CHUNK_SHIFT) &
				     (PHYS_SECT_CHUNKS - 1)) == c)
					leak_page(p, &run, &reports,
						  &unreported, h->head_pfn,
						  h->head.order, &h->head);
				continue;
			}
			ch = (struct phys_chunk *)cs;
			for (unsigned int i = 0; i < PHYS_CHUNK_FRAMES; i++) {
				struct phys_page *pg = &ch->pg[i];

				if (!(pg->flags & PHYS_INUSE) ||
				    (pg->flags & VFIOSIM_PAGE_TAIL))
					continue;
				leak_page(p, &run, &reports, &unreported,
					  (s << PHYS_SECT_SHIFT) +
						  ((uint64_t)c
						   << PHYS_CHUNK_SHIFT) +
						  i,
					  pg->order, pg);
			}
		}
	}
	leak_flush(p, &run, &reports, &unreported);
	if (unreported)
		vfiosim_fail_at(p->w, VFIOSIM_FAIL_LEAK, __FILE__, __LINE__,
				"... and %llu more leaked frame(s) not listed",
				(unsigned long long)unreported);
}

static void phys_free_all(struct mm_phys *p)
{
	struct phys_free *n, *next;
	struct phys_mmio *m, *mn;

	for (uint64_t s = 0; s < p->nsect; s++) {
		uintptr_t slot = p->sect[s];
		struct phys_section *sec;

		if (!slot)
			continue;
		if (slot_huge(slot)) {
			struct phys_huge *h = slot_to_huge(slot);

			unmap_bytes(p, h->bytes, h->bytes_len);
			free(h);
			continue;
		}
		sec = (struct phys_section *)slot;
		for (unsigned int c = 0; c < PHYS_SECT_CHUNKS; c++) {
			uintptr_t cs = sec->chunk[c];

			if (!cs)
				continue;
			if (slot_huge(cs)) {
				struct phys_huge *h = slot_to_huge(cs);
				uint64_t last_chunk =
					((h->head_pfn >> PHYS_CHUNK_SHIFT) &
					 (PHYS_SECT_CHUNKS - 1)) +
					(1u << (h->head.order -
						PHYS_CHUNK_SHIFT)) -
					1;

				/* Free a multi-chunk page at its last slot. */
				if (last_chunk == c) {
					unmap_bytes(p, h->bytes, h->bytes_len);
					free(h);
				}
				continue;
			}
			unmap_bytes(p, ((struct phys_chunk *)cs)->bytes,
				    PHYS_CHUNK_FRAMES * p->page_size);
			host_kept_free(p, (struct phys_chunk *)cs, 0,
				       PHYS_CHUNK_FRAMES);
			free(((struct phys_chunk *)cs)->host);
			free((void *)cs);
		}
		free(sec);
	}
	free(p->sect);
	while (p->nspare)
		munmap(p->spare[--p->nspare].bytes,
		       PHYS_CHUNK_FRAMES * p->page_size);
	for (unsigned int o = 0; o <= PHYS_MAX_ORDER; o++) {
		for (n = RB_MIN(phys_free_tree, &p->free[o]); n; n = next) {
			next = RB_NEXT(phys_free_tree, &p->free[o], n);
			phys_free_tree_RB_REMOVE(&p->free[o], n);
			free(n);
		}
	}
	while ((n = p->node_cache)) {
		p->node_cache = RB_LEFT(n, rb);
		free(n);
	}
	for (m = RB_MIN(phys_mmio_tree, &p->mmio); m; m = mn) {
		mn = RB_NEXT(phys_mmio_tree, &p->mmio, m);
		phys_mmio_tree_RB_REMOVE(&p->mmio, m);
		free(m);
	}
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static void phys_teardown(struct vfiosim_world *w, void *arg)
{
	struct mm_phys *p = arg;
	struct mm_task *it = mm_task_data(w->init_task, false);

	mm_teardown_all(p);
	phys_check_leaks(p);
	sim_lock(w);
	if (it) {
		it->phys = NULL;
		it->phys_gone = true;
	}
	sim_unlock(w);
	phys_free_all(p);
}
