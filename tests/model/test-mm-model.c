/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-mm-model.c - randomized, seeded sequences against simple reference
 * models:
 *   - the frame allocator against a bitmap of allocated frames (no overlap,
 *     natural alignment, and -ENOMEM exactly when no aligned free block of
 *     the order exists -- the buddy allocator's completeness);
 *   - an address space (mmap of anonymous and PFNMAP ranges, munmap,
 *     mprotect, pin, unpin, load, store) against a per-page table of
 *     (mapped, prot, data, generation, PFNMAP frame), with exact pin counts
 *     checked on every pinned frame and the PFNMAP frame of every page
 *     followed after every step (splits must keep the pfn arithmetic).
 * Everything runs on the test thread with the world not running.
 */
#include <errno.h>
#include <stdio.h>

#include "../testutil.h"
#include "common.h"

#define PAGE 4096ull

static void noop_run(struct vfiosim_world *w, void *arg)
{
	(void)w;
	(void)arg;
}

static int destroy(struct vfiosim_world *w)
{
	vfiosim_world_run(w, noop_run, NULL);
	return vfiosim_world_destroy(w);
}

static struct vfiosim_world *mkworld(uint64_t phys, uint64_t seed)
{
	struct vfiosim_config c;

	vfiosim_config_init(&c);
	c.mm.phys_size = phys;
	c.seed = seed;
	return tu_world(&c);
}

/* ------------------------------------------------------- the allocator */

#define NFRAMES 4096u /* 16 MiB */

struct alloc_rec {
	uint64_t pfn;
	unsigned int order;
};

static bool ref_block_free(const uint8_t *used, uint64_t pfn,
			   unsigned int order)
{
	for (uint64_t i = 0; i < (1ull << order); i++)
		if (used[pfn + i])
			return false;
	return true;
}

static bool ref_any_free_block(const uint8_t *used, unsigned int order)
{
	for (uint64_t b = 0; b + (1ull << order) <= NFRAMES; b += 1ull << order)
		if (ref_block_free(used, b, order))
			return true;
	return false;
}

START_TEST(allocator_against_bitmap)
{
	uint64_t seed = 1000 + (uint64_t)_i, rng = seed;
	struct vfiosim_world *w = mkworld(NFRAMES * PAGE, seed);
	static uint8_t used[NFRAMES];
	struct alloc_rec live[NFRAMES];
	unsigned int nlive = 0;
	uint64_t inuse = 0;
	struct vfiosim_phys_stats st;

	memset(used, 0, sizeof(used));
	for (int step = 0; step < 3000; step++) {
		bool do_alloc = nlive == 0 ||
				vfiosim_rand_below(&rng, 100) < 55;

		if (do_alloc) {
			/* Mostly small orders, sometimes up to 2^11. */
			unsigned int order =
				vfiosim_rand_below(&rng, 4) ?
					(unsigned int)vfiosim_rand_below(&rng,
									 4) :
					(unsigned int)vfiosim_rand_below(&rng,
									 12);
			uint64_t pfn;
			int rc = vfiosim_phys_alloc(w, order, 0, &pfn);

			if (rc) {
				ck_assert_int_eq(rc, -ENOMEM);
				ck_assert_msg(!ref_any_free_block(used, order),
					      "seed %llu step %d: order %u "
					      "failed but a free block exists",
					      (unsigned long long)seed, step,
					      order);
				continue;
			}
			ck_assert_uint_eq(pfn % (1ull << order), 0);
			ck_assert_uint_le(pfn + (1ull << order), NFRAMES);
			ck_assert_msg(ref_block_free(used, pfn, order),
				      "seed %llu step %d: overlap at %llu",
				      (unsigned long long)seed, step,
				      (unsigned long long)pfn);
			memset(used + pfn, 1, 1u << order);
			live[nlive++] = (struct alloc_rec){ pfn, order };
			inuse += 1ull << order;
		} else {
			unsigned int k =
				(unsigned int)vfiosim_rand_below(&rng, nlive);
			struct alloc_rec r = live[k];
			/* Any frame of the page refers to it. */
			uint64_t any = r.pfn + vfiosim_rand_below(
						       &rng, 1ull << r.order);

			ck_assert_int_eq(vfiosim_page_put(w, any), 0);
			memset(used + r.pfn, 0, 1u << r.order);
			live[k] = live[--nlive];
			inuse -= 1ull << r.order;
		}
		if (step % 97 == 0) {
			ck_assert_int_eq(vfiosim_phys_stats(w, &st), 0);
			ck_assert_uint_eq(st.frames_inuse, inuse);
		}
	}
	while (nlive)
		ck_assert_int_eq(vfiosim_page_put(w, live[--nlive].pfn), 0);
	ck_assert_int_eq(vfiosim_phys_stats(w, &st), 0);
	ck_assert_uint_eq(st.frames_inuse, 0);
	ck_assert_uint_eq(st.meta_bytes, 0);
	ck_assert_uint_eq(st.high_water_pfn, 0);
	ck_assert_uint_eq(st.free_blocks, 0);
	ck_assert_int_eq(destroy(w), 0);
}
END_TEST

/* ----------------------------------------------------- an address space */

#define NP 64u
#define BASE 0x10000000ull
#define MAXBATCH 64u

struct ref_page {
	bool mapped;
	unsigned int prot;
	uint8_t data;
	unsigned int gen;
	bool pfnmap;  /* a VM_PFNMAP page ... */
	uint64_t pfn; /* ... mapping this frame */
};

struct batch {
	unsigned int first, n;
	bool write;
	unsigned int gen[NP];
	uint64_t pfns[NP];
};

struct model {
	struct vfiosim_world *w;
	struct vfiosim_mm *mm;
	struct ref_page pg[NP];
	struct batch b[MAXBATCH];
	unsigned int nb;
	unsigned int gen;
	uint64_t seed;
	int step;
};

static const unsigned int prots[] = { 0, VFIOSIM_PROT_READ,
				      VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE,
				      VFIOSIM_PROT_READ | VFIOSIM_PROT_WRITE };

static uint64_t addr_of(unsigned int i)
{
	return BASE + i * PAGE;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void check_all(struct model *m)
{
	static uint64_t all[MAXBATCH * NP];
	size_t n = 0;

	for (unsigned int i = 0; i < NP; i++) {
		struct vfiosim_vma_info vi;
		int rc = vfiosim_mm_find_vma(m->mm, addr_of(i), &vi);
		bool mapped = rc == 0 && vi.start <= addr_of(i);

		ck_assert_msg(mapped == m->pg[i].mapped,
			      "seed %llu step %d: page %u mapped %d, ref %d",
			      (unsigned long long)m->seed, m->step, i, mapped,
			      m->pg[i].mapped);
		if (mapped) {
			uint64_t pfn = 0;

			ck_assert_uint_eq(vi.prot, m->pg[i].prot);
			rc = vfiosim_mm_follow_pfn(m->mm, addr_of(i), false,
						   &pfn, NULL);
			if (m->pg[i].pfnmap) {
				ck_assert_int_eq(rc, 0);
				ck_assert_msg(pfn == m->pg[i].pfn,
					      "seed %llu step %d: page %u "
					      "follows to %llu, ref %llu",
					      (unsigned long long)m->seed,
					      m->step, i,
					      (unsigned long long)pfn,
					      (unsigned long long)m->pg[i].pfn);
			} else {
				ck_assert_int_eq(rc, -EINVAL);
			}
		}
	}
	/* Exact pin counts: each frame is pinned once per batch entry. */
	for (unsigned int k = 0; k < m->nb; k++)
		for (unsigned int j = 0; j < m->b[k].n; j++)
			all[n++] = m->b[k].pfns[j];
	qsort(all, n, sizeof(*all), cmp_u64);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		struct vfiosim_page_info in;

		while (j < n && all[j] == all[i])
			j++;
		ck_assert_int_eq(vfiosim_page_query(m->w, all[i], &in), 0);
		ck_assert_msg(in.pincount == j - i,
			      "seed %llu step %d: pfn %llu pincount %lu, "
			      "expected %zu",
			      (unsigned long long)m->seed, m->step,
			      (unsigned long long)all[i], in.pincount, j - i);
		ck_assert_uint_ge(in.refcount, in.pincount);
		i = j;
	}
	/* Write pins of pages still mapped in the same generation see the
	 * task's stores (no COW happened under them). */
	for (unsigned int k = 0; k < m->nb; k++) {
		struct batch *b = &m->b[k];

		if (!b->write)
			continue;
		for (unsigned int j = 0; j < b->n; j++) {
			const struct ref_page *r = &m->pg[b->first + j];
			uint8_t *bytes;

			if (!r->mapped || r->gen != b->gen[j])
				continue;
			bytes = vfiosim_page_bytes(m->w, b->pfns[j]);
			ck_assert_ptr_nonnull(bytes);
			ck_assert_uint_eq(bytes[0], r->data);
		}
	}
}

static void op_mmap(struct model *m, uint64_t *rng, unsigned int i,
		    unsigned int n)
{
	unsigned int prot = prots[vfiosim_rand_below(rng, 4)];
	bool shared = vfiosim_rand_below(rng, 4) == 0;
	uint64_t a;

	ck_assert_int_eq(vfiosim_mmap(m->mm, addr_of(i), n * PAGE, prot,
				      VFIOSIM_MAP_FIXED |
					      (shared ? VFIOSIM_MAP_SHARED :
							VFIOSIM_MAP_PRIVATE),
				      &a),
			 0);
	ck_assert_uint_eq(a, addr_of(i));
	m->gen++;
	for (unsigned int j = i; j < i + n; j++)
		m->pg[j] = (struct ref_page){ true, prot, 0, m->gen, false, 0 };
}

static void op_mmap_pfn(struct model *m, uint64_t *rng, unsigned int i,
			unsigned int n)
{
	unsigned int prot = prots[vfiosim_rand_below(rng, 4)];
	uint64_t a, pfn = (1ull << 40) + vfiosim_rand_below(rng, 1u << 20);

	ck_assert_int_eq(vfiosim_mmap_pfn(m->mm, addr_of(i), n * PAGE, prot,
					  VFIOSIM_MAP_FIXED, pfn, &a),
			 0);
	m->gen++;
	for (unsigned int j = i; j < i + n; j++)
		m->pg[j] = (struct ref_page){ true,   prot, 0,
					      m->gen, true, pfn + (j - i) };
}

static void op_munmap(struct model *m, unsigned int i, unsigned int n)
{
	ck_assert_int_eq(vfiosim_munmap(m->mm, addr_of(i), n * PAGE), 0);
	for (unsigned int j = i; j < i + n; j++)
		m->pg[j].mapped = false;
}

static void op_mprotect(struct model *m, uint64_t *rng, unsigned int i,
			unsigned int n)
{
	unsigned int prot = prots[vfiosim_rand_below(rng, 4)];
	bool all = true;

	for (unsigned int j = i; j < i + n; j++)
		all = all && m->pg[j].mapped;
	ck_assert_int_eq(vfiosim_mprotect(m->mm, addr_of(i), n * PAGE, prot),
			 all ? 0 : -ENOMEM);
	if (all)
		for (unsigned int j = i; j < i + n; j++)
			m->pg[j].prot = prot;
}

static void op_pin(struct model *m, uint64_t *rng, unsigned int i,
		   unsigned int n)
{
	bool write = vfiosim_rand_below(rng, 2);
	unsigned int want = VFIOSIM_PROT_READ |
			    (write ? VFIOSIM_PROT_WRITE : 0);
	unsigned int expect = 0;
	struct batch *b;
	long got;

	if (m->nb == MAXBATCH)
		return;
	while (expect < n && m->pg[i + expect].mapped &&
	       !m->pg[i + expect].pfnmap &&
	       (m->pg[i + expect].prot & want) == want)
		expect++;
	b = &m->b[m->nb];
	got = vfiosim_pin_user_pages(m->mm, addr_of(i), n,
				     VFIOSIM_FOLL_LONGTERM |
					     (write ? VFIOSIM_FOLL_WRITE : 0),
				     b->pfns);
	ck_assert_msg(got == (expect ? (long)expect : -EFAULT),
		      "seed %llu step %d: pin(%u, %u, w=%d) = %ld, ref %u",
		      (unsigned long long)m->seed, m->step, i, n, write, got,
		      expect);
	if (got <= 0)
		return;
	b->first = i;
	b->n = (unsigned int)got;
	b->write = write;
	for (unsigned int j = 0; j < b->n; j++)
		b->gen[j] = m->pg[i + j].gen;
	m->nb++;
}

static void op_unpin(struct model *m, uint64_t *rng)
{
	unsigned int k;

	if (!m->nb)
		return;
	k = (unsigned int)vfiosim_rand_below(rng, m->nb);
	ck_assert_int_eq(vfiosim_unpin_user_pages_dirty_lock(
				 m->w, m->b[k].pfns, m->b[k].n, m->b[k].write),
			 0);
	m->b[k] = m->b[--m->nb];
}

static void op_store_load(struct model *m, uint64_t *rng, unsigned int i)
{
	struct ref_page *r = &m->pg[i];
	uint8_t v = (uint8_t)(1 + vfiosim_rand_below(rng, 255)), got = 0;

	if (vfiosim_rand_below(rng, 2)) {
		bool ok = r->mapped && !r->pfnmap &&
			  (r->prot & VFIOSIM_PROT_WRITE);

		ck_assert_int_eq(vfiosim_mm_write(m->mm, addr_of(i), &v, 1),
				 ok ? 1 : -EFAULT);
		if (ok)
			r->data = v;
	} else {
		bool ok = r->mapped && !r->pfnmap &&
			  (r->prot & VFIOSIM_PROT_READ);

		ck_assert_int_eq(vfiosim_mm_read(m->mm, addr_of(i), &got, 1),
				 ok ? 1 : -EFAULT);
		if (ok)
			ck_assert_uint_eq(got, r->data);
	}
}

START_TEST(address_space_against_reference)
{
	struct model *m = calloc(1, sizeof(*m));
	uint64_t rng;

	ck_assert_ptr_nonnull(m);
	m->seed = 7000 + (uint64_t)_i;
	rng = m->seed;
	m->w = mkworld(1ull << 30, m->seed);
	ck_assert_int_eq(vfiosim_mm_create(m->w, &m->mm), 0);
	for (m->step = 0; m->step < 400; m->step++) {
		unsigned int i = (unsigned int)vfiosim_rand_below(&rng, NP);
		unsigned int n =
			1 + (unsigned int)vfiosim_rand_below(&rng, NP - i);

		switch (vfiosim_rand_below(&rng, 9)) {
		case 0:
			op_mmap(m, &rng, i, n);
			break;
		case 8:
			op_mmap_pfn(m, &rng, i, n);
			break;
		case 1:
			op_munmap(m, i, n);
			break;
		case 2:
			op_mprotect(m, &rng, i, n);
			break;
		case 3:
		case 4:
			op_pin(m, &rng, i, n);
			break;
		case 5:
			op_unpin(m, &rng);
			break;
		default:
			op_store_load(m, &rng, i);
			break;
		}
		check_all(m);
	}
	while (m->nb)
		op_unpin(m, &rng);
	vfiosim_mmput(m->mm);
	{
		struct vfiosim_phys_stats st;

		ck_assert_int_eq(vfiosim_phys_stats(m->w, &st), 0);
		/* Only the zero page may remain. */
		ck_assert_uint_le(st.frames_inuse, 1);
		ck_assert_uint_eq(st.table_bytes, 0);
	}
	ck_assert_int_eq(destroy(m->w), 0);
	free(m);
}
END_TEST

static Suite *model_suite(void)
{
	Suite *s = suite_create("mm-model");
	TCase *tc = tcase_create("model");

	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, allocator_against_bitmap, 0, 20);
	tcase_add_loop_test(tc, address_space_against_reference, 0, 100);
	suite_add_tcase(s, tc);
	return s;
}

TU_MAIN(model_suite)
